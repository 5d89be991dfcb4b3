-- What the request path tells of each call, handed to whoever listens:
-- hooks (`on = { request, response, retry, wait, cache }`, on a client and
-- per call) and the trace (`trace = FILE`: a JSON line per attempt). The
-- path (send.lua, the cache stage) says what happened through the call's
-- observer, nil when nobody listens, so that a call nobody watches pays a
-- nil test; this file shapes the events and delivers them.
--
-- An event is a table of plain values (strings, numbers, booleans, and
-- tables of them), made for the listeners of that moment, safe to keep
-- and to encode. URLs and messages are redacted of the client's secrets:
-- no event holds the key. A hook that raises is reported once on stderr
-- and removed; the call goes on.

local core = require("pulse.core")
local json = require("pulse.json")
local options = require("pulse.options")
local secrets = require("pulse.secrets")

local observe = {}

local Observer = {}
Observer.__index = Observer

local LANE_NAMES = {}
for name, lane in pairs(options.LANES) do
	LANE_NAMES[lane] = name
end

-- The fields of a rate-limit view (res.rate, a userdata) copied out.
local RATE_FIELDS = { "limit", "window", "remaining", "reset", "blocked" }

local function plain_rate(rate)
	if not rate then
		return nil
	end
	local out = {}
	for _, field in ipairs(RATE_FIELDS) do
		out[field] = rate[field]
	end
	return out
end

-- A copy of hooks (a checked `on` table), so that removing one that
-- raised leaves the caller's table alone.
local function copy(hooks)
	local out = {}
	for kind, fn in pairs(hooks or {}) do
		out[kind] = fn
	end
	return out
end

-- Opens the trace file for appending, a line written at a time.
local function open_trace(path)
	local file, why = io.open(path, "a")
	if not file then
		return nil, why
	end
	file:setvbuf("line")
	return file
end

--- The observer of client's calls: hooks (a checked `on` table) and a
-- trace file's path; nil when neither is given. Raises when the trace
-- cannot be opened, naming the file.
function observe.new(client, hooks, trace_path)
	if not hooks and not trace_path then
		return nil
	end
	local trace
	if trace_path then
		local why
		trace, why = open_trace(trace_path)
		if not trace then
			error("trace: cannot open " .. trace_path .. ": " .. tostring(why), 0)
		end
	end
	return setmetatable({ client = client, hooks = copy(hooks), trace = trace }, Observer)
end

--- The observer of one call: the client's (or none) with the call's own
-- hooks after its.
function observe.for_call(client, observer, hooks)
	local own = setmetatable({
		client = client,
		hooks = observer and observer.hooks or {},
		call_hooks = copy(hooks),
		trace = observer and observer.trace,
	}, Observer)
	return own
end

-- Runs hooks[kind] on event; one that raises is told of once and removed.
local function run_hook(self, hooks, kind, event)
	local fn = hooks[kind]
	if not fn then
		return
	end
	local ok, why = pcall(fn, event)
	if not ok then
		hooks[kind] = nil
		io.stderr:write(
			secrets.redact(self.client, string.format("pulse: the %s hook raised, and is removed: %s", kind, tostring(why))),
			"\n"
		)
	end
end

-- Hands event (of kind) to the hooks, the client's first, then writes it
-- to the trace when it is a line of it.
function Observer:emit(kind, event, traced)
	if traced and self.trace then
		self.trace:write(json.encode(event), "\n")
	end
	run_hook(self, self.hooks, kind, event)
	if self.call_hooks then
		run_hook(self, self.call_hooks, kind, event)
	end
end

-- The fields every event of call has.
local function event_of(self, call, kind)
	local hop = call.hop
	return {
		event = kind,
		time = core.epoch(),
		method = hop.method,
		url = secrets.redact(self.client, hop.url),
		attempt = call.attempt,
		lane = LANE_NAMES[call.lane or options.LANES.normal],
	}
end

--- An attempt of call begins: it asks for a token, then goes out.
function Observer:request(call)
	self:emit("request", event_of(self, call, "request"))
end

--- The limiter told call's attempt to wait seconds for a token (-1: for
-- another request's answer to confirm the bucket).
function Observer:wait(call, seconds)
	local event = event_of(self, call, "wait")
	if seconds < 0 then
		event.until_answer = true
	else
		event.wait = seconds
	end
	self:emit("wait", event)
end

--- Call's attempt ended (Call:record's fields): a response, or a failure.
-- A line of the trace, with what libcurl measured when it was asked.
function Observer:response(call)
	local event = event_of(self, call, "response")
	event.status = call.status
	event.error = not call.status and call.failure or nil
	event.elapsed = call.elapsed
	event.waited = call.slept
	event.shared = call.shared or false
	event.rate = plain_rate(call.rate)
	local phases = call.phases
	if phases and phases.total then
		event.phases = {
			dns = phases.dns,
			connect = phases.connect,
			tls = phases.tls,
			first_byte = phases.first_byte,
			total = phases.total,
		}
		event.bytes_in, event.bytes_out = phases.bytes_in, phases.bytes_out
	end
	self:emit("response", event, true)
end

--- Call will be tried again in wait seconds, for reason.
function Observer:retry(call, reason, wait)
	local event = event_of(self, call, "retry")
	event.status = call.status
	event.error = not call.status and call.failure or nil
	event.reason = reason and secrets.redact(self.client, reason) or nil
	event.wait = wait
	self:emit("retry", event)
end

--- The cache took part in call: "hit" (answered fresh, nothing sent),
-- "stale" (served past its TTL), "revalidated" (a 304 confirmed it),
-- "stored", or "shared" (another process's fetch answered). An answer
-- without a call is a line of the trace too.
function Observer:cache(call, status)
	local event = event_of(self, call, "cache")
	event.cache = status
	self:emit("cache", event, status == "hit" or status == "shared" or status == "stale")
end

--- Whether call should ask libcurl for its timing phases: a trace shows
-- them, and a response hook may read them.
function Observer:wants_phases()
	return self.trace ~= nil or self.hooks.response ~= nil or (self.call_hooks and self.call_hooks.response) ~= nil
end

return observe
