-- A worker in a lane of a shared limit: COUNT GETs of PATH, CONCURRENCY at
-- a time (a batch), or one after another with PAUSE seconds between them
-- (CONCURRENCY 1), then one line of JSON: each call's status, when it was
-- asked and when it ended (epoch seconds).
--   pulse-lua spec/support/lane_worker.lua BASE_URL LIMITER LANE PATH COUNT CONCURRENCY [PAUSE]
-- The key comes from $PULSE_API_KEY.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")

local base_url, limiter, lane, path = arg[1], arg[2], arg[3], arg[4]
local count, concurrency, pause = math.tointeger(tonumber(arg[5])), math.tointeger(tonumber(arg[6])), tonumber(arg[7])
assert(base_url and limiter and lane and path and count and concurrency, "usage: see the file's head")

local client = pulse.new({ base_url = base_url, limiter = limiter, priority = lane, retry = { max_elapsed = 120 } })
local calls = {}
if concurrency == 1 then
	for i = 1, count do
		local asked = core.epoch()
		local _, res_or_err = client:get(path)
		calls[i] = { asked = asked, ended = core.epoch(), status = res_or_err.status }
		if pause and i < count then
			core.sleep(pause)
		end
	end
else
	local list = {}
	for i = 1, count do
		-- Each a page of its own: identical GETs at once would share one call.
		list[i] = { "GET", path, { query = { page = i } } }
	end
	local asked = core.epoch()
	client:batch(list, {
		concurrency = concurrency,
		on_result = function(i, _, res_or_err)
			calls[i] = { asked = asked, ended = core.epoch(), status = res_or_err.status }
		end,
	})
end
io.write(json.encode({ calls = calls }), "\n")
