-- Instructions per request of the request path, this build against another
-- (make bench-compare runs it with the baseline it built): callgrind counts
-- every instruction of a run, user and library, the same on every run but
-- for the poll loops' waits, so two sizes' difference divided by the
-- requests between them cancels start-up. The median of ROUNDS pairs.
-- The client runs on the server's core: on cores of their own, whether an
-- answer is in before the client's first read after sending depends on how
-- soon the other core wakes, which made a run take one round of the poll
-- loop per request or two (about 2% of a request's instructions) from one
-- run to the next, whichever build it was.
-- A sequential client:get (bench/get_run.lua) and a batch at concurrency 64
-- (bench/batch_run.lua), each decoding and not.
--   PULSE_BENCH_BASELINE=DIR build/pulse-lua bench/instructions.lua

package.path = "spec/?.lua;bench/?.lua;" .. package.path
local support = require("support.sandbox")
local server = require("server")

local BASELINE = assert(os.getenv("PULSE_BENCH_BASELINE"), "set PULSE_BENCH_BASELINE to another build's directory")
local BUILD = support.BIN
local SMALL, LARGE, ROUNDS = 1000, 4000, 3

local url, stop = server.start()

-- Instructions of one run of script (get_run or batch_run) with n requests.
local function instructions(bin, script, n, mode)
	local args = script == "get_run" and string.format("%s %d %s", url, n, mode)
		or string.format("%s %d 64 %s", url, n, mode)
	local command = string.format(
		"%svalgrind --tool=callgrind --callgrind-out-file=/dev/null %s/pulse-lua bench/%s.lua %s",
		server.server_cpu(),
		bin,
		script,
		args
	)
	local _, err, code = support.run(command)
	assert(code == 0, command .. ": " .. tostring(err))
	return assert(tonumber(err:match("Collected : (%d+)")), "no count from callgrind")
end

local function per_request(bin, script, mode)
	local rounds = {}
	for i = 1, ROUNDS do
		rounds[i] = (instructions(bin, script, LARGE, mode) - instructions(bin, script, SMALL, mode)) / (LARGE - SMALL)
	end
	table.sort(rounds)
	return rounds[(ROUNDS + 1) // 2]
end

print(string.format("instructions per request (callgrind, median of %d), this build against %s", ROUNDS, BASELINE))
print(string.format("%-28s %12s %12s %9s", "path", "this build", "baseline", "speed"))
for _, case in ipairs({
	{ "client:get, raw", "get_run", "raw" },
	{ "client:get, decoding", "get_run", "decode" },
	{ "batch of 64, raw", "batch_run", "raw" },
	{ "batch of 64, decoding", "batch_run", "decode" },
}) do
	local this = per_request(BUILD, case[2], case[3])
	local base = per_request(BASELINE, case[2], case[3])
	print(string.format("%-28s %12.0f %12.0f %9.3f", case[1], this, base, base / this))
end
stop()
