-- A collection played under the rate limit: 60 GETs (one request, 60 data
-- rows) against a sandbox at 20/20/20, by pulse-lua --collection (a row at
-- a time, and 4 rows at once with Newman's spelling of the data file) and, for
-- contrast where npm installed it (make deps), by Newman alone and with a
-- hand-tuned --delay-request 250. The floor is when the bucket has allowed
-- 60 calls (its 2nd refill after the run starts); the goal for pulse-lua:
-- within 5% of the floor, with zero 429s, for both pulse-lua rows.
-- The window is 20 s ($PLAY_WINDOW sets another): the API gives the reset
-- in whole seconds, so a client waiting for a refill may start up to a
-- second after it; at a 5 s window that alone is 20% of the floor, at the
-- API's own 60 s under 2%.
--   build/pulse-lua bench/play.lua      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

local LIMIT, WINDOW, BURST, CALLS = 20, tonumber(os.getenv("PLAY_WINDOW") or "20"), 20, 60
local NEWMAN = "tools/interop/node_modules/.bin/newman"

local function temp(suffix, text)
	local path = os.tmpname() .. suffix
	support.write_file(path, text)
	return path
end

local collection = temp(
	".json",
	json.encode({
		info = { name = "bench", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
		-- A page per row: identical GETs out at once would share one call.
		item = { { name = "List centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers?page={{id}}" } } },
		auth = {
			type = "apikey",
			apikey = { { key = "key", value = "Authorization" }, { key = "value", value = "Api-key {{apiKey}}" } },
		},
	})
)
local rows = { "id" }
for i = 1, CALLS do
	rows[#rows + 1] = tostring(i)
end
local data = temp(".csv", table.concat(rows, "\n") .. "\n")

local function floor_of(age)
	local refills = math.ceil((CALLS - BURST) / LIMIT)
	return (math.floor(age / WINDOW) + refills) * WINDOW - age
end

-- Runs command (a format taking the sandbox's URL and key) on a fresh
-- sandbox at a random phase; returns the row.
local function run(name, command)
	local sandbox = support.start({ rate_limit = string.format("%d/%d/%d", LIMIT, WINDOW, BURST) })
	core.sleep(math.random() * WINDOW)
	local age = sandbox:stats().bucket_age
	local started = core.now()
	local out, err, code = support.run(command(sandbox))
	local took = core.now() - started
	local stats = sandbox:stats()
	sandbox:stop()
	return {
		name = name,
		took = took,
		floor = floor_of(age),
		rejected = stats.rate_limited,
		code = code,
		why = out .. err,
	}
end

local results = {
	run("pulse-lua --collection", function(sb)
		return string.format(
			"PULSE_API_KEY=%s PULSE_BASE_URL=%s build/pulse-lua --quiet --collection %s --data %s",
			sb.key,
			sb.url,
			collection,
			data
		)
	end),
	run("pulse-lua -d ... --parallel 4", function(sb)
		return string.format(
			"PULSE_API_KEY=%s PULSE_BASE_URL=%s build/pulse-lua --quiet --collection %s -d %s --parallel 4",
			sb.key,
			sb.url,
			collection,
			data
		)
	end),
}
local OURS = #results
if support.read_file(NEWMAN) then
	for _, delay in ipairs({ 0, 250 }) do
		results[#results + 1] = run(delay == 0 and "newman" or "newman --delay-request 250", function(sb)
			return string.format(
				"%s run %s -d %s --env-var baseUrl=%s --env-var apiKey=%s %s --silent",
				NEWMAN,
				collection,
				data,
				sb.url,
				sb.key,
				delay > 0 and ("--delay-request " .. delay) or ""
			)
		end)
	end
else
	print("newman: not installed (npm absent, or make deps not run): no contrast rows")
end

print(string.format("%d GETs of one collection request at %d/%d/%d, a random phase", CALLS, LIMIT, WINDOW, BURST))
print(string.format("%-28s %7s %7s %7s %6s %6s %5s", "runner", "took s", "floor s", "over", "over %", "429s", "exit"))
for i, r in ipairs(results) do
	local verdict = ""
	if i <= OURS then
		verdict = (r.took <= r.floor * 1.05 and r.rejected == 0 and r.code == 0) and "met" or "MISSED"
	end
	local over = r.took - r.floor
	print(string.format("%-28s %7.2f %7.2f %+7.2f %+5.1f%% %6d %5d  %s", r.name, r.took, r.floor, over,
		100 * over / r.floor, r.rejected, r.code, verdict))
	if r.code ~= 0 and i <= OURS then
		print(r.why)
	end
end
os.remove(collection)
os.remove(data)
