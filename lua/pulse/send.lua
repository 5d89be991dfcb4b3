-- The one request path. Every request, a single call's, a batch entry's or
-- a task's, goes through here: one gate that lets a plain request skip
-- preparing, one transmission (a token from the limiter and the exchange,
-- in C: net/exchange.c), and one loop that retries and follows redirects,
-- within the call's budget. A new stage of the path is added here, once.

local cache = require("pulse.cache")
local core = require("pulse.core")
local errors = require("pulse.errors")
local redirects = require("pulse.redirects")
local request = require("pulse.request")
local response = require("pulse.response")
local tasks = require("pulse.tasks")

local send = {}

local IDEMPOTENT = request.IDEMPOTENT
local is_success = errors.is_success

-- How soon a task told to wait for the request confirming the bucket asks
-- again when the limiter is shared: that request may be another process's,
-- whose answer wakes nobody here.
local SHARED_PROBE_RECHECK = 0.05

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
	if client.verbose or client._cache or not IDEMPOTENT[method] then
		return nil
	end
	return client._url_cache[path]
end

-- An attempt ended (status: its response's, nil for none): the tasks
-- waiting for it to confirm the bucket go on, and a response shows that
-- the client's server is there.
local function attempt_ended(client, status)
	if status then
		client._reached = true
	end
	if #client._probe_waiters > 0 then
		tasks.wake(client._probe_waiters)
	end
end

-- Waits as the limiter said when it gave no token (wait: seconds, or -1
-- for "until the response of the request checking the bucket"); returns
-- the seconds slept.
local function await_token(client, wait)
	if wait < 0 then
		if tasks.current() then
			tasks.wait_on(client._probe_waiters, client._shared_limiter and SHARED_PROBE_RECHECK or nil)
		elseif client._shared_limiter then
			-- Another process's request is confirming the bucket: ask
			-- again in a while, asleep (a loop here spun a core).
			tasks.sleep(SHARED_PROBE_RECHECK)
			return SHARED_PROBE_RECHECK
		else
			-- Outside tasks a request runs to its end before the next
			-- starts, so nothing is really in flight: the count is stale.
			client._limiter:cancel()
		end
		return 0
	end
	client:_trace("throttled: waiting %.3fs for the rate limit", wait)
	client._stats:record_throttle(wait)
	tasks.sleep(wait)
	return wait
end

-- Waits in a task for transfer id; a write's (fresh) is counted while it
-- is out, sent and not answered, since it may have been applied: what a
-- batch interrupted then reports (batch.lua).
local function await_transfer(client, id, fresh)
	if not fresh then
		return tasks.await_transfer(id)
	end
	client._writes_in_flight = client._writes_in_flight + 1
	local a, b, c, d, e, f, g = tasks.await_transfer(id)
	client._writes_in_flight = client._writes_in_flight - 1
	return a, b, c, d, e, f, g
end

-- One transmission: takes a token, waiting as the limiter says but never
-- past deadline (nil: the client's budget from the first wait on), and
-- sends, on the engine inside a task (the task yields until it is done) or
-- on the client's own handle outside. A foreign request (a redirect to
-- another origin) takes no token and carries no key.
-- Returns the seconds waited for the token, then the exchange's outcome:
-- status, headers, body, elapsed, transmissions, retry_after, rate; or nil,
-- the failure's name, its message, elapsed, transmissions, and for the
-- failure "over_budget" the wait the limiter asked for.
-- before_send, when given, is asked before each try for a token: false
-- ends the call unsent ("cancelled"); the write queue records there that a
-- write is about to go out (queue/drain.lua).
local function transmit(
	client,
	deadline,
	method,
	url,
	headers,
	body,
	json_body,
	timeout,
	fresh,
	max_body,
	foreign,
	before_send
)
	if client._key_file then
		client:_refresh_key()
	end
	local limiter, transport, slept = client._limiter, client._transport, 0
	if foreign then
		limiter = nil
	end
	while true do
		if before_send and not before_send() then
			return slept, nil, "cancelled", "not sent: the queue's drain is stopping", 0, 0
		end
		local a, b, c, d, e, f, g
		if tasks.suspendable("a request") then
			a, b, c, d, e = tasks.engine():start(
				transport,
				limiter,
				method,
				url,
				headers,
				body,
				json_body,
				timeout,
				fresh,
				max_body,
				foreign
			)
			if a then
				return slept, await_transfer(client, a, fresh)
			end
		else
			a, b, c, d, e, f, g =
				transport:send(limiter, method, url, headers, body, json_body, timeout, fresh, max_body, foreign)
		end
		if a ~= false then -- an outcome, or the limiter failed (nil, "limiter", why, 0, 0)
			return slept, a, b, c, d, e, f, g
		end
		local now = core.now()
		deadline = deadline or now + client._budget
		-- Every wait is held to the call's budget: one for the rate limit,
		-- and one for another request's answer to confirm the bucket.
		if (b > 0 and now + b > deadline) or (b < 0 and now >= deadline) then
			local message = b > 0 and string.format("the rate limit asks to wait %.1f s, past the call's budget", b)
				or "the bucket waits for another request's answer to confirm it, past the call's budget"
			return slept, nil, "over_budget", message, 0, 0, math.max(b, 0)
		end
		slept = slept + await_token(client, b)
	end
end

-- Starts a plain request (the gate's) on engine (the running scheduler's)
-- at once, for a batch: the transfer's id, or nil when no token is there
-- yet (then the full path, in a task, waits for one).
function send.start(client, engine, method, url)
	if client._key_file then
		client:_refresh_key()
	end
	local id = engine:start(client._transport, client._limiter, method, url)
	return id or nil
end

-- The retry rules' name for a failure the transport reports.
local OUTCOMES = {
	no_connection = "no_connection",
	tls = "no_connection", -- the handshake failed: nothing was sent
	certificate = "certificate",
	timeout = "timeout",
	too_large = "final",
	limiter = "final", -- a shared limiter out of reach: it says why
}

-- Whether to try again: retry, wait, reason, over_budget (pulse.core's
-- rules, core/retry.c).
local function decide(client, req, outcome, status, attempt, started, retry_after, rate, foreign)
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
		first_contact = not client._reached and not foreign,
	})
end

local function trace_outcome(client, hop, attempt, status, failure, elapsed)
	if status then
		client:_trace("<- %d %s %s %.1f ms (attempt %d)", status, hop.method, hop.url, elapsed * 1000, attempt)
	else
		client:_trace("<- %s %s: %s after %.1f ms (attempt %d)", hop.method, hop.url, failure, elapsed * 1000, attempt)
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

-- The seconds an attempt may take: the request's timeout, cut short so
-- that a call with retries ends by retry.max_elapsed + 1 s.
local function attempt_timeout(client, req, started)
	if not req.retry then
		return req.timeout
	end
	local left = started + req.retry.max_elapsed + 1 - core.now()
	local timeout = req.timeout or client.timeout
	if left < timeout then
		return math.max(left, 0.001)
	end
	return req.timeout
end

-- What the loop keeps of a call between attempts.
local Call = {}
Call.__index = Call

local function new_call(client, req, started)
	local budget = req.retry and req.retry.max_elapsed or (req.timeout or client.timeout)
	return setmetatable({
		client = client,
		req = req,
		started = started,
		deadline = started + budget,
		waited = 0,
		attempt = 0, -- tries, for the retry rules
		sent = 0, -- transmissions, for res.attempts
		hop = req, -- what goes out next: the request, or where a redirect led
	}, Call)
end

-- One attempt of the call's current hop, traced when the client is
-- verbose: what transmit gives.
function Call:transmit()
	local client, hop = self.client, self.hop
	if client.verbose then
		client:_trace("-> %s %s (attempt %d)", hop.method, hop.url, self.attempt)
	end
	return transmit(
		client,
		self.deadline,
		hop.method,
		hop.url,
		hop.headers,
		hop.body,
		hop.json_body,
		attempt_timeout(client, self.req, self.started),
		not hop.idempotent,
		self.req.max_body,
		hop.foreign,
		self.req.before_send
	)
end

-- The res of the call's last response.
function Call:res(status, headers, rate)
	local res = response.new(status, headers, self.sent, self.waited, core.now() - self.started, rate)
	res.redirects = self.redirects
	return res
end

-- Whether a body kept as it came (decode = false) is as long as the
-- server said it would be.
local function whole(headers, body)
	local declared = tonumber(headers["content-length"] or "")
	return declared == nil or declared == #body
end

-- What a response that ends the call comes to: body, res or nil, err.
-- With a cache, the answer is stored only when sound: it decoded (or, kept
-- as it came, had its declared length) and carries no error object.
function Call:conclude(status, headers, body, rate, server_wait, retry_after)
	local client = self.client
	if client._cache and not self.hop.foreign then
		client:_key_answered(status)
	end
	local res = self:res(status, headers, rate)
	if is_success(status) and not self.req.decode then
		if client._cache then
			self:store(status, headers, body, whole(headers, body))
		end
		return body, res -- nothing to shape
	end
	local value, err = response.finish(client, self.hop, status, headers, body, res, server_wait, retry_after)
	if client._cache then
		self:store(status, headers, body, value ~= nil and not cache.carries_error(value))
	end
	return value, err
end

-- ---- the cache stage (cache.lua) ------------------------------------------

local WRITES = { POST = true, PUT = true, PATCH = true, DELETE = true }

-- What a call answered from the cache returns: the stored body (decoded
-- as the call asks) and a res that says so. flag: "revalidated" or
-- "stale", or nil for a fresh entry.
function Call:from_entry(entry, flag)
	local client = self.client
	local headers = core.headers(entry.headers)
	local res = response.new(200, headers, self.sent, self.waited, core.now() - self.started, client._limiter:view())
	res.from_cache = true
	if flag then
		res[flag] = true
	end
	if not self.req.decode then
		return entry.body, res
	end
	local body, why = response.body(entry.body, headers)
	if body == nil then
		return nil, errors.new({ kind = "decode", message = why, method = self.req.method, url = self.req.url, res = res })
	end
	return body, res
end

-- Before the call is sent: a write drops the cached reads of its path; a
-- GET with a fresh entry is answered from it, without a token; a stale
-- entry is kept, to revalidate (its validators go with the request) or to
-- serve on an error. Returns true and the answer, or nothing.
function Call:look_up()
	local client, req = self.client, self.req
	local store = client._cache
	if req.cache == false then
		return
	end
	if WRITES[req.method] then
		store:invalidate(client._bucket, req.url)
		self.invalidates = true
		return
	end
	if req.method ~= "GET" then
		return
	end
	local ttl = store:ttl_for(req.url, type(req.cache) == "table" and req.cache.ttl or nil)
	if ttl <= 0 then
		return
	end
	self.cache_ttl = ttl
	-- Nothing stored is served to a key the server has not taken yet.
	local entry = client._key_vouched and store:get(client._bucket, req.url)
	local stats = client._stats
	if entry and cache.age(entry) < ttl then
		stats.cache_hits = stats.cache_hits + 1
		return true, self:from_entry(entry)
	end
	stats.cache_misses = stats.cache_misses + 1
	if not entry then
		return
	end
	self.stale = entry
	local lines = { table.unpack(req.headers or {}) }
	if entry.etag then
		lines[#lines + 1] = "If-None-Match: " .. entry.etag
	end
	if entry.last_modified then
		lines[#lines + 1] = "If-Modified-Since: " .. entry.last_modified
	end
	req.headers = lines
end

-- After an answer: a 304 confirms the stale entry; a 503, or no answer (no
-- connection, a timeout, a connection lost), serves it when stale_if_error
-- allows. Returns true and the answer, or
-- nothing.
function Call:fall_back(status, outcome)
	local client, entry = self.client, self.stale
	local store, stats = client._cache, client._stats
	if status == 304 then
		client:_key_answered(status) -- the server took the key
		store:put(client._bucket, self.req.url, entry) -- stamped now: fresh again
		stats.cache_revalidations = stats.cache_revalidations + 1
		return true, self:from_entry(entry, "revalidated")
	end
	local unreachable = not status and (outcome == "no_connection" or outcome == "timeout" or outcome == "network")
	if (status == 503 or unreachable) and cache.age(entry) < entry.ttl + store.stale_if_error then
		stats.cache_stale = stats.cache_stale + 1
		return true, self:from_entry(entry, "stale")
	end
end

-- A response that ends a call: a write's drops the reads it changed (again:
-- a read may have refilled them meanwhile); a GET's sound success is
-- stored, unless it says no-store or holds the key.
function Call:store(status, headers, body, sound)
	local client, req = self.client, self.req
	if self.invalidates then
		client._cache:invalidate(client._bucket, req.url)
		return
	end
	if not sound or not self.cache_ttl or not cache.storable(status, headers) or self.hop ~= req then
		return
	end
	local block = tostring(headers)
	if client:_redact(body) ~= body or client:_redact(block) ~= block then
		return
	end
	client._cache:put(client._bucket, req.url, {
		body = body,
		headers = block,
		ttl = self.cache_ttl,
		etag = headers.etag,
		last_modified = headers["last-modified"],
	})
end

-- Follows a redirect (a 3xx response with a Location) when the rules of
-- pulse.redirects allow: returns true to go on with the next hop, or
-- what the call returns.
function Call:redirect(status, headers, rate)
	local hop, why = redirects.next_hop(self.client, self.req, self.hop, status, headers, self.redirects)
	if not hop then
		return false, response.redirect_error(self.client, self.hop, status, headers, why, self:res(status, headers, rate))
	end
	self.redirects = self.redirects or {}
	self.redirects[#self.redirects + 1] = { status = status, url = hop.url }
	self.client:_trace("redirect %d to %s (hop %d)", status, hop.url, #self.redirects)
	self.hop = hop
	return true
end

-- The transmissions an attempt counts for: at least one, unless nothing
-- was tried (the limiter failed, or its wait passed the budget).
local function tries(status, failure, transmissions)
	if status or transmissions > 0 then
		return transmissions > 0 and transmissions or 1
	end
	return (failure == "over_budget" or failure == "limiter" or failure == "cancelled") and 0 or 1
end

-- Sends req (request.prepare's) until it succeeds, fails for good, or the
-- retry rules say stop. first, when given, is an attempt the gate made:
-- { started =, slept =, status, headers, body, elapsed, transmissions,
-- retry_after, rate }.
local function loop(client, req, first)
	local call = new_call(client, req, first and first.started or core.now())
	if client._cache then
		local answered, a, b = call:look_up()
		if answered then
			return a, b
		end
	end
	while true do
		call.attempt = call.attempt + 1
		-- For a response: status, headers, body; for none: nil, the
		-- failure's name, its message.
		local slept, status, headers, body, elapsed, transmissions, retry_after, rate
		if first then
			slept = first.slept
			status, headers, body, elapsed, transmissions, retry_after, rate = table.unpack(first, 1, 7)
			first = nil
		else
			slept, status, headers, body, elapsed, transmissions, retry_after, rate = call:transmit()
		end
		call.waited = call.waited + slept
		call.sent = call.sent + tries(status, headers, transmissions)
		attempt_ended(client, status)
		if client.verbose then
			trace_outcome(client, call.hop, call.attempt, status, headers, elapsed)
		end
		local done, a, b = call:settle(status, headers, body, retry_after, rate)
		if done then
			return a, b
		end
	end
end

-- What the last attempt's outcome means: true and what the call returns,
-- or false to go on (after a wait, a redirect, a retry).
function Call:settle(status, headers, body, retry_after, rate)
	local client, req = self.client, self.req
	if self.stale then
		local served, a, b = self:fall_back(status, not status and (OUTCOMES[headers] or headers))
		if served then
			return true, a, b
		end
	end
	if is_success(status) then
		return true, self:conclude(status, headers, body, rate)
	end
	if status and status >= 300 and status < 400 and headers.location then
		local go_on, a, b = self:redirect(status, headers, rate)
		return not go_on, a, b
	end
	local outcome = status and "status" or OUTCOMES[headers] or headers
	if status == 429 then
		client._stats:record_429()
	elseif outcome == "usage" then
		local usage = { kind = "usage", method = req.method, url = req.url, message = body, attempts = self.sent }
		return true, nil, errors.new(usage)
	elseif outcome == "interrupted" then -- Ctrl-C under pulse-lua: no retry
		return true, response.failure(client, self.hop, outcome, "interrupted", nil, self.sent)
	elseif outcome == "cancelled" then -- before_send said no: nothing went out
		return true, response.failure(client, self.hop, outcome, body, nil, self.sent)
	elseif outcome == "over_budget" then
		return true, response.over_budget(client, self.hop, body, retry_after, self.sent)
	end
	local retry, wait, reason, over_budget = false, 0, nil, false
	if req.retry then
		retry, wait, reason, over_budget =
			decide(client, req, outcome, status, self.attempt, self.started, retry_after, rate, self.hop.foreign)
	elseif outcome == "no_connection" or outcome == "certificate" then
		reason = not client._reached and "is base_url right?" or nil
	end
	if not retry then
		if not status then
			return true, response.failure(client, self.hop, headers, body, reason, self.sent)
		end
		return true, self:conclude(status, headers, body, rate, over_budget and wait or nil, retry_after)
	end
	notify_retry(client, req, self.attempt, status, reason, wait)
	if wait > 0 then
		tasks.sleep(wait)
		self.waited = self.waited + wait
	end
	return false
end

-- What a first attempt through the gate (opts: the call's) comes to: a
-- success, as the call returns it; else nil, nil and the attempt, for
-- send.retry, which shapes every other outcome (an undecodable body too).
function send.first_outcome(client, opts, slept, status, headers, body, elapsed, transmissions, retry_after, rate)
	attempt_ended(client, status)
	if is_success(status) then
		local res = response.new(status, headers, transmissions, slept, slept + elapsed, rate)
		if opts and opts.decode == false then
			return body, res
		end
		local value = response.body(body, headers)
		if value ~= nil then
			return value, res
		end
	end
	local first = { status, headers, body, elapsed, transmissions, retry_after, rate }
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
		local slept, status, headers, body, elapsed, transmissions, retry_after, rate =
			transmit(client, nil, method, target, nil, nil, nil, client._first_timeout)
		local result, second, first = send.first_outcome(
			client,
			opts,
			slept,
			status,
			headers,
			body,
			elapsed,
			transmissions,
			retry_after,
			rate
		)
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
