-- Concurrency benchmark: 20,000 GETs of a ~2 KB JSON body at concurrency 1,
-- 8, 32 and 64, from nginx serving a file (or the sandbox without a rate
-- limit): a plain C program on libcurl's multi interface, pulse-lua batches
-- with decode = false (target: 0.80 of plain C at every level) and decoding
-- every body, plain C again as a noise gauge, and the shape of the best Lua
-- peer, Lua-cURLv3 + lua-cjson (bench/cjson_multi.c: libcurl multi and
-- cjson.decode through the Lua C API), against which the decoding rows
-- are compared by wall and by CPU time. Then peak memory of
-- pulse-lua for 20,000 requests against 2,000. Each row keeps the best of
-- ten interleaved rounds.
--   build/pulse-lua bench/concurrency.lua [N]      (make bench runs it)

package.path = "spec/?.lua;bench/?.lua;" .. package.path
local support = require("support.sandbox")
local server = require("server")

local N = tonumber(arg[1]) or 20000
-- make bench-compare: another build's pulse-lua, run in the same rounds.
local BASELINE = os.getenv("PULSE_BENCH_BASELINE")
local ROUNDS = 10
local BUILD = support.BIN

local url, stop, server_name = server.start()
local pin = server.client_cpu()

-- Runs a command under GNU time: elapsed seconds it printed, peak RSS in KB,
-- minor page faults and CPU seconds (user and system).
local function measure(command)
	local out, err, code = support.run(pin .. "/usr/bin/time -f 'maxrss %M faults %R cpu %U %S' " .. command)
	assert(code == 0, command .. ": " .. tostring(err))
	local user, system = err:match("cpu ([%d.]+) ([%d.]+)")
	return tonumber(out), tonumber(err:match("maxrss (%d+)")), tonumber(err:match("faults (%d+)")), user + system
end

-- CPU seconds of each command's least costly round, by index: best() fills it.
local cpu_of = {}

-- Requests per second of each command's best round; the commands take
-- turns round by round, so that a slow spell of this machine hits them alike.
local function best(commands)
	local fastest = {}
	cpu_of = {}
	for _ = 1, ROUNDS do
		for i, command in ipairs(commands) do
			local seconds, _, _, cpu = measure(command)
			fastest[i] = math.min(fastest[i] or seconds, seconds)
			cpu_of[i] = math.min(cpu_of[i] or cpu, cpu)
		end
	end
	local rates = {}
	for i, seconds in ipairs(fastest) do
		rates[i] = N / seconds
	end
	return table.unpack(rates)
end

print(string.format("concurrency: %d GETs of ~2 KB from %s, best of %d interleaved rounds", N, server_name, ROUNDS))
-- The last column is plain C run again in each round, against its first
-- run: how far a ratio moves with this run's noise alone.
print(string.format(
	"%-12s %14s %14s %7s %14s %7s %7s",
	"concurrency",
	"plain C multi",
	"pulse raw",
	"ratio",
	"pulse decode",
	"ratio",
	"noise"
))
local baseline_rows, peer_rows = {}, {}
for _, c in ipairs({ 1, 8, 32, 64 }) do
	local plain_command = string.format("%s/bench/plain_multi %s %d %d", BUILD, url, N, c)
	local commands = {
		plain_command,
		string.format("%s/pulse-lua bench/batch_run.lua %s %d %d raw", BUILD, url, N, c),
		string.format("%s/pulse-lua bench/batch_run.lua %s %d %d decode", BUILD, url, N, c),
		plain_command,
		string.format("%s/bench/cjson_multi %s %d %d", BUILD, url, N, c),
	}
	if BASELINE then
		commands[6] = string.format("%s/pulse-lua bench/batch_run.lua %s %d %d raw", BASELINE, url, N, c)
		commands[7] = string.format("%s/pulse-lua bench/batch_run.lua %s %d %d decode", BASELINE, url, N, c)
	end
	local plain, raw, decoded, again, peer, base_raw, base_decoded = best(commands)
	peer_rows[#peer_rows + 1] = string.format(
		"%-12d %14.0f %14.0f %9.2f %9.2f",
		c,
		peer,
		decoded,
		decoded / peer,
		cpu_of[5] / cpu_of[3]
	)
	print(string.format(
		"%-12d %14.0f %14.0f %7.2f %14.0f %7.2f %7.2f",
		c,
		plain,
		raw,
		raw / plain,
		decoded,
		decoded / plain,
		again / plain
	))
	if BASELINE then
		-- CPU: the baseline's CPU time over this build's, so that above 1
		-- this build spends less per request.
		baseline_rows[#baseline_rows + 1] = string.format(
			"%-12d %14.0f %7.2f %14.0f %7.2f %9.2f %9.2f",
			c,
			base_raw,
			base_raw / plain,
			base_decoded,
			base_decoded / plain,
			cpu_of[6] / cpu_of[2],
			cpu_of[7] / cpu_of[3]
		)
	end
end
print("decoding against the Lua-cURLv3 + cjson shape (C multi + cjson), same rounds")
print(string.format("%-12s %14s %14s %9s %9s", "concurrency", "C + cjson", "pulse decode", "wall", "cpu"))
print(table.concat(peer_rows, "\n"))
if BASELINE then
	print("the baseline build, same rounds, ratios to the same plain C; cpu: its CPU time over this build's")
	print(string.format(
		"%-12s %14s %7s %14s %7s %9s %9s",
		"concurrency",
		"baseline raw",
		"ratio",
		"base decode",
		"ratio",
		"cpu raw",
		"cpu dec"
	))
	print(table.concat(baseline_rows, "\n"))
end

local small_n = N // 10
local _, small, small_faults =
	measure(string.format("%s/pulse-lua bench/batch_run.lua %s %d 32 decode", BUILD, url, small_n))
local _, large, large_faults = measure(string.format("%s/pulse-lua bench/batch_run.lua %s %d 32 decode", BUILD, url, N))
print(string.format(
	"peak memory, concurrency 32, decoding: %d requests %d KB, %d requests %d KB (ratio %.2f)",
	small_n,
	small,
	N,
	large,
	large / small
))
-- Page faults that grow with the requests are memory the heap gives back
-- and takes again: kernel time a profile of instructions does not show.
print(string.format("minor page faults, same runs: %d and %d", small_faults, large_faults))
stop()
