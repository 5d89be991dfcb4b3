-- The shared bucket's steps, run inside Redis (EVALSHA), so that each is
-- atomic and on Redis' clock (TIME): workers whose clocks disagree share
-- one allowance. The arithmetic is core/ratelimit.c's, in Lua: a change
-- there comes here too (spec/limiter_spec.lua runs the same cases on both).
--
-- KEYS: the bucket (a hash), its leases (a sorted set of the tickets out,
-- scored by when they lapse), its workers (scored by when last seen), its
-- line (the places of the callers waiting, scored by lane, then arrival:
-- core/lanes.c's table) and their lapses (the same places, scored by when
-- a waiter not back is gone), its claims (a hash: the fetches one
-- worker does for the others, by name, "worker lapse" each), and the
-- tokens each worker took (a hash: "worker|lane" counts, and "worker|name",
-- the host and pid a person knows it by).
-- ARGV[1]: the step (take, observe, cancel, view, reset); the rest, the
-- step's own. Numbers go back as strings: Redis would truncate them.

-- Redis before 5 replicates a script by its text, and so refuses writes
-- after TIME unless told to replicate the effects instead.
if redis.replicate_commands then
	redis.replicate_commands()
end

local bucket, leases, workers, line, lapses, claims = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local taken = KEYS[7]
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
-- core/lanes.h's: a waiter not back this long after its wait is gone; a
-- reserve is let go this long (or a tenth of the window) before a refill.
local GRACE = 2
local RELEASE = 1
local INTERACTIVE, BULK = 0, 2
local LANE_SPAN = 2 ^ 48 -- a place's score: its lane times this, plus its place
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
	"reserve",
	"reserve_left",
	"reserve_window",
	"last_place",
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
			reserve = s.reserve, -- a reset keeps it: it is the organization's policy
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
	-- A bucket an older version wrote has no line.
	s.reserve = s.reserve or 0
	s.reserve_left = s.reserve_left or 0
	s.reserve_window = s.reserve_window or 0
	s.last_place = s.last_place or 0
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

-- The tokens held for interactive takes in the window s is in.
-- (core/lanes.c's: never more than the share of the limit as the server
-- now says it.)
local function reserve_left(s)
	local share = math.ceil(s.reserve * s.limit - 1e-9)
	if s.reserve_window ~= s.window_ticket then
		s.reserve_window = s.window_ticket
		s.reserve_left = share
	elseif s.reserve_left > share then
		s.reserve_left = share
	end
	return s.reserve_left
end

-- The callers waiting ahead of one in lane at place (nil: not in line,
-- so behind everyone of its lane); the lapsed leave first.
local function ahead_of(t, lane, place)
	local gone = redis.call("ZRANGEBYSCORE", lapses, "-inf", "(" .. string.format("%.17g", t))
	for i = 1, #gone, 1000 do
		local some = { unpack(gone, i, math.min(i + 999, #gone)) }
		redis.call("ZREM", line, unpack(some))
		redis.call("ZREM", lapses, unpack(some))
	end
	local score = place and redis.call("ZSCORE", line, place)
	if score then
		return redis.call("ZCOUNT", line, "-inf", "(" .. score), place
	end
	return redis.call("ZCOUNT", line, "-inf", "(" .. string.format("%.17g", (lane + 1) * LANE_SPAN)), nil
end

-- take(worker, lease, limit, window, burst, lane, place, name) -> answer, wait,
-- ticket, view..., place (place "none": a one-off ask, placed nowhere)
-- answer: "taken", "wait" (wait seconds) or "await" (a request checking
-- the bucket is out); place: the caller's in the line ("0" when taken).
local function take()
	local t = now()
	redis.call("ZADD", workers, t, ARGV[2])
	redis.call("ZREMRANGEBYSCORE", workers, "-inf", t - 600)
	local s = load(t, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
	refill(s, t)
	local out = in_flight(t) -- lapsed leases go
	local lane, one_off = tonumber(ARGV[7]), ARGV[8] == "none"
	local ahead, place = ahead_of(t, lane, (ARGV[8] ~= "0" and not one_off) and ARGV[8] or nil)
	local release_at = s.next_refill - math.min(RELEASE, s.window / 10)
	local reserve = (lane == BULK and t < release_at) and reserve_left(s) or 0
	local answer, wait, ticket = "wait", 0, 0
	if t < s.blocked_until then
		wait = s.blocked_until - t
	elseif s.confirmed == 0 and t < s.probe_until then
		answer = "await"
	elseif s.tokens >= 1 + ahead + reserve then
		s.tokens = s.tokens - 1
		s.last_ticket = s.last_ticket + 1
		ticket = s.last_ticket
		redis.call("ZADD", leases, t + tonumber(ARGV[3]), ticket)
		if s.confirmed == 0 then
			s.probe_until = t + PROBE_LEASE
		end
		if lane == INTERACTIVE and reserve_left(s) >= 1 then
			s.reserve_left = s.reserve_left - 1
		end
		if redis.call("HINCRBY", taken, ARGV[2] .. "|" .. ARGV[7], 1) == 1 then
			redis.call("HSET", taken, ARGV[2] .. "|name", ARGV[9] or ARGV[2])
		end
		answer = "taken"
	elseif s.tokens >= 1 then
		-- Held for callers ahead, who take them soon; or, for bulk, for
		-- the reserve alone, until its release.
		wait = (reserve > 0 and s.tokens >= 1 + ahead) and release_at - t or RECHECK
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
	if answer == "taken" then
		if place then
			redis.call("ZREM", line, place)
			redis.call("ZREM", lapses, place)
		end
		place = "0"
	elseif not one_off then
		if not place then
			s.last_place = s.last_place + 1
			place = string.format("%d", s.last_place)
			redis.call("ZADD", line, string.format("%.17g", lane * LANE_SPAN + s.last_place), place)
		end
		local lapse = t + (wait > 0 and wait or RECHECK) + GRACE
		redis.call("ZADD", lapses, string.format("%.17g", lapse), place)
	end
	save(s)
	local result = { answer, string.format("%.17g", wait), tostring(ticket) }
	for _, v in ipairs(view(s, t)) do
		result[#result + 1] = v
	end
	result[#result + 1] = place
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
	if rate_limited then
		redis.call("HINCRBY", bucket, "rate_limited", 1)
	end
	local result = { tostring((a[9] == 1 and not reset_sane) and 1 or 0) }
	for _, v in ipairs(view(s, t)) do
		result[#result + 1] = v
	end
	return result
end

-- status() -> the bucket's fields, the tickets out, the workers seen in the
-- last minute, the seconds since the last answer, the reserve, the callers
-- waiting by lane, the 429s read, then for each worker seen in the last
-- minute (32 at most) its name and the tokens it took by lane.
local function status()
	local t = now()
	if redis.call("HEXISTS", bucket, "limit") == 0 then
		return {}
	end
	local s = load(t, 1, 1, 1)
	local result = view(s, t)
	result[#result + 1] = tostring(s.confirmed)
	result[#result + 1] = tostring(in_flight(t))
	result[#result + 1] = tostring(redis.call("ZCOUNT", workers, t - 60, "+inf"))
	result[#result + 1] = string.format("%.17g", s.observed_at > 0 and t - s.observed_at or -1)
	result[#result + 1] = tostring(s.last_status)
	result[#result + 1] = string.format("%.17g", s.reserve)
	ahead_of(t, INTERACTIVE, nil) -- the lapsed leave
	for lane = 0, 2 do
		local from, to = string.format("%.17g", lane * LANE_SPAN), string.format("(%.17g", (lane + 1) * LANE_SPAN)
		result[#result + 1] = tostring(redis.call("ZCOUNT", line, from, to))
	end
	result[#result + 1] = tostring(redis.call("HGET", bucket, "rate_limited") or 0)
	for _, worker in ipairs(redis.call("ZRANGEBYSCORE", workers, t - 60, "+inf", "LIMIT", 0, 32)) do
		local fields = redis.call("HMGET", taken, worker .. "|name", worker .. "|0", worker .. "|1", worker .. "|2")
		result[#result + 1] = fields[1] or worker
		for lane = 2, 4 do
			result[#result + 1] = tostring(fields[lane] or 0)
		end
	end
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
elseif step == "claim" then
	-- claim(name, worker, lease) -> 1: the worker's now; 0: another's, live.
	local t = now()
	local held = redis.call("HGET", claims, ARGV[2])
	local owner, lapse = (held or ""):match("^(%S+) (%S+)$")
	if owner and owner ~= ARGV[3] and tonumber(lapse) > t then
		return 0
	end
	redis.call("HSET", claims, ARGV[2], ARGV[3] .. " " .. string.format("%.17g", t + tonumber(ARGV[4])))
	-- A claim lapses: the hash goes with the last one (a day at most).
	redis.call("PEXPIRE", claims, 86400000)
	return 1
elseif step == "unclaim" then
	local held = redis.call("HGET", claims, ARGV[2])
	if held and held:match("^(%S+) ") == ARGV[3] then
		redis.call("HDEL", claims, ARGV[2])
	end
	return 1
elseif step == "leave" then
	redis.call("ZREM", lapses, ARGV[2])
	return redis.call("ZREM", line, ARGV[2])
elseif step == "reserve" then
	-- reserve(share, limit, window, burst): every worker reads it from here.
	local t = now()
	local s = load(t, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
	s.reserve = tonumber(ARGV[2])
	s.reserve_window = 0 -- counted afresh at the next take
	save(s)
	return 1
elseif step == "reset" then
	-- Afresh, but for the reserve: the organization's policy, not a state.
	local reserve = redis.call("HGET", bucket, "reserve")
	local count = redis.call("DEL", bucket, leases, workers, line, lapses, claims, taken)
	if reserve then
		redis.call("HSET", bucket, "reserve", reserve)
	end
	return count
end
return redis.error_reply("pulse: unknown step " .. tostring(step))
