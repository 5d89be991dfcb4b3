-- The progress bar of batches: done/total, rate, ETA, retries and
-- throttled time, redrawn in place on stderr at most ten times a second.
-- Only under pulse-lua, when stderr is a terminal and --quiet is not given.

local core = require("pulse.core")

local progress = {}

local Bar = {}
Bar.__index = Bar

local REDRAW_EVERY = 0.1
local WIDTH = 24

-- A bar for total requests (nil: unknown), or nil when none should show.
function progress.bar(total, runner)
	if not runner or runner.quiet or not core.isatty(2) then
		return nil
	end
	return setmetatable({ total = total, started = core.now(), drawn = 0, shown = false }, Bar)
end

function Bar:draw(done, stats)
	local elapsed = core.now() - self.started
	local rate = elapsed > 0 and done / elapsed or 0
	local line
	if self.total and self.total > 0 then
		local filled = math.floor(WIDTH * done / self.total)
		local eta = rate > 0 and (self.total - done) / rate or 0
		line = string.format(
			"[%s%s] %d/%d  %.1f/s  ETA %ds",
			string.rep("#", filled),
			string.rep(".", WIDTH - filled),
			done,
			self.total,
			rate,
			math.ceil(eta)
		)
	else
		line = string.format("%d done  %.1f/s", done, rate)
	end
	line = line .. string.format("  retries %d  throttled %.1fs", stats.retries, stats.throttled)
	io.stderr:write("\r", line, "\27[K")
	io.stderr:flush()
	self.shown = true
end

-- Called after each request: (done, total, stats).
function Bar:__call(done, _, stats)
	local now = core.now()
	if now - self.drawn >= REDRAW_EVERY or done == self.total then
		self.drawn = now
		self:draw(done, stats)
	end
end

function Bar:finish()
	if self.shown then
		io.stderr:write("\n")
	end
end

return progress
