-- pulse-sandbox over HTTP, with raw requests (no pulse client) so that
-- what is checked is the server's behaviour alone.

local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

local function auth(key)
	return { "Authorization: Api-key " .. key }
end

describe("pulse-sandbox", function()
	describe("authentication", function()
		local sandbox

		setup(function()
			sandbox = support.start({ keys = { "key-one", "key-two" } })
		end)

		teardown(function()
			sandbox:stop()
		end)

		local cases = {
			{ "no Authorization header", {} },
			{ "a Bearer token", { "Authorization: Bearer key-one" } },
			{ "a scheme without a key", { "Authorization: Api-key" } },
			{ "an unknown key", auth("key-three") },
		}
		for _, case in ipairs(cases) do
			it("answers the documented 401 for " .. case[1], function()
				local status, headers, body = sandbox:raw("GET", "/v1/centers", case[2])
				assert.are.equal(401, status)
				assert.are.equal("application/json", headers["content-type"])
				assert.are.same({ code = 401, message = "Authorization has been denied for this request." }, body.error)
			end)
		end

		it("accepts every configured key, and the scheme in any case", function()
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", auth("key-one"))))
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", auth("key-two"))))
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", { "Authorization: API-KEY key-one" })))
		end)
	end)

	describe("rate limit", function()
		it("sends the three headers on every authenticated response, 429s included", function()
			local sandbox = support.start({ rate_limit = "3/60/3" })
			for i = 1, 4 do
				local status, headers = sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
				assert.are.equal(i <= 3 and 200 or 429, status)
				assert.are.equal("3;w=60;b=3", headers["organization-ratelimit-limit"])
				assert.are.equal(tostring(math.max(0, 3 - i)), headers["ratelimit-remaining"])
				local reset = tonumber(headers["ratelimit-reset"])
				assert.is_true(reset >= 59 and reset <= 60, headers["ratelimit-reset"])
				if status == 429 then
					assert.are.equal(headers["ratelimit-reset"], headers["retry-after"])
				end
			end
			local _, _, body = sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			assert.are.equal("rate_limited", body.error.code)
			sandbox:stop()
		end)

		it("shares one bucket among the keys of the organization", function()
			local sandbox = support.start({ keys = { "a-key", "b-key" }, rate_limit = "2/60/2" })
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", auth("a-key"))))
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", auth("b-key"))))
			assert.are.equal(429, (sandbox:raw("GET", "/v1/centers", auth("a-key"))))
			assert.are.equal(429, (sandbox:raw("GET", "/v1/centers", auth("b-key"))))
			sandbox:stop()
		end)

		it("refills LIMIT tokens every WINDOW seconds, never above BURST", function()
			local sandbox = support.start({ rate_limit = "5/1/8" })
			local ok = 0
			while sandbox:raw("GET", "/v1/centers", auth(sandbox.key)) == 200 do
				ok = ok + 1
			end
			assert.are.equal(8, ok, "a full bucket holds BURST")
			core.sleep(1.1)
			ok = 0
			while sandbox:raw("GET", "/v1/centers", auth(sandbox.key)) == 200 do
				ok = ok + 1
			end
			assert.are.equal(5, ok, "one window adds LIMIT")
			core.sleep(3.1)
			local _, headers = sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			assert.are.equal("7", headers["ratelimit-remaining"], "three windows fill the bucket to BURST, not 15")
			sandbox:stop()
		end)

		it("trickles tokens in with --refill continuous", function()
			local sandbox = support.start({ rate_limit = "2/2/2", refill = "continuous" })
			local key = { "Authorization: Api-key " .. sandbox.key }
			for _ = 1, 2 do
				assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
			end
			assert.are.equal(429, (sandbox:raw("GET", "/v1/centers", key)))
			core.sleep(1.1) -- 1.1 tokens back, not a whole window's 2
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
			local status, headers = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(429, status)
			assert.are.equal("1", headers["ratelimit-reset"], "the next token, in whole seconds")
			sandbox:stop()
		end)

		it("keeps the control endpoints outside the limit and the key check", function()
			local sandbox = support.start({ rate_limit = "1/60/1" })
			sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			for _ = 1, 5 do
				assert.is_table(sandbox:stats())
			end
			sandbox:stop()
		end)

		it("gives Retry-After as delta-seconds or as an HTTP-date", function()
			local sandbox = support.start({ rate_limit = "1/30/1", retry_after = "http-date" })
			sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			local status, headers = sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			assert.are.equal(429, status)
			local date = headers["retry-after"]
			assert.truthy(date:find("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d GMT$"), date)
			local wait = core.parse_retry_after(date)
			assert.is_true(wait >= 28 and wait <= 31, tostring(wait))
			sandbox:stop()
		end)
	end)

	describe("faults", function()
		local sandbox, key
		support.shared_sandbox({ log = true }, function(s)
			sandbox, key = s, auth(s.key)
		end)

		it("answers 503 for the next N requests, with or without Retry-After", function()
			sandbox:fault("503:count=2:retry_after=4")
			local status, headers, body = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(503, status)
			assert.are.equal("4", headers["retry-after"])
			assert.are.equal("service_unavailable", body.error.code)
			assert.are.equal(503, (sandbox:raw("GET", "/v1/centers", key)))
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
			sandbox:fault("503")
			status, headers = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(503, status)
			assert.is_nil(headers["retry-after"])
		end)

		it("answers 503 for T seconds", function()
			sandbox:fault("503:seconds=0.5")
			for _ = 1, 3 do
				assert.are.equal(503, (sandbox:raw("GET", "/v1/centers", key)))
			end
			core.sleep(0.6)
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
		end)

		it("adds latency to one response without stalling the others", function()
			sandbox:fault("latency:ms=1500")
			local slow = os.tmpname()
			os.execute(string.format(
				"curl -s -o /dev/null -w '%%{time_total}' -H 'Authorization: Api-key %s' %s/v1/centers > %s &",
				sandbox.key,
				sandbox.url,
				slow
			))
			core.sleep(0.2) -- the slow one is in flight
			local started = core.now()
			for _ = 1, 5 do
				assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
			end
			local fast = core.now() - started
			assert.is_true(fast < 1.0, "five requests took " .. fast .. "s behind a slow one")
			local deadline = core.now() + 5
			while (support.read_file(slow) or "") == "" and core.now() < deadline do
				core.sleep(0.05)
			end
			assert.is_true(tonumber(support.read_file(slow)) >= 1.4, "the slow one was slow")
			assert.is_true(sandbox:stats().in_flight_max >= 2)
			os.remove(slow)
		end)

		it("drops the connection before handling: nothing is applied", function()
			sandbox:fault("drop")
			local status, failure = sandbox.control_transport:perform({
				method = "POST",
				url = sandbox.url .. "/v1/guests",
				headers = key,
				body = json.encode(sandbox:guest(1)),
				json_body = true,
				fresh = true,
			})
			assert.is_nil(status)
			assert.are.equal("network", failure)
			assert.are.equal(0, sandbox:stats().writes_applied)
		end)

		it("drops the connection after applying the write", function()
			sandbox:fault("drop_after")
			local status = sandbox.control_transport:perform({
				method = "POST",
				url = sandbox.url .. "/v1/guests",
				headers = key,
				body = json.encode(sandbox:guest(2)),
				json_body = true,
				fresh = true,
			})
			assert.is_nil(status)
			assert.are.equal(1, sandbox:stats().writes_applied)
			local _, _, found = sandbox:raw("GET", "/v1/guests/search?email=guest.2@example.com", key)
			assert.are.equal(1, found.page_info.total)
		end)

		it("truncates the body", function()
			sandbox:fault("truncate")
			local status, _, body = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(200, status)
			assert.is_string(body, "not decodable")
			assert.is_nil(json.decode(body))
		end)

		it("answers an HTML 502 as a proxy would", function()
			sandbox:fault("html502")
			local status, headers, body = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(502, status)
			assert.are.equal("text/html", headers["content-type"])
			assert.truthy(body:find("502 Bad Gateway", 1, true))
		end)

		it("redirects to another port, keeping path and query", function()
			sandbox:fault("redirect:port=9")
			local status, headers =
				sandbox.control_transport:perform({ method = "GET", url = sandbox.url .. "/v1/centers?page=2", headers = key })
			assert.are.equal(307, status, "the transport follows no redirect: the request path does")
			assert.are.equal("http://127.0.0.1:9/v1/centers?page=2", headers.location)
			sandbox:fault("redirect:port=9")
			local lines = support.run(string.format("curl -s -i -H 'Authorization: Api-key %s' '%s/v1/centers?page=2'", sandbox.key, sandbox.url))
			assert.truthy(lines:find("307", 1, true), lines)
			assert.truthy(lines:find("Location: http://127.0.0.1:9/v1/centers?page=2", 1, true), lines)
		end)

		it("sends malformed rate-limit headers", function()
			sandbox:fault("bad_headers")
			local status, headers = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(200, status)
			assert.is_nil(core.parse_policy(headers["organization-ratelimit-limit"]))
			assert.is_nil(core.parse_count(headers["ratelimit-remaining"]))
			assert.is_nil(core.parse_count(headers["ratelimit-reset"]))
		end)

		it("answers any status with the status fault", function()
			sandbox:fault("status:code=418")
			local status, _, body = sandbox:raw("GET", "/v1/centers", key)
			assert.are.equal(418, status)
			assert.are.equal("injected", body.error.code)
		end)

		it("limits a fault to one method", function()
			sandbox:fault("503:method=POST")
			assert.are.equal(200, (sandbox:raw("GET", "/v1/centers", key)))
			assert.are.equal(503, (sandbox:raw("POST", "/v1/guests", key, "{}")))
		end)

		it("takes faults as JSON objects and refuses bad ones", function()
			local added = sandbox:control("POST", "faults", { kind = "503", count = 1 })
			assert.are.equal(1, added.data.added)
			assert.are.equal(503, (sandbox:raw("GET", "/v1/centers", key)))
			local status, _, body = sandbox:raw("POST", "/_sandbox/faults", {}, '{"kind":"meteor"}')
			assert.are.equal(400, status)
			assert.truthy(body.error.message:find("unknown fault kind"), body.error.message)
			status = sandbox:raw("POST", "/_sandbox/faults", {}, '{"spec":"redirect"}')
			assert.are.equal(400, status, "redirect needs a port")
			status = sandbox:raw("POST", "/_sandbox/faults", {}, "not json")
			assert.are.equal(400, status)
		end)

		it("picks random faults deterministically from the seed", function()
			local function pattern()
				local sb = support.start({ seed = 7, faults = "random:p=0.5:kinds=503+html502" })
				local statuses = {}
				for i = 1, 30 do
					statuses[i] = sb:raw("GET", "/v1/centers", auth(sb.key))
				end
				sb:stop()
				return table.concat(statuses, ",")
			end
			local first = pattern()
			assert.are.equal(first, pattern())
			assert.truthy(first:find("503") and first:find("502") and first:find("200"), first)
		end)

		it("refuses a bad --faults spec at start", function()
			local out, _, code = support.run(support.BIN .. "/pulse-sandbox --api-key k --faults 'latency:ms=abc'")
			assert.are_not.equal(0, code)
			assert.is_string(out)
		end)
	end)

	describe("log and stats", function()
		it("writes one JSON line per request, never the key", function()
			local sandbox = support.start({ keys = { "logged-key-never-written" }, log = true })
			sandbox:raw("GET", "/v1/centers", auth("logged-key-never-written"))
			sandbox:raw("GET", "/v1/centers", auth("wrong-key-also-not-written"))
			sandbox:raw("POST", "/v1/guests", auth("logged-key-never-written"), json.encode(sandbox:guest(3)))
			local lines = sandbox:log_lines()
			assert.are.equal(3, #lines)
			for i, line in ipairs(lines) do
				assert.are.equal(i, line.id)
				assert.truthy(line.time:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$"), line.time)
				assert.is_string(line.method)
				assert.is_number(line.status)
			end
			assert.are.same({ true, false, true }, { lines[1].key_valid, lines[2].key_valid, lines[3].key_valid })
			assert.are.same({ 200, 401, 200 }, { lines[1].status, lines[2].status, lines[3].status })
			assert.are.equal("/v1/guests", lines[3].path)
			assert.is_true(lines[3].applied)
			local text = support.read_file(sandbox.log_path)
			assert.is_nil(text:find("logged-key-never-written", 1, true))
			assert.is_nil(text:find("wrong-key-also-not-written", 1, true))
			local stats = sandbox:stats()
			assert.are.equal(3, stats.requests)
			assert.are.equal(2, stats.by_status["200"])
			assert.are.equal(1, stats.by_status["401"])
			assert.are.equal(1, stats.writes_applied)
			sandbox:stop()
		end)
	end)

	describe("HTTPS", function()
		it("serves TLS with --tls CERT KEY", function()
			local tls = support.self_signed()
			local sandbox = support.start({ tls = tls })
			assert.truthy(sandbox.url:find("^https://"), sandbox.url)
			local status = sandbox:raw("GET", "/v1/centers", auth(sandbox.key))
			assert.are.equal(200, status)
			sandbox:stop()
			os.execute("rm -r " .. tls.dir)
		end)
	end)
end)
