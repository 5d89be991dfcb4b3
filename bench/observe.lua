-- What watching costs: sequential keep-alive GETs, decoded, of a ~2 KB JSON
-- body (bench/server.lua: nginx when installed), by clients that nobody
-- watches, that a hook doing nothing watches, and that write the trace
-- (a JSON line per attempt, to a file). Each run is a process of its own
-- pinned to the client core, the three interleaved in rounds, each row's
-- best round kept; CPU time (the process's, over the loop) beside wall.
-- This machine's noise moves those by a tenth or more from one run to the
-- next, so the instructions per GET are counted too (callgrind, user
-- space: two runs' difference over the requests between them), which
-- move by well under 1%.
--   build/pulse-lua bench/observe.lua [N]      (make bench runs it)

package.path = "spec/?.lua;bench/?.lua;" .. package.path
local support = require("support.sandbox")
local server = require("server")

local N = tonumber(arg[1]) or 20000
local ROUNDS = 20 -- many short rounds: the best of more draws of the noise
local ROUND_N = N // ROUNDS

local RUN = support.temp_path(".lua")
support.write_file(
	RUN,
	[[
local core, pulse = require("pulse.core"), require("pulse")
local url, n, mode, trace = arg[1], tonumber(arg[2]), arg[3], arg[4]
local base, path = url:match("^(https?://[^/]+)(.*)$")
local client = pulse.new({
	api_key = "bench-key",
	base_url = base,
	rate_limit = { limit = 1e8, window = 3600, burst = 1e8 },
	on = mode == "hook" and { response = function() end } or nil,
	trace = mode == "trace" and trace or nil,
})
assert(client:get(path))
local wall, cpu = core.now(), os.clock()
for _ = 1, n do
	assert(client:get(path))
end
print(string.format("%.6f %.6f", core.now() - wall, os.clock() - cpu))
]]
)

local url, stop_server, server_name = server.start()
local pin = server.client_cpu()
local trace = support.temp_path(".jsonl")

local MODES = {
	{ "plain", "nobody watching (baseline)" },
	{ "hook", "a response hook doing nothing" },
	{ "trace", "the trace, a line per attempt" },
}
local best = {}
for _ = 1, ROUNDS do
	for _, mode in ipairs(MODES) do
		local out, err, code =
			support.run(string.format("%s%s/pulse-lua %s %s %d %s %s", pin, support.BIN, RUN, url, ROUND_N, mode[1], trace))
		assert(code == 0, err)
		local wall, cpu = out:match("^(%S+) (%S+)")
		local b = best[mode[1]] or { wall = math.huge, cpu = math.huge }
		b.wall, b.cpu = math.min(b.wall, tonumber(wall)), math.min(b.cpu, tonumber(cpu))
		best[mode[1]] = b
		os.remove(trace)
	end
end

-- Instructions per GET, by mode: two sizes' difference cancels start-up.
local SMALL, LARGE = 500, 2500
local function instructions(mode, n)
	local command = string.format(
		"%svalgrind --tool=callgrind --callgrind-out-file=/dev/null %s/pulse-lua %s %s %d %s %s",
		server.server_cpu(),
		support.BIN,
		RUN,
		url,
		n,
		mode,
		trace
	)
	local _, err, code = support.run(command)
	os.remove(trace)
	assert(code == 0, command .. ": " .. tostring(err))
	return assert(tonumber(err:match("Collected : (%d+)")), "no count from callgrind")
end
local per_get = {}
local has_valgrind = (support.run("command -v valgrind") or "") ~= ""
for _, mode in ipairs(MODES) do
	if has_valgrind then
		per_get[mode[1]] = (instructions(mode[1], LARGE) - instructions(mode[1], SMALL)) / (LARGE - SMALL)
	end
end
stop_server()
os.remove(RUN)

print(string.format(
	"observe: sequential keep-alive GETs of %d bytes from %s, decoded; %d per client in %d rounds (best round)",
	#server.body(),
	server_name,
	N,
	ROUNDS
))
local header = { "client", "wall µs", "CPU µs", "wall", "CPU", "instr/GET", "instr" }
print(string.format("%-32s %9s %9s %8s %8s %12s %8s", table.unpack(header)))
local base = best.plain
for _, mode in ipairs(MODES) do
	local b, n = best[mode[1]], per_get[mode[1]]
	print(string.format(
		"%-32s %9.2f %9.2f %7.3fx %7.3fx %12s %8s",
		mode[2],
		b.wall / ROUND_N * 1e6,
		b.cpu / ROUND_N * 1e6,
		b.wall / base.wall,
		b.cpu / base.cpu,
		n and string.format("%.0f", n) or "-",
		n and string.format("%.3fx", n / per_get.plain) or "-"
	))
end
