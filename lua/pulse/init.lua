-- pulse: the client. Requests go through the rate limiter and the retry
-- rules of pulse.core; this file validates arguments, builds requests and
-- shapes what comes back into the documented `body, res` or `nil, err`.

local core = require("pulse.core")
local errors = require("pulse.errors")
local json = require("pulse.json")
local url = require("pulse.url")
local options = require("pulse.options")
local stats = require("pulse.stats")
local tasks = require("pulse.tasks")
local progress = require("pulse.progress")

local pulse = {
	VERSION = core.version,
	null = json.null,
	array = json.array,
	json = json,
	is_error = errors.is_error,
	run = tasks.run,
	spawn = tasks.spawn,
}

-- Sleeps: inside a task only that task waits, others go on.
function pulse.sleep(seconds)
	if tasks.current() then
		tasks.sleep(seconds)
	else
		core.sleep(seconds)
	end
end

-- Set by the pulse-lua runner for --verbose and --quiet.
local runner = package.loaded["pulse.runner"] or {}

-- Keys live here, not in the client table, so that no pairs() or dump of
-- a client shows them.
local secrets = setmetatable({}, { __mode = "k" })

local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }

local RETRY_DEFAULTS = { max_attempts = 6, max_elapsed = 300, base = 0.5, cap = 30 }

local Client = {}
Client.__index = Client
Client.__name = "pulse.client"

function Client:__tostring()
	return "pulse.client(" .. self.base_url .. ")"
end

local function usage(message, level)
	error("pulse: " .. message, (level or 1) + 1)
end

-- Validating a request returns nil and this; the public entry point raises
-- it at the caller's line.
local function invalid(message)
	return nil, "pulse: " .. message
end

-- A key goes into a header line: anything that could end the line or the
-- field is refused, without repeating the key in the message.
local function check_key(key, where)
	if type(key) ~= "string" or key == "" then
		usage(where .. ": the API key must be a non-empty string", 3)
	end
	if key:find("[%c%s]") then
		usage(where .. ": the API key contains spaces or control characters", 3)
	end
end

local function redact(client, text)
	local key = secrets[client]
	if type(text) ~= "string" or not key then
		return text
	end
	local from = 1
	local parts = {}
	while true do
		local i, j = text:find(key, from, true)
		if not i then
			break
		end
		parts[#parts + 1] = text:sub(from, i - 1) .. "[REDACTED]"
		from = j + 1
	end
	parts[#parts + 1] = text:sub(from)
	return table.concat(parts)
end

local warned_verify = false

function pulse.new(opts)
	if opts ~= nil and type(opts) ~= "table" then
		usage("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 2)
	end
	opts = opts or {}
	local valid, why = options.check("new", opts, options.CLIENT)
	if not valid then
		usage(why, 2)
	end

	local key = opts.api_key or os.getenv("PULSE_API_KEY")
	if key == nil or key == "" then
		usage("new: no API key: set PULSE_API_KEY or pass api_key", 2)
	end
	check_key(key, "new")
	local base_url = opts.base_url or os.getenv("PULSE_BASE_URL")
	if base_url == nil or base_url == "" then
		usage("new: no base URL: set PULSE_BASE_URL or pass base_url", 2)
	end
	local origin = url.origin(base_url)
	if not origin then
		usage("new: base_url must be an http:// or https:// URL without credentials, got '" .. base_url .. "'", 2)
	end
	if opts.limiter ~= nil then
		usage("new: limiter '" .. opts.limiter .. "': only the in-process limiter (nil) exists so far", 2)
	end
	if opts.cache and (opts.cache.ttl or 0) > 0 then
		usage("new: cache: the response cache does not exist yet; leave ttl at 0", 2)
	end
	if opts.user_agent and opts.user_agent:find("[%c]") then
		usage("new: user_agent contains control characters", 2)
	end
	if opts.verify == false and not warned_verify then
		warned_verify = true
		io.stderr:write("pulse: warning: TLS certificate verification is off (verify = false)\n")
	end

	local policy = opts.rate_limit or {}
	local limit = policy.limit or 60
	local self = setmetatable({
		base_url = base_url:gsub("/+$", ""),
		origin = origin,
		verbose = opts.verbose == nil and runner.verbose or opts.verbose,
		retry = options.merge(RETRY_DEFAULTS, opts.retry),
		decode = true,
		_limiter = core.ratelimit(limit, policy.window or 60, policy.burst or limit),
		_url_cache = {},
		_probe_waiters = {},
		_url_cached = 0,
		_transport = core.transport({
			timeout = opts.timeout,
			connect_timeout = opts.connect_timeout,
			verify = opts.verify,
			ca_file = opts.ca_file,
			proxy = opts.proxy,
			user_agent = opts.user_agent,
		}),
	}, Client)
	self._stats = stats.new(self._transport)
	if opts.retry == false then
		self.retry = false
	end
	secrets[self] = key
	self._transport:set_key(key)
	return self
end

-- Rotation: the next request on carries the new key.
function Client:set_api_key(key)
	check_key(key, "set_api_key")
	secrets[self] = key
	self._transport:set_key(key)
end

function Client:close()
	self._transport:close()
end
Client.__close = Client.close

function Client:ratelimit()
	return self._limiter:view()
end

function Client:stats()
	return self._stats:snapshot()
end

function Client:_trace(fmt, ...)
	if self.verbose then
		io.stderr:write(redact(self, "pulse: " .. string.format(fmt, ...)), "\n")
	end
end

local REQUEST_OPTIONS = options.REQUEST

local HEADER_NAME = "^[!#$%%&'*+%-.^_`|~%w]+$"

local NO_OPTIONS = {}

-- The request's own header lines, or nil and why they are refused.
local function header_lines(headers)
	local lines = {}
	for name, value in pairs(headers) do
		if type(name) ~= "string" or not name:find(HEADER_NAME) then
			return invalid("request: header name " .. tostring(name) .. " is not a valid HTTP token")
		end
		if name:lower() == "authorization" then
			return invalid("request: the Authorization header is the client's; use set_api_key")
		end
		if type(value) ~= "string" and type(value) ~= "number" then
			return invalid("request: header '" .. name .. "' must be a string or number")
		end
		value = tostring(value)
		if value:find("[\r\n%z]") then
			return invalid("request: header '" .. name .. "' contains a line break")
		end
		lines[#lines + 1] = name .. ": " .. value
	end
	return lines
end

-- The absolute URL for path (or nil and why not), refusing any origin but
-- the client's: the key goes with every request.
-- Joined URLs by path, for requests without a query: most scripts call a
-- handful of paths many times. Emptied when it grows past this.
local URL_CACHE_SIZE = 512

function Client:_url(path, query)
	if query == nil then
		local cached = self._url_cache[path]
		if cached then
			return cached
		end
		if self._url_cached == URL_CACHE_SIZE then
			self._url_cache, self._url_cached = {}, 0
		end
		local target, why = self:_url(path, NO_OPTIONS)
		if target then
			self._url_cache[path], self._url_cached = target, self._url_cached + 1
		end
		return target, why
	end
	local target
	if path:find("^%a[%w+.-]*://") then
		if url.origin(path) ~= self.origin then
			return invalid("request: path '" .. path .. "' is on another origin than base_url")
		end
		target = path
	else
		target = url.join(self.base_url, path)
	end
	if query ~= NO_OPTIONS then
		local encoded, why = url.encode_query(query)
		if not encoded then
			return invalid("request: " .. why)
		end
		if encoded ~= "" then
			target = target .. (target:find("?", 1, true) and "&" or "?") .. encoded
		end
	end
	return target
end

function Client:_prepare(name, method, path, opts)
	if getmetatable(self) ~= Client then
		return invalid(name .. ": call it as client:" .. name .. "(...), with a colon")
	end
	-- A path in the URL cache is a string already checked.
	local cached = self._url_cache[path]
	if not cached and type(path) ~= "string" then
		return invalid("bad argument #1 to '" .. name .. "' (path must be a string, got " .. type(path) .. ")")
	end
	if opts == nil then
		opts = NO_OPTIONS
	elseif type(opts) ~= "table" then
		return invalid("bad argument to '" .. name .. "' (options must be a table, got " .. type(opts) .. ")")
	end
	-- The full check only when an option is not of its plain type: most
	-- calls pass none, or a flag or two.
	for option, value in next, opts do
		if REQUEST_OPTIONS[option] ~= type(value) then
			local valid, why = options.check(name, opts, REQUEST_OPTIONS)
			if not valid then
				return invalid(why)
			end
			break
		end
	end
	if opts.cache and (opts.cache.ttl or 0) > 0 then
		return invalid(name .. ": cache: the response cache does not exist yet; leave ttl at 0")
	end
	local body, json_body = opts.body, nil
	if opts.json ~= nil then
		if body ~= nil then
			return invalid("request: give opts.json or opts.body, not both")
		end
		local encode_error
		body, encode_error = json.encode(opts.json)
		if not body then
			return invalid("request: cannot encode the JSON body: " .. encode_error)
		end
		json_body = true
	end
	local retry = self.retry
	if opts.retry == false then
		retry = false
	elseif retry and opts.retry ~= nil then
		retry = options.merge(retry, opts.retry)
	end
	local target, why = opts.query == nil and cached
	if not target then
		target, why = self:_url(path, opts.query)
		if not target then
			return nil, why
		end
	end
	local req = {
		method = method,
		url = target,
		decode = opts.decode ~= false,
		idempotent = opts.idempotent or IDEMPOTENT[method] or false,
		retry = retry,
	}
	-- Set only when given: a table costs by the fields it has room for.
	if opts.headers ~= nil then
		req.headers, why = header_lines(opts.headers)
		if not req.headers then
			return nil, why
		end
	end
	if body ~= nil then
		req.body, req.json_body = body, json_body
	end
	if opts.timeout ~= nil then
		req.timeout = opts.timeout
	end
	return req
end

local function is_json_type(content_type)
	return content_type == nil or content_type:lower():find("json", 1, true) ~= nil
end

local function error_message(decoded, status)
	local e = type(decoded) == "table" and decoded.error
	if type(e) == "table" then
		return e.message or e.detail or e.code, e
	elseif type(e) == "string" then
		return e, e
	end
	return "HTTP " .. status, nil
end

-- Shapes a final response into body, res or nil, err.
function Client:_finish(req, status, headers, raw, res)
	local kind = errors.kind_of_status(status)
	local body = raw
	local decode_error
	if req.decode and raw ~= "" and is_json_type(headers["content-type"]) then
		local value, why = json.decode(raw)
		if value == nil then
			decode_error = why
		else
			body = value
		end
	end
	if not kind and not decode_error then
		return body, res
	end
	local fields = {
		kind = kind or "decode",
		status = status,
		method = req.method,
		url = req.url,
		attempts = res.attempts,
		res = res,
	}
	-- A write whose outcome the server did not make clear: a success status
	-- with an unreadable body, or a server error other than 503 (which means
	-- the request was turned away) that may have come after the write.
	if not req.idempotent and ((decode_error and not kind) or (status >= 500 and status ~= 503)) then
		fields.uncertain = true
	end
	if decode_error then
		fields.body = redact(self, raw)
		fields.message = "response body is not valid JSON (" .. decode_error .. ")"
		if kind then
			fields.message = "HTTP " .. status .. ", and the body is not JSON"
		end
	else
		local message, e = error_message(body, status)
		fields.message = redact(self, message)
		fields.error = e
		if type(body) == "string" then
			fields.body = redact(self, body) -- not JSON: an HTML page from a proxy, say
		end
	end
	if status == 429 or status == 503 then
		fields.retry_after = core.parse_retry_after(headers["retry-after"] or "")
	end
	return nil, errors.new(fields)
end

-- Waits as the limiter said when it gave no token (rl:take); returns the
-- seconds slept.
function Client:_await_token(wait)
	if wait < 0 then
		-- A request is out to confirm the tokens: wait for its response.
		if tasks.current() then
			tasks.wait_on(self._probe_waiters)
		else
			-- Outside tasks a request runs to its end before the next
			-- starts, so nothing is really in flight: the count is stale.
			self._limiter:cancel()
		end
		return 0
	end
	self:_trace("throttled: waiting %.3fs for the rate limit", wait)
	pulse.sleep(wait)
	self._stats:record_throttle(wait)
	return wait
end

-- What transport:perform and engine:start take after the transport.
local function transfer_arguments(req)
	return req.method, req.url, req.headers, req.body, req.json_body, req.timeout, not req.idempotent
end

-- Outside tasks: taking a token, the transfer and the limiter's reading of
-- the response are one call into C. Returns the seconds throttled, then
-- what rl:send gives for a response or a failure.
function Client:_transfer(req)
	local slept, limiter, transport = 0, self._limiter, self._transport
	while true do
		local status, headers, body, elapsed, _, retry_after, rate = limiter:send(transport, transfer_arguments(req))
		if status ~= false then
			return slept, status, headers, body, elapsed, retry_after, rate
		end
		slept = slept + self:_await_token(headers)
	end
end

-- In a task: the transfer runs on the engine while the task yields. It
-- holds its token: collecting it settles the token, and cancelling it (a
-- task abandoned by a failed pulse.run) gives the token back.
function Client:_transfer_in_task(req)
	local slept, limiter, transport = 0, self._limiter, self._transport
	while true do
		local id, wait = limiter:start(tasks.engine(), transport, transfer_arguments(req))
		if id then
			local status, headers, body, elapsed, _, retry_after, rate = tasks.await_transfer(id)
			return slept, status, headers, body, elapsed, retry_after, rate
		end
		slept = slept + self:_await_token(wait)
	end
end

function Client:_trace_outcome(req, attempt, status, failure, elapsed)
	if status then
		self:_trace("<- %d %s %s %.1f ms (attempt %d)", status, req.method, req.url, elapsed * 1000, attempt)
	else
		self:_trace("<- %s %s: %s after %.1f ms (attempt %d)", req.method, req.url, failure, elapsed * 1000, attempt)
	end
end

-- Whether to try again: retry, wait, reason (pulse.core's rules).
local function decide(req, outcome, status, attempt, started, retry_after, rate)
	if status == 429 and not retry_after then
		retry_after = rate.blocked
	end
	local r = req.retry
	return core.retry_decide({
		outcome = outcome,
		status = status,
		idempotent = req.idempotent,
		attempt = attempt,
		elapsed = core.now() - started,
		retry_after = retry_after,
		max_attempts = r.max_attempts,
		max_elapsed = r.max_elapsed,
		base = r.base,
		cap = r.cap,
		random = math.random(),
	})
end

function Client:_failure(req, outcome, message, reason, attempt)
	return nil,
		errors.new({
			kind = errors.kind_of_failure(outcome),
			method = req.method,
			url = req.url,
			message = redact(self, message) .. (reason and (" (" .. reason .. ")") or ""),
			attempts = attempt,
			uncertain = outcome ~= "no_connection" and not req.idempotent or nil,
		})
end

local is_success = errors.is_success

-- The documented res of a final response.
-- pulse.core's push_first_res (lpulse.c) makes the same table for raw
-- successes sent plain: a change here goes there too (client_spec and
-- batch_spec compare them).
local function response(status, headers, attempt, waited, elapsed, rate)
	return {
		status = status,
		headers = headers,
		attempts = attempt,
		waited = waited,
		elapsed = elapsed,
		from_cache = false,
		rate = rate,
	}
end

-- Sends req until it succeeds, fails for good, or the retry rules say stop.
-- first, when given, is an attempt made already (by send's plain path):
-- { started =, status, headers, body, elapsed, retry_after, rate }.
function Client:_send(req, first)
	local started = first and first.started or core.now()
	local waited, attempt = 0, 0
	local verbose, in_task = self.verbose, tasks.current() ~= nil
	while true do
		attempt = attempt + 1
		-- For a response: status, headers, body; for none: nil, the
		-- failure's name, its message.
		local slept, status, headers, body, elapsed, retry_after, rate = 0
		if first then
			status, headers, body, elapsed, retry_after, rate = table.unpack(first, 1, 6)
			first = nil
		else
			if verbose then
				self:_trace("-> %s %s (attempt %d)", req.method, req.url, attempt)
			end
			if in_task then
				slept, status, headers, body, elapsed, retry_after, rate = self:_transfer_in_task(req)
			else
				slept, status, headers, body, elapsed, retry_after, rate = self:_transfer(req)
			end
		end
		waited = waited + slept
		if #self._probe_waiters > 0 then
			tasks.wake(self._probe_waiters)
		end
		if verbose then
			self:_trace_outcome(req, attempt, status, headers, elapsed)
		end
		if is_success(status) then
			local res = response(status, headers, attempt, waited, core.now() - started, rate)
			if not req.decode then
				return body, res -- nothing to shape
			end
			return self:_finish(req, status, headers, body, res)
		end

		local outcome = status and "status" or headers
		if status == 429 then
			self._stats:record_429()
		elseif outcome == "usage" then
			return nil, errors.new({ kind = "usage", method = req.method, url = req.url, message = body, attempts = attempt })
		elseif outcome == "interrupted" then -- Ctrl-C under pulse-lua: no retry
			return self:_failure(req, outcome, "interrupted", nil, attempt)
		end
		local retry, wait, reason = false, 0, nil
		if req.retry then
			retry, wait, reason = decide(req, outcome, status, attempt, started, retry_after, rate)
		end
		if not retry then
			if not status then
				return self:_failure(req, outcome, body, reason, attempt)
			end
			local res = response(status, headers, attempt, waited, core.now() - started, rate)
			return self:_finish(req, status, headers, body, res)
		end
		self._stats:record_retry()
		self:_trace("retry %s %s in %.3fs: %s (attempt %d next)", req.method, req.url, wait, reason, attempt + 1)
		if req.retry.on_retry then
			req.retry.on_retry({
				method = req.method,
				url = req.url,
				attempt = attempt,
				status = status,
				reason = reason,
				wait = wait,
			})
		end
		if wait > 0 then
			pulse.sleep(wait)
			waited = waited + wait
		end
	end
end

-- What the first attempt of a plain request (as send_plain takes it, or a
-- batch's) comes to: what a call returns for a success; else nil, nil and
-- first, the attempt as _send goes on from it.
local function plain_outcome(self, method, path, opts, status, headers, body, elapsed, retry_after, rate)
	if #self._probe_waiters > 0 then
		tasks.wake(self._probe_waiters)
	end
	if is_success(status) then
		-- Sent at once, on the first attempt: the call took the transfer's time.
		local res = response(status, headers, 1, 0, elapsed, rate)
		if opts and opts.decode == false then
			return body, res
		end
		local req = { method = method, url = self:_url(path), decode = true, idempotent = true }
		return self:_finish(req, status, headers, body, res)
	end
	return nil, nil, { started = core.now() - elapsed, status, headers, body, elapsed, retry_after, rate }
end

-- The common call, sent without the full path's preparing: a method
-- without a body, a path whose URL is cached, no option but decode, no
-- tracing. One crossing into C checks the options and sends it (or starts
-- it, in a task). Returns what plain_outcome does; nothing when the
-- request must take the full path.
local function send_plain(self, method, path, opts)
	local target = self._url_cache[path]
	if not target or self.verbose then
		return
	end
	local status, headers, body, elapsed, _, retry_after, rate
	if tasks.current() then
		local id = self._limiter:start_plain(tasks.engine(), self._transport, method, target, opts)
		if not id then
			return -- opts ask for more, or no token yet: the full path waits
		end
		status, headers, body, elapsed, _, retry_after, rate = tasks.await_transfer(id)
	else
		status, headers, body, elapsed, _, retry_after, rate =
			self._limiter:send_plain(self._transport, method, target, opts)
		if status == false then
			return
		elseif type(status) == "string" then -- a raw success, whole: body and res
			return status, headers
		end
	end
	return plain_outcome(self, method, path, opts, status, headers, body, elapsed, retry_after, rate)
end

-- Client:get and the others tail-call this: level 2 is their caller.
local function send(self, name, method, path, opts)
	local first
	if IDEMPOTENT[method] and getmetatable(self) == Client then
		local body, res
		body, res, first = send_plain(self, method, path, opts)
		if body ~= nil or res ~= nil then
			return body, res
		end
	end
	local req, why = Client._prepare(self, name, method, path, opts)
	if not req then
		error(why, 2)
	end
	return self:_send(req, first)
end

-- Methods seen valid, so that a batch checks each once (a few dozen at most).
local VALID_METHODS, valid_methods = {}, 0

function Client:request(method, path, opts)
	if not VALID_METHODS[method] and getmetatable(self) == Client then
		if type(method) ~= "string" or not method:find("^%u+$") then
			usage("bad argument #1 to 'request' (method must be an upper-case string like \"GET\")", 2)
		end
		if valid_methods < 64 then
			VALID_METHODS[method], valid_methods = true, valid_methods + 1
		end
	end
	return send(self, "request", method, path, opts)
end

function Client:get(path, opts)
	return send(self, "get", "GET", path, opts)
end

function Client:delete(path, opts)
	return send(self, "delete", "DELETE", path, opts)
end

local function with_body(method)
	local name = method:lower()
	return function(self, path, body, opts)
		if opts ~= nil and type(opts) ~= "table" then
			usage("bad argument #3 to '" .. name .. "' (options must be a table, got " .. type(opts) .. ")", 2)
		end
		if body ~= nil and type(body) ~= "table" and body ~= json.null then
			usage(
				"bad argument #2 to '"
					.. name
					.. "' (JSON body must be a table, got "
					.. type(body)
					.. "; pass a raw string as opts.body)",
				2
			)
		end
		local merged = {}
		for k, v in pairs(opts or {}) do
			merged[k] = v
		end
		merged.json = body
		return send(self, name, method, path, merged)
	end
end

Client.post = with_body("POST")
Client.put = with_body("PUT")
Client.patch = with_body("PATCH")

-- One batch entry: { method, path, opts } or { method =, path =, opts = }.
-- level: whom a bad one is blamed on, as usage takes it.
local function batch_entry(entry, i, level)
	if type(entry) ~= "table" then
		usage("batch: request " .. i .. " must be a table {method, path, opts}, got " .. type(entry), level)
	end
	local method, path = entry.method or entry[1], entry.path or entry[2]
	if type(method) ~= "string" or type(path) ~= "string" then
		usage("batch: request " .. i .. " needs a method and a path (strings)", level)
	end
	return method, path, entry.opts or entry[3]
end

-- A listed entry, checked before anything is sent: its shape, and its
-- options as a single call checks them. A bad one is blamed on the caller
-- of batch. (A streamed entry's options are checked when it is sent.)
local function check_listed(entry, i)
	local _, _, entry_opts = batch_entry(entry, i, 4)
	if entry_opts ~= nil then
		if type(entry_opts) ~= "table" then
			usage("batch: request " .. i .. " options must be a table, got " .. type(entry_opts), 3)
		end
		local valid, why = options.check("batch: request " .. i, entry_opts, REQUEST_OPTIONS)
		if not valid then
			usage(why, 3)
		end
	end
end

local BATCH_OPTIONS = { concurrency = "count", on_progress = "function", on_result = "function", fail_fast = "boolean" }

-- Runs requests, up to concurrency at a time, through the same limiter and
-- retry rules as single calls. requests is a list, or a function returning
-- the next request (nil at the end) for streams too long to hold.
-- Returns the results in input order, each { body, res, body =, res = } or
-- { nil, err, err = } (table.unpack gives what a single call returns); with
-- on_result(i, body, res_or_err) it keeps none and returns the count.
function Client:batch(requests, opts)
	if getmetatable(self) ~= Client then
		usage("batch: call it as client:batch(requests, opts)", 2)
	end
	if type(requests) ~= "table" and type(requests) ~= "function" then
		usage("bad argument #1 to 'batch' (list or function of requests expected, got " .. type(requests) .. ")", 2)
	end
	opts = opts or {}
	local valid, why = options.check("batch", opts, BATCH_OPTIONS)
	if not valid then
		usage(why, 2)
	end
	local list = type(requests) == "table" and requests or nil
	if list then
		for i, entry in ipairs(list) do
			check_listed(entry, i)
		end
	end
	local total = list and #list or nil
	local on_progress = opts.on_progress or progress.bar(total, runner)
	local concurrency = opts.concurrency or 8
	local results, started, done, stopped, exhausted = {}, 0, 0, false, false
	local in_flight = 0
	-- Where results wait for the batch's task: the plain requests' first
	-- attempts, filed by the engine (a raw entry's success whole, as its
	-- result), and the others' results, three slots each (index, body, res
	-- or err).
	local sink = tasks.sink()
	local finished, queued = {}, 0
	local limiter, transport = self._limiter, self._transport

	local function finish(i, body, second)
		finished[queued + 1], finished[queued + 2], finished[queued + 3] = i, body, second
		queued = queued + 3
		tasks.wake(sink.waiters)
	end

	-- In a task of its own, a request the full path takes: options beyond
	-- decode, a path not seen yet, no token at once, tracing; or a plain
	-- request whose first attempt (first) was not a success.
	local function full(i, method, path, entry_opts, first)
		if first then
			local req = assert(self:_prepare("request", method, path, entry_opts))
			return finish(i, self:_send(req, first))
		end
		return finish(i, self:request(method, path, entry_opts))
	end

	-- Starts requests up to the concurrency: a plain one (as send_plain
	-- takes, its method idempotent) as a transfer filed in the sink when it
	-- ends, any other in a task. Asking for the next request runs the
	-- caller's function, so only the batch's task does it.
	local engine -- the running scheduler's, once the batch's task starts
	local function fill()
		local verbose, urls = self.verbose, self._url_cache
		while in_flight < concurrency and not stopped and not exhausted do
			local i = started + 1
			local entry
			if list then
				entry = list[i]
			else
				entry = requests()
			end
			if entry == nil then
				exhausted = true -- a generator is not called again once done
				return
			end
			started, in_flight = i, in_flight + 1
			if verbose or not limiter:start_entry(engine, transport, sink, i, entry, urls, IDEMPOTENT) then
				tasks.spawn(full, i, batch_entry(entry, i, 4))
			end
		end
	end

	-- The caller's functions (on_result, on_progress) run in the batch's
	-- task, as results come.
	local function record(i, body, second)
		done, in_flight = done + 1, in_flight - 1
		if body == nil and opts.fail_fast then
			stopped = true
		end
		if opts.on_result then
			opts.on_result(i, body, second)
		elseif body ~= nil then
			results[i] = { body, second, body = body, res = second }
		else
			results[i] = { nil, second, err = second }
		end
		if on_progress then
			on_progress(done, total, self._stats)
		end
	end

	-- A plain request's first attempt, as the engine filed it: its result,
	-- or a task going on with it.
	local function settle(i, entry, status, headers, body, elapsed, retry_after, rate)
		local method, path, entry_opts = entry.method or entry[1], entry.path or entry[2], entry.opts or entry[3]
		local result, second, first =
			plain_outcome(self, method, path, entry_opts, status, headers, body, elapsed, retry_after, rate)
		if first then
			tasks.spawn(full, i, method, path, entry_opts, first)
		else
			record(i, result, second)
		end
	end

	tasks.run(function()
		engine = tasks.engine()
		-- An error from the caller's functions ends the batch, maybe in a
		-- run that goes on (a task caught it): its requests in flight end
		-- with it, and their tokens come back.
		local _ <close> = setmetatable({}, {
			__close = function()
				engine:cancel_routed(sink)
			end,
		})
		fill()
		while in_flight > 0 do -- started, not yet recorded
			if queued == 0 and sink.n == 0 then
				tasks.wait_on(sink.waiters)
			end
			-- record runs on_result, which may yield, and more results come
			-- meanwhile: each loop takes those too.
			local k = 0
			while k < queued do
				local i, body, second = finished[k + 1], finished[k + 2], finished[k + 3]
				finished[k + 1], finished[k + 2], finished[k + 3] = nil, nil, nil
				k = k + 3
				record(i, body, second)
			end
			queued, k = 0, 0
			if sink.n > 0 and #self._probe_waiters > 0 then
				tasks.wake(self._probe_waiters) -- responses came
			end
			while k < sink.n do
				local i, entry, body, res = sink[k + 1], sink[k + 2], sink[k + 3], sink[k + 4]
				if entry then
					settle(table.unpack(sink, k + 1, k + 8))
					k = k + 8
				else -- a raw entry's success, whole
					record(i, body, res)
					k = k + 4
				end
			end
			sink.n = 0
			fill()
		end
	end)
	if type(on_progress) == "table" then
		on_progress:finish()
	end
	if opts.on_result then
		return done
	end
	for i = 1, total or started do
		if results[i] == nil then
			local err = errors.new({ kind = "cancelled", message = "not started: an earlier request failed (fail_fast)" })
			results[i] = { nil, err, err = err }
		end
	end
	return results
end

return pulse
