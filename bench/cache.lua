-- The response cache: what it saves and what a hit costs. A job makes 50
-- bookings on a sandbox, each preceded by reading the center's services
-- and the therapists of one (as a booking form would), once with the cache
-- off and once with it on (rules: those lists for an hour); tokens spent
-- are the requests the sandbox answered. Then the time of a cache hit against a plain GET of
-- the same path, on the same sandbox; and what a put to a disk cache
-- costs as the query variants of one path grow (the reconcile pattern:
-- GET /v1/guests/search?email=...), which should not grow with them.
--   build/pulse-lua bench/cache.lua      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local support = require("support.sandbox")

local BOOKINGS = 50
local HITS = 20000

local function job(sandbox, cache)
	local client = sandbox:client({ cache = cache })
	local center = sandbox:center()
	local guest = assert(client:get("/v1/guests", { query = { center_id = center, size = 1 } })).guests[1].id
	for i = 1, BOOKINGS do
		local services = assert(client:get("/v1/Centers/" .. center .. "/services"))
		local service = services.services[i % 3 + 1].id -- the three most asked for
		local therapists = assert(client:get("/v1/centers/" .. center .. "/services/" .. service .. "/therapists"))
		assert(client:post("/v1/bookings", {
			center_id = center,
			date = os.date("!%Y-%m-%d", os.time() + (i % 20 + 1) * 86400),
			guests = {
				{ id = guest, items = { { item = { id = service }, therapist = { id = therapists.therapists[1].id } } } },
			},
		}))
	end
	local stats = client:stats()
	client:close()
	return stats
end

local sandbox = support.start({ rate_limit = "100000/1/100000" })
local before = sandbox:stats().requests
job(sandbox, nil)
local off = sandbox:stats().requests - before
before = sandbox:stats().requests
local stats = job(sandbox, { rules = { ["/v1/Centers/*/services"] = 3600, ["/v1/centers/*/therapists"] = 3600 } })
local on = sandbox:stats().requests - before
print(string.format("cache: %d bookings, each after reading the services and a service's therapists", BOOKINGS))
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
			client:get(sandbox:item(1))
		end
		best_wall = math.min(best_wall, (core.now() - wall) / n)
		best_cpu = math.min(best_cpu, (os.clock() - cpu) / n)
	end
	return best_wall, best_cpu
end
local plain, cached = sandbox:client(), sandbox:client({ cache = { ttl = 3600 } })
assert(cached:get(sandbox:item(1)))
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
		store:put("org", "http://h/v1/guests/search?email=c" .. i .. "@example.org", entry)
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
