-- The durable write queue: what a push costs, and whether a drain spends
-- the rate limit as well as it can.
--  1. Pushes a second with sync = "each" (fsynced before push returns) and
--     "batch" (one flush at the end), each against its floor in the same
--     run: the journal's own append (and fdatasync), with no queue above.
--  2. Draining QUEUE_BENCH_WRITES (default 1,000) POSTs on a sandbox at
--     20/5/20 with 4 workers: 429s (goal: none), writes applied (goal:
--     each once) and the wall time against what the allowance needs (goal:
--     within 5%): the bucket's 20 at once, then 20 every 5 s.
--  3. The queue on Redis Streams (a redis-server of its own): pushes a
--     second, each acknowledged or in flushes of 60; then
--     QUEUE_BENCH_REDIS_WRITES (default 200) POSTs drained by 3 drainer
--     processes of 2 workers sharing the limit through the same Redis, at
--     20/5/20: 429s (goal: none), writes applied (goal: each once), wall
--     time against the allowance.
--   build/pulse-lua bench/queue.lua      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")
local drainer = require("support.drainer")
local redis = require("support.redis")
local guests = require("support.guests")
local support = require("support.sandbox")

local EACH, BATCH = 2000, 20000
local WRITES = tonumber(os.getenv("QUEUE_BENCH_WRITES") or "1000")
local REDIS_WRITES = tonumber(os.getenv("QUEUE_BENCH_REDIS_WRITES") or "200")

local function entry(i)
	local row = guests.row(i, "bench")
	local email = row.personal_info.email
	return { method = "POST", path = guests.PATH, json = row, id = email, key = email }
end

local function fresh_path()
	local path = support.temp_path(".journal")
	return path, function()
		os.remove(path)
		os.remove(path .. ".lock")
	end
end

-- Seconds (wall, CPU) per push through the queue.
local function pushes(n, sync)
	local path, remove = fresh_path()
	local q = assert(pulse.queue.open("file:" .. path, { sync = sync }))
	local wall, cpu = core.now(), os.clock()
	for i = 1, n do
		assert(q:push(entry(i)))
	end
	assert(q:flush())
	wall, cpu = core.now() - wall, os.clock() - cpu
	q:close()
	remove()
	return wall / n, cpu / n
end

-- The floor: the same records, encoded, appended by the journal alone.
local function floor(n, sync)
	local path, remove = fresh_path()
	local journal = assert(core.journal_open(path))
	local wall, cpu = core.now(), os.clock()
	local batch = {}
	for i = 1, n do
		local e = entry(i)
		local record = assert(json.encode({
			op = "push",
			id = e.id,
			key = e.key,
			method = e.method,
			path = e.path,
			opts = { json = e.json },
			at = core.epoch(),
		}))
		if sync == "each" then
			journal:lock()
			assert(journal:append({ record }))
			assert(journal:sync())
			journal:unlock()
		else
			batch[#batch + 1] = record
		end
	end
	if sync == "batch" then
		journal:lock()
		assert(journal:append(batch))
		assert(journal:sync())
		journal:unlock()
	end
	wall, cpu = core.now() - wall, os.clock() - cpu
	journal:close()
	remove()
	return wall / n, cpu / n
end

print("queue: pushes, against the journal's own append in the same run")
print(string.format("%-16s %12s %12s %12s %10s", "", "pushes/s", "floor/s", "wall ratio", "CPU ratio"))
for _, case in ipairs({ { "each", EACH }, { "batch", BATCH } }) do
	local sync, n = case[1], case[2]
	local wall, cpu = pushes(n, sync)
	local floor_wall, floor_cpu = floor(n, sync)
	print(string.format("%-16s %12.0f %12.0f %11.2fx %9.2fx", "sync = " .. sync, 1 / wall, 1 / floor_wall,
		wall / floor_wall, cpu / floor_cpu))
end

-- The wall time a drain at 20/5/20 needs: the bucket's 20 at once, then
-- 20 every 5 s.
local function allowance(writes)
	return math.max(0, math.ceil((writes - 20) / 20)) * 5
end

-- The drain under a tight limit.
local sandbox = support.start({ rate_limit = "20/5/20" })
local path, remove = fresh_path()
local q = assert(pulse.queue.open("file:" .. path, { sync = "batch" }))
for i = 1, WRITES do
	assert(q:push(entry(i)))
end
assert(q:flush())
local client = sandbox:client()
sandbox:reset() -- a full bucket, its window starting now
local started = core.now()
local report = assert(q:drain(client, { workers = 4 }))
local wall = core.now() - started
local stats = sandbox:stats()
local needed = allowance(WRITES)
print(string.format("queue: drained %d writes at 20/5/20 with 4 workers", WRITES))
print(string.format("  done %d, dead %d, left %d; the sandbox applied %d writes and answered %d with 429",
	report.done, report.dead, report.pending, stats.writes_applied, stats.rate_limited))
print(string.format("  %.1f s; the allowance needs %.0f s: %.1f%% over (goal: within 5%%)", wall, needed,
	100 * (wall / needed - 1)))
client:close()
q:close()
remove()
sandbox:stop()

-- The queue on Redis.
local server = redis.start({ appendonly = true })
local url = server.url .. "?stream=bench"
print("queue on Redis: pushes (appendfsync always)")
for _, sync in ipairs({ "each", "batch" }) do
	local rq = assert(pulse.queue.open(url .. "-" .. sync, { sync = sync }))
	local took, cpu = core.now(), os.clock()
	for i = 1, EACH do
		assert(rq:push(entry(i)))
	end
	assert(rq:flush())
	took, cpu = core.now() - took, os.clock() - cpu
	print(string.format("  sync = %-6s %8.0f pushes/s, %.1f us CPU each", sync, EACH / took, 1e6 * cpu / EACH))
	rq:close()
end

sandbox = support.start({ rate_limit = "20/5/20", log = true })
local rq = assert(pulse.queue.open(url, { sync = "batch" }))
for i = 1, REDIS_WRITES do
	assert(rq:push(entry(i)))
end
assert(rq:flush())
sandbox:reset()
started = core.now()
local drainers = {}
local env = { QUEUE_LIMITER = server.url .. "?bucket=bench" }
for i = 1, 3 do
	drainers[i] = { drainer.start(sandbox, url, { mode = "none", workers = 2, env = env }) }
end
local done = 0
for _, d in ipairs(drainers) do
	drainer.wait_exit(d[1], 600)
	done = done + drainer.report(d[2]).done
	os.remove(d[2])
end
wall = core.now() - started
stats = sandbox:stats()
needed = allowance(REDIS_WRITES)
print(string.format("queue on Redis: drained %d writes at 20/5/20, 3 processes of 2 workers, one limit",
	REDIS_WRITES))
print(string.format("  done %d; the sandbox applied %d writes and answered %d with 429", done, stats.writes_applied,
	stats.rate_limited))
print(string.format("  %.1f s; the allowance needs %.0f s: %.1f%% over (goal: within 5%%)", wall, needed,
	100 * (wall / needed - 1)))
rq:close()
sandbox:stop()
server:stop()
