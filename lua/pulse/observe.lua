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

--- A rate-limit view (a userdata) as a plain table, for an event or a
-- recording; nil for none.
observe.plain_rate = plain_rate

-- A copy of hooks (a checked `on` table), so that removing one that
-- raised leaves the caller's table alone.
local function copy(hooks)
	local out = {}
	for kind, fn in pairs(hooks or {}) do
		out[kind] = fn
	end
	return out
end

-- The trace goes out in blocks (a write per line cost a GET a tenth more
-- CPU): a line is flushed with those before it when the last flush is half
-- a second old (binding/trace.c keeps when, for the lines it writes and
-- for Lua's, core.trace_written), and all when the client closes or the
-- process ends. A process killed loses at most its last half second of
-- lines.

-- Opens the trace file for appending.
local function open_trace(path)
	local file, why = io.open(path, "a")
	if not file then
		return nil, why
	end
	file:setvbuf("full", 65536)
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
	local self = setmetatable({ client = client, hooks = copy(hooks), trace = trace }, Observer)
	self.wants_phases = self.hooks.response ~= nil
	-- Hooks hear of every call on the full path; a trace alone lets plain
	-- calls keep the fast one (send.plain).
	self.hooked = next(self.hooks) ~= nil
	return self
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
	own.wants_phases = own.hooks.response ~= nil or own.call_hooks.response ~= nil
	return own
end

-- Whether a hook of kind listens to this observer's calls.
local function heard(self, kind)
	return self.hooks[kind] ~= nil or (self.call_hooks ~= nil and self.call_hooks[kind] ~= nil)
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

-- Hands event (of kind) to the hooks, the client's first.
function Observer:emit(kind, event)
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
	if heard(self, "request") then
		self:emit("request", event_of(self, call, "request"))
	end
end

--- The limiter told call's attempt to wait seconds for a token (-1: for
-- another request's answer to confirm the bucket).
function Observer:wait(call, seconds)
	if not heard(self, "wait") then
		return
	end
	local event = event_of(self, call, "wait")
	if seconds < 0 then
		event.until_answer = true
	else
		event.wait = seconds
	end
	self:emit("wait", event)
end

--- A URL as the trace writes it: a JSON string, the key redacted. A
-- client asks few distinct ones, most many times: they are kept.
function Observer:trace_url(url)
	local urls = self.quoted or {}
	self.quoted = urls
	local q = urls[url]
	if not q then
		if (self.quoted_count or 0) >= 256 then
			urls, self.quoted_count = {}, 0
			self.quoted = urls
		end
		q = json.encode(secrets.redact(self.client, url))
		urls[url], self.quoted_count = q, (self.quoted_count or 0) + 1
	end
	return q
end

--- Call's attempt ended (Call:record's fields): a response, or a failure.
-- A line of the trace, with what libcurl measured when it was asked.
function Observer:response(call)
	-- The binding wrote an attempt's line as it ended, and flushes the file
	-- when due (binding/trace.c); an answer that rode along with a twin's
	-- had no attempt of its own.
	if self.trace and call.shared then
		self:write_line(call, "shared")
	end
	if not heard(self, "response") then
		return
	end
	local event = event_of(self, call, "response")
	event.status = call.status
	event.error = not call.status and call.failure or nil
	event.elapsed = call.elapsed
	event.waited = call.slept
	event.shared = call.shared or false
	event.rate = plain_rate(call.rate)
	local p = call.phases -- binding_fill_phases's order
	if p and p[5] then
		event.phases = { dns = p[1], connect = p[2], tls = p[3], first_byte = p[4], total = p[5] }
		event.bytes_in, event.bytes_out = p[6], p[7]
	end
	self:emit("response", event)
end

--- Call will be tried again in wait seconds, for reason.
function Observer:retry(call, reason, wait)
	if not heard(self, "retry") then
		return
	end
	local event = event_of(self, call, "retry")
	event.status = call.status
	event.error = not call.status and call.failure or nil
	event.reason = reason and secrets.redact(self.client, reason) or nil
	event.wait = wait
	self:emit("retry", event)
end

--- The cache took part in call: "hit" (answered fresh, nothing sent),
-- "stale" (served past its TTL), "revalidated" (a 304 confirmed it),
-- "stored", or "shared" (another process's fetch answered). Each is a
-- line of the trace too.
function Observer:cache(call, status)
	if not heard(self, "cache") and not self.trace then
		return
	end
	local event = event_of(self, call, "cache")
	event.cache = status
	if self.trace then -- after the attempt's line, when the call made one
		self:write_line(call, "cache", { cache = status })
	end
	self:emit("cache", event)
end

--- A write of a dry run, not sent (stage/dry_run.lua): a line of the
-- trace with the operation it would have been and why the catalog
-- refuses it, if it does.
function Observer:dry_run(call, operation, problems)
	if self.trace then
		self:write_line(call, "dry_run", {
			operation = operation,
			refused = problems and table.concat(problems, "; ") or nil,
			body = call.req.body and secrets.redact(self.client, call.req.body) or nil,
		})
	end
end

-- Writes a line of the trace for an answer with no attempt of its own:
-- event "shared" (it rode along with a twin's call), "cache" (fields.cache:
-- what the cache did) or "dry_run"; fields are the event's own.
function Observer:write_line(call, event, fields)
	local hop = call.hop
	local line = fields or {}
	line.event = event
	line.time_ms = math.floor(core.epoch() * 1000)
	line.method = hop.method
	line.url = secrets.redact(self.client, hop.url)
	line.lane = LANE_NAMES[call.lane or options.LANES.normal]
	line.waited_us = event == "shared" and math.floor((call.slept or 0) * 1e6) or nil
	self.trace:write(json.encode(line), "\n")
	core.trace_written(self.trace)
end

--- Writes out the trace's lines still buffered (the client closes).
function Observer:flush()
	if self.trace then
		self.trace:flush()
	end
end

return observe
