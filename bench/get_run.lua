-- One pulse-lua run of the transport benchmark, in a process of its own as
-- the plain C baseline is: N sequential GETs of URL through client:get,
-- after one that opens the connection. Prints the elapsed seconds.
--   pulse-lua bench/get_run.lua URL N decode|raw

local core = require("pulse.core")
local pulse = require("pulse")

local url, n, mode = arg[1], tonumber(arg[2]), arg[3]
local base, path = url:match("^(https?://[^/]+)(.*)$")
local client = pulse.new({
	api_key = "bench-key",
	base_url = base,
	rate_limit = { limit = 1e8, window = 3600, burst = 1e8 },
})
local opts = { decode = mode == "decode" }
assert(client:get(path, opts))
local started = core.now()
for _ = 1, n do
	if not client:get(path, opts) then
		error("pulse-lua request failed")
	end
end
print(string.format("%.6f", core.now() - started))
