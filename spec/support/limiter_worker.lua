-- One worker of a crowd that shares an organization's limit: COUNT GETs in
-- a row, then one line of JSON saying how they went.
--   pulse-lua spec/support/limiter_worker.lua BASE_URL LIMITER COUNT
-- LIMITER: "local" (a bucket of its own), "shm:<path>" or "redis://...".
-- The key comes from $PULSE_API_KEY; $WORKER_BUCKET names the bucket,
-- $WORKER_FALLBACK_SHARE sets limiter_fallback, $WORKER_CONNECT_TIMEOUT
-- connect_timeout.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")

local base_url, limiter, count = arg[1], arg[2], math.tointeger(tonumber(arg[3]))
assert(base_url and limiter and count, "usage: limiter_worker.lua BASE_URL LIMITER COUNT")

local options = {
	base_url = base_url,
	limiter = limiter ~= "local" and limiter or nil,
	bucket = os.getenv("WORKER_BUCKET"),
	-- Retries go on as long as the job: a worker that gives up is a
	-- failure the specs count.
	retry = { max_elapsed = 600 },
	connect_timeout = tonumber(os.getenv("WORKER_CONNECT_TIMEOUT") or ""),
}
local share = tonumber(os.getenv("WORKER_FALLBACK_SHARE") or "")
if share then
	options.limiter_fallback = { share = share }
end

local client = pulse.new(options)
local started = core.now()
local result = { ok = 0, failed = 0, errors = {} }
for _ = 1, count do
	local body, err = client:get("/v1/centers")
	if body then
		result.ok = result.ok + 1
	else
		result.failed = result.failed + 1
		result.errors[#result.errors + 1] = tostring(err)
	end
end
result.seconds = core.now() - started
result.started = started -- on the machine's monotonic clock, which every process shares
local stats = client:stats()
result.rate_limited = stats.rate_limited
result.retries = stats.retries
client:close()
io.write(json.encode(result), "\n")
