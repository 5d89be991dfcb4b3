-- How fast a queue drains when the API is not the bound: WRITES (3,000)
-- POSTs to pulse-sandbox at a loose limit, 8 at once, by pulse-lua's drain
-- on Redis and on the file store (durable per write), and by BullMQ
-- (tools/interop's, pinned) on the same Redis. Each drain is a process of
-- its own pinned to core 1, the sandbox and Redis on core 0; the entries
-- are pushed before the clock starts (BullMQ's too); ROUNDS rounds
-- interleaved, each row's best kept. Writes a second, and CPU ms per 100
-- writes (the drain's process, user + system).
--   build/pulse-lua bench/drain_rate.lua      (make bench runs it)
--   DRAIN_RATE_WRITES=3000 DRAIN_RATE_ROUNDS=3

package.path = "spec/?.lua;" .. package.path
local json = require("pulse.json")
local pulse = require("pulse")
local redis = require("support.redis")
local guests = require("support.guests")
local support = require("support.sandbox")

local WRITES = tonumber(os.getenv("DRAIN_RATE_WRITES") or "3000")
local ROUNDS = tonumber(os.getenv("DRAIN_RATE_ROUNDS") or "3")
local WORKERS = 8
local BULLMQ = "tools/interop/node_modules/bullmq"

local DRAIN = support.temp_path(".lua")
support.write_file(
	DRAIN,
	[[
local core, pulse = require("pulse.core"), require("pulse")
local q = assert(pulse.queue.open(arg[2]))
local client = pulse.new({ base_url = arg[1] })
local started, cpu = core.now(), os.clock()
local report = assert(q:drain(client, { workers = tonumber(arg[3]) }))
io.write(pulse.json.encode({ done = report.done, seconds = core.now() - started, cpu = os.clock() - cpu }), "\n")
q:close()
]]
)

local sandbox = support.start({ rate_limit = "1000000/1/1000000" })
local server = redis.start({})
os.execute(string.format("taskset -p -c 0 %s >/dev/null; taskset -p -c 0 %s >/dev/null", sandbox.pid, server.pid))
local env = "PULSE_API_KEY=" .. support.shell_quote(sandbox.key) .. " "

local rows = {}
for i = 1, WRITES do
	rows[i] = guests.row(i, "rate")
end
local rows_path = support.temp_path(".json")
support.write_file(rows_path, json.encode(rows))

local function push_all(url)
	local q = assert(pulse.queue.open(url, { sync = "batch" }))
	for i, row in ipairs(rows) do
		local email = row.personal_info.email
		assert(q:push({ method = "POST", path = guests.PATH, json = row, id = email .. "-" .. i, key = email }))
	end
	assert(q:flush())
	q:close()
end

local function run(command)
	local out = assert(support.run(env .. "taskset -c 1 " .. command))
	local result = json.decode(out:match("([^\n]*)\n*$") or "")
	assert(type(result) == "table" and result.done == WRITES, "the drain said: " .. out)
	return result
end

local ROWS = {
	{
		"pulse-lua drain, Redis",
		function(round)
			local url = server.url .. "?stream=rate-" .. round
			push_all(url)
			return run(string.format("%s/pulse-lua %s %s %s %d", support.BIN, DRAIN, sandbox.url, url, WORKERS))
		end,
	},
	{
		"BullMQ 6.7.6 Worker, same Redis",
		function()
			return run(string.format("node bench/bullmq_drain.js %d %s %s %d", server.port, sandbox.url, rows_path, WORKERS))
		end,
	},
	{
		"pulse-lua drain, file store",
		function()
			local path = support.temp_path(".journal")
			push_all("file:" .. path)
			local result =
				run(string.format("%s/pulse-lua %s %s file:%s %d", support.BIN, DRAIN, sandbox.url, path, WORKERS))
			os.remove(path)
			return result
		end,
	},
}

local have_bullmq = support.run("test -d " .. BULLMQ .. " && command -v node") ~= nil
local best = {}
for round = 1, ROUNDS do
	for i, row in ipairs(ROWS) do
		if i ~= 2 or have_bullmq then
			sandbox:reset()
			local r = row[2](round)
			if not best[i] or r.seconds < best[i].seconds then
				best[i] = r
			end
		end
	end
end

print(string.format("queue drain at a loose limit: %d POSTs, %d at once, best of %d rounds", WRITES, WORKERS, ROUNDS))
print(string.format("%-34s %10s %14s %12s", "", "writes/s", "CPU ms/100", "vs BullMQ"))
local peer = best[2] and WRITES / best[2].seconds
for i, row in ipairs(ROWS) do
	local r = best[i]
	if r then
		local rate = WRITES / r.seconds
		print(string.format("%-34s %10.0f %14.1f %12s", row[1], rate, 1e5 * r.cpu / WRITES,
			peer and string.format("%.2fx", rate / peer) or "-"))
	else
		print(string.format("%-34s skipped: node or %s is absent (make deps)", row[1], BULLMQ))
	end
end
sandbox:stop()
server:stop()
