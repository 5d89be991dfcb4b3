-- 200 writes through the sandbox with every fault injected at random
-- (seeded). Each must be applied exactly once, or reported to the caller as
-- failed (then it was not applied) or uncertain (then it may have been):
-- none lost silently, none duplicated.

local support = require("support.sandbox")

local WRITES = 200
local FAULTS = "random:p=0.35:ms=50:kinds=503+html502+drop+drop_after+truncate+latency+bad_headers"

describe("fault matrix", function()
	for _, seed in ipairs({ 11, 12 }) do
		it("accounts for every one of " .. WRITES .. " writes (seed " .. seed .. ")", function()
			local sandbox = support.start({ seed = seed, faults = FAULTS, log = true })
			local client = sandbox:client({ timeout = 2, retry = { base = 0.01, cap = 0.05, max_elapsed = 5 } })
			local outcomes = { ok = 0, failed = 0, uncertain = 0 }
			local reported = {}
			for i = 1, WRITES do
				local email = string.format("matrix-%d-%d@example.com", seed, i)
				local guest = sandbox:guest(i)
				guest.personal_info.email = email
				local body, err = client:post(support.GUESTS, guest)
				if body then
					assert.are.equal(email, body.personal_info.email)
					reported[email] = "ok"
				elseif err.uncertain then
					reported[email] = "uncertain"
				else
					reported[email] = "failed"
				end
				outcomes[reported[email]] = outcomes[reported[email]] + 1
			end
			client:close()

			-- What the server holds, read without faults.
			sandbox:clear_faults()
			local reader = sandbox:client()
			local applied = {}
			for guest in reader:api().guests.list:each({ center_id = sandbox:center() }) do
				local email = guest.personal_info.email
				applied[email] = (applied[email] or 0) + 1
			end
			reader:close()

			for email, outcome in pairs(reported) do
				local times = applied[email] or 0
				assert.is_true(times <= 1, email .. " was applied " .. times .. " times")
				if outcome == "ok" then
					assert.are.equal(1, times, email .. " succeeded but was not applied")
				elseif outcome == "failed" then
					assert.are.equal(0, times, email .. " was reported failed but was applied")
				end
			end
			local stats = sandbox:stats()
			local faulted = 0
			for _, line in ipairs(sandbox:log_lines()) do
				faulted = faulted + (line.fault ~= require("pulse").null and 1 or 0)
			end
			assert.is_true(faulted >= 40, "the matrix injected faults: " .. faulted)
			assert.is_true(outcomes.ok >= WRITES / 2, "most writes went through: " .. outcomes.ok)
			print(string.format(
				"\nseed %d: %d ok, %d failed, %d uncertain; %d faults injected; %d writes applied",
				seed,
				outcomes.ok,
				outcomes.failed,
				outcomes.uncertain,
				faulted,
				stats.writes_applied
			))
			sandbox:stop()
		end)
	end
end)
