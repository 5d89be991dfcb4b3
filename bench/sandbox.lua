-- Sandbox benchmark: how many requests a second pulse-sandbox answers,
-- driven by the plain C clients (bench/plain_get.c, sequential, and
-- bench/plain_multi.c at concurrency 8), so that the sandbox is what is
-- measured. The sandbox on the second core, the client on the first; best
-- of ROUNDS interleaved rounds. With make bench-compare, the baseline
-- build's sandbox runs in the same rounds.
--   build/pulse-lua bench/sandbox.lua [N]      (make bench runs it)

package.path = "spec/?.lua;bench/?.lua;" .. package.path
local support = require("support.sandbox")
local server = require("server")

local N = tonumber(arg[1]) or 5000
local ROUNDS = 5
local BUILD = support.BIN
local BASELINE = os.getenv("PULSE_BENCH_BASELINE")
local PATH = "/services/1"

-- A sandbox of build's with no rate limit to speak of, on the server's core.
local function start(build)
	local saved = support.BIN
	support.BIN = build
	local sandbox = support.start({ keys = { "bench-key" }, rate_limit = "999999999/1/999999999" })
	support.BIN = saved
	os.execute(string.format("taskset -pc 1 %s > /dev/null 2>&1", sandbox.pid))
	return sandbox
end

local pin = server.client_cpu()
local function rate(command, n)
	local out, err, code = support.run(pin .. command)
	assert(code == 0, command .. ": " .. tostring(err))
	return n / tonumber(out)
end

local builds = { { name = "pulse-sandbox", dir = BUILD } }
if BASELINE then
	builds[2] = { name = "baseline build's", dir = BASELINE }
end
for _, build in ipairs(builds) do
	build.sandbox = start(build.dir)
	build.sequential, build.concurrent = 0, 0
end
for _ = 1, ROUNDS do
	for _, build in ipairs(builds) do
		local url = build.sandbox.url .. PATH
		build.sequential =
			math.max(build.sequential, rate(string.format("%s/bench/plain_get %s %d", BUILD, url, N), N))
		build.concurrent =
			math.max(build.concurrent, rate(string.format("%s/bench/plain_multi %s %d 8", BUILD, url, N), N))
	end
end
print(string.format("sandbox: %d GETs of %s by plain C, best of %d interleaved rounds", N, PATH, ROUNDS))
print(string.format("%-22s %14s %7s %16s %7s", "server", "sequential/s", "ratio", "concurrent 8/s", "ratio"))
for _, build in ipairs(builds) do
	print(string.format(
		"%-22s %14.0f %7.2f %16.0f %7.2f",
		build.name,
		build.sequential,
		build.sequential / builds[1].sequential,
		build.concurrent,
		build.concurrent / builds[1].concurrent
	))
	build.sandbox:stop()
end
