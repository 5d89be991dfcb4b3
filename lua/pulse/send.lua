-- The one request path. Every request, a single call's, a batch entry's or
-- a task's, goes through here: one gate that lets a plain request skip
-- preparing, one transmission (a token from the limiter and the exchange,
-- in C: net/exchange.c), and one retry loop. A new stage of the path is
-- added here, once.

local core = require("pulse.core")
local errors = require("pulse.errors")
local request = require("pulse.request")
local response = require("pulse.response")
local tasks = require("pulse.tasks")

local send = {}

local IDEMPOTENT = request.IDEMPOTENT
local is_success = errors.is_success

-- The gate: the URL of a request that needs nothing but a method and a
-- URL built before (an idempotent method, a path seen already, no option
-- but decode, a client that does not trace); nil sends it the full way.
function send.plain_url(client, method, path, opts)
	if opts ~= nil then
		if type(opts) ~= "table" then
			return nil
		end
		local name, value = next(opts)
		if name ~= nil and (name ~= "decode" or (value ~= true and value ~= false) or next(opts, name) ~= nil) then
			return nil
		end
	end
	if client.verbose or not IDEMPOTENT[method] then
		return nil
	end
	return client._url_cache[path]
end

-- Waits as the limiter said when it gave no token (wait: seconds, or -1
-- for "until the response of the request checking the bucket"); returns
-- the seconds slept.
local function await_token(client, wait)
	if wait < 0 then
		if tasks.current() then
			tasks.wait_on(client._probe_waiters)
		else
			-- Outside tasks a request runs to its end before the next
			-- starts, so nothing is really in flight: the count is stale.
			client._limiter:cancel()
		end
		return 0
	end
	client:_trace("throttled: waiting %.3fs for the rate limit", wait)
	tasks.sleep(wait)
	client._stats:record_throttle(wait)
	return wait
end

-- A response came: the tasks waiting for one to confirm the bucket go on.
local function responded(client)
	if #client._probe_waiters > 0 then
		tasks.wake(client._probe_waiters)
	end
end

-- One transmission: takes a token, waiting as the limiter says, and sends,
-- on the engine inside a task (the task yields until it is done) or on the
-- client's own handle outside. Returns the seconds waited for the token,
-- then the exchange's outcome: status, headers, body, elapsed,
-- connections, retry_after, rate; or nil, the failure's name, its message
-- and elapsed.
local function transmit(client, method, url, headers, body, json_body, timeout, fresh)
	local limiter, transport, slept = client._limiter, client._transport, 0
	while true do
		local a, b, c, d, e, f, g
		if tasks.current() then
			a, b, c = tasks.engine():start(transport, limiter, method, url, headers, body, json_body, timeout, fresh)
			if a then
				return slept, tasks.await_transfer(a)
			end
		else
			a, b, c, d, e, f, g = transport:send(limiter, method, url, headers, body, json_body, timeout, fresh)
		end
		if a ~= false then -- an outcome, or the limiter failed (nil, "limiter", why)
			return slept, a, b, c, d, e, f, g
		end
		slept = slept + await_token(client, b)
	end
end

-- Starts a plain request (the gate's) on engine (the running scheduler's)
-- at once, for a batch: the transfer's id, or nil when no token is there
-- yet (then the full path, in a task, waits for one).
function send.start(client, engine, method, url)
	local id = engine:start(client._transport, client._limiter, method, url)
	return id or nil
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

local function trace_outcome(client, req, attempt, status, failure, elapsed)
	if status then
		client:_trace("<- %d %s %s %.1f ms (attempt %d)", status, req.method, req.url, elapsed * 1000, attempt)
	else
		client:_trace("<- %s %s: %s after %.1f ms (attempt %d)", req.method, req.url, failure, elapsed * 1000, attempt)
	end
end

local function notify_retry(client, req, attempt, status, reason, wait)
	client._stats:record_retry()
	client:_trace("retry %s %s in %.3fs: %s (attempt %d next)", req.method, req.url, wait, reason, attempt + 1)
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
end

-- One attempt of req, traced when the client is verbose: what transmit
-- gives, less the connection count.
local function attempt_once(client, req, attempt)
	if client.verbose then
		client:_trace("-> %s %s (attempt %d)", req.method, req.url, attempt)
	end
	local slept, status, headers, body, elapsed, _, retry_after, rate = transmit(
		client,
		req.method,
		req.url,
		req.headers,
		req.body,
		req.json_body,
		req.timeout,
		not req.idempotent
	)
	return slept, status, headers, body, elapsed, retry_after, rate
end

-- What the last attempt comes to: for a response, body, res or nil, err;
-- for none (status nil, headers the failure's name, body its message),
-- the failure, with the reason the retries stopped.
local function conclude(client, req, attempt, waited, started, status, headers, body, rate, reason)
	if not status then
		return response.failure(client, req, headers, body, reason, attempt)
	end
	local res = response.new(status, headers, attempt, waited, core.now() - started, rate)
	if is_success(status) and not req.decode then
		return body, res -- nothing to shape
	end
	return response.finish(client, req, status, headers, body, res)
end

-- Sends req (request.prepare's) until it succeeds, fails for good, or the
-- retry rules say stop. first, when given, is an attempt the gate made:
-- { started =, slept =, status, headers, body, elapsed, retry_after, rate }.
local function loop(client, req, first)
	local started = first and first.started or core.now()
	local waited, attempt = 0, 0
	while true do
		attempt = attempt + 1
		-- For a response: status, headers, body; for none: nil, the
		-- failure's name, its message.
		local slept, status, headers, body, elapsed, retry_after, rate
		if first then
			slept, status, headers, body, elapsed, retry_after, rate = first.slept, table.unpack(first, 1, 6)
			first = nil
		else
			slept, status, headers, body, elapsed, retry_after, rate = attempt_once(client, req, attempt)
		end
		waited = waited + slept
		responded(client)
		if client.verbose then
			trace_outcome(client, req, attempt, status, headers, elapsed)
		end
		if is_success(status) then
			return conclude(client, req, attempt, waited, started, status, headers, body, rate)
		end
		local outcome = status and "status" or headers
		if status == 429 then
			client._stats:record_429()
		elseif outcome == "usage" then
			return nil, errors.new({ kind = "usage", method = req.method, url = req.url, message = body, attempts = attempt })
		elseif outcome == "interrupted" then -- Ctrl-C under pulse-lua: no retry
			return response.failure(client, req, outcome, "interrupted", nil, attempt)
		end
		local retry, wait, reason = false, 0, nil
		if req.retry then
			retry, wait, reason = decide(req, outcome, status, attempt, started, retry_after, rate)
		end
		if not retry then
			return conclude(client, req, attempt, waited, started, status, headers, body, rate, reason)
		end
		notify_retry(client, req, attempt, status, reason, wait)
		if wait > 0 then
			tasks.sleep(wait)
			waited = waited + wait
		end
	end
end

-- What a first attempt through the gate comes to: a success, as the call
-- returns it; else nil, nil and the attempt, for send.retry.
function send.first_outcome(client, method, path, opts, slept, status, headers, body, elapsed, retry_after, rate)
	responded(client)
	if is_success(status) then
		local res = response.new(status, headers, 1, slept, slept + elapsed, rate)
		if opts and opts.decode == false then
			return body, res
		end
		local value = response.body(body, headers)
		if value ~= nil then
			return value, res
		end
		local req = { method = method, url = client._url_cache[path], decode = true, idempotent = true }
		return response.finish(client, req, status, headers, body, res)
	end
	local first = { status, headers, body, elapsed, retry_after, rate }
	first.started, first.slept = core.now() - elapsed - slept, slept
	return nil, nil, first
end

-- Goes on from a first attempt that was not a success, as a call would.
function send.retry(client, method, path, opts, first)
	return loop(client, assert(request.prepare(client, "request", method, path, opts)), first)
end

-- A call: client:get and the others tail-call this, so level 2 is their
-- caller, where a misuse is blamed.
function send.call(client, name, method, path, opts)
	local target = send.plain_url(client, method, path, opts)
	if target then
		local slept, status, headers, body, elapsed, _, retry_after, rate = transmit(client, method, target)
		local result, second, first =
			send.first_outcome(client, method, path, opts, slept, status, headers, body, elapsed, retry_after, rate)
		if not first then
			return result, second
		end
		return send.retry(client, method, path, opts, first)
	end
	local req, why = request.prepare(client, name, method, path, opts)
	if not req then
		error(why, 2)
	end
	return loop(client, req)
end

return send
