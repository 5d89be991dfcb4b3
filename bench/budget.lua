-- Every call counts: the organization's budget spent by many consumers at
-- once, each row against the same job without this issue's machinery, in
-- one invocation, against pulse-sandbox on loopback.
--   1. Front desk under load: a drain of 600 writes (bulk) on a bucket of
--      20 every 5 s while another process makes 20 interactive GETs at
--      random moments, with a reserve of 0.2; against the same run with no
--      lanes (both normal, no reserve). The interactive calls' waits, and
--      how close the 620 calls came to the bucket's floor. On shm:, then
--      on Redis, then on Redis from two network namespaces (the drain in
--      one, the front desk in the other, 10 ms from Redis and back).
--   2. A schedule read by 16 processes at once: on a shared limiter and
--      cache directory, against 16 clients of their own.
--   3. sync_appointments.lua run by 4 processes at once over one range:
--      sharing the limiter and a cache directory, against not.
-- Calls are the sandbox's count; 429s are counted everywhere.
--   build/pulse-lua bench/budget.lua      (make bench runs it)
--   BUDGET_WRITES=600 (the drain's writes; the floor scales with it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local redis = require("support.redis")
local support = require("support.sandbox")

local WRITES = tonumber(os.getenv("BUDGET_WRITES") or "600")
local BIN = support.BIN .. "/pulse-lua"

local function temp_script(text)
	local path = support.temp_path(".lua")
	support.write_file(path, text)
	return path
end

local function percentile(list, p)
	table.sort(list)
	return list[math.max(1, math.ceil(#list * p))] or 0
end

-- ---- 1. front desk under load ----------------------------------------------

local DRAINER = temp_script([[
local pulse = require("pulse")
local q = assert(pulse.queue.open("file:" .. arg[1]))
local report = assert(q:drain(pulse.new(), { workers = 8, priority = arg[2] }))
q:close()
io.write(pulse.json.encode({ done = report.done, dead = report.dead, ended = require("pulse.core").epoch() }), "\n")
]])

local FRONT_DESK = temp_script([[
local pulse, core = require("pulse"), require("pulse.core")
local client = pulse.new({ priority = arg[1] })
math.randomseed(tonumber(arg[3]))
local waits, ended = {}, 0
for i = 1, 20 do
	core.sleep(math.random() * tonumber(arg[2]))
	local asked = core.now()
	local body, res = client:get(arg[4])
	assert(body, tostring(res))
	waits[i], ended = core.now() - asked, core.epoch()
end
io.write(pulse.json.encode({ waits = waits, ended = ended }), "\n")
]])

-- Where a row's two processes run, on a new bucket: { limiter (the URL
-- the reserve is set on), drain, desk (each { prefix, base_url, limiter }),
-- close() }; or nil and why it cannot run here. kind: "shm", "redis" (on
-- server) or "netns": the drain in pulse-bench-1, the front desk in
-- pulse-bench-2 (bench/netns.sh), reaching Redis through bench/relay.py 5
-- ms each way and the sandbox through it without a delay.
local function places(kind, sandbox, server)
	if kind == "shm" then
		local shm = support.temp_path()
		local here = { prefix = "", base_url = sandbox.url, limiter = "shm:" .. shm }
		return { limiter = here.limiter, drain = here, desk = here, close = function() os.remove(shm) end }
	end
	local bucket = "front-desk-" .. math.random(1e9)
	if kind == "redis" then
		local here = { prefix = "", base_url = sandbox.url, limiter = server.url .. "/?bucket=" .. bucket }
		return { limiter = here.limiter, drain = here, desk = here, close = function() end }
	end
	os.execute("bench/netns.sh down")
	local _, err, code = support.run("bench/netns.sh up")
	if code ~= 0 then
		os.execute("bench/netns.sh down")
		return nil, "network namespaces refused here: " .. err:gsub("%s+$", "")
	end
	local relays, there = {}, {}
	local sandbox_port = sandbox.url:match(":(%d+)$")
	for n = 1, 2 do
		local host = "10.231." .. n .. ".1"
		for _, route in ipairs({
			{ 5, string.format("%s:%d=127.0.0.1:%d", host, server.port, server.port) },
			{ 0, string.format("%s:%s=127.0.0.1:%s", host, sandbox_port, sandbox_port) },
		}) do
			local out = support.temp_path()
			local pid = support.spawn(string.format("bench/relay.py %d %s", route[1], route[2]), out)
			relays[#relays + 1] = { pid = pid, out = out }
		end
		there[n] = {
			prefix = "ip netns exec pulse-bench-" .. n .. " ",
			base_url = string.format("http://%s:%s", host, sandbox_port),
			limiter = string.format("redis://%s:%d/?bucket=%s", host, server.port, bucket),
		}
	end
	return {
		limiter = server.url .. "/?bucket=" .. bucket,
		drain = there[1],
		desk = there[2],
		close = function()
			for _, relay in ipairs(relays) do
				support.stop_spawned(relay.pid)
				os.remove(relay.out)
			end
			os.execute("bench/netns.sh down")
		end,
	}
end

local function front_desk(lanes, kind, server)
	local sandbox = support.start({ rate_limit = "20/5/20" })
	local where, why = places(kind, sandbox, server)
	if not where then
		sandbox:stop()
		return nil, why
	end
	local journal = support.temp_path(".journal")
	local q = assert(require("pulse").queue.open("file:" .. journal))
	for i = 1, WRITES do
		assert(q:push({ method = "POST", path = support.GUESTS, json = sandbox:guest(i), id = "g" .. i }))
	end
	q:close()
	local function env(place)
		return string.format(
			"%senv PULSE_API_KEY=%s PULSE_BASE_URL=%s PULSE_LIMITER=%s ",
			place.prefix,
			support.shell_quote(sandbox.key),
			place.base_url,
			support.shell_quote(place.limiter)
		)
	end
	if lanes then
		local _, err, code = support.run(
			string.format(
				"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s --limiter %s --reserve interactive=0.2",
				support.shell_quote(sandbox.key),
				sandbox.url,
				BIN,
				support.shell_quote(where.limiter)
			)
		)
		assert(code == 0, err)
	end
	local floor = math.ceil((WRITES + 20 - 20) / 20) * 5 -- a full bucket at once, then 20 a window
	local started = core.epoch()
	local drain_out, desk_out = support.temp_path(), support.temp_path()
	local drain_lane = lanes and "bulk" or "normal"
	support.background(
		env(where.drain) .. "taskset -c 1 " .. BIN .. " " .. DRAINER .. " " .. journal .. " " .. drain_lane,
		drain_out
	)
	support.background(
		string.format(
			"%staskset -c 1 %s %s %s %g 7 %s",
			env(where.desk),
			BIN,
			FRONT_DESK,
			lanes and "interactive" or "normal",
			floor * 0.09, -- 20 pauses of half this on average: the drain's length
			sandbox:item(1)
		),
		desk_out
	)
	local drained, desk = support.json_line(drain_out, 3600), support.json_line(desk_out, 3600)
	local stats = sandbox:stats()
	sandbox:stop()
	where.close()
	os.remove(journal)
	return {
		p50 = percentile(desk.waits, 0.5),
		p95 = percentile(desk.waits, 0.95),
		max = percentile(desk.waits, 1),
		took = math.max(drained.ended, desk.ended) - started,
		floor = floor,
		calls = stats.requests,
		rate_limited = stats.rate_limited,
		done = drained.done,
	}
end

print(string.format("front desk under load: a drain of %d writes (8 workers) and 20 GETs at random moments,", WRITES))
print("bucket 20 every 5 s; the GETs' waits in seconds")
print(string.format("%-36s %7s %7s %7s %8s %8s %6s %5s", "", "p50", "p95", "max", "took s", "floor s", "calls", "429s"))
local server = redis.start()
for _, row in ipairs({
	{ "shm:, interactive, reserve 0.2", true, "shm" },
	{ "shm:, no lanes (all normal)", false, "shm" },
	{ "Redis, interactive, reserve 0.2", true, "redis" },
	{ "Redis from 2 netns, reserve 0.2", true, "netns" },
}) do
	local r, why = front_desk(row[2], row[3], server)
	if r then
		print(string.format(
			"%-36s %7.3f %7.3f %7.3f %8.1f %8d %6d %5d",
			row[1],
			r.p50,
			r.p95,
			r.max,
			r.took,
			r.floor,
			r.calls,
			r.rate_limited
		))
	else
		print(string.format("%-36s skipped: %s", row[1], why))
	end
end
server:stop()

-- ---- 2. a schedule read by 16 processes ------------------------------------

local READER = "spec/support/reader_worker.lua"

local function read_by_16(shared)
	local sandbox = support.start({ rate_limit = "60/60/60", faults = "latency:ms=200:count=0" })
	local shm, dir = support.temp_path(), support.temp_path(".cache")
	local outs = {}
	for i = 1, 16 do
		outs[i] = support.temp_path()
		-- Not shared: each its own limiter and cache, as 16 scripts are.
		local limiter = shared and "shm:" .. shm or "shm:" .. shm .. "." .. i
		local cache = shared and dir or dir .. "." .. i
		support.background(
			string.format(
				"PULSE_API_KEY=%s %s %s %s %s %s %s",
				support.shell_quote(sandbox.key),
				BIN,
				READER,
				sandbox.url,
				limiter,
				cache,
				support.READ
			),
			outs[i]
		)
	end
	for _, out in ipairs(outs) do
		support.json_line(out)
	end
	local stats = sandbox:stats()
	sandbox:stop()
	os.execute("rm -rf " .. dir .. "* " .. shm .. "*")
	return stats.requests, stats.rate_limited
end

print("")
print("a schedule (GET /v1/centers) read by 16 processes at once")
print(string.format("%-44s %6s %5s", "", "calls", "429s"))
for _, shared in ipairs({ true, false }) do
	local calls, limited = read_by_16(shared)
	local how = shared and "shared limiter and cache directory" or "each its own"
	print(string.format("%-44s %6d %5d", how, calls, limited))
end

-- ---- 3. sync_appointments.lua by 4 processes -------------------------------

local function sync_by_4(shared)
	local sandbox = support.start({ rate_limit = "100000/1/100000" })
	local shm, dir = support.temp_path(), support.temp_path(".cache")
	local first, last = os.date("%Y-%m-%d", os.time() - 14 * 86400), os.date("%Y-%m-%d", os.time() + 7 * 86400)
	local outs, files = {}, {}
	for i = 1, 4 do
		outs[i], files[i] = support.temp_path(), support.temp_path(".jsonl")
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		if shared then
			env = env .. "PULSE_LIMITER=shm:" .. shm .. " PULSE_SYNC_CACHE=" .. dir .. " "
		end
		support.background(
			string.format(
				"(%s %s examples/sync_appointments.lua %s %s %s 2>/dev/null; echo done)",
				env,
				BIN,
				files[i],
				first,
				last
			),
			outs[i]
		)
	end
	for i, out in ipairs(outs) do
		repeat
			core.sleep(0.1)
		until (support.read_file(out) or ""):find("done\n$")
		os.remove(out)
		os.remove(files[i])
		os.remove(files[i] .. ".checkpoint")
	end
	local stats = sandbox:stats()
	sandbox:stop()
	os.execute("rm -rf " .. dir .. " " .. shm)
	return stats.requests, stats.rate_limited
end

print("")
print("examples/sync_appointments.lua over 22 days, 4 processes at once")
print(string.format("%-44s %6s %5s", "", "calls", "429s"))
local one_sandbox = support.start({ rate_limit = "100000/1/100000" })
local one_out = support.temp_path(".jsonl")
support.run(string.format(
	"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s examples/sync_appointments.lua %s %s %s",
	support.shell_quote(one_sandbox.key),
	one_sandbox.url,
	BIN,
	one_out,
	os.date("%Y-%m-%d", os.time() - 14 * 86400),
	os.date("%Y-%m-%d", os.time() + 7 * 86400)
))
print(string.format("%-44s %6d %5s", "one process (the calls of one)", one_sandbox:stats().requests, "-"))
one_sandbox:stop()
os.remove(one_out)
os.remove(one_out .. ".checkpoint")
for _, shared in ipairs({ true, false }) do
	local calls, limited = sync_by_4(shared)
	local how = shared and "sharing limiter and cache (PULSE_SYNC_CACHE)" or "each alone"
	print(string.format("%-44s %6d %5d", how, calls, limited))
end
os.remove(DRAINER)
os.remove(FRONT_DESK)
