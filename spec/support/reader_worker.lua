-- One of many processes reading one URL at once, on a shared limiter and a
-- shared cache directory; one line of JSON: how its answer came.
--   pulse-lua spec/support/reader_worker.lua BASE_URL LIMITER CACHE_DIR PATH
-- The key comes from $PULSE_API_KEY.

local json = require("pulse.json")
local pulse = require("pulse")

local base_url, limiter, dir, path = arg[1], arg[2], arg[3], arg[4]
assert(base_url and limiter and dir and path, "usage: see the file's head")

local client = pulse.new({ base_url = base_url, limiter = limiter, cache = { dir = dir, ttl = 60 } })
local body, res = client:get(path)
io.write(
	json.encode({
		ok = body ~= nil,
		status = res.status,
		shared = res.shared or false,
		from_cache = res.from_cache or false,
		error = body == nil and tostring(res) or nil,
	}),
	"\n"
)
