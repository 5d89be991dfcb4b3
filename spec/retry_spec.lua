-- Rate limiting and retries end to end, against the sandbox's limiter and
-- faults. Timings are checked loosely: at least the server's wait, and not
-- far past a deadline.

local core = require("pulse.core")
local pulse = require("pulse")
local support = require("support.sandbox")

describe("rate limiting and retries", function()
	describe("against a small policy", function()
		it("runs at the speed the limit allows without a single 429", function()
			local sandbox = support.start({ rate_limit = "10/1/10" })
			local client = sandbox:client()
			local started = core.now()
			for i = 1, 35 do
				assert(client:get(sandbox:item(i % 12 + 1)))
			end
			local elapsed = core.now() - started
			local stats = sandbox:stats()
			assert.are.equal(0, stats.rate_limited)
			assert.are.equal(35, stats.by_status["200"])
			-- 10 at once, then 10 per refill: the 35th needs the third refill.
			assert.is_true(elapsed >= 2.5, "too fast for the policy: " .. elapsed)
			assert.is_true(elapsed < 6, "much slower than the policy allows: " .. elapsed)
			assert.is_true(client:stats().throttled > 0)
			client:close()
			sandbox:stop()
		end)

		it("shares the budget with another process and honours Retry-After in seconds", function()
			local sandbox = support.start({ rate_limit = "2/3/2" })
			-- Someone else in the organization spends the bucket.
			sandbox:raw("GET", support.READ, { "Authorization: Api-key " .. sandbox.key })
			sandbox:raw("GET", support.READ, { "Authorization: Api-key " .. sandbox.key })
			local client = sandbox:client()
			local retries = {}
			local started = core.now()
			local body, res = client:get(support.READ, {
				retry = {
					on_retry = function(info)
						retries[#retries + 1] = info
					end,
				},
			})
			local elapsed = core.now() - started
			assert.is_table(body)
			assert.are.equal(2, res.attempts)
			assert.are.equal(1, #retries)
			assert.are.equal(429, retries[1].status)
			assert.truthy(retries[1].reason:find("429"))
			assert.is_true(retries[1].wait >= 1, "the server asked for seconds: " .. retries[1].wait)
			assert.is_true(elapsed >= retries[1].wait, "waited at least Retry-After")
			assert.is_true(res.waited >= retries[1].wait)
			assert.are.equal(1, client:stats().rate_limited)
			client:close()
			sandbox:stop()
		end)

		it("honours Retry-After as an HTTP-date", function()
			local sandbox = support.start({ rate_limit = "1/3/1", retry_after = "http-date" })
			sandbox:raw("GET", support.READ, { "Authorization: Api-key " .. sandbox.key })
			local client = sandbox:client()
			local started = core.now()
			local body, res = client:get(support.READ)
			assert.is_table(body)
			assert.are.equal(2, res.attempts)
			assert.is_true(core.now() - started >= 1.5, "waited for the date")
			assert.are.equal(1, sandbox:stats().rate_limited, "and did not come back early")
			client:close()
			sandbox:stop()
		end)

		it("gives up a 429 as rate_limited when retries are off", function()
			local sandbox = support.start({ rate_limit = "1/60/1" })
			sandbox:raw("GET", support.READ, { "Authorization: Api-key " .. sandbox.key })
			local client = sandbox:client({ retry = false })
			local body, err = client:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("rate_limited", err.kind)
			assert.is_true(err.retry_after >= 59)
			client:close()
			sandbox:stop()
		end)

		it("picks up a limit the server raised", function()
			local sandbox = support.start({ rate_limit = "500/10/700" })
			local client = sandbox:client({ rate_limit = { limit = 5, window = 60, burst = 5 } })
			assert.are.equal(5, client:ratelimit().limit)
			for _ = 1, 20 do
				assert(client:get(sandbox:item(1)))
			end
			local view = client:ratelimit()
			assert.are.same({ 500, 10, 700 }, { view.limit, view.window, view.burst })
			assert.are.equal(0, sandbox:stats().rate_limited)
			client:close()
			sandbox:stop()
		end)

		it("keeps its model when the headers are malformed", function()
			local sandbox = support.start({ rate_limit = "50/10/50" })
			local client = sandbox:client()
			assert(client:get(sandbox:item(1)))
			local before = client:ratelimit()
			sandbox:fault("bad_headers:count=3")
			for _ = 1, 3 do
				assert(client:get(sandbox:item(1)))
			end
			local after = client:ratelimit()
			assert.are.same({ before.limit, before.window, before.burst }, { after.limit, after.window, after.burst })
			assert.are.equal(before.remaining - 3, after.remaining)
			client:close()
			sandbox:stop()
		end)
	end)

	describe("faults", function()
		local sandbox, client
		support.shared_sandbox({ log = true }, function(s, c)
			sandbox, client = s, c
		end)

		it("rides out a 503 spike of a few seconds, counting the attempts", function()
			sandbox:fault("503:seconds=1.5")
			local started = core.now()
			local body, res = client:get(support.READ)
			assert.is_table(body)
			assert.is_true(res.attempts > 1)
			assert.is_true(core.now() - started >= 1.4)
			assert.are.equal(res.attempts - 1, sandbox:stats().by_status["503"])
			assert.are.equal(res.attempts - 1, client:stats().retries)
		end)

		it("waits for a 503's Retry-After", function()
			sandbox:fault("503:retry_after=1")
			local started = core.now()
			local _, res = assert(client:get(support.READ))
			assert.are.equal(2, res.attempts)
			assert.is_true(core.now() - started >= 1)
		end)

		it("ends a 503 longer than max_elapsed as unavailable, in about max_elapsed", function()
			sandbox:fault("503:seconds=60")
			local started = core.now()
			local body, err = client:get(support.READ, { retry = { max_elapsed = 1.5 } })
			local elapsed = core.now() - started
			assert.is_nil(body)
			assert.are.equal("unavailable", err.kind)
			assert.are.equal(503, err.status)
			assert.is_true(err.attempts > 1)
			assert.is_true(elapsed <= 1.5 + 0.5, "gave up late: " .. elapsed)
		end)

		it("retries a GET whose connection dropped", function()
			sandbox:fault("drop")
			local _, res = assert(client:get(support.READ))
			assert.are.equal(2, res.attempts)
		end)

		it("never sends again a POST whose connection dropped after it was applied", function()
			assert(client:get(sandbox:item(1))) -- a kept-alive connection, as in real use
			sandbox:fault("drop_after:method=POST")
			local body, err = client:post(support.GUESTS, sandbox:guest(1))
			assert.is_nil(body)
			assert.are.equal("network", err.kind)
			assert.is_true(err.uncertain, "the caller learns the write may have happened")
			assert.are.equal(1, err.attempts)
			local posts = {}
			for _, line in ipairs(sandbox:log_lines()) do
				if line.method == "POST" then
					posts[#posts + 1] = line
				end
			end
			assert.are.equal(1, #posts, "one POST reached the server")
			assert.is_true(posts[1].applied)
			assert.are.equal(1, sandbox:stats().writes_applied)
		end)

		it("retries a dropped POST when the caller says it is idempotent", function()
			sandbox:fault("drop_after:method=POST")
			local _, res = assert(client:post("/_sandbox/echo", {}, { idempotent = true }))
			assert.are.equal(1, res.attempts, "control endpoints are not faulted")
			local guest = sandbox:guest(2)
			local logged = #sandbox:log_lines()
			assert(client:post(support.GUESTS, guest, { idempotent = true }))
			-- Sent twice, as allowed: by our retry, or by libcurl's own re-send
			-- on a reused connection, which an idempotent call permits.
			local posts = 0
			for i, line in ipairs(sandbox:log_lines()) do
				posts = posts + (i > logged and line.method == "POST" and line.path == support.GUESTS and 1 or 0)
			end
			assert.are.equal(2, posts)
			assert.are.equal(2, sandbox:stats().writes_applied)
		end)

		it("retries 502 and 504 for a GET, not for a POST", function()
			sandbox:fault("html502")
			local _, res = assert(client:get(support.READ))
			assert.are.equal(2, res.attempts)
			sandbox:fault("status:code=504:method=POST")
			local body, err = client:post(support.GUESTS, sandbox:guest(3))
			assert.is_nil(body)
			assert.are.equal(504, err.status)
			assert.are.equal(1, err.attempts)
		end)

		it("retries a timed-out GET", function()
			sandbox:fault("latency:ms=800")
			local _, res = assert(client:get(support.READ, { timeout = 0.3 }))
			assert.are.equal(2, res.attempts)
		end)

		it("never retries other 4xx", function()
			local body, err = client:post(support.GUESTS, sandbox:guest(4, { personal_info = { first_name = "N" } }))
			assert.is_nil(body)
			assert.are.equal(400, err.status)
			assert.are.equal(1, err.attempts)
			assert.are.equal(0, client:stats().retries)
		end)

		describe("on a repeated call (its URL cached: the plain path)", function()
			local function same_fields(a, b)
				for k in pairs(a) do
					assert.is_not_nil(b[k], "missing field " .. k)
				end
				for k in pairs(b) do
					assert.is_not_nil(a[k], "extra field " .. k)
				end
			end

			it("keeps the retry rules and shapes res as the first call", function()
				local _, first = assert(client:get(sandbox:item(2)))
				sandbox:fault("503:count=1")
				local body, res = assert(client:get(sandbox:item(2)))
				assert.are.equal(2, res.attempts)
				assert.are.equal(2, sandbox:number_of(body))
				same_fields(first, res)
				sandbox:fault("html502")
				local raw
				raw, res = assert(client:get(sandbox:item(2), { decode = false }))
				assert.are.equal(2, res.attempts)
				assert.is_string(raw)
				sandbox:fault("status:code=404")
				local none, err = client:get(sandbox:item(2))
				assert.is_nil(none)
				assert.are.equal("not_found", err.kind)
				assert.are.equal(1, err.attempts)
				assert.are.equal(404, err.res.status)
			end)

			it("reports a success with a body that is not JSON as a decode error", function()
				assert(client:get(sandbox:item(3)))
				sandbox:fault("truncate")
				local none, err = client:get(sandbox:item(3))
				assert.is_nil(none)
				assert.are.equal("decode", err.kind)
				assert.are.equal(200, err.status)
			end)

			it("keeps the retry rules in a task", function()
				assert(client:get(sandbox:item(4)))
				sandbox:fault("html502")
				local _, res = pulse.run(function()
					return assert(client:get(sandbox:item(4)))
				end)
				assert.are.equal(2, res.attempts)
			end)

			it("sends options other than decode by the full path", function()
				assert(client:get("/_sandbox/echo"))
				local body = assert(client:get("/_sandbox/echo", { headers = { ["X-Trace"] = "t1" } }))
				assert.are.equal("t1", body.headers["x-trace"])
			end)
		end)

		it("stops at max_attempts", function()
			sandbox:fault("html502:count=10")
			local body, err = client:get(support.READ, { retry = { max_attempts = 3 } })
			assert.is_nil(body)
			assert.are.equal(3, err.attempts)
			assert.are.equal(3, sandbox:stats().by_status["502"])
		end)

		it("turns retries off per client and per call", function()
			sandbox:fault("503:count=2")
			local _, err = client:get(support.READ, { retry = false })
			assert.are.equal(1, err.attempts)
			local quiet = sandbox:client({ retry = false })
			_, err = quiet:get(support.READ)
			assert.are.equal(1, err.attempts)
			quiet:close()
		end)

		it("retries a request that never connected, POST included, once the server was reached", function()
			local doomed = support.start()
			local c = doomed:client({ retry = { max_attempts = 3, base = 0.01 } })
			assert(c:get(support.READ))
			local guest = doomed:guest(5)
			doomed:stop()
			local body, err = c:post(support.GUESTS, guest)
			assert.is_nil(body)
			assert.are.equal("network", err.kind)
			assert.are.equal(3, err.attempts)
			assert.is_nil(err.uncertain, "it provably never arrived")
			c:close()
		end)
	end)

	it("traces each retry with its reason and wait under --verbose", function()
		local sandbox = support.start()
		sandbox:fault("503:retry_after=1")
		local path = os.tmpname() .. ".lua"
		local f = assert(io.open(path, "w"))
		f:write("assert(require('pulse').new():get('" .. support.READ .. "'))")
		f:close()
		local _, err, code = support.run(
			string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s %s/pulse-lua --verbose %s", sandbox.key, sandbox.url, support.BIN, path)
		)
		assert.are.equal(0, code, err)
		assert.truthy(err:find("retry GET " .. sandbox.url .. support.READ .. " in 1.000s: unavailable (503), server asked to wait (attempt 2 next)", 1, true), err)
		assert.truthy(err:find("(attempt 2)", 1, true), err)
		os.remove(path)
		sandbox:stop()
	end)
end)
