-- The one request path. Every request, a single call's, a batch entry's or
-- a task's, goes through here as a call: one gate that lets a plain
-- request skip preparing, one transmission (a token from the limiter and
-- the exchange, in C: net/exchange.c), and one loop that retries and
-- follows redirects within the call's budget, with the stages of
-- send.stages around it.
--
-- A client hands its parts to the path once, as its line (send.line):
--   client          the client, for its public fields (verbose, origin)
--   transport       pulse.core's transport; limiter: its limiter
--   shared          whether the limiter is shared with other processes
--   budget          what a call's waits may take, in seconds
--   lane            the client's lane on the limiter (options.LANES; nil:
--                   normal)
--   first_timeout   a plain call's one attempt's timeout (nil: the
--                   transport's)
--   stats           the client's counters (stats.lua)
--   cache, bucket   the response cache (or nil) and the bucket's name
--   key_digest      a digest of the key in use and the origin (never the
--                   key), by which a cache directory recalls it was taken
--   refresh_key     nil, or a function run before each transmission (a
--                   key file read again when it changed)
--   observer        nil, or who listens to every call (observe.lua: the
--                   client's hooks and trace); a call with hooks of its
--                   own (opts.on) has its own, in call.observer
-- and the path keeps there what it learns: reached (a response came from
-- the server), key_vouched (the server took the key in use: set it false
-- when the key changes), writes_in_flight (sent from tasks, unanswered),
-- reads (the GETs out from tasks, by URL, that an identical GET asked
-- meanwhile rides along with: a new table when the key changes);
-- request.lua keeps its cache of URLs and plain hops there (urls), and
-- the gate a plain call to make the next one of (spare).
--
-- A call (Call below) is one request's life: what the caller asked (req,
-- request.prepare's), the hop that goes out next (req, or where a redirect
-- led), the attempt's timeout, max_body and fresh, the budget's deadline,
-- attempts, transmissions (sent), the seconds waited, the redirects
-- followed, and the last attempt's outcome, which the binding returns
-- and Call:record names at once, its branch named by status (the other
-- branch's fields are stale: read each only in its own):
--   a response:  status, headers, body, elapsed, transmissions,
--                retry_after, rate
--   none:        status nil, failure (its name), message, elapsed,
--                transmissions
--
-- A stage is a table in send.stages, run for the calls of every client
-- made after it is there whose line it applies to:
--   name             for messages
--   applies(line)    whether it takes part (absent: always)
--   open(call)       before anything is sent: true and an answer (a, b:
--                    what the call returns) ends the call unsent
--   outcome(call)    after each attempt's outcome, before the retry rules:
--                    true and an answer ends the call
--   close(call, a, b)  at the end of a call that went out: returns what
--                    the call returns (a, b, or others)
-- Any of the three may be absent. open and outcome run in the list's
-- order, close in the reverse. A line with a stage takes the full path:
-- the gate lets no call skip it.

local core = require("pulse.core")
local errors = require("pulse.errors")
local observe = require("pulse.observe")
local redirects = require("pulse.redirects")
local request = require("pulse.request")
local response = require("pulse.response")
local secrets = require("pulse.secrets")
local tasks = require("pulse.tasks")

local send = {}

local cache_stage = require("pulse.stage.cache")
local dry_run_stage = require("pulse.stage.dry_run")
local record_stage = require("pulse.stage.record")
local replay_stage = require("pulse.stage.replay")

-- A dry run's writes are answered before a replay is asked; a replay
-- answers before the cache; a recording closes first, with the exchange
-- as it came. (Locals: require's second value, the file's name, would
-- follow the last one into the list.)
send.stages = { dry_run_stage, replay_stage, cache_stage, record_stage }

local IDEMPOTENT = request.IDEMPOTENT
local is_success = errors.is_success

-- How soon a task told to wait for the request confirming the bucket asks
-- again when the limiter is shared: that request may be another process's,
-- whose answer wakes nobody here.
local SHARED_PROBE_RECHECK = 0.05

-- ---- the line -------------------------------------------------------------

local Line = {}
Line.__index = Line

--- The line of client, from its parts (above): the stages it takes, and
-- what the path learns.
function send.line(client, parts)
	local line = setmetatable(parts, Line)
	line.client = client
	line.reached = false
	line.key_vouched = false
	line.writes_in_flight = 0
	line.reads = {}
	line.probe_waiters = {}
	line.stages = {}
	for _, stage in ipairs(send.stages) do
		if not stage.applies or stage.applies(line) then
			line.stages[#line.stages + 1] = stage
		end
	end
	return line
end

-- The verbose trace, on stderr, the client's secrets redacted.
function Line:trace(fmt, ...)
	local client = self.client
	if client.verbose then
		io.stderr:write(secrets.redact(client, "pulse: " .. string.format(fmt, ...)), "\n")
	end
end

-- An attempt ended (status: its response's, nil for none): the tasks
-- waiting for it to confirm the bucket go on, and a response shows that
-- the server is there.
function Line:attempt_ended(status)
	if status then
		self.reached = true
	end
	if #self.probe_waiters > 0 then
		tasks.wake(self.probe_waiters)
	end
end
-- The plain path calls this and Call's record, transmit and plain_answer
-- as locals: a method is looked for in the object first, then its class.
local attempt_ended = Line.attempt_ended

-- Waits as the limiter said when it gave no token (wait: seconds, or -1
-- for "until the response of the request checking the bucket"); returns
-- the seconds slept.
function Line:await_token(wait)
	if wait < 0 then
		if tasks.current() then
			tasks.wait_on(self.probe_waiters, self.shared and SHARED_PROBE_RECHECK or nil)
		elseif self.shared then
			-- Another process's request is confirming the bucket: ask
			-- again in a while, asleep (a loop here spun a core).
			tasks.sleep(SHARED_PROBE_RECHECK)
			return SHARED_PROBE_RECHECK
		else
			-- Outside tasks a request runs to its end before the next
			-- starts, so nothing is really in flight: the count is stale.
			self.limiter:cancel()
		end
		return 0
	end
	self:trace("throttled: waiting %.3fs for the rate limit", wait)
	self.stats:record_throttle(wait)
	tasks.sleep(wait)
	return wait
end

-- ---- the call -------------------------------------------------------------

local Call = {}
Call.__index = Call

-- A call with room for its outcome's fields, so that recording them does
-- not grow it. (A nil in a constructor still sizes the table.) req and
-- deadline are false until the full path sets them: a plain call reads
-- them, and a field that is there is not looked for among the methods.
local function new_call(line, hop, timeout)
	return setmetatable({
		line = line,
		hop = hop,
		timeout = timeout,
		slept = 0,
		req = false,
		deadline = false,
		status = nil,
		headers = nil,
		body = nil,
		elapsed = nil,
		transmissions = nil,
		retry_after = nil,
		rate = nil,
		failure = nil,
		message = nil,
		path = nil,
		opts = nil,
		max_body = nil,
		-- Read by the binding: the lane (nil: normal), and the place in the
		-- bucket's line a take told to wait keeps (nil: none).
		lane = line.lane,
		place = nil,
		-- Who listens (observe.lua), and a table the binding fills with
		-- libcurl's timing phases when a hook asks for them; a traced
		-- call's file and URL, where the binding writes its attempts'
		-- lines (binding/trace.c).
		observer = nil,
		phases = nil,
		trace = nil,
		trace_url = nil,
	}, Call)
end

-- Names an attempt's outcome as the binding gives it: status, headers,
-- body, elapsed, transmissions, retry_after, rate for a response; nil,
-- failure, message, elapsed, transmissions for none.
function Call:record(status, a, b, elapsed, transmissions, retry_after, rate)
	self.status, self.elapsed, self.transmissions = status, elapsed, transmissions
	if status then
		self.headers, self.body, self.retry_after, self.rate = a, b, retry_after, rate
	else
		self.failure, self.message = a, b
	end
end

-- Ends the attempt without an exchange, nothing sent.
function Call:fail(failure, message)
	self:record(nil, failure, message, 0, 0)
end

-- Waits in a task for the call's transfer id, and records its outcome; a
-- write's (fresh) is counted while it is out, sent and not answered, since
-- it may have been applied: what a batch interrupted then reports
-- (batch.lua).
function Call:await_transfer(id)
	if not self.fresh then
		return self:record(tasks.await_transfer(id))
	end
	local line = self.line
	line.writes_in_flight = line.writes_in_flight + 1
	self:record(tasks.await_transfer(id))
	line.writes_in_flight = line.writes_in_flight - 1
end

-- One transmission of the hop: takes a token, waiting as the limiter says
-- but never past the deadline (false: the line's budget from the first wait
-- on), and sends, on the engine inside a task (the task yields until it is
-- done) or on the transport outside. A foreign hop (a redirect to another
-- origin) takes no token and carries no key. Sets the outcome, and slept:
-- the seconds waited for the token. A failure "over_budget" (the wait the
-- limiter asked for in asked_wait) or "cancelled" sent nothing.
-- req.before_send, when given, is asked before each try for a token: false
-- ends the call unsent; the write queue records there that a write is about
-- to go out (queue/drain.lua).
--
-- In a task, a GET whose twin (same URL, same key) is out already from
-- another task of the line sends nothing: it waits for that one's outcome
-- and takes it as its own (shared: res.shared), one call for both.
function Call:transmit()
	self.shared = false
	local url = tasks.current() and self:shareable_url()
	if not url then
		return self:send_hop()
	end
	local reads = self.line.reads
	local out = reads[url]
	if out then
		return self:ride(out)
	end
	return self:lead(url)
end

--- Starts a plain call on engine (the running scheduler's) at once, for a
-- batch: the transfer's id, and the record its twins wait on (a GET's);
-- nil when no token is there yet, or a twin is out already (then the full
-- path, in a task, waits for one, or rides along).
function Call:start(engine)
	local line = self.line
	local url = self:shareable_url()
	if url and line.reads[url] then
		return nil
	end
	if line.refresh_key then
		line.refresh_key()
	end
	self.shared = false
	local id = engine:start(line.transport, line.limiter, self) or nil
	return id, id and url and send.open_read(line, url) or nil, url
end

-- What a GET of this attempt may share its answer by (its URL, and the
-- header lines it was asked with: a twin asks the same), or nil: a hop of
-- the organization's (no redirect elsewhere), with no Cache-Control:
-- no-cache asked.
function Call:shareable_url()
	local hop = self.hop
	if hop.method ~= "GET" or hop.foreign then
		return nil
	end
	local headers = self.req and self.req.headers
	if not headers then
		return hop.url
	end
	for _, header in ipairs(headers) do
		local name, value = header:match("^([^:]*):%s*(.*)$")
		if name and name:lower() == "cache-control" and value:lower():find("no-cache", 1, true) then
			return nil
		end
	end
	return hop.url .. "\n" .. table.concat(headers, "\n")
end

-- What an attempt came to, as Call:record names it, and a rider copies.
local OUTCOME = { "status", "headers", "body", "elapsed", "retry_after", "rate", "failure", "message" }

--- A GET of url goes out from the line: the record its twins asked
-- meanwhile wait on (Call:ride), in its waiters list, made by the first
-- twin: nearly every GET has none.
function send.open_read(line, url)
	local out = {}
	line.reads[url] = out
	return out
end

--- The GET of out ended: its twins take call's outcome, when it sent one
-- (nil: they go alone).
function send.close_read(line, url, out, call)
	if line.reads[url] == out then
		line.reads[url] = nil
	end
	out.ended = true
	local waiters = out.waiters
	if not waiters then -- no twin came
		return
	end
	if call and call.transmissions > 0 then
		for _, field in ipairs(OUTCOME) do
			out[field] = call[field]
		end
		out.done = true
	end
	tasks.wake(waiters)
end

-- Sends the GET as the one its twins asked meanwhile wait for, then hands
-- them its outcome. An error on the way (Ctrl-C), or its task closed by a
-- run that failed, leaves them to go alone.
function Call:lead(url)
	local line = self.line
	local out = send.open_read(line, url)
	local _ <close> = setmetatable({}, {
		__close = function()
			if not out.ended then
				send.close_read(line, url, out, nil)
			end
		end,
	})
	self:send_hop()
	send.close_read(line, url, out, self)
end

-- Waits for the twin out (within the call's deadline), and takes its
-- outcome; sends its own when the twin sent nothing in the end.
function Call:ride(out)
	local started = core.now()
	local deadline = self.deadline or started + self.line.budget
	local waiters = out.waiters or {}
	out.waiters = waiters
	while not out.ended and core.now() < deadline do
		tasks.wait_on(waiters, deadline - core.now())
	end
	if not out.done then
		-- The twin sent nothing, or is still out past this call's
		-- deadline: its record stays, for the twins asked after this one.
		return self:send_hop()
	end
	for _, field in ipairs(OUTCOME) do
		self[field] = out[field]
	end
	self.transmissions, self.slept, self.shared = 0, core.now() - started - (out.elapsed or 0), true
	self.line.stats:record_shared()
	if self.slept < 0 then
		self.slept = 0
	end
end

-- The transmission itself (see transmit).
function Call:send_hop()
	local line = self.line
	if line.refresh_key then
		line.refresh_key()
	end
	local limiter, transport = line.limiter, line.transport
	if self.hop.foreign then
		limiter = nil
	end
	local before_send = self.req and self.req.before_send
	local deadline = self.deadline
	self.slept = 0
	while true do
		if before_send and not before_send() then
			self:leave_line()
			return self:fail("cancelled", "not sent: the queue's drain is stopping")
		end
		local a, b, c, d, e, f, g
		if tasks.suspendable("a request") then
			a, b, c, d, e = tasks.engine():start(transport, limiter, self)
			if a then -- the transfer's id
				return self:await_transfer(a)
			end
		else
			a, b, c, d, e, f, g = transport:send(limiter, self)
		end
		if a ~= false then -- an outcome, or the limiter failed (nil, "limiter", why, 0, 0)
			-- Call:record's, written out: every call comes through here.
			self.status, self.elapsed, self.transmissions = a, d, e
			if a then
				self.headers, self.body, self.retry_after, self.rate = b, c, f, g
			else
				self.failure, self.message = b, c
			end
			return
		end
		local wait = b
		local now = core.now()
		deadline = deadline or now + line.budget
		-- Every wait is held to the call's budget: one for the rate limit,
		-- and one for another request's answer to confirm the bucket.
		if (wait > 0 and now + wait > deadline) or (wait < 0 and now >= deadline) then
			self:leave_line()
			self.asked_wait = math.max(wait, 0)
			return self:fail(
				"over_budget",
				wait > 0 and string.format("the rate limit asks to wait %.1f s, past the call's budget", wait)
					or "the bucket waits for another request's answer to confirm it, past the call's budget"
			)
		end
		if self.observer then
			self.observer:wait(self, wait)
		end
		self.slept = self.slept + line:await_token(wait)
	end
end
local transmit = Call.transmit

-- A call that waited for a token gives up its place in the bucket's line,
-- which would otherwise hold tokens back for it until it lapsed.
function Call:leave_line()
	local place = self.place
	if place then
		self.place = nil
		self.line.limiter:leave(place)
	end
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

-- The retry rules' name for the last attempt's failure (nil for a
-- response).
function Call:failure_kind()
	if self.status then
		return nil
	end
	local failure = self.failure
	return OUTCOMES[failure] or failure
end

-- The transmissions the last attempt counts for: at least one, unless
-- nothing was tried (the limiter failed, or its wait passed the budget).
function Call:tries()
	if self.shared then
		return 0 -- it rode along: the twin's call sent it
	end
	local transmissions = self.transmissions
	if self.status or transmissions > 0 then
		return transmissions > 0 and transmissions or 1
	end
	local failure = self.failure -- no status: the branch without a response
	return (failure == "over_budget" or failure == "limiter" or failure == "cancelled") and 0 or 1
end

-- ---- a plain call (the gate) ----------------------------------------------

--- The gate: a call for a request that needs nothing but a method and a
-- URL built before (an idempotent method, a path seen already, no option
-- but decode, a line without stages, a client that does not trace), ready
-- to transmit; nil sends it the full way. spare, when given, is a plain
-- call of the line whose answer was taken (a batch's): it is made this
-- one, rather than a new table.
function send.plain(line, method, path, opts, spare)
	if opts ~= nil then
		if type(opts) ~= "table" then
			return nil
		end
		local name, value = next(opts)
		if name ~= nil and (name ~= "decode" or (value ~= true and value ~= false) or next(opts, name) ~= nil) then
			return nil
		end
	end
	local observer = line.observer
	if line.stages[1] or line.client.verbose or (observer and observer.hooked) or not IDEMPOTENT[method] then
		return nil
	end
	-- request.lua's places (line.urls), read here: a call fewer per call.
	local places = line.urls
	local place = places and places[path]
	if not place then
		return nil
	end
	local hop = place[method] or request.plain_hop(place, method)
	local call = spare
	if call then
		call.hop = hop
	else
		call = new_call(line, hop, line.first_timeout)
	end
	call.path, call.opts = path, opts
	if observer then -- a trace, no hook: the binding writes its line
		local url = hop.trace_url or observer:trace_url(hop.url)
		hop.trace_url = url -- the hop is the place's, made once
		call.attempt, call.trace, call.trace_url = 1, observer.trace, url
	end
	return call
end

--- What a plain call's attempt came to: true and what the call returns
-- for a success; else false, and go_on shapes every other outcome (an
-- undecodable body too).
function Call:plain_answer()
	local status, line = self.status, self.line
	attempt_ended(line, status)
	-- A trace alone: the binding wrote the attempt's line; one that rode
	-- along with a twin had none.
	if self.shared and line.observer then
		line.observer:response(self)
	end
	if is_success(status) then
		local slept = self.slept
		local res = response.new(status, self.headers, self.transmissions, slept, slept + self.elapsed, self.rate)
		res.shared = self.shared
		if self.opts and self.opts.decode == false then
			return true, self.body, res
		end
		local value = response.body(self.body, self.headers)
		if value ~= nil then
			return true, value, res
		end
	end
	return false
end
local plain_answer = Call.plain_answer

-- ---- the full path --------------------------------------------------------

-- The seconds an attempt may take: the request's timeout, cut short so
-- that a call with retries ends by retry.max_elapsed + 1 s.
function Call:attempt_timeout()
	local req = self.req
	if not req.retry then
		return req.timeout
	end
	local left = self.started + req.retry.max_elapsed + 1 - core.now()
	local timeout = req.timeout or self.line.client.timeout
	if left < timeout then
		return math.max(left, 0.001)
	end
	return req.timeout
end

-- Makes the call req's (request.prepare's), begun at started.
function Call:begin(req, started)
	local budget = req.retry and req.retry.max_elapsed or (req.timeout or self.line.client.timeout)
	self.req, self.hop, self.max_body = req, req, req.max_body
	self.lane = req.lane or self.line.lane
	self.started, self.deadline = started, started + budget
	self.waited, self.attempt, self.sent = 0, 0, 0
	local line = self.line
	self.observer = req.on and observe.for_call(line.client, line.observer, req.on) or line.observer
end

-- Whether to try again: retry, wait, reason, over_budget (pulse.core's
-- rules, core/retry.c).
function Call:decide(outcome)
	local status, retry_after = self.status, self.retry_after
	if status == 429 and not retry_after then
		retry_after = self.rate.blocked
	end
	local r = self.req.retry
	return core.retry_decide({
		outcome = outcome,
		status = status,
		idempotent = self.req.idempotent,
		attempt = self.attempt,
		elapsed = core.now() - self.started,
		retry_after = retry_after,
		max_attempts = r.max_attempts,
		max_elapsed = r.max_elapsed,
		base = r.base,
		cap = r.cap,
		random = math.random(),
		first_contact = not self.line.reached and not self.hop.foreign,
	})
end

function Call:trace_outcome()
	local hop, line = self.hop, self.line
	if self.status then
		line:trace(
			"<- %d %s %s %.1f ms (attempt %d)",
			self.status,
			hop.method,
			hop.url,
			self.elapsed * 1000,
			self.attempt
		)
	else
		line:trace(
			"<- %s %s: %s after %.1f ms (attempt %d)",
			hop.method,
			hop.url,
			self.failure,
			self.elapsed * 1000,
			self.attempt
		)
	end
end

function Call:notify_retry(reason, wait)
	local req, line = self.req, self.line
	line.stats:record_retry()
	if self.observer then
		self.observer:retry(self, reason, wait)
	end
	line:trace("retry %s %s in %.3fs: %s (attempt %d next)", req.method, req.url, wait, reason, self.attempt + 1)
	if req.retry.on_retry then
		req.retry.on_retry({
			method = req.method,
			url = req.url,
			attempt = self.attempt,
			status = self.status,
			reason = reason,
			wait = wait,
		})
	end
end

-- The res of the call's last response.
function Call:res()
	local res = response.new(
		self.status,
		self.headers,
		self.sent,
		self.waited,
		core.now() - self.started,
		self.rate
	)
	res.redirects = self.redirects
	res.shared = self.shared
	return res
end

-- What a response that ends the call comes to: body, res or nil, err.
-- server_wait: a wait the server asked for that the budget did not allow.
function Call:conclude(server_wait)
	local res = self:res()
	if is_success(self.status) and not self.req.decode then
		return self.body, res -- nothing to shape
	end
	return response.finish(
		self.line.client,
		self.hop,
		self.status,
		self.headers,
		self.body,
		res,
		server_wait,
		self.retry_after
	)
end

-- Follows a redirect (a 3xx response with a Location) when the rules of
-- pulse.redirects allow: returns true to go on with the next hop, or
-- false and what the call returns.
function Call:redirect()
	local line, status, headers = self.line, self.status, self.headers
	local hop, why = redirects.next_hop(line.client, self.req, self.hop, status, headers, self.redirects)
	if not hop then
		return false, response.redirect_error(line.client, self.hop, status, headers, why, self:res())
	end
	self.redirects = self.redirects or {}
	self.redirects[#self.redirects + 1] = { status = status, url = hop.url }
	line:trace("redirect %d to %s (hop %d)", status, hop.url, #self.redirects)
	self.hop = hop
	return true
end

-- What the last attempt's outcome means: true and what the call returns,
-- or false to go on (after a wait, a redirect, a retry).
function Call:settle()
	local line, req, status = self.line, self.req, self.status
	for _, stage in ipairs(line.stages) do
		if stage.outcome then
			local answered, a, b = stage.outcome(self)
			if answered then
				return true, a, b
			end
		end
	end
	if is_success(status) then
		return true, self:conclude()
	end
	if status and status >= 300 and status < 400 and self.headers.location then
		local go_on, a, b = self:redirect()
		return not go_on, a, b
	end
	local client = line.client
	local outcome = status and "status" or self:failure_kind()
	if status == 429 then
		line.stats:record_429()
	elseif outcome == "usage" then
		local usage = { kind = "usage", method = req.method, url = req.url, message = self.message, attempts = self.sent }
		return true, nil, errors.new(usage)
	elseif outcome == "interrupted" then -- Ctrl-C under pulse-lua: no retry
		return true, response.failure(client, self.hop, outcome, "interrupted", nil, self.sent)
	elseif outcome == "cancelled" then -- before_send said no: nothing went out
		return true, response.failure(client, self.hop, outcome, self.message, nil, self.sent)
	elseif outcome == "over_budget" then
		return true, response.over_budget(client, self.hop, self.message, self.asked_wait, self.sent)
	end
	local retry, wait, reason, over_budget = false, 0, nil, false
	if req.retry then
		retry, wait, reason, over_budget = self:decide(outcome)
	elseif outcome == "no_connection" or outcome == "certificate" then
		reason = not line.reached and "is base_url right?" or nil
	end
	if not retry then
		if not status then
			return true, response.failure(client, self.hop, self.failure, self.message, reason, self.sent)
		end
		return true, self:conclude(over_budget and wait or nil)
	end
	self:notify_retry(reason, wait)
	if wait > 0 then
		tasks.sleep(wait)
		self.waited = self.waited + wait
	end
	return false
end

-- What the call returns, as the line's stages close it (in reverse order).
function Call:close(a, b)
	local stages = self.line.stages
	for i = #stages, 1, -1 do
		local close = stages[i].close
		if close then
			a, b = close(self, a, b)
		end
	end
	return a, b
end

-- Sends the call until it succeeds, fails for good, or the retry rules say
-- stop. made: the first attempt's outcome is in already (the gate's).
function Call:run(made)
	local line, observer = self.line, self.observer
	-- A first attempt made on the gate was told of there (plain_answer).
	local told = made
	while true do
		self.attempt = self.attempt + 1
		if made then
			made = false
		else
			told = false
			if line.client.verbose then
				line:trace("-> %s %s (attempt %d)", self.hop.method, self.hop.url, self.attempt)
			end
			if observer then
				observer:request(self)
				self.phases = observer.wants_phases and {} or nil
				if observer.trace then
					self.trace, self.trace_url = observer.trace, observer:trace_url(self.hop.url)
				end
			end
			self.timeout, self.fresh = self:attempt_timeout(), not self.hop.idempotent
			self:transmit()
		end
		self.waited = self.waited + self.slept
		self.sent = self.sent + self:tries()
		line:attempt_ended(self.status)
		if line.client.verbose then
			self:trace_outcome()
		end
		if observer and not told then
			observer:response(self)
		end
		local done, a, b = self:settle()
		if done then
			return self:close(a, b)
		end
	end
end

--- Goes on the full path from a plain call's attempt that was not a
-- success, as a call would: what the call returns.
function Call:go_on()
	local req = assert(request.prepare(self.line, "request", self.hop.method, self.path, self.opts))
	self:begin(req, core.now() - self.elapsed - self.slept)
	return self:run(true)
end

--- A call: client:get and the others tail-call this, so level 2 is their
-- caller, where a misuse is blamed.
function send.call(line, name, method, path, opts)
	-- A plain call is made of the line's spare, the last one answered:
	-- while it is out, a call made meanwhile (in another task) makes its own.
	local call = send.plain(line, method, path, opts, line.spare)
	if call then
		line.spare = nil
		transmit(call)
		local answered, a, b = plain_answer(call)
		if answered then
			line.spare = call
			return a, b
		end
		return call:go_on()
	end
	local req, why = request.prepare(line, name, method, path, opts)
	if not req then
		error(why, 2)
	end
	call = new_call(line, req)
	call:begin(req, core.now())
	for _, stage in ipairs(line.stages) do
		if stage.open then
			local answered, a, b = stage.open(call)
			if answered then
				return a, b
			end
		end
	end
	return call:run(false)
end

--- What line's cache holds for a GET of path (opts as a call's): the body
-- and whether it is fresh (stage/cache.lua's peek); nil when nothing. A
-- call's misuse raises, as send.call's.
function send.cached(line, name, path, opts)
	local req, why = request.prepare(line, name, "GET", path, opts)
	if not req then
		error(why, 2)
	end
	if not line.cache or req.cache == false then
		return nil
	end
	local per_call = type(req.cache) == "table" and req.cache.ttl or nil
	return cache_stage.peek(line, req.url, per_call)
end

return send
