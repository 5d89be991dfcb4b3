-- pulse.sandbox.handler: the request handler of pulse-sandbox, a local emulator of
-- the Pulse API (PULSE_API.md). src/sandbox/server.c calls the function that new()
-- returns once per request, on one thread, with
--   { method, path, raw_query, query, headers, body, connection, loopback }
-- and sends what it returns:
--   { status, headers = { {name, value}, ... }, body, delay, drop }
--
-- Request bodies are read and responses written with lua-cjson
-- (pulse.sandbox.json), a codec independent of the client's, so the specs
-- check what the client really sends and reads.

local json = require("pulse.sandbox.json")
local native = require("pulse.sandbox.native")
local api = require("pulse.sandbox.api")
local bucket = require("pulse.sandbox.bucket")
local dashboard = require("pulse.sandbox.dashboard")
local faults = require("pulse.sandbox.faults")
local history = require("pulse.sandbox.history")
local mock = require("pulse.sandbox.mock")
local recording = require("pulse.sandbox.recording")

local sandbox = {}

local HTML_502 = "<html><head><title>502 Bad Gateway</title></head>"
	.. "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"

local function wall_clock()
	return native.wall()
end

local function http_date(epoch)
	return os.date("!%a, %d %b %Y %H:%M:%S GMT", epoch)
end

local function iso_time(epoch)
	return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(epoch)) .. string.format(".%03dZ", math.floor(epoch % 1 * 1000))
end

local function reply(status, value, headers)
	local response = {
		status = status,
		headers = headers or {},
		body = json.encode(value),
	}
	table.insert(response.headers, 1, { "Content-Type", "application/json" })
	return response
end

local function fail(status, code, message, extra)
	local e = { code = code, message = message }
	for k, v in pairs(extra or {}) do
		e[k] = v
	end
	return reply(status, { error = e })
end

local Sandbox = {}
Sandbox.__index = Sandbox

function sandbox.new(config)
	local now = native.now()
	-- key_ids: each key's place among the keys, from 0, in the order the
	-- command line and environment gave them.
	local self = setmetatable({ config = config, key_ids = {}, next_request_id = 1 }, Sandbox)
	self:start_over(now)
	for i, key in ipairs(config.keys) do
		self.key_ids[key] = self.key_ids[key] or i - 1
	end
	if config.faults then
		local list, why = faults.parse(config.faults, now)
		if not list then
			error("--faults: " .. why, 0)
		end
		for _, f in ipairs(list) do
			self.faults:add(f)
		end
	end
	-- What answers in place of the sample resources: a collection's
	-- examples, or a recording's exchanges.
	if config.collection and config.replay then
		error("--collection and --replay: serve one or the other", 0)
	elseif config.collection then
		self.served = mock.load(config.collection)
	elseif config.replay then
		self.served = recording.load(config.replay)
	end
	if config.log_path then
		local log, why = io.open(config.log_path, "a")
		if not log then
			error("--log: cannot open " .. why, 0)
		end
		self.log = log
		self.log:setvbuf("line")
	end
	return function(req)
		return self:handle(req)
	end
end

-- The state of a sandbox just started, and what POST /_sandbox/reset
-- returns to: seeded data, a full bucket, no faults, zero counters.
function Sandbox:start_over(now)
	local c = self.config
	-- The random faults' draws (faults.lua), the same for the same seed.
	math.randomseed(c.seed or 1)
	self.api = api.new(c, wall_clock, native.send_webhook)
	self.bucket = bucket.new(c.limit, c.window, c.burst, now, c.refill)
	self.history = history.new(self.bucket)
	self.faults = faults.queue()
	self.stats = { requests = 0, by_status = {}, rate_limited = 0, writes_applied = 0 }
	native.reset_counters()
end

-- ---- authentication and rate limiting ---------------------------------------

-- true, or false and a reason. The scheme is case-insensitive (RFC 9110),
-- and either the overview's (Api-key) or the reference's (apikey).
local SCHEMES = { ["api-key"] = true, apikey = true }

function Sandbox:authenticate(headers)
	local value = headers.authorization
	if not value then
		return false, "missing API key: send 'Authorization: Api-key <key>'"
	end
	local scheme, key = value:match("^(%S+) +(%S+)$")
	if not scheme or not SCHEMES[scheme:lower()] then
		return false, "malformed Authorization header: expected 'Api-key <key>'"
	end
	if not self.key_ids[key] then
		return false, "unknown API key"
	end
	return true
end

function Sandbox:retry_after(now)
	local seconds = math.max(1, self.bucket:reset_in(now))
	if self.config.retry_after == "http-date" then
		-- Rounded up, so that a client waiting until this date waits long enough.
		return http_date(math.ceil(wall_clock() + seconds))
	end
	return tostring(seconds)
end

-- ---- faults ------------------------------------------------------------------------

-- Faults that answer instead of the API, before authentication, as a proxy
-- or a failing load balancer would.
local function answer_fault(fault, req)
	local kind = fault.kind
	if kind == "503" then
		local response = fail(503, "service_unavailable", "traffic spike: try again shortly")
		if fault.retry_after then
			table.insert(response.headers, { "Retry-After", string.format("%d", fault.retry_after) })
		end
		return response
	elseif kind == "html502" then
		return { status = 502, headers = { { "Content-Type", "text/html" } }, body = HTML_502 }
	elseif kind == "redirect" then
		local target = string.format("http://127.0.0.1:%d%s", fault.port, req.path)
		if req.raw_query ~= "" then
			target = target .. "?" .. req.raw_query
		end
		return { status = 307, headers = { { "Location", target } }, body = "" }
	elseif kind == "drop" then
		return { drop = true }
	elseif kind == "status" then
		local code = math.tointeger(fault.code) or 500
		return fail(code, "injected", "status " .. code .. " injected by the sandbox")
	end
end

-- Faults that bend a real response after the request was handled (op:
-- the API operation that answered, if any).
local function bend_response(fault, response, op)
	local kind = fault.kind
	if kind == "error_200" then
		-- The operation's documented error, with status 200, as the
		-- reference shows some errors arrive.
		local body = api.error_body(op, 400, "The request is invalid.")
		response.status, response.body = 200, json.encode(body)
	elseif kind == "drop_after" then
		return { drop = true }
	elseif kind == "truncate" then
		response.body = response.body:sub(1, #response.body // 2)
	elseif kind == "bad_headers" then
		for _, h in ipairs(response.headers) do
			if h[1] == "Organization-RateLimit-Limit" then
				h[2] = "lots;w=soon;b="
			elseif h[1] == "RateLimit-Remaining" then
				h[2] = "-7x"
			elseif h[1] == "RateLimit-Reset" then
				h[2] = "tomorrow"
			end
		end
	elseif kind == "latency" then
		response.delay = (fault.ms or 1000) / 1000
	end
	return response
end

-- ---- the control endpoints -----------------------------------------------------

function Sandbox:describe()
	return {
		name = "pulse-sandbox",
		note = "Sample data, made up from --seed: not your organization's data.",
		rate_limit = { limit = self.config.limit, window = self.config.window, burst = self.config.burst },
		api = api.describe(),
		control = {
			"/_sandbox/stats",
			"/_sandbox/faults",
			"/_sandbox/reset",
			"/_sandbox/echo",
			"/_sandbox/events",
			"/_sandbox/history",
			"/_sandbox/dashboard",
		},
	}
end

-- The faults active now, as /_sandbox/stats shows them: kind, the answers
-- left (0: no end), the method it is for (null: any).
function Sandbox:active_faults()
	local list = {}
	for _, f in ipairs(self.faults.active) do
		list[#list + 1] = { kind = f.kind, left = f.count, method = f.method or json.null }
	end
	return json.array(list)
end

function Sandbox:snapshot()
	local now = native.now()
	local b = self.bucket
	b:refill(now)
	local counters = native.counters()
	local by_status = {}
	for status, n in pairs(self.stats.by_status) do
		by_status[tostring(status)] = n
	end
	return {
		requests = self.stats.requests,
		by_status = by_status,
		rate_limited = self.stats.rate_limited,
		writes_applied = self.stats.writes_applied,
		in_flight_max = counters.in_flight_max,
		connections_opened = counters.connections_opened,
		connections_open = counters.connections_open,
		bucket_age = self.bucket:age(now),
		bucket = {
			tokens = math.floor(b.tokens),
			limit = b.limit,
			window = b.window,
			burst = b.burst,
			reset_in = math.max(0, b.next_refill - now),
		},
		faults = self:active_faults(),
		organization = self.api:counts(),
		sample_data = true,
		webhooks = native.webhook_counts and native.webhook_counts() or json.null,
	}
end

function Sandbox:add_faults(body)
	local ok, input = pcall(json.decode, body)
	if not ok or type(input) ~= "table" then
		return fail(400, "bad_request", "post a fault object, a list of them, or {\"spec\": \"...\"}")
	end
	local now = native.now()
	local list, why
	if input.spec then
		list, why = faults.parse(tostring(input.spec), now)
	else
		list = input.kind and { input } or input
		for _, f in ipairs(list) do
			if not faults.validate(f, now) then
				list, why = nil, select(2, faults.validate(f, now))
				break
			end
		end
	end
	if not list then
		return fail(400, "bad_request", why)
	end
	for _, f in ipairs(list) do
		self.faults:add(f)
	end
	return reply(200, { data = { added = #list } })
end

-- POST /_sandbox/reset, optionally with {"rate_limit": "L/W/B"}: the
-- sandbox as started, at that rate limit from now on.
function Sandbox:reset(body)
	local input = {}
	if body:find("%S") then
		local ok, value = pcall(json.decode, body)
		if not ok or type(value) ~= "table" then
			return fail(400, "bad_request", 'post nothing, or {"rate_limit": "LIMIT/WINDOW/BURST"}')
		end
		input = value
	end
	if input.rate_limit ~= nil then
		local limit, window, burst = native.parse_rate_limit(tostring(input.rate_limit))
		if not limit then
			return fail(400, "bad_request", "rate_limit " .. window)
		end
		self.config.limit, self.config.window, self.config.burst = limit, window, burst
	end
	self:start_over(native.now())
	if self.served and self.served.rewind then
		self.served:rewind()
	end
	return reply(200, { data = { reset = true } })
end

-- /_sandbox/echo: the request as received, but the key: the Authorization
-- credential shows as [REDACTED], with key_id, the matching key's place
-- among the keys (from 0), or null.
function Sandbox:echo(req)
	local headers = {}
	for name, value in pairs(req.headers) do
		headers[name] = value
	end
	local key_id = json.null
	if headers.authorization then
		local scheme, key = headers.authorization:match("^(%S+) +(%S+)$")
		key_id = key and self.key_ids[key] or json.null
		headers.authorization = (scheme and scheme .. " " or "") .. "[REDACTED]"
	end
	return reply(200, {
		method = req.method,
		path = req.path,
		query = req.raw_query,
		headers = headers,
		body = req.body,
		connection = req.connection,
		key_id = key_id,
	})
end

function Sandbox:control(req)
	if not req.loopback then
		return fail(403, "forbidden", "the control endpoints answer loopback clients only")
	end
	local what, method = req.path:match("^/_sandbox/?(.*)$"), req.method
	if what == "" then
		return reply(200, self:describe())
	elseif what == "stats" then
		return reply(200, self:snapshot())
	elseif what == "faults" and method == "POST" then
		return self:add_faults(req.body)
	elseif what == "faults" and method == "DELETE" then
		self.faults:clear()
		return reply(200, { data = { cleared = true } })
	elseif what == "reset" and method == "POST" then
		return self:reset(req.body)
	elseif what == "echo" then
		return self:echo(req)
	elseif what == "events" and method == "GET" then
		return reply(200, { data = self.api.events:list() })
	elseif what == "history" and method == "GET" then
		local now = native.now()
		return reply(200, { now = math.floor(now), samples = json.array(self.history:list(now)) })
	elseif what == "dashboard" and method == "GET" then
		return { status = 200, headers = { { "Content-Type", "text/html; charset=utf-8" } }, body = dashboard.PAGE }
	end
	return fail(404, "not_found", "no such control endpoint: " .. req.path)
end

-- ---- one request -------------------------------------------------------------------

function Sandbox:record(req, response, key_valid, applied, fault)
	local status = response.drop and 0 or response.status
	self.history:count(native.now(), status)
	local stats = self.stats
	stats.requests = stats.requests + 1
	stats.by_status[status] = (stats.by_status[status] or 0) + 1
	if status == 429 then
		stats.rate_limited = stats.rate_limited + 1
	end
	if applied then
		stats.writes_applied = stats.writes_applied + 1
	end
	if self.log then
		self.log:write(json.encode({
			time = iso_time(wall_clock()),
			id = self.next_request_id,
			method = req.method,
			path = req.path,
			status = status,
			key_sent = req.headers.authorization ~= nil,
			key_valid = key_valid,
			applied = applied or false,
			fault = fault and fault.kind or json.null,
			dropped = response.drop or false,
			connection = req.connection,
		}), "\n")
	end
	self.next_request_id = self.next_request_id + 1
end

function Sandbox:handle(req)
	if req.path:find("^/_sandbox") then
		return self:control(req)
	end
	local now = native.now()
	self.history:advance(now)
	local fault = self.faults:pick(req.method, now)
	local response = fault and answer_fault(fault, req)
	if response then
		self:record(req, response, false, false, fault)
		return response
	end
	local owned = not self.served and self.api:owns(req.method, req.path)
	local key_valid, why = self:authenticate(req.headers)
	if not key_valid then
		-- The API's documented text; a collection's mock says why.
		response = self.served and fail(401, "unauthorized", why) or reply(401, api.unauthorized())
		self:record(req, response, false, false, fault)
		return response
	end
	local applied, op
	if not self.bucket:take(now) then
		response = fail(429, "rate_limited", "over the organization's rate limit")
		table.insert(response.headers, { "Retry-After", self:retry_after(now) })
	elseif self.served then
		local status, code, message
		response, status, code, message = self.served:route(req)
		response = response or fail(status, code, message)
	elseif owned then
		local status, value
		status, value, op = self.api:handle(req, wall_clock())
		response, applied = reply(status, value), req.method ~= "GET" and req.method ~= "HEAD" and status == 200
	else
		response = fail(404, "not_found", "no such endpoint: " .. req.path .. " (the API's are under /v1)")
	end
	for _, h in ipairs(self.bucket:headers(now)) do
		table.insert(response.headers, h)
	end
	if fault then
		response = bend_response(fault, response, op)
	end
	self:record(req, response, true, applied, fault)
	return response
end

return sandbox
