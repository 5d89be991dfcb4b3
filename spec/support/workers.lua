-- Crowds of real worker processes (spec/support/limiter_worker.lua) that
-- share an organization's limit, for the limiter's specs and benchmarks.

local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

local workers = {}

local WORKER = "spec/support/limiter_worker.lua"

-- Starts n workers against sandbox, each making count GETs through limiter;
-- env(i) gives worker i's environment (VAR=value ...). Returns the crowd:
-- its pids and outputs.
function workers.start(sandbox, limiter, n, count, env)
	local crowd = { started = core.now() }
	for i = 1, n do
		local out = support.temp_path()
		os.execute(string.format(
			"PULSE_API_KEY=%s %s %s/pulse-lua %s %s %s %d > %s 2>&1 & echo $! > %s.pid",
			support.shell_quote(sandbox.key),
			env and env(i) or "",
			support.BIN,
			WORKER,
			sandbox.url,
			support.shell_quote(limiter),
			count,
			out,
			out
		))
		crowd[i] = { out = out, pid = assert(support.read_file(out .. ".pid")):match("%d+") }
		os.remove(out .. ".pid")
	end
	return crowd
end

-- Waits (up to limit seconds) for the crowd to finish; returns each
-- worker's result and the seconds the slowest took from the crowd's start.
-- A worker still running at the limit is killed and raised about.
function workers.finish(crowd, limit)
	local deadline = core.now() + (limit or 60)
	local results = {}
	for i, worker in ipairs(crowd) do
		while support.alive(worker.pid) and core.now() < deadline do
			core.sleep(0.02)
		end
		if support.alive(worker.pid) then
			os.execute("kill -9 " .. worker.pid)
			error("worker " .. i .. " hung")
		end
		local output = support.read_file(worker.out) or ""
		os.remove(worker.out)
		local last = output:match("[^\n]*$")
		results[i] = json.decode(last ~= "" and last or output) or error("worker " .. i .. " said:\n" .. output)
	end
	return results, core.now() - crowd.started
end

function workers.run(sandbox, limiter, n, count, env)
	return workers.finish(workers.start(sandbox, limiter, n, count, env))
end

-- Waits until the sandbox has answered n requests.
function workers.wait_for_requests(sandbox, n)
	local deadline = core.now() + 30
	while sandbox:stats().requests < n do
		assert(core.now() < deadline, "the workers did not get to " .. n .. " requests")
		core.sleep(0.02)
	end
end

return workers
