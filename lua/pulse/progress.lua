-- How far a batch has come, for on_progress(done, total, info) and for the
-- progress bar pulse-lua draws on stderr (only when it is a terminal and
-- --quiet is not given). info is a plain table: done, total (nil for a
-- stream), ok, failed, retries, rate_limited, waited (seconds some request
-- waited for the rate limit), elapsed, eta (seconds, nil when the total is
-- unknown) and waiting (seconds until the rate limit lets the next
-- request go, 0 when it does now).

local core = require("pulse.core")

local progress = {}

-- The seconds until left more requests can go, at the organization's
-- allowance as the limiter sees it (view: client:ratelimit()): those in
-- flight hold a token already, those the bucket holds go now, the rest
-- LIMIT at each refill.
local function allowance_eta(left, view)
	local need = left - view.in_flight
	if need <= view.remaining then
		return 0
	end
	local refills = math.ceil((need - view.remaining) / view.limit)
	return math.max(view.reset, view.blocked) + (refills - 1) * view.window
end

local Tracker = {}
Tracker.__index = Tracker

-- A tracker of a batch of total requests (nil: unknown) of client's.
function progress.tracker(client, total)
	local stats = client:stats()
	return setmetatable({
		client = client,
		total = total,
		done = 0,
		ok = 0,
		failed = 0,
		started = core.now(),
		-- the client's counters when the batch began: info counts the batch's
		from = { retries = stats.retries, rate_limited = stats.rate_limited, throttled = stats.throttled },
	}, Tracker)
end

function Tracker:count(ok)
	self.done = self.done + 1
	if ok then
		self.ok = self.ok + 1
	else
		self.failed = self.failed + 1
	end
end

-- The documented info table, as things stand.
function Tracker:info()
	local stats, from = self.client:stats(), self.from
	local view = self.client:ratelimit()
	local elapsed = core.now() - self.started
	local eta
	if self.total then
		-- While the limit binds, the allowance says when the rest can go;
		-- before, the pace so far says how long they take.
		local left = self.total - self.done
		eta = allowance_eta(left, view)
		if eta == 0 and self.done > 0 then
			eta = elapsed / self.done * left
		end
	end
	return {
		done = self.done,
		total = self.total,
		ok = self.ok,
		failed = self.failed,
		retries = stats.retries - from.retries,
		rate_limited = stats.rate_limited - from.rate_limited,
		waited = stats.throttled - from.throttled,
		elapsed = elapsed,
		eta = eta,
		waiting = math.max(view.blocked, view.remaining < 1 and view.reset or 0),
	}
end

local Bar = {}
Bar.__index = Bar

local REDRAW_EVERY = 0.1
local WIDTH = 24

-- Seconds between the bar's redraws while nothing finishes.
progress.TICK = 0.25

-- A bar for total requests (nil: unknown), or nil when none should show.
function progress.bar(total, runner)
	if not runner or runner.quiet or not core.isatty(2) then
		return nil
	end
	return setmetatable({ total = total, drawn = 0, shown = false }, Bar)
end

function Bar:draw(info)
	local rate = info.elapsed > 0 and info.done / info.elapsed or 0
	local line
	if self.total and self.total > 0 then
		local filled = math.floor(WIDTH * info.done / self.total)
		line = string.format(
			"[%s%s] %d/%d  %.1f/s  ETA %ds",
			string.rep("#", filled),
			string.rep(".", WIDTH - filled),
			info.done,
			self.total,
			rate,
			math.ceil(info.eta)
		)
	else
		line = string.format("%d done  %.1f/s", info.done, rate)
	end
	line = line .. string.format("  retries %d  throttled %.1fs", info.retries, info.waited)
	if info.waiting > 0.05 and info.done < (self.total or math.huge) then
		line = line .. string.format("  waiting for the rate limit, %.1f s", info.waiting)
	end
	if (info.settling or 0) > 0 then -- a queue's drain (queue/drain.lua)
		local until_then = os.date("%H:%M:%S", math.ceil(info.settle_until))
		line = line .. string.format("  %d settling until %s", info.settling, until_then)
	end
	io.stderr:write("\r", line, "\27[K")
	io.stderr:flush()
	self.shown = true
	self.drawn = core.now()
end

-- Called after each request: (done, total, info).
function Bar:__call(done, _, info)
	if core.now() - self.drawn >= REDRAW_EVERY or done == self.total then
		self:draw(info)
	end
end

-- Called every TICK while the batch waits: the bar moves on its own.
function Bar:tick(info)
	self:draw(info)
end

-- Ends the bar's line: the batch is over, or interrupted.
function Bar:finish()
	if self.shown then
		io.stderr:write("\n")
		self.shown = false
	end
end

return progress
