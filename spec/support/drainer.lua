-- Drainer processes for the queue's specs and bench: pulse-lua running
-- spec/support/queue_drainer.lua in the background, waited for, and its
-- report read.

local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

local drainer = {}

local SCRIPT = "spec/support/queue_drainer.lua"

-- Starts a drainer of the queue at target (a journal's path or a redis://
-- URL) against sandbox; opts: mode ("reconcile", the default, or "none"),
-- workers (4), forever, env (variables to set, over QUEUE_TIMEOUT=5 and
-- QUEUE_SETTLE=0.5). Returns its pid and the
-- path of its output.
function drainer.start(sandbox, target, opts)
	opts = opts or {}
	-- A write in flight at a kill is held its timeout and settle: short
	-- ones keep a spec within seconds, unless it sets its own.
	local env = { QUEUE_TIMEOUT = "5", QUEUE_SETTLE = "0.5" }
	for name, value in pairs(opts.env or {}) do
		env[name] = value
	end
	local vars = {}
	for name, value in pairs(env) do
		vars[#vars + 1] = name .. "=" .. support.shell_quote(value)
	end
	local out = support.temp_path(".out")
	local pid = support.background(
		string.format(
			"PULSE_API_KEY=%s %s %s/pulse-lua %s %s %s %s %d %s",
			support.shell_quote(sandbox.key),
			table.concat(vars, " "),
			support.BIN,
			SCRIPT,
			sandbox.url,
			support.shell_quote(target),
			opts.mode or "reconcile",
			opts.workers or 4,
			opts.forever and "forever" or ""
		),
		out
	)
	return pid, out
end

-- Waits for pid to end, failing after limit seconds (default 60).
function drainer.wait_exit(pid, limit)
	local deadline = core.now() + (limit or 60)
	while support.alive(pid) do
		assert(core.now() < deadline, "the drainer " .. pid .. " did not end")
		core.sleep(0.02)
	end
end

-- The report a drainer printed last.
function drainer.report(out)
	local text = support.read_file(out) or ""
	return json.decode(text:match("([^\n]*)\n*$") or "") or error("the drainer said:\n" .. text)
end

return drainer
