-- A process that takes tokens of a shared bucket in one lane, as a
-- client's requests would, answered at once: for --top's spec.
--   pulse-lua spec/support/top_worker.lua LIMITER_URL BUCKET LANE SECONDS
local core = require("pulse.core")

local url, bucket, lane, seconds = arg[1], arg[2], arg[3], tonumber(arg[4])
local rl = core.limiter({ url = url, bucket = bucket, limit = 5, window = 2, burst = 5 })
local place, ends = 0, core.now() + seconds
io.write("started\n")
io.flush()
while core.now() < ends do
	local wait, second = rl:take(nil, lane, place)
	if wait == 0 then
		place = 0
		rl:observe(200, "Organization-RateLimit-Limit: 5;w=2;b=5\r\n", nil, second)
		core.sleep(0.05)
	else
		place = second
		core.sleep(math.max(0.02, math.min(wait, 0.3)))
	end
end
