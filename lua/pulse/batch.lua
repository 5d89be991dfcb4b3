-- client:batch: many requests, up to a concurrency at a time, through the
-- same request path (send.lua) as single calls. A plain request (the
-- gate's) goes on the engine as a transfer routed back here, with no task
-- of its own; any other runs in a task.

local errors = require("pulse.errors")
local options = require("pulse.options")
local progress = require("pulse.progress")
local send = require("pulse.send")
local tasks = require("pulse.tasks")

local batch = {}

local BATCH_OPTIONS = {
	concurrency = "count",
	on_progress = "function",
	on_result = "function",
	fail_fast = "boolean",
	priority = "lane",
	max_calls = "count",
}

local usage = errors.usage

-- One entry: { method, path, opts } or { method =, path =, opts = }.
-- level: whom a bad one is blamed on, as usage takes it.
local function entry_fields(entry, i, level)
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
	local _, _, entry_opts = entry_fields(entry, i, 5)
	if entry_opts ~= nil then
		if type(entry_opts) ~= "table" then
			usage("batch: request " .. i .. " options must be a table, got " .. type(entry_opts), 4)
		end
		local valid, why = options.check("batch: request " .. i, entry_opts, options.REQUEST)
		if not valid then
			usage(why, 4)
		end
	end
end

-- The arguments, checked, and the requests as a list (nil for a function).
local function check_arguments(requests, opts)
	if type(requests) ~= "table" and type(requests) ~= "function" then
		usage("bad argument #1 to 'batch' (list or function of requests expected, got " .. type(requests) .. ")", 3)
	end
	local valid, why = options.check("batch", opts, BATCH_OPTIONS)
	if not valid then
		usage(why, 3)
	end
	local list = type(requests) == "table" and requests or nil
	for i, entry in ipairs(list or {}) do
		check_listed(entry, i)
	end
	return list
end

local Batch = {}
Batch.__index = Batch

-- A result for the batch's task to record.
function Batch:finish(i, body, second)
	local finished, queued = self.finished, self.queued
	finished[queued + 1], finished[queued + 2], finished[queued + 3] = i, body, second
	self.queued = queued + 3
	tasks.wake(self.waiters)
end

-- In a task of its own: an entry the full path takes.
local function full(self, i, method, path, entry_opts)
	local priority = self.opts.priority
	-- The batch's lane, unless the entry names its own (options that are
	-- no table go on as they are, for the call to refuse).
	if priority and (entry_opts == nil or type(entry_opts) == "table" and entry_opts.priority == nil) then
		entry_opts = options.merge(entry_opts, { priority = priority })
	end
	return self:finish(i, self.client:request(method, path, entry_opts))
end

-- In a task of its own: a plain call going on from an attempt that was
-- not a success.
local function go_on(self, i, call)
	return self:finish(i, call:go_on())
end

-- A routed transfer ended (in the scheduler, not in a task): its call,
-- the outcome recorded, waits for the batch's task, which makes the
-- result. Decoding there, not here, lets the body die young: a decoded
-- body kept waiting across a collection would be promoted by the
-- generational collector.
function Batch:transfer_ended(id, call, status, a, b, elapsed, transmissions, retry_after, rate)
	call:record(status, a, b, elapsed, transmissions, retry_after, rate)
	local read = self.reads[id]
	if read then -- the twins asked meanwhile take this answer
		send.close_read(self.line, self.urls[id], read, call)
		self.reads[id], self.urls[id] = nil, nil
	end
	local index_of, ended, n = self.index_of, self.ended, self.ended_n
	ended[n + 1], ended[n + 2] = index_of[id], call
	self.ended_n = n + 2
	index_of[id] = nil
	tasks.wake(self.waiters)
end

-- In the batch's task: a routed call's outcome made a result, or a task
-- going on from it.
function Batch:settle(i, call)
	local answered, body, second = call:plain_answer()
	if answered then
		-- Nothing holds the call now: the next plain entry is made of it.
		self.spare[#self.spare + 1] = call
		self:record(i, body, second)
	else
		tasks.spawn(go_on, self, i, call)
	end
end

-- Starts requests up to the concurrency. Asking for the next request runs
-- the caller's function, so only the batch's task does it; a generator is
-- not called again once it is done.
function Batch:fill()
	local line, list, index_of, engine = self.line, self.list, self.index_of, self.engine
	local started, in_flight, concurrency = self.started, self.in_flight, self.concurrency
	local max_calls = self.opts.max_calls
	while in_flight < concurrency and not self.stopped do
		if max_calls and self.client:calls() - self.calls_before + in_flight >= max_calls then
			-- Spent, or promised to the requests out: the rest never start.
			self.stopped, self.out_of_calls = true, true
			break
		end
		local i = started + 1
		local entry
		if list then
			entry = list[i]
		elseif not self.exhausted then
			entry = self.requests()
		end
		if entry == nil then
			self.exhausted = true
			break
		end
		started, in_flight = i, in_flight + 1
		local method, path, entry_opts = entry.method or entry[1], entry.path or entry[2], entry.opts or entry[3]
		if type(method) ~= "string" or type(path) ~= "string" then
			entry_fields(entry, i, 4) -- raises, saying what is wrong
		end

		local spare = self.spare
		local call = send.plain(line, method, path, entry_opts, spare[#spare])
		if call and call == spare[#spare] then
			spare[#spare] = nil
		end
		if call and self.lane then
			call.lane = self.lane
		end
		local id, read, url
		if call then
			id, read, url = call:start(engine)
		end
		if id then
			index_of[id] = i
			if read then
				self.reads[id], self.urls[id] = read, url
			end
			tasks.route(id, self)
		else
			tasks.spawn(full, self, i, method, path, entry_opts)
		end
	end
	self.started, self.in_flight = started, in_flight
end

-- One result, as it comes: the caller's functions (on_result,
-- on_progress) run in the batch's task.
function Batch:record(i, body, second)
	self.done, self.in_flight = self.done + 1, self.in_flight - 1
	local opts = self.opts
	if body == nil and opts.fail_fast then
		self.stopped = true
	end
	if opts.on_result then
		opts.on_result(i, body, second)
	elseif body ~= nil then
		self.results[i] = { body, second, body = body, res = second }
	else
		self.results[i] = { nil, second, err = second }
	end
	if self.on_progress then
		self.tracker:count(body ~= nil)
		self.on_progress(self.done, self.total, self.tracker:info())
	end
end

-- The routed calls waiting, made results. settle runs on_result, which
-- may yield, and more end meanwhile: those are taken too.
function Batch:settle_ended()
	local ended, k = self.ended, 0
	while k < self.ended_n do
		local i, call = ended[k + 1], ended[k + 2]
		ended[k + 1], ended[k + 2] = nil, nil
		k = k + 2
		self:settle(i, call)
	end
	self.ended_n = 0
end

-- The results the batch's other tasks finished, recorded; as above, those
-- that come while one is recorded are taken too.
function Batch:record_finished()
	local finished, k = self.finished, 0
	while k < self.queued do
		local i, body, second = finished[k + 1], finished[k + 2], finished[k + 3]
		finished[k + 1], finished[k + 2], finished[k + 3] = nil, nil, nil
		k = k + 3
		self:record(i, body, second)
	end
	self.queued = 0
end

-- The batch's task: starts requests and records their results until none
-- is left in flight.
function Batch:run()
	self.engine = tasks.engine()
	-- An error from the caller's functions ends the batch, maybe in a run
	-- that goes on (a task caught it): its transfers end with it, and their
	-- tokens come back.
	local _ <close> = setmetatable({}, {
		__close = function()
			for id in pairs(self.index_of) do
				tasks.cancel_route(id)
			end
		end,
	})
	self:fill()
	local bar = type(self.on_progress) == "table" and self.on_progress
	while self.in_flight > 0 do -- started, not yet recorded
		-- While nothing finishes (a rate-limit wait), a bar moves on its own.
		if self.queued == 0 and self.ended_n == 0 and not tasks.wait_on(self.waiters, bar and progress.TICK) then
			bar:tick(self.tracker:info())
		end
		self:settle_ended()
		self:record_finished()
		self:fill()
	end
end

-- What the batch returns: the count with on_result, else the results,
-- those never started (fail_fast) as cancelled.
function Batch:outcome()
	if self.opts.on_result then
		return self.done
	end
	local results = self.results
	for i = 1, self.total or self.started do
		if results[i] == nil then
			local why = self.out_of_calls and "max_calls was reached" or "an earlier request failed (fail_fast)"
			local err = errors.new({ kind = "cancelled", message = "not started: " .. why })
			results[i] = { nil, err, err = err }
		end
	end
	return results
end

-- Runs requests (a list, or a function returning the next request, nil at
-- the end) for client. Returns the results in input order, each { body,
-- res, body =, res = } or { nil, err, err = } (table.unpack gives what a
-- single call returns); with on_result(i, body, res_or_err) it keeps none
-- and returns the count.
-- The error a batch interrupted by Ctrl-C or SIGTERM under pulse-lua
-- (the runner's interrupt object) raises: one line saying what was done,
-- and how many writes were out, sent with no answer, when it came.
function Batch:interrupted(interrupt)
	local writes = self.line.writes_in_flight
	local message = string.format(
		"interrupted: %d%s done; %d write%s may have been applied",
		self.done,
		self.total and (" of " .. self.total) or "",
		writes,
		writes == 1 and "" or "s"
	)
	return errors.new({ kind = "interrupted", message = message, signal = interrupt.signal })
end

function batch.run(line, requests, opts, runner)
	opts = opts or {}
	local list = check_arguments(requests, opts)
	local total = list and #list or nil
	local client = line.client
	local self = setmetatable({
		line = line,
		client = client,
		opts = opts,
		list = list,
		requests = requests,
		total = total,
		concurrency = opts.concurrency or 8,
		lane = opts.priority and options.LANES[opts.priority],
		on_progress = opts.on_progress or progress.bar(total, runner),
		started = 0,
		done = 0,
		in_flight = 0,
		stopped = false,
		calls_before = opts.max_calls and client:calls(),
		exhausted = false,
		results = {},
		-- Results waiting for the batch's task, three slots each: index,
		-- body, res or err.
		finished = {},
		queued = 0,
		-- Routed calls ended, two slots each: index, call; and those
		-- answered, to be made the next plain calls.
		ended = {},
		ended_n = 0,
		spare = {},
		waiters = {},
		-- Routed transfers' indexes, by transfer id (a few: ids are
		-- reused), until they end.
		index_of = {},
		-- The twins' records of routed GETs (send.open_read), and their
		-- URLs, by transfer id.
		reads = {},
		urls = {},
	}, Batch)
	if self.on_progress then
		self.tracker = progress.tracker(client, total)
	end
	local ok, err = pcall(tasks.run, Batch.run, self)
	-- Routed GETs a failed run ended unanswered: their twins go alone.
	for id, read in pairs(self.reads) do
		send.close_read(line, self.urls[id], read, nil)
	end
	if type(self.on_progress) == "table" then
		self.on_progress:finish()
	end
	if not ok then
		error(err ~= nil and err == runner.interrupt and self:interrupted(err) or err, 0)
	end
	return self:outcome()
end

return batch
