-- The rate-limit header parsers and the bucket model of the C core.

local core = require("pulse.core")

describe("rate-limit headers", function()
	describe("policy", function()
		local good = {
			{ "60;w=60;b=60", 60, 60, 60 },
			{ "60;w=60", 60, 60, 0 },
			{ "100;b=150;w=10", 100, 10, 150 },
			{ "10, 10;w=1", 10, 1, 0 },
			{ "100, 100;w=60, 1000;w=3600", 100, 60, 0 },
			{ "5;w=1;comment=\"burst, then;\";b=10", 5, 1, 10 },
			{ "5;w=1;policy=fair;b=10", 5, 1, 10 },
			{ "5;w=0.5", 5, 0.5, 0 },
			{ "42", 42, 0, 0 },
			{ "  60;w=60  ", 60, 60, 0 },
		}
		for _, case in ipairs(good) do
			it("reads " .. string.format("%q", case[1]), function()
				local limit, window, burst = core.parse_policy(case[1])
				assert.are.same({ case[2], case[3], case[4] }, { limit, window, burst })
			end)
		end

		local garbage = {
			"",
			" ",
			"sixty",
			"60;w=",
			"60;w=abc",
			"60;w=-1",
			"60;w=0",
			"-60;w=60",
			"0;w=60",
			"60;;w=1",
			"60;=1",
			"60, ",
			",60",
			"60 ;w=60",
			"60;w=60 garbage",
			"9999999999999999;w=1",
			"60;w=1.2345",
			"60;b=0.5",
			"60;comment=\"unterminated",
			"\0\255\1",
			"lots;w=soon;b=",
		}
		for _, value in ipairs(garbage) do
			it("ignores " .. string.format("%q", value), function()
				assert.is_nil(core.parse_policy(value))
			end)
		end
	end)

	describe("counts (Remaining, Reset)", function()
		it("reads non-negative integers", function()
			assert.are.equal(48, core.parse_count("48"))
			assert.are.equal(0, core.parse_count("0"))
			assert.are.equal(7, core.parse_count(" 7 "))
		end)

		for _, value in ipairs({ "", "-1", "1.5", "1e3", "12abc", "abc", "99999999999", "0x10", "-7x", "tomorrow" }) do
			it("ignores " .. string.format("%q", value), function()
				assert.is_nil(core.parse_count(value))
			end)
		end
	end)

	describe("Retry-After", function()
		local NOW = 1445412470 -- Wed, 21 Oct 2015 07:27:50 GMT

		it("reads delta-seconds", function()
			assert.are.equal(120, core.parse_retry_after("120", NOW))
			assert.are.equal(0, core.parse_retry_after("0", NOW))
		end)

		it("reads the three HTTP-date forms as seconds from now", function()
			assert.are.equal(10, core.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW))
			assert.are.equal(10, core.parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", NOW))
			assert.are.equal(10, core.parse_retry_after("Wed Oct 21 07:28:00 2015", NOW))
			assert.are.equal(86410, core.parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", NOW))
		end)

		it("gives 0 for a date in the past", function()
			assert.are.equal(0, core.parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW))
		end)

		local garbage = {
			"",
			"soon",
			"-5",
			"1.5",
			"1e3",
			"12s",
			"Wed, 21 Oct 2015 07:28:00 PST",
			"Wed, 32 Oct 2015 07:28:00 GMT",
			"Wed, 21 Foo 2015 07:28:00 GMT",
			"Wed, 21 Oct 2015 25:28:00 GMT",
			"Wed, 21 Oct 2015 07:28 GMT",
			"Wed, 21 Oct 15 07:28:00 GMT",
			"Wed, 21 Oct 2015 07:28:00 GMT trailing",
			"Wed, 21 Oct 9999999 07:28:00 GMT",
			"99999999999",
		}
		for _, value in ipairs(garbage) do
			it("ignores " .. string.format("%q", value), function()
				assert.is_nil(core.parse_retry_after(value, NOW))
			end)
		end
	end)
end)

describe("a process's share of a bucket out of reach (the shm: and Redis limiters alone)", function()
	it("is share of the limit, rounded down, at least 1", function()
		assert.are.equal(15, core.ratelimit_share({ limit = 60, window = 60, share = 0.25, now = 0 }):view(0).limit)
		assert.are.equal(1, core.ratelimit_share({ limit = 2, window = 60, share = 0.1, now = 0 }):view(0).limit)
	end)

	it("starts full when the shared bucket was never seen", function()
		local rl = core.ratelimit_share({ limit = 60, window = 60, share = 0.5, now = 0 })
		assert.are.equal(30, rl:view(0).remaining)
		assert.are.equal(0, rl:take(0))
	end)

	it("starts empty, its first tokens at the shared bucket's next refill", function()
		local rl = core.ratelimit_share({ limit = 60, window = 60, share = 0.5, refill = 25, now = 10 })
		assert.are.equal(0, rl:view(10).remaining)
		assert.are.near(15, rl:take(10), 1e-9, "the wait is until the refill")
		assert.are.equal(0, rl:take(25))
	end)

	it("keeps the shared bucket's phase when the refill seen has passed", function()
		-- Seen refilling at 5, windows of 10: at 32 the next is at 35.
		local rl = core.ratelimit_share({ limit = 10, window = 10, share = 1, refill = 5, now = 32 })
		assert.are.near(3, rl:take(32), 1e-9)
	end)

	it("takes nothing while the shared bucket was blocked (a 429)", function()
		local rl = core.ratelimit_share({ limit = 10, window = 10, share = 1, refill = 12, blocked_until = 40, now = 10 })
		assert.is_true(rl:take(13) >= 27 - 1e-9, "blocked until 40")
		assert.are.equal(0, rl:take(40))
	end)

	it("refuses a share outside (0, 1] and a bad policy, naming them", function()
		assert.has_error(function()
			core.ratelimit_share({ limit = 60, window = 60, share = 2 })
		end, "bad argument #1 to 'ratelimit_share' (share must be above 0 and at most 1)")
		assert.has_error(function()
			core.ratelimit_share({ limit = 0, window = 60, share = 0.5 })
		end, "bad argument #1 to 'ratelimit_share' (limit and window must be above 0)")
	end)
end)

describe("bucket model", function()
	-- A header block as the transport gives it, with the fields given.
	local function headers(limit, remaining, reset, retry_after)
		local lines = { "Content-Type: application/json" }
		for name, value in pairs({
			["Organization-RateLimit-Limit"] = limit,
			["RateLimit-Remaining"] = remaining,
			["RateLimit-Reset"] = reset,
			["Retry-After"] = retry_after,
		}) do
			lines[#lines + 1] = name .. ": " .. value
		end
		return table.concat(lines, "\n")
	end

	-- A model past its first response (one with no rate-limit headers).
	local function probed(limit, window, burst, now)
		local rl = core.ratelimit(limit, window, burst, now)
		assert.are.equal(0, rl:take(now))
		rl:observe(200, "", now)
		return rl
	end

	it("sends one request until a first response shows the server's policy", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		assert.are.equal(0, rl:take(0))
		assert.are.equal(-1, rl:take(0), "the others wait for the probe's response")
		rl:observe(200, headers("5;w=1;b=5", "4", "1"), 0.01)
		for _ = 1, 4 do
			assert.are.equal(0, rl:take(0.01))
		end
		assert.is_true(rl:take(0.01) > 0)
	end)

	it("checks a refill it only predicted with one request before the rest", function()
		local rl = probed(10, 1, 10, 0)
		for _ = 1, 9 do
			assert.are.equal(0, rl:take(0))
		end
		for _ = 1, 9 do
			rl:observe(200, headers("10;w=1;b=10", "0", "1"), 0.01)
		end
		assert.are.equal(0, rl:take(1.05), "one request goes out after the refill")
		assert.are.equal(-1, rl:take(1.05), "the rest wait for its response")
		-- The server refilled only one token (it trickles): the response says so.
		rl:observe(200, headers("10;w=1;b=10", "0", "1"), 1.06)
		assert.is_true(rl:take(1.06) > 0, "no flood on a bucket that is not what the model thought")
	end)

	it("lets the next request probe when the first got no response", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		assert.are.equal(0, rl:take(0))
		rl:cancel()
		assert.are.equal(0, rl:take(0))
	end)

	it("starts full at BURST and then says how long to wait", function()
		local rl = probed(5, 10, 3, 100)
		for _ = 1, 2 do
			assert.are.equal(0, rl:take(100))
		end
		assert.are.equal(10, rl:take(100))
		assert.are.equal(4, rl:take(106))
		assert.are.equal(2, rl:view(100).in_flight)
	end)

	it("adds LIMIT every WINDOW, never above BURST", function()
		local rl = probed(2, 1, 5, 0)
		for _ = 1, 4 do
			assert.are.equal(0, rl:take(0))
		end
		assert.are.equal(2, rl:view(1.0).remaining, "one window adds LIMIT")
		assert.are.equal(5, rl:view(10.0).remaining, "many windows stop at BURST")
	end)

	it("re-syncs from Remaining and Reset, counting requests still in flight", function()
		local rl = probed(60, 60, 60, 0)
		assert.are.equal(0, rl:take(0))
		assert.are.equal(0, rl:take(0))
		rl:observe(200, headers("60;w=60;b=60", "10", "30"), 0.1)
		local view = rl:view(0.1)
		assert.are.equal(9, view.remaining, "10 left, one more request of ours still in flight")
		assert.are.equal(1, view.in_flight)
		assert.is_true(math.abs(view.reset - 30) < 1e-6)
		rl:observe(200, headers("60;w=60;b=60", "0", "29"), 0.2)
		assert.are.equal(0, rl:view(0.2).remaining)
		assert.is_true(math.abs(rl:take(0.2) - 29) < 1e-6, "waits for the reset")
	end)

	it("tightens the refill time with later readings of the same period", function()
		local rl = core.ratelimit(10, 2, 10, 0)
		rl:take(0)
		rl:observe(200, headers("10;w=2;b=10", "0", "2"), 0.0)
		rl:take(0.6)
		rl:observe(200, headers("10;w=2;b=10", "0", "1"), 0.6)
		assert.is_true(math.abs(rl:view(0.6).reset - 1) < 1e-6, "1.6 is a tighter bound than 2.0")
	end)

	it("keeps a second in hand once the server shows it rounds Reset down", function()
		local rl = core.ratelimit(10, 2, 10, 0)
		rl:take(0)
		rl:observe(200, headers("10;w=2;b=10", "0", "0"), 0.0)
		assert.is_true(math.abs(rl:take(0) - 1) < 1e-6)
	end)

	it("on a 429 empties itself and waits for Retry-After, which beats Reset", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		rl:take(0)
		rl:observe(429, headers("60;w=60;b=60", "5", "40", "7"), 1)
		local view = rl:view(1)
		assert.are.equal(0, view.remaining)
		assert.is_true(math.abs(view.blocked - 7) < 1e-6)
		assert.is_true(math.abs(rl:take(1) - 7) < 1e-6)
		assert.are.equal(0, rl:take(8.01), "tokens are back once the wait is over")
	end)

	it("on a 429 saying 0 seconds still waits a second, not retrying at once", function()
		local rl = probed(60, 60, 60, 0)
		rl:take(0)
		rl:observe(429, headers(nil, "0", "0", "0"), 0)
		assert.is_true(math.abs(rl:take(0) - 1) < 1e-6)
	end)

	it("on a 429 without Retry-After waits for the reset", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		rl:take(0)
		rl:observe(429, headers(nil, "0", "12"), 0)
		assert.is_true(math.abs(rl:take(0) - 12) < 1e-6)
	end)

	it("ignores malformed values: the model stays as it was", function()
		local rl = probed(20, 2, 20, 0)
		rl:take(0)
		rl:take(0)
		rl:observe(200, headers("20;w=2;b=20", "18", "2"), 0)
		local before = rl:view(0)
		rl:take(0)
		rl:observe(200, headers("lots;w=soon;b=", "-7x", "tomorrow", "never"), 0)
		local after = rl:view(0)
		assert.are.same(
			{ before.limit, before.window, before.burst, before.remaining - 1, before.reset, 0 },
			{ after.limit, after.window, after.burst, after.remaining, after.reset, after.blocked }
		)
	end)

	it("picks up a policy change from the headers", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		rl:take(0)
		rl:observe(200, headers("600;w=60;b=900", "899", "60"), 0)
		local view = rl:view(0)
		assert.are.same({ 600, 60, 900, 899 }, { view.limit, view.window, view.burst, view.remaining })
		rl:take(0)
		rl:observe(200, "RateLimit-Limit: 10\nratelimit-limit: 10;w=1\nRateLimit-Remaining: 9", 0)
		view = rl:view(0)
		assert.are.same({ 10, 1, 10, 9 }, { view.limit, view.window, view.burst, view.remaining })
	end)

	it("refuses a nonsense starting policy", function()
		assert.has_error(function()
			core.ratelimit(0, 60, 60)
		end)
		assert.has_error(function()
			core.ratelimit(60, -1, 60)
		end)
	end)
end)

describe("retry decisions", function()
	local function decide(fields)
		local input = {
			outcome = "status",
			attempt = 1,
			elapsed = 0,
			max_attempts = 6,
			max_elapsed = 300,
			base = 0.5,
			cap = 30,
			random = 0.5,
		}
		for k, v in pairs(fields) do
			input[k] = v
		end
		return core.retry_decide(input)
	end

	it("retries a 429 after the server's wait, whatever the method", function()
		local retry, wait = decide({ status = 429, retry_after = 4, idempotent = false, attempt = 50 })
		assert.is_true(retry)
		assert.are.equal(4, wait)
	end)

	it("retries a 503 after Retry-After, else with full-jitter backoff, until max_elapsed", function()
		local retry, wait = decide({ status = 503, retry_after = 9 })
		assert.is_true(retry)
		assert.are.equal(9, wait)
		retry, wait = decide({ status = 503, attempt = 3, random = 0.5 })
		assert.is_true(retry)
		assert.are.equal(0.5 * 0.5 * 4, wait)
		retry, wait = decide({ status = 503, attempt = 20, random = 0.99 })
		assert.is_true(retry)
		assert.is_true(wait <= 30, "capped")
		assert.is_true(decide({ status = 503, attempt = 40 }), "503 is bounded by time, not attempts")
		retry, wait = decide({ status = 503, retry_after = 0, attempt = 5, random = 0.5 })
		assert.is_true(retry)
		assert.are.equal(0.5 * 0.5 * 16, wait, "Retry-After: 0 does not skip the backoff")
		local stop, _, reason = decide({ status = 503, elapsed = 299, retry_after = 5 })
		assert.is_false(stop)
		assert.truthy(reason:find("max_elapsed"))
	end)

	it("retries 502, 504, timeouts and dropped connections for idempotent methods only", function()
		for _, case in ipairs({ { status = 502 }, { status = 504 }, { outcome = "timeout" }, { outcome = "network" } }) do
			case.idempotent = true
			assert.is_true(decide(case))
			case.idempotent = false
			local retry, _, reason = decide(case)
			assert.is_false(retry)
			assert.truthy(reason:find("may have been applied"), reason)
		end
	end)

	it("retries any method that never reached the server", function()
		assert.is_true(decide({ outcome = "no_connection", idempotent = false }))
	end)

	it("stops at max_attempts for failures", function()
		local retry, _, reason = decide({ status = 502, idempotent = true, attempt = 6 })
		assert.is_false(retry)
		assert.truthy(reason:find("max_attempts"))
	end)

	it("never retries other statuses", function()
		for _, status in ipairs({ 400, 401, 403, 404, 409, 422, 500, 501 }) do
			assert.is_false(decide({ status = status, idempotent = true }), status)
		end
	end)
end)

describe("response headers", function()
	local headers = core.headers(table.concat({
		"Content-Type: application/json",
		"X-Empty:",
		"not a header line",
		": no name",
		"Vary: Accept",
		"vary:  Origin \t",
		"Retry-After: 7\r",
	}, "\n"))

	it("finds a field in any case, repeats joined with a comma", function()
		assert.are.equal("application/json", headers["CONTENT-type"])
		assert.are.equal("Accept, Origin", headers.Vary)
		assert.are.equal("", headers["x-empty"])
		assert.are.equal("7", headers["retry-after"])
		assert.is_nil(headers.content)
		assert.is_nil(headers["not a header line"])
		assert.is_nil(headers[1])
		assert.is_nil(core.headers("").vary)
	end)

	it("lists the fields under pairs, names lower-cased", function()
		local seen = {}
		for name, value in pairs(headers) do
			seen[name] = value
		end
		assert.are.same({
			["content-type"] = "application/json",
			["x-empty"] = "",
			vary = "Accept, Origin",
			["retry-after"] = "7",
		}, seen)
	end)

	it("reads rate-limit fields from a block with other fields around them", function()
		local rl = core.ratelimit(60, 60, 60, 0)
		rl:take(0)
		local block = tostring(headers) .. "\nOrganization-RateLimit-Limit: 5;w=10;b=5"
		local retry_after, rate = rl:observe(429, core.headers(block), 0)
		assert.are.equal(7, retry_after)
		assert.are.same({ 5, 10, 5 }, { rate.limit, rate.window, rate.burst })
		local seen = {}
		for name, value in pairs(rate) do
			seen[name] = value
		end
		assert.are.same(rl:view(0), seen)
		assert.truthy(tostring(rate):find("^pulse%.rate%(limit 5"), tostring(rate))
	end)
end)
