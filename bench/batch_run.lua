-- One pulse-lua run of the concurrency benchmark, in a process of its own so
-- that its peak memory can be measured: N GETs of URL, C at a time, through
-- client:batch, requests fed by a function and results taken by on_result
-- (nothing held). Prints the elapsed seconds.
--   pulse-lua bench/batch_run.lua URL N C decode|raw

local core = require("pulse.core")
local pulse = require("pulse")

local url, n, concurrency, mode = arg[1], tonumber(arg[2]), tonumber(arg[3]), arg[4]
local base, path = url:match("^(https?://[^/]+)(.*)$")
local client = pulse.new({
	api_key = "bench-key",
	base_url = base,
	rate_limit = { limit = 1e8, window = 3600, burst = 1e8 },
})
local entry = { "GET", path, { decode = mode == "decode" } }
local sent, failed = 0, 0
local started = core.now()
client:batch(function()
	if sent < n then
		sent = sent + 1
		return entry
	end
end, {
	concurrency = concurrency,
	on_result = function(_, body)
		if body == nil then
			failed = failed + 1
		end
	end,
})
local elapsed = core.now() - started
assert(failed == 0, failed .. " requests failed")
print(string.format("%.6f", elapsed))
