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
-- One service of the sample organization's first center (seed 1, the
-- default): a GET of about 1 KB.
local PATH = require("pulse.sandbox.org").new({ seed = 1, centers = 1, guests = 1, now = os.time() }).centers[1]
PATH = "/v1/Centers/" .. PATH.id .. "/services/" .. PATH._services[1].id

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

-- The server's CPU seconds so far (user and system), from /proc.
local function cpu_seconds(pid)
	local stat = assert(support.read_file("/proc/" .. pid .. "/stat"))
	local fields = {}
	for field in stat:match("%) (.*)$"):gmatch("%S+") do
		fields[#fields + 1] = field
	end
	-- utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
	return (tonumber(fields[12]) + tonumber(fields[13])) / 100
end

-- Lists of 10 by the sequential client: the real API's services of a
-- center, each build's in its rounds; requests per second of the server's
-- CPU time. A build without the /v1 API (before it was emulated) has none.
local function list_paths(build)
	local status, _, body = build.sandbox:raw("GET", "/v1/centers", { "Authorization: Api-key bench-key" })
	if status ~= 200 then
		return {}
	end
	return { { "/v1/Centers/" .. body.centers[1].id .. "/services", "/v1 center's services, 10" } }
end
local list_rows = {}
for _, build in ipairs(builds) do
	for _, p in ipairs(list_paths(build)) do
		list_rows[#list_rows + 1] = { build = build, path = p[1], name = p[2], best = 0 }
	end
end
for _ = 1, ROUNDS do
	for _, row in ipairs(list_rows) do
		local pid = row.build.sandbox.pid
		local before = cpu_seconds(pid)
		rate(string.format("%s/bench/plain_get %s %d", BUILD, row.build.sandbox.url .. row.path, N), N)
		row.best = math.max(row.best, N / math.max(cpu_seconds(pid) - before, 0.01))
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
end
print(string.format("\nlists of 10, sequential: requests per second of the server's CPU time (best of %d)", ROUNDS))
print(string.format("%-22s %-30s %14s %7s", "server", "list", "per CPU s", "ratio"))
for _, row in ipairs(list_rows) do
	print(string.format(
		"%-22s %-30s %14.0f %7.2f",
		row.build.name,
		row.name,
		row.best,
		row.best / list_rows[1].best
	))
end
for _, build in ipairs(builds) do
	build.sandbox:stop()
end
