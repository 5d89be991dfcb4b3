-- Goodput under a scaled-down policy: how much of what the server allows a
-- client gets, sending as fast as it can, and how many 429s it causes.
-- Rows: pulse-lua (limiter + retries) and a naive client (no limiter, retry
-- on 429 after Retry-After), each against a fresh sandbox, in one run.
--   build/pulse-lua bench/goodput.lua [seconds]      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local support = require("support.sandbox")

local LIMIT, WINDOW, BURST = 20, 2, 20
local POLICY = string.format("%d/%d/%d", LIMIT, WINDOW, BURST)
local DURATION = tonumber(arg[1]) or 7 -- three refills of a 2 s window, and some

local function pulse_client(sandbox, deadline)
	local client = sandbox:client()
	local ok = 0
	while core.now() < deadline do
		-- A call that waited past the deadline for a refill does not count.
		if client:get("/v1/centers") and core.now() <= deadline then
			ok = ok + 1
		end
	end
	client:close()
	return ok
end

local function naive_client(sandbox, deadline)
	local transport = core.transport({})
	transport:set_key(sandbox.key)
	local ok = 0
	while core.now() < deadline do
		local status, headers = transport:perform({ method = "GET", url = sandbox.url .. "/v1/centers" })
		if status == 200 and core.now() <= deadline then
			ok = ok + 1
		elseif status == 429 then
			core.sleep(math.min(tonumber(headers["retry-after"]) or 1, deadline - core.now()))
		end
	end
	transport:close()
	return ok
end

local function measure(name, run)
	local sandbox = support.start({ rate_limit = POLICY })
	local deadline = core.now() + DURATION
	local ok = run(sandbox, deadline)
	local stats = sandbox:stats()
	local age_at_deadline = stats.bucket_age - (core.now() - deadline)
	sandbox:stop()
	local allowed = BURST + LIMIT * math.floor(age_at_deadline / WINDOW)
	return { name = name, ok = ok, allowed = allowed, rejected = stats.rate_limited }
end

local rows = {
	measure("pulse-lua", pulse_client),
	measure("naive (retry after 429)", naive_client),
}
print(string.format("goodput, policy %s, %g s each", POLICY, DURATION))
print(string.format("%-26s %8s %8s %8s %6s", "client", "succeeded", "allowed", "goodput", "429s"))
for _, row in ipairs(rows) do
	local goodput = 100 * row.ok / row.allowed
	print(string.format("%-26s %8d %8d %7.1f%% %6d", row.name, row.ok, row.allowed, goodput, row.rejected))
end
