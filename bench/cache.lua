-- The response cache: what it saves and what a hit costs. A job books 50
-- appointments on a sandbox, each preceded by GET /services and GET /staff
-- (as a booking form would), once with the cache off and once with it on
-- (rules: those lists for an hour); tokens spent are the requests the
-- sandbox answered. Then the time of a cache hit against a plain GET of
-- the same path, on the same sandbox; and what a put to a disk cache
-- costs as the query variants of one path grow (the reconcile pattern:
-- GET /customers?email=...), which should not grow with them.
--   build/pulse-lua bench/cache.lua      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local support = require("support.sandbox")

local BOOKINGS = 50
local HITS = 20000

-- month: the job's own month, so that the two jobs' slots never collide.
local function job(sandbox, cache, month)
	local client = sandbox:client({ cache = cache })
	for i = 1, BOOKINGS do
		assert(client:get("/services"))
		assert(client:get("/staff"))
		assert(client:post("/bookings", {
			service_id = 1,
			staff_id = i % 8 + 1,
			customer_id = 1,
			start = string.format("2027-%02d-%02dT%02d:00:00Z", month, i % 28 + 1, 8 + i % 9),
		}))
	end
	local stats = client:stats()
	client:close()
	return stats
end

local sandbox = support.start({ rate_limit = "100000/1/100000" })
local before = sandbox:stats().requests
job(sandbox, nil, 1)
local off = sandbox:stats().requests - before
before = sandbox:stats().requests
local stats = job(sandbox, { rules = { ["/services*"] = 3600, ["/staff*"] = 3600 } }, 2)
local on = sandbox:stats().requests - before
print(string.format("cache: %d bookings, each after GET /services and GET /staff", BOOKINGS))
print(string.format("%-22s %8s", "", "tokens"))
print(string.format("%-22s %8d", "cache off", off))
print(string.format("%-22s %8d   %.0f%% fewer (goal: 60%%); %d hits, %d misses", "cache on (TTL 3600)", on,
	100 * (1 - on / off), stats.cache_hits, stats.cache_misses))

-- The cost of a hit: the best of 5 rounds of HITS calls each way.
local function per_call(client, n)
	local best_wall, best_cpu = math.huge, math.huge
	for _ = 1, 5 do
		local wall, cpu = core.now(), os.clock()
		for _ = 1, n do
			client:get("/services/1")
		end
		best_wall = math.min(best_wall, (core.now() - wall) / n)
		best_cpu = math.min(best_cpu, (os.clock() - cpu) / n)
	end
	return best_wall, best_cpu
end
local plain, cached = sandbox:client(), sandbox:client({ cache = { ttl = 3600 } })
assert(cached:get("/services/1"))
local plain_wall, plain_cpu = per_call(plain, HITS // 10)
local hit_wall, hit_cpu = per_call(cached, HITS)
print(string.format("\n%-22s %10s %10s", "per call", "wall us", "cpu us"))
print(string.format("%-22s %10.1f %10.1f", "plain GET", plain_wall * 1e6, plain_cpu * 1e6))
print(string.format("%-22s %10.1f %10.1f   (%.2f of a plain GET's wall time, %.2f of its CPU)", "cache hit",
	hit_wall * 1e6, hit_cpu * 1e6, hit_wall / plain_wall, hit_cpu / plain_cpu))
plain:close()
cached:close()
sandbox:stop()

-- Puts of VARIANTS variants of one path into a disk cache, the last
-- thousand timed: ms per put, wall and CPU.
local cache = require("pulse.cache")
local function put_cost(variants)
	local dir = support.temp_path()
	local store = cache.new({ dir = dir, max_entries = 2 * variants })
	local entry = { body = string.rep("x", 300), headers = "Content-Type: application/json\r\n", ttl = 3600 }
	local wall, cpu
	for i = 1, variants do
		if i == variants - 999 then
			wall, cpu = core.now(), os.clock()
		end
		store:put("org", "http://h/customers?email=c" .. i .. "@example.org", entry)
	end
	wall, cpu = (core.now() - wall) / 1000, (os.clock() - cpu) / 1000
	os.execute("rm -rf " .. dir)
	return wall, cpu
end
print(string.format("\n%-34s %10s %10s", "disk put, variants of one path", "wall ms", "cpu ms"))
for _, n in ipairs({ 1000, 2000, 4000 }) do
	local wall, cpu = put_cost(n)
	print(string.format("%-34s %10.3f %10.3f", n .. " variants", wall * 1e3, cpu * 1e3))
end
