-- The shared bucket's steps, run inside Redis (EVALSHA), so that each is
-- atomic and on Redis' clock (TIME): workers whose clocks disagree share
-- one allowance. The arithmetic is core/ratelimit.c's, in Lua: a change
-- there comes here too (spec/limiter_spec.lua runs the same cases on both).
--
-- KEYS: the bucket (a hash), its leases (a sorted set of the tickets out,
-- scored by when they lapse), its workers (scored by when last seen).
-- ARGV[1]: the step (take, observe, cancel, view, reset); the rest, the
-- step's own. Numbers go back as strings: Redis would truncate them.

-- Redis before 5 replicates a script by its text, and so refuses writes
-- after TIME unless told to replicate the effects instead.
if redis.replicate_commands then
	redis.replicate_commands()
end

local bucket, leases, workers = KEYS[1], KEYS[2], KEYS[3]
local step = ARGV[1]

local MIN_429_WAIT = 1
local PROBE_LEASE = 10 -- seconds a probe may be out before another goes
-- TIME is a wall clock, which NTP steps and slews: measured here against
-- the monotonic clock a server keeps its bucket on, it moved 80 ms within
-- one 35 s job, and a probe sent at the refill the model worked out went
-- a hair early and drew a 429 (1 run in 6 of make bench's clock row). So a
-- refill is expected this much after what the headers say. It does not add
-- up over windows: each is anchored anew by the answers of the last.
local REFILL_MARGIN = 0.1
local RECHECK = 0.05 -- seconds: see take
local FIELDS = {
	"limit",
	"window",
	"burst",
	"tokens",
	"next_refill",
	"blocked_until",
	"reset_rounds_down",
	"confirmed",
	"probe_until",
	"lowest_remaining",
	"last_ticket",
	"window_ticket",
	"observed_at",
	"last_status",
}

local function now()
	local t = redis.call("TIME")
	return tonumber(t[1]) + tonumber(t[2]) / 1e6
end

-- The bucket's state, or, when Redis lost it (a restart, FLUSHALL), a new
-- one from the worker's policy: unconfirmed, so that one request checks
-- the server's bucket before the rest go.
local function load(t, limit, window, burst)
	local values = redis.call("HMGET", bucket, unpack(FIELDS))
	local s = {}
	for i, name in ipairs(FIELDS) do
		s[name] = tonumber(values[i])
	end
	if not s.limit then
		s = {
			limit = limit,
			window = window,
			burst = burst,
			tokens = burst,
			next_refill = t + window,
			blocked_until = 0,
			reset_rounds_down = 0,
			confirmed = 0,
			probe_until = 0,
			lowest_remaining = -1,
			last_ticket = 0,
			window_ticket = 1,
			observed_at = 0,
			last_status = 0,
		}
	end
	return s
end

local function save(s)
	local args = {}
	for _, name in ipairs(FIELDS) do
		args[#args + 1] = name
		args[#args + 1] = string.format("%.17g", s[name])
	end
	redis.call("HSET", bucket, unpack(args))
end

-- The bucket enters a new window: the takes from the next on belong to it.
local function new_window(s)
	s.lowest_remaining = -1
	s.window_ticket = s.last_ticket + 1
end

local function refill(s, t)
	if t < s.next_refill then
		return
	end
	local periods = math.floor((t - s.next_refill) / s.window) + 1
	s.tokens = math.min(s.burst, s.tokens + periods * s.limit)
	s.next_refill = s.next_refill + periods * s.window
	s.confirmed = 0
	new_window(s)
end

local function in_flight(t)
	redis.call("ZREMRANGEBYSCORE", leases, "-inf", t)
	return redis.call("ZCARD", leases)
end

local function view(s, t)
	refill(s, t)
	return {
		string.format("%.17g", s.limit),
		string.format("%.17g", s.window),
		string.format("%.17g", s.burst),
		string.format("%.17g", math.floor(s.tokens)),
		string.format("%.17g", math.max(0, s.next_refill - t)),
		string.format("%.17g", math.max(0, s.blocked_until - t)),
	}
end

-- take(worker, lease, limit, window, burst) -> answer, wait, ticket, view...
-- answer: "taken", "wait" (wait seconds) or "await" (a request checking
-- the bucket is out).
local function take()
	local t = now()
	redis.call("ZADD", workers, t, ARGV[2])
	redis.call("ZREMRANGEBYSCORE", workers, "-inf", t - 600)
	local s = load(t, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
	refill(s, t)
	local out = in_flight(t) -- lapsed leases go
	local answer, wait, ticket = "wait", 0, 0
	if t < s.blocked_until then
		wait = s.blocked_until - t
	elseif s.confirmed == 0 and t < s.probe_until then
		answer = "await"
	elseif s.tokens >= 1 then
		s.tokens = s.tokens - 1
		s.last_ticket = s.last_ticket + 1
		ticket = s.last_ticket
		redis.call("ZADD", leases, t + tonumber(ARGV[3]), ticket)
		if s.confirmed == 0 then
			s.probe_until = t + PROBE_LEASE
		end
		answer = "taken"
	else
		wait = s.next_refill - t
		-- The server said tokens remain, and they are held back for requests
		-- out, which it may have counted already: their answers can free
		-- some before the refill, so ask again soon rather than at it (a
		-- worker sent to sleep till the refill cost a job its last window).
		if out > 0 and s.lowest_remaining >= 1 and wait > RECHECK then
			wait = RECHECK
		end
	end
	save(s)
	local result = { answer, string.format("%.17g", wait), tostring(ticket) }
	for _, v in ipairs(view(s, t)) do
		result[#result + 1] = v
	end
	return result
end

local function apply_policy(s, limit, window, burst)
	s.limit = limit
	if window > 0 then
		s.window = window
	end
	s.burst = burst > 0 and burst or s.limit
	if s.tokens > s.burst then
		s.tokens = s.burst
	end
end

local function apply_reset(s, reset, t, ticket)
	if reset == 0 then
		s.reset_rounds_down = 1
	end
	local due = t + reset + s.reset_rounds_down + REFILL_MARGIN
	if math.abs(due - s.next_refill) < 1 then
		s.next_refill = math.min(due, s.next_refill)
		return
	end
	if due > s.next_refill + s.window / 2 then
		s.lowest_remaining = -1
		s.window_ticket = ticket > 0 and ticket or s.last_ticket + 1
	end
	s.next_refill = due
end

-- observe(ticket, rate_limited, has_policy, limit, window, burst,
-- has_remaining, remaining, has_reset, reset, has_retry_after,
-- retry_after, default limit, window, burst) -> ignored, view...
local function observe()
	local t = now()
	local a = {}
	for i = 2, #ARGV do
		a[i - 1] = tonumber(ARGV[i])
	end
	local ticket, rate_limited = a[1], a[2] == 1
	redis.call("ZREM", leases, ARGV[2])
	local s = load(t, a[13], a[14], a[15])
	local out = in_flight(t)
	if a[3] == 1 then
		apply_policy(s, a[4], a[5], a[6])
	end
	local current = ticket == 0 or ticket >= s.window_ticket
	local reset_sane = a[9] == 1 and a[10] <= s.window
	if current then
		s.confirmed = 1
		s.probe_until = 0
		if reset_sane then
			apply_reset(s, a[10], t, ticket)
		end
		if a[7] == 1 then
			if s.lowest_remaining < 0 or a[8] < s.lowest_remaining then
				s.lowest_remaining = a[8]
			end
			local left = s.lowest_remaining - out
			s.tokens = math.min(s.burst, left > 0 and left or 0)
		end
	end
	if rate_limited then
		local wait = a[11] == 1 and a[12] or (current and reset_sane and a[10]) or s.window
		wait = math.max(wait, MIN_429_WAIT)
		s.tokens = 0
		s.lowest_remaining = 0
		s.blocked_until = math.max(s.blocked_until, t + wait)
		s.next_refill = t + wait
	end
	s.observed_at = t
	s.last_status = rate_limited and 429 or 200
	save(s)
	local result = { tostring((a[9] == 1 and not reset_sane) and 1 or 0) }
	for _, v in ipairs(view(s, t)) do
		result[#result + 1] = v
	end
	return result
end

-- status() -> the bucket's fields, the tickets out, the workers seen in the
-- last minute, and the seconds since the last answer.
local function status()
	local t = now()
	if redis.call("EXISTS", bucket) == 0 then
		return {}
	end
	local s = load(t, 1, 1, 1)
	local result = view(s, t)
	result[#result + 1] = tostring(s.confirmed)
	result[#result + 1] = tostring(in_flight(t))
	result[#result + 1] = tostring(redis.call("ZCOUNT", workers, t - 60, "+inf"))
	result[#result + 1] = string.format("%.17g", s.observed_at > 0 and t - s.observed_at or -1)
	result[#result + 1] = tostring(s.last_status)
	return result
end

if step == "take" then
	return take()
elseif step == "observe" then
	return observe()
elseif step == "cancel" then
	return redis.call("ZREM", leases, ARGV[2])
elseif step == "view" then
	local t = now()
	return view(load(t, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])), t)
elseif step == "status" then
	return status()
elseif step == "reset" then
	return redis.call("DEL", bucket, leases, workers)
end
return redis.error_reply("pulse: unknown step " .. tostring(step))
