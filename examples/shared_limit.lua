-- Several worker processes on one organization's rate limit: the job
-- (refresh COUNT guests' records, 45 by default, from the first center)
-- is split between WORKERS processes
-- that share one bucket through a file (limiter = "shm:<path>"), so
-- together they go as fast as the limit allows and get no 429s. With
-- separate buckets, each would think it had the whole limit.
--
--   pulse-lua --sandbox-rate-limit 20/5/20 examples/shared_limit.lua [WORKERS [COUNT]]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/shared_limit.lua 4
--
-- Across machines, name a Redis server instead: PULSE_LIMITER=redis://host:6379.

local core = require("pulse.core") -- now(): a monotonic clock
local pulse = require("pulse")

-- A worker: GETs the guests whose ids it was given, prints one summary.
local function work(ids)
	local client = pulse.new({ limiter = os.getenv("PULSE_LIMITER") })
	local api = client:api()
	local started = core.now()
	local ok, failed = 0, 0
	for id in ids:gmatch("[^,]+") do
		local body, err = api.guests.get({ guest_id = id })
		if body then
			ok = ok + 1
		else
			failed = failed + 1
			io.stderr:write(tostring(err), "\n")
		end
	end
	local stats = client:stats()
	print(string.format(
		"%d refreshed, %d failed, %d answers of 429, %.1f s",
		ok,
		failed,
		stats.rate_limited,
		core.now() - started
	))
	client:close()
end

-- The command that runs this script again: the interpreter as it was
-- started (arg's lowest index) and the script.
local function this_script()
	local first = 0
	while arg[first - 1] do
		first = first - 1
	end
	local quote = function(s)
		return "'" .. s:gsub("'", "'\\''") .. "'"
	end
	return quote(arg[first]) .. " " .. quote(arg[0])
end

-- The first count guests' ids of the first center, from its list walked
-- 100 a page.
local function guest_ids(client, count)
	local api = client:api()
	local center = assert(api.centers.list()).centers[1]
	local ids = {}
	for guest in api.guests.list:each({ center_id = center.id, size = math.min(count, 100) }) do
		ids[#ids + 1] = guest.id
		if #ids == count then
			break
		end
	end
	return ids
end

if arg[1] == "--worker" then
	work(arg[2])
	return
end

local workers = math.tointeger(tonumber(arg[1] or "4"))
local count = math.tointeger(tonumber(arg[2] or "45"))
if not workers or not count or workers < 1 or count < 1 then
	error("usage: shared_limit.lua [WORKERS [COUNT]]", 0)
end
-- The workers inherit $PULSE_LIMITER (so a Redis password stays out of
-- their command lines); without it, they share a file made here.
local limiter = os.getenv("PULSE_LIMITER")
local bucket_file, set_limiter = nil, ""
if not limiter then
	bucket_file = os.tmpname()
	os.remove(bucket_file) -- the limiter makes it, 0600
	limiter = "shm:" .. bucket_file
	set_limiter = "PULSE_LIMITER='" .. limiter .. "' "
end

local client = pulse.new({ limiter = limiter })
local ids = guest_ids(client, count)
client:close()

-- Deal the ids out, and start every worker before reading any.
local shares = {}
for i, id in ipairs(ids) do
	local w = (i - 1) % workers + 1
	shares[w] = (shares[w] and shares[w] .. "," or "") .. id
end
local started = core.now()
local running = {}
for w = 1, workers do
	local command = string.format("%s%s --worker '%s'", set_limiter, this_script(), shares[w] or "")
	running[w] = assert(io.popen(command))
end
for w, pipe in ipairs(running) do
	print(string.format("worker %d: %s", w, pipe:read("a"):gsub("%s+$", "")))
	pipe:close()
end
print(string.format(
	"%d guests refreshed by %d workers in %.1f s; the limit they shared:",
	#ids,
	workers,
	core.now() - started
))
local rate = pulse.new({ limiter = limiter }):ratelimit()
print(string.format("  %g calls every %g s, %d left", rate.limit, rate.window, rate.remaining))
if bucket_file then
	os.remove(bucket_file)
end
