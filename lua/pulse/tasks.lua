--- Tasks: coroutines run by one scheduler on one thread. Inside pulse.run
-- and the tasks it spawns, a request starts a transfer on pulse.core's
-- engine and yields until it is done, so sequential-looking tasks run
-- concurrently. The scheduler sleeps in the engine's poll(2) (or in
-- nanosleep when only timers are pending): it never spins. Users reach
-- them as `pulse.run`, `pulse.spawn` and `pulse.sleep`.
-- @module pulse.tasks

local core = require("pulse.core")

local tasks = {}

local scheduler -- the running scheduler's state, or nil outside pulse.run
local current -- the task being resumed, or nil

--- A task, as `pulse.spawn` returns it.
-- @type Task
local Task = {}
Task.__index = Task
Task.__name = "pulse.task"

-- The task running now, or nil when called outside any task.
function tasks.current()
	return current
end

-- The engine the running scheduler polls (pulse.core's).
function tasks.engine()
	return scheduler.engine
end

-- The running task, when what (a request, a sleep, ...) may suspend it:
-- raises when the code runs in a coroutine of the user's own inside the
-- task, whose yield would go to that coroutine, not to the scheduler (the
-- answer would be lost, and the run would end as if all were done).
function tasks.suspendable(what)
	if current and coroutine.running() ~= current.co then
		error(
			"pulse: "
				.. what
				.. " inside pulse.run from a coroutine of your own (coroutine.wrap or coroutine.create in a "
				.. "task) cannot wait there: the scheduler resumes only its tasks. Start it with pulse.spawn",
			0
		)
	end
	return current
end

-- The ready queue holds tasks to resume. A task whose transfer finished is
-- resumed at once, with what the engine said of it: a request's path makes
-- no table here.
local function make_ready(task)
	local ready = scheduler.ready
	ready[#ready + 1] = task
end

local function finish(task)
	task.done = true
	scheduler.tasks[task] = nil
	for _, joiner in ipairs(task.joiners) do
		make_ready(joiner)
	end
	task.joiners = {}
end

local function resume(task, ...)
	current = task
	local ok, err = coroutine.resume(task.co, ...)
	current = nil
	if not ok then
		-- A string error gets the task's own traceback; an error object
		-- (pulse's errors among them) stays an object.
		task.error = type(err) == "string" and debug.traceback(task.co, err) or err
		scheduler.failed = scheduler.failed or task
	end
	if not ok or task.results then -- it raised, or its function returned
		finish(task)
	end
end

local function spawn(fn, ...)
	local task = setmetatable({ joiners = {}, done = false }, Task)
	local args = table.pack(...)
	task.co = coroutine.create(function()
		task.results = table.pack(fn(table.unpack(args, 1, args.n)))
	end)
	scheduler.tasks[task] = true
	make_ready(task)
	return task
end

-- Starts fn(...) as a new task; only inside pulse.run.
function tasks.spawn(fn, ...)
	if type(fn) ~= "function" then
		error("pulse: bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
	end
	if not scheduler then
		error("pulse: spawn: call it inside pulse.run(function() ... end)", 2)
	end
	return spawn(fn, ...)
end

--- Waits for the task to end; returns what its function returned, or
-- raises what it raised. Only from inside a task.
-- @return the task function's results
function Task:join()
	if not self.done then
		if not tasks.suspendable("task:join()") then
			error("pulse: join: call it from inside a task", 2)
		end
		self.joiners[#self.joiners + 1] = current
		coroutine.yield()
	end
	if self.error then
		error(self.error, 0)
	end
	return table.unpack(self.results, 1, self.results.n)
end

-- Sleeps: inside a task only that task waits, and others go on.
function tasks.sleep(seconds)
	if not tasks.suspendable("a sleep") then
		return core.sleep(seconds)
	end
	local timers = scheduler.timers
	timers[#timers + 1] = { due = core.now() + seconds, task = current }
	coroutine.yield()
end

-- Suspends the running task until tasks.wake(waiters) is called.
-- With timeout (seconds), it goes on by then if nobody woke it, and
-- returns false; true when woken.
function tasks.wait_on(waiters, timeout)
	local task = tasks.suspendable("a wait")
	waiters[#waiters + 1] = task
	if not timeout then
		coroutine.yield()
		return true
	end
	local timers = scheduler.timers
	local timer = { due = core.now() + timeout, task = task, waiters = waiters }
	timers[#timers + 1] = timer
	coroutine.yield()
	if timer.fired then
		return false
	end
	timer.woken = true -- the timer must not wake it again, later
	return true
end

-- Makes every task waiting on waiters ready again, and empties it.
function tasks.wake(waiters)
	for i = #waiters, 1, -1 do
		make_ready(waiters[i])
		waiters[i] = nil
	end
end

-- Suspends the running task until the engine finishes transfer id; returns
-- its outcome (as transport:send gives it).
function tasks.await_transfer(id)
	scheduler.transfers[id] = tasks.suspendable("a request")
	return coroutine.yield()
end

-- Has the scheduler call owner:transfer_ended(id, call, outcome...) when
-- transfer id ends, instead of resuming a task: a batch's plain requests
-- need no task each. It runs in the scheduler, not in a task: it must not
-- yield.
function tasks.route(id, owner)
	scheduler.transfers[id] = owner
end

-- Ends a routed transfer that has not ended (its token goes back).
function tasks.cancel_route(id)
	scheduler.transfers[id] = nil
	scheduler.engine:cancel(id)
end

local function earliest_timer(timers)
	local due
	for _, timer in ipairs(timers) do
		if not due or timer.due < due then
			due = timer.due
		end
	end
	return due
end

-- A wait_on's timer came due: the task goes on unless it was woken (it is
-- then no longer among the waiters), and leaves the waiters.
local function time_out(timer)
	local waiters = timer.waiters
	for i = #waiters, 1, -1 do
		if waiters[i] == timer.task then
			table.remove(waiters, i)
			timer.fired = true
			make_ready(timer.task)
			return
		end
	end
end

local function wake_timers()
	local now, kept = core.now(), {}
	for _, timer in ipairs(scheduler.timers) do
		-- A woken wait's timer is dropped: its wait ended before it came due.
		if not timer.woken then
			if timer.due > now then
				kept[#kept + 1] = timer
			elseif timer.waiters then
				time_out(timer)
			else
				make_ready(timer.task)
			end
		end
	end
	scheduler.timers = kept
end

-- Resumes the task of each finished transfer (or tells the owner it was
-- routed to); stops at the first task that fails (the run ends, and
-- abandons the others).
local function collect_transfers(engine)
	local transfers = scheduler.transfers
	while not scheduler.failed do
		-- id, the transfer's call, then its outcome: status, headers,
		-- body, elapsed, transmissions, retry_after, rate (or a failure)
		local id, call, a, b, c, d, e, f, g = engine:collect()
		if not id then
			return
		end
		local owner = transfers[id]
		transfers[id] = nil
		if getmetatable(owner) == Task then
			resume(owner, a, b, c, d, e, f, g)
		else
			owner:transfer_ended(id, call, a, b, c, d, e, f, g)
		end
	end
end

-- Waits for the next event: a transfer done or a timer due. A batch
-- comes here once per wake-up, with no timers: that case looks at none.
local function wait_for_events(engine)
	local due = scheduler.timers[1] and earliest_timer(scheduler.timers)
	local timeout = due and math.max(0, due - core.now()) or 1
	if engine:poll(timeout) then
		collect_transfers(engine)
	elseif not due then -- no transfer either
		error("pulse: every task is waiting and nothing can wake them (a join cycle?)", 0)
	elseif timeout > 0 then
		core.sleep(timeout)
	end
	if scheduler.timers[1] then
		wake_timers()
	end
end

-- Ends what the failed run leaves behind: transfers nobody will collect
-- (cancelling one gives its limiter token back), and the tasks waiting on
-- them, closed so that their to-be-closed variables run.
local function abandon(engine)
	engine:cancel_all()
	for task in pairs(scheduler.tasks) do
		coroutine.close(task.co)
	end
end

-- Runs fn(...) as a task, with every task it spawns, until all have ended;
-- returns fn's results. An error in any task ends the run and is raised
-- here, with that task's traceback. Inside a task it just calls fn.
function tasks.run(fn, ...)
	if type(fn) ~= "function" then
		error("pulse: bad argument #1 to 'run' (function expected, got " .. type(fn) .. ")", 2)
	end
	if current then
		return fn(...)
	end
	local engine = core.engine()
	scheduler = {
		ready = {},
		timers = {},
		transfers = {}, -- by transfer id, the task awaiting it or the owner it is routed to
		tasks = {}, -- those not yet ended; the run lasts while there are any
		engine = engine,
	}
	local main = spawn(fn, ...)
	local spare = {} -- the ready queue's other half: the two take turns
	local ok, err = pcall(function()
		while next(scheduler.tasks) and not scheduler.failed do
			local ready = scheduler.ready
			if #ready == 0 then
				wait_for_events(engine)
				ready = scheduler.ready
			end
			scheduler.ready = spare
			for k = 1, #ready do
				local task = ready[k]
				ready[k] = nil
				if not scheduler.failed then
					resume(task)
				end
			end
			spare = ready
		end
	end)
	local failed = scheduler.failed
	if not ok or failed then
		abandon(engine)
	else
		-- A transfer no task waits for any more: its token goes back now,
		-- not when the engine is collected.
		engine:cancel_all()
	end
	scheduler = nil
	if not ok then
		error(err, 0)
	end
	if failed then
		error(failed.error, 0)
	end
	return table.unpack(main.results, 1, main.results.n)
end

return tasks
