-- Draining a queue: workers (tasks of one scheduler) take entries in
-- order, and each write's fate is recorded before and after it goes out:
--   * `send` is made durable before the request can take a token (the
--     request path's before_send), so a crash after it leaves the entry
--     uncertain, never forgotten, and a crash before it leaves it pending;
--   * an uncertain entry is never sent blindly: reconcile(entry, client)
--     says whether it was applied (true), was not (false: send it), or
--     cannot tell yet (nil, err: ask again after a backoff); without
--     reconcile it becomes a dead letter;
--   * nor is it reconciled while the server may still be applying it: a
--     send holds its entry for the attempt's timeout and `settle` more
--     from the moment it goes out (the store's clock: Redis' TIME for a
--     stream), whatever ended the attempt early (a connection closed
--     while a backend still applies it); every drainer waits that out,
--     after a crash or a stop too, since the hold is recorded with the
--     send;
--   * a 4xx other than 408/409/429, or an error object inside a 2xx,
--     is a dead letter at once (never retried); other
--     failures back off and count towards max_failures.
-- SIGTERM or SIGINT stops the taking of entries; the writes in flight
-- finish (up to stop_timeout) and are recorded, and drain returns.

local core = require("pulse.core")
local errors = require("pulse.errors")
local json = require("pulse.json")
local options = require("pulse.options")
local progress = require("pulse.progress")
local report_html = require("pulse.report_html")
local secrets = require("pulse.secrets")
local state = require("pulse.queue.state")
local tasks = require("pulse.tasks")

-- Set by the pulse-lua runner (--quiet): the bar shows under it only.
local runner = package.loaded["pulse.runner"]

local drain = {}

local OPTIONS = {
	workers = "count",
	reconcile = "function",
	on_result = "function",
	on_progress = "function",
	max_failures = "count",
	until_empty = "boolean",
	stop_timeout = "non-negative",
	backoff = "table",
	lease = "positive",
	settle = "non-negative",
	accept_damage = "boolean",
	priority = "lane",
	max_calls = "count",
	report_html = "string",
}

local BACKOFF = { base = "positive", cap = "positive" }

-- How often the drain looks for a stop signal, and for entries pushed by
-- another process or whose backoff ended (then wakes the idle workers),
-- while a write is out or the store cannot block until there is news.
local IDLE = 0.1

-- Answers that say the write was refused for good: a 4xx, or an error
-- object inside a success (the server read the write and said no).
local function refused(err)
	local status = err.status
	if status and status >= 200 and status < 300 then
		return err.error ~= nil
	end
	return status and status >= 400 and status < 500 and status ~= 408 and status ~= 409 and status ~= 429
end

-- A refusal's reason: the error's line, and the fields the body names.
local function refusal(err)
	local fields = type(err.error) == "table" and type(err.error.fields) == "table" and err.error.fields
	local why = {}
	for field, problem in pairs(fields or {}) do
		why[#why + 1] = tostring(field) .. " " .. tostring(problem)
	end
	table.sort(why)
	return #why > 0 and tostring(err) .. " (" .. table.concat(why, "; ") .. ")" or tostring(err)
end

local usage = errors.usage_for("pulse.queue")

local function check(client, opts, level)
	if type(client) ~= "table" or type(client.request) ~= "function" then
		usage("bad argument #1 to 'drain' (a client from pulse.new expected, got " .. type(client) .. ")", level + 1)
	end
	opts = opts or {}
	if type(opts) ~= "table" then
		usage("bad argument #2 to 'drain' (options must be a table, got " .. type(opts) .. ")", level + 1)
	end
	local ok, why = options.check("drain", opts, OPTIONS)
	if ok and opts.backoff then
		ok, why = options.check("drain.backoff", opts.backoff, BACKOFF)
	end
	if not ok then
		usage(why, level + 1)
	end
	if tasks.current() then
		usage("drain: call it outside pulse.run (it runs its own workers)", level + 1)
	end
	local backoff = opts.backoff or {}
	return {
		workers = opts.workers or 4,
		reconcile = opts.reconcile,
		on_result = opts.on_result,
		on_progress = opts.on_progress,
		max_failures = opts.max_failures or 5,
		until_empty = opts.until_empty ~= false,
		stop_timeout = opts.stop_timeout or 30,
		base = backoff.base or 1,
		cap = backoff.cap or 60,
		lease = opts.lease or 60,
		settle = opts.settle or 30,
		accept_damage = opts.accept_damage or false,
		priority = opts.priority,
		max_calls = opts.max_calls,
		report_html = opts.report_html,
	}
end

local Drain = {}
Drain.__index = Drain

-- Appends the records given (nil ones skipped) in one durable write; a
-- store that fails ends the drain (raised to run, which returns it as
-- nil, why): no outcome may go unrecorded. False when the entry is no
-- longer this drainer's (a Redis queue's lease ran out: another took it).
function Drain:record(...)
	local records = {}
	for i = 1, select("#", ...) do
		local record = (select(i, ...))
		if record then
			records[#records + 1] = record
		end
	end
	if #records == 0 then
		return true
	end
	local ok, why, lost = self.store:append(records)
	if lost then
		return false
	elseif not ok then
		error({ journal = why }, 0)
	end
	return true
end

function Drain:finish(entry, outcome, value)
	if outcome == "done" then
		self.report.done = self.report.done + 1
	else
		self.report.dead = self.report.dead + 1
	end
	if self.opts.on_result then
		self.opts.on_result(state.view(entry), outcome, value)
	end
	if self.on_progress then
		self.tracker:count(outcome == "done")
		self.on_progress(self.tracker.done, self.tracker.total, self:info())
	end
end

-- The progress info (progress.lua's), and the uncertain entries no one
-- may reconcile yet: settling (how many) and settle_until (epoch seconds
-- when the last of them may be).
function Drain:info()
	local info = self.tracker:info()
	info.settling, info.settle_until = self.store:settling()
	return info
end

-- undo, in these two: the record that goes first, in the same write (a
-- send the answer showed was not applied).
function Drain:dead(entry, reason, err, undo)
	self:record(undo, { op = "dead", id = entry.id, reason = reason })
	if self.failures then -- for the HTML report
		local body = entry.opts.json ~= nil and json.encode(entry.opts.json) or entry.opts.body or ""
		self.failures[#self.failures + 1] = {
			title = string.format("%s: %s", entry.id, reason),
			request = secrets.redact(self.client, string.format("%s %s\n%s", entry.method, entry.path, body)),
			answer = report_html.answer_of(err or reason),
		}
	end
	self:finish(entry, "dead", err or reason)
end

-- A failure that may pass: back off (full jitter, doubling), or a dead
-- letter once max_failures is reached. uncertain: the entry stays so.
function Drain:failed(entry, reason, err, uncertain, undo)
	-- The store's own entry: a compaction since may have rebuilt it.
	local failures = (self.store:entry(entry.id) or entry).failures + 1
	if failures >= self.opts.max_failures then
		local why = string.format("%s (failure %d of %d)", reason, failures, self.opts.max_failures)
		return self:dead(entry, why, err, undo)
	end
	local wait = math.min(self.opts.cap, self.opts.base * 2 ^ (failures - 1)) * (0.5 + math.random() / 2)
	self:record(undo, {
		op = "fail",
		id = entry.id,
		failures = failures,
		not_before = core.epoch() + wait,
		error = reason,
		uncertain = uncertain or nil,
	})
end

-- Asks reconcile about an uncertain entry: true when it is settled (done,
-- dead or backing off), false when it should be sent.
function Drain:reconcile(entry)
	local reconcile = self.opts.reconcile
	if not reconcile then
		self:dead(entry, "uncertain: it may have been applied, and drain was given no reconcile")
		return true
	end
	local ok, applied, why = pcall(reconcile, state.view(entry), self.client)
	if not ok then
		self:failed(entry, "reconcile raised: " .. tostring(applied), applied, true)
		return true
	end
	if applied == true then
		self:record({ op = "done", id = entry.id, at = core.epoch(), reconciled = true })
		self:finish(entry, "done", { reconciled = true })
		return true
	elseif applied == false then
		self:record({ op = "unsent", id = entry.id })
		return false
	end
	self:failed(entry, "reconcile could not tell: " .. tostring(why), why, true)
	return true
end

-- Sends an entry and records what came of it.
-- The request options of entry: a copy of those it was pushed with.
local function request_of(entry)
	local request = {}
	for name, value in pairs(entry.opts) do
		request[name] = value
	end
	return request
end

function Drain:send(entry)
	local recorded = false
	local request = request_of(entry)
	-- A drain's writes wait behind the calls a person is waiting for.
	request.priority = request.priority or self.opts.priority or "bulk"
	if self.timeline then
		request.on = { response = self.timeline.on_response }
	end
	-- How long after it goes out the server may still apply it: the
	-- attempt's whole time, then settle for the server to finish.
	local hold = (request.timeout or self.client.timeout) + self.opts.settle
	-- Before every try for a token (the first, after a wait, a retry): a
	-- try recorded as it goes out, so the hold counts from the last one.
	request.before_send = function()
		if self.stopping then
			return false
		end
		if not self:record({ op = "send", id = entry.id, hold = hold, again = recorded or nil }) then
			return false -- another drainer has it now
		end
		recorded = true
		return true
	end
	local ok, body, err = pcall(self.client.request, self.client, entry.method, entry.path, request)
	if ok and body ~= nil then
		self:record({ op = "done", id = entry.id, at = core.epoch(), status = err.status })
		return self:finish(entry, "done", body)
	end
	if ok and err.uncertain then
		return self:failed(entry, "uncertain: " .. tostring(err), err, true)
	end
	-- Whatever went out was not applied: its send is undone.
	local undo = recorded and { op = "unsent", id = entry.id } or nil
	if not ok then -- the entry's options were refused (a misuse, raised)
		return self:dead(entry, "not sent: " .. tostring(body), body, undo)
	elseif err.kind == "cancelled" then -- stopping; what went out was refused (429, 503)
		return self:record(undo)
	elseif refused(err) then
		return self:dead(entry, refusal(err), err, undo)
	end
	self:failed(entry, tostring(err), err, false, undo)
end

function Drain:work(entry)
	if entry.refusal then -- not the queue's entry: nothing to send
		return self:dead(entry, entry.refusal)
	end
	if entry.state == "sent" and self:reconcile(entry) then
		return
	end
	self:send(entry)
end

function Drain:stop_requested()
	if not self.stopping then
		local signal = core.stop_signal()
		if signal then
			self.stopping = true
			self.report.stopped = signal
			self.stop_deadline = core.now() + self.opts.stop_timeout
		end
	end
	return self.stopping
end

-- Whether nothing is left to do: no entry pending or uncertain but the
-- dead letters, and none in flight.
function Drain:empty()
	local c = self.store:counts()
	return c.pending + c.uncertain == 0 and self.in_flight == 0
end

-- The calls the drain has spent (its client's, reconciles included).
function Drain:calls()
	return self.client:calls() - self.calls_before
end

-- Whether max_calls is reached, counting a call for each entry out: then
-- no entry starts, and the rest stay pending for the next drain.
function Drain:out_of_calls()
	local max = self.opts.max_calls
	if max and not self.report.stopped and self:calls() + self.in_flight >= max then
		self.report.stopped = "max_calls"
	end
	return self.report.stopped == "max_calls"
end

function Drain:worker()
	while not self:stop_requested() and not self:out_of_calls() do
		local entry = self.store:next_entry(self.busy, core.epoch())
		if entry then
			-- By id: a compaction rebuilds the entries, not what is taken.
			self.busy[entry.id] = true
			self.in_flight = self.in_flight + 1
			self:work(entry)
			self.in_flight = self.in_flight - 1
			self.busy[entry.id] = nil
			tasks.wake(self.idle)
		elseif self.opts.until_empty and self:empty() then
			tasks.wake(self.idle)
			return
		else
			if self.store.more then -- its last look left some: look again now
				tasks.wake(self.wanting)
			end
			-- Until an entry ends, or the main task has read the journal.
			tasks.wait_on(self.idle)
		end
	end
end

-- Reads what other processes pushed (and so sees backoffs that ended);
-- the store tidies itself as it reads (a journal compacts).
function Drain:refresh()
	local ok, why = self.store:refresh()
	if not ok then
		error({ journal = why }, 0)
	end
end

-- Until the next look at the store: at once when a worker wants more
-- than the last look gave; blocked in the store until it has news when
-- every worker waits with nothing out (a Redis queue: nothing else could
-- happen meanwhile); else IDLE.
function Drain:pause(workers)
	tasks.sleep(0) -- the workers woken by the last look take their entries first
	if self.store.more and #self.idle > 0 then
		return
	end
	if self.store.wait and not self.stopping and self.in_flight == 0 and #self.idle == workers then
		local ok, why = self.store:wait(self.bar and progress.TICK or math.huge)
		if not ok then
			error({ journal = why }, 0)
		end
		return
	end
	tasks.wait_on(self.wanting, IDLE)
end

-- The drain's main task: the workers, woken after each look at the store
-- (see pause), then, once stopping, a wait for those in flight up to
-- stop_timeout; past it the run is abandoned (the entries they hold stay
-- uncertain in the journal).
function Drain:main()
	local workers = {}
	for i = 1, self.opts.workers do
		workers[i] = tasks.spawn(self.worker, self)
	end
	local pending = #workers
	while pending > 0 do
		pending = 0
		for _, w in ipairs(workers) do
			if not w.done then
				pending = pending + 1
			end
		end
		if pending > 0 then
			if self.stopping and core.now() > self.stop_deadline then
				error({ abandoned = true }, 0)
			end
			self:pause(pending)
			if not self:stop_requested() then
				self:refresh()
			end
			tasks.wake(self.idle) -- to take what came, or to stop
			-- A bar moves on its own while nothing ends (a rate-limit wait).
			if self.bar and core.now() - self.bar.drawn >= progress.TICK then
				self.bar:tick(self:info())
			end
		end
	end
	for _, w in ipairs(workers) do
		w:join() -- raises what a worker raised
	end
end

-- A damaged journal is drained only when the user says so
-- (accept_damage): then the entries the damage may have touched are
-- reconciled before any is sent again. true, or nil and why not.
function Drain:face_damage()
	local stretches, touched = self.store:damage()
	if #stretches == 0 then
		return true
	end
	if not self.opts.accept_damage then
		return nil,
			string.format(
				"pulse.queue: the journal is damaged (%s), and the state of %d entries was in it: not drained. "
					.. "See pulse-lua --queue URL --check; drain with accept_damage = true (--accept-damage) "
					.. "to reconcile them and go on",
				state.where(stretches),
				#touched
			)
	end
	local copy, why = self.store:accept_damage()
	if not copy then
		return nil, why
	end
	self.report.damage = { stretches = #stretches, entries = #touched, copy = copy }
	return true
end

-- The HTML report of the drain (opts.report_html): a failure to write it
-- is said in the report's report_html_error.
function Drain:write_report()
	local report, before, now = self.report, self.stats_before, self.client:stats()
	local ok, why = report_html.write(self.opts.report_html, {
		title = "pulse-lua: a queue's drain",
		summary = {
			{ "done", report.done },
			{ "dead letters", report.dead },
			{ "left pending", report.pending },
			{ "stopped by", report.stopped or "-" },
			{ "elapsed (s)", core.now() - self.started },
			{ "calls sent", report.calls },
			{ "answers of 429", now.rate_limited - before.rate_limited },
			{ "retries", now.retries - before.retries },
		},
		failures = self.failures,
		calls = self.timeline.calls,
	})
	if not ok then
		report.report_html_error = why
	end
end

-- A drain of a dry-run client: each entry it would send goes to the
-- client (whose dry run checks it, prints it, and sends nothing), and the
-- queue is left as it was: nothing is claimed or recorded. The report
-- lists them (would_write), each with why the catalog refuses it, if it
-- does.
local function dry_run(store, client)
	local ok, why = store:flush()
	local list
	if ok then
		list, why = store:waiting()
	end
	if not list then
		return nil, why
	end
	local calls_before = client:calls()
	local report = { done = 0, dead = 0, pending = #list, would_write = {} }
	for _, entry in ipairs(list) do
		local sent, body, err = pcall(client.request, client, entry.method, entry.path, request_of(entry))
		report.would_write[#report.would_write + 1] = {
			id = entry.id,
			method = entry.method,
			path = entry.path,
			uncertain = entry.state == "sent" or nil,
			refused = not sent and tostring(body) or body == nil and err and err.message or nil,
		}
	end
	report.calls = client:calls() - calls_before
	return report
end

-- Drains store (file.lua's or redis.lua's) with client; level: the
-- caller's, for misuse. Returns the report, or nil and why.
function drain.run(store, client, opts, level)
	opts = check(client, opts, level + 1)
	if client.dry_run then
		return dry_run(store, client)
	end
	local ok, why = store:claim(opts)
	if not ok then
		return nil, why
	end
	local self = setmetatable({
		store = store,
		client = client,
		opts = opts,
		busy = {},
		idle = {}, -- workers waiting for an entry
		wanting = {}, -- the main task, when a worker wants the store looked at now
		in_flight = 0,
		report = { done = 0, dead = 0 },
		calls_before = client:calls(),
	}, Drain)
	if opts.report_html then
		local file, cannot = io.open(opts.report_html, "a") -- refused now, not after the work
		if not file then
			store:release()
			return nil, "report_html: cannot write " .. tostring(cannot)
		end
		file:close()
		self.timeline, self.failures = report_html.timeline(), {}
		self.started, self.stats_before = core.now(), client:stats()
	end
	local err
	ok, why = store:flush()
	if ok then
		ok, why = store:refresh()
	end
	if ok then
		ok, why = self:face_damage()
	end
	if ok then
		-- The entries there are now (nil when more may come); settled ones
		-- count towards it as they end.
		local c = store:counts()
		local total = opts.until_empty and c.pending + c.uncertain or nil
		self.on_progress = opts.on_progress or progress.bar(total, runner)
		if self.on_progress then
			self.bar = type(self.on_progress) == "table" and self.on_progress
			self.tracker = progress.tracker(client, total)
		end
		core.stop_arm()
		ok, err = pcall(tasks.run, self.main, self)
		core.stop_disarm()
		if self.bar then
			self.bar:finish()
		end
		if not ok and type(err) == "table" and err.journal then
			why = err.journal
		elseif not ok and not (type(err) == "table" and err.abandoned) then
			store:release()
			error(err, 0)
		else
			ok = true
		end
	end
	store:release()
	if not ok then
		return nil, why
	end
	local counts = store:counts()
	self.report.pending = counts.pending + counts.uncertain
	self.report.calls = self:calls()
	if self.timeline then
		self:write_report()
	end
	return self.report
end

return drain
