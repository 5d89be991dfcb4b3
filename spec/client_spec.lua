-- The client against a real pulse-sandbox over HTTP on loopback.

local pulse = require("pulse")
local json = require("pulse.json")
local support = require("support.sandbox")

describe("pulse client", function()
	local sandbox, client
	support.shared_sandbox({ keys = { "spec-key-primary-123", "spec-key-rotated-456" }, log = true }, function(s, c)
		sandbox, client = s, c
	end)

	describe("requests", function()
		it("sends the exact Authorization line, Accept, User-Agent and gzip", function()
			local body = assert(client:get("/_sandbox/echo"))
			assert.are.equal("Api-key [REDACTED]", body.headers.authorization, "the scheme, then the key")
			assert.are.equal(0, body.key_id, "the exact key: the sandbox's first")
			assert.are.equal("application/json", body.headers.accept)
			assert.truthy(body.headers["user-agent"]:find("^pulse%-lua/[%d.]+ libcurl/[%d.]+ Lua/5%.4$"), body.headers["user-agent"])
			assert.truthy(body.headers["accept-encoding"]:find("gzip"), body.headers["accept-encoding"])
			assert.is_nil(body.headers["content-type"])
		end)

		it("sends the configured User-Agent, or the request's own, once", function()
			local named = pulse.new({ api_key = sandbox.key, base_url = sandbox.url, user_agent = "sync-job/2" })
			local body = assert(named:get("/_sandbox/echo"))
			assert.are.equal("sync-job/2", body.headers["user-agent"])
			body = assert(named:get("/_sandbox/echo", { headers = { ["user-agent"] = "one-off/1" } }))
			assert.are.equal("one-off/1", body.headers["user-agent"])
			named:close()
			assert.has_error(function()
				pulse.new({ api_key = sandbox.key, base_url = sandbox.url, user_agent = "x\r\nX-Injected: 1" })
			end, "pulse: new: user_agent contains control characters")
		end)

		it("sends JSON bodies with Content-Type and the exact encoded text", function()
			local doc = { n = 9007199254740993, f = 0.1, e = pulse.array(), z = pulse.null, s = "é\n" }
			local body = assert(client:post("/_sandbox/echo", doc))
			assert.are.equal("application/json", body.headers["content-type"])
			assert.are.equal("POST", body.method)
			local sent = assert(json.decode(body.body))
			assert.are.equal(9007199254740993, sent.n)
			assert.are.equal(0.1, sent.f)
			assert.is_true(json.is_array(sent.e))
			assert.are.equal(pulse.null, sent.z)
			assert.are.equal("é\n", sent.s)
			assert.truthy(body.body:find('"n":9007199254740993', 1, true), body.body)
			assert.truthy(body.body:find('"e":[]', 1, true), body.body)
		end)

		it("sends PUT, PATCH and DELETE with their method and body", function()
			for _, method in ipairs({ "put", "patch" }) do
				local body = assert(client[method](client, "/_sandbox/echo", { x = 1 }))
				assert.are.equal(method:upper(), body.method)
				assert.are.equal('{"x":1}', body.body)
			end
			local body = assert(client:delete("/_sandbox/echo"))
			assert.are.equal("DELETE", body.method)
			body = assert(client:request("OPTIONS", "/_sandbox/echo"))
			assert.are.equal("OPTIONS", body.method)
		end)

		it("keeps nothing of one request's method or options for the next", function()
			-- The handle is set up only where a request differs from the one
			-- before: each of these would carry over if that went wrong.
			local sequence = { "GET", "POST", "GET", "HEAD", "GET", "DELETE", "GET" }
			for _, method in ipairs(sequence) do
				local body, res = client:request(method, "/_sandbox/echo", { json = method == "POST" and {} or nil })
				assert(body, tostring(res))
				if method ~= "HEAD" then
					assert.are.equal(method, body.method)
					assert.are.equal(method == "POST" and "{}" or "", body.body)
				end
			end
			sandbox:fault("latency:ms=300")
			local none, err = client:get(support.READ, { timeout = 0.1, retry = false })
			assert.is_nil(none)
			assert.are.equal("timeout", err.kind)
			sandbox:fault("latency:ms=300")
			assert(client:get(support.READ, { retry = false }), "the 0.1 s timeout stayed on the handle")
		end)

		it("sends a raw string body with opts.body and custom headers", function()
			local body = assert(client:request("POST", "/_sandbox/echo", {
				body = "raw,text",
				headers = { ["Content-Type"] = "text/csv", ["X-Trace"] = 7 },
			}))
			assert.are.equal("raw,text", body.body)
			assert.are.equal("text/csv", body.headers["content-type"])
			assert.are.equal("7", body.headers["x-trace"])
		end)

		it("encodes the query: escapes, arrays as repeated keys, booleans", function()
			local body = assert(client:get("/_sandbox/echo?fixed=1", {
				query = { q = "a b&c", ids = { 3, 4 }, on = true },
			}))
			assert.are.equal("fixed=1&ids=3&ids=4&on=true&q=a%20b%26c", body.query)
		end)

		it("joins base URL and path without double or missing slashes", function()
			local c = sandbox:client({ base_url = sandbox.url .. "/" })
			assert.are.equal("/_sandbox/echo", c:get("_sandbox/echo").path)
			assert.are.equal("/_sandbox/echo", c:get("/_sandbox/echo").path)
			c:close()
		end)

		it("reuses one TCP connection for sequential requests", function()
			local before = sandbox:stats().connections_opened
			for i = 1, 20 do
				assert(client:get(sandbox:item(i % 5 + 1)))
			end
			assert.are.equal(before + 1, sandbox:stats().connections_opened)
		end)

		it("rotates the key: the next request carries the new one", function()
			assert.are.equal(0, client:get("/_sandbox/echo").key_id, "spec-key-primary-123")
			client:set_api_key("spec-key-rotated-456")
			assert.are.equal(1, client:get("/_sandbox/echo").key_id, "spec-key-rotated-456")
			assert(client:get(support.READ))
			client:set_api_key("spec-key-revoked-789")
			local body, err = client:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("auth", err.kind)
		end)
	end)

	describe("responses", function()
		it("decodes JSON: ids from a list build paths, every res field is there", function()
			local list, res = assert(client:get("/v1/Centers/" .. sandbox:center() .. "/services", { query = { size = 2 } }))
			assert.are.equal("integer", math.type(list.page_info.total))
			local id = list.services[1].id
			local one = assert(client:get("/v1/Centers/" .. sandbox:center() .. "/services/" .. id))
			assert.are.equal(id, one.id)
			assert.are.equal(200, res.status)
			assert.are.equal("application/json", res.headers["Content-Type"])
			assert.are.equal(res.headers["content-type"], res.headers["CONTENT-TYPE"])
			assert.are.equal(1, res.attempts)
			assert.are.equal(0, res.waited)
			assert.is_true(res.elapsed > 0)
			assert.is_false(res.from_cache)
			for _, field in ipairs({ "limit", "window", "burst", "remaining", "reset" }) do
				assert.is_number(res.rate[field], field)
			end
		end)

		it("lists every response header under pairs, lower-cased", function()
			local _, res = assert(client:get(sandbox:item(1)))
			local seen = {}
			for name, value in pairs(res.headers) do
				assert.are.equal(name:lower(), name)
				assert.is_string(value)
				seen[name] = value
			end
			assert.are.equal("application/json", seen["content-type"])
			assert.truthy(seen["organization-ratelimit-limit"])
			assert.truthy(seen["ratelimit-remaining"])
			assert.are.equal(seen["ratelimit-reset"], res.headers["RateLimit-Reset"])
		end)

		it("gives the body as a string, undecoded, with decode = false", function()
			local text, res = assert(client:get(sandbox:item(1), { decode = false }))
			assert.is_string(text)
			assert.are.equal(sandbox:item(1):match("[^/]+$"), json.decode(text).id)
			assert.are.equal(200, res.status)
		end)

		it("gives a raw success sent plain the res of any other call", function()
			local _, decoded = assert(client:get(sandbox:item(1))) -- caches the URL: the next is plain
			local text, res = assert(client:get(sandbox:item(1), { decode = false }))
			assert.are.equal(sandbox:item(1):match("[^/]+$"), json.decode(text).id)
			assert.are.equal(8, support.assert_same_fields(decoded, res))
			assert.are.same({ 200, 1, 0, false }, { res.status, res.attempts, res.waited, res.from_cache })
			assert.are.equal(decoded.headers["content-type"], res.headers["content-type"])
			assert.are.equal("number", type(res.rate.remaining))
			assert.is_true(res.elapsed > 0)
		end)

		it("counts requests, bytes and latency, in batches too, and after close", function()
			local c = sandbox:client()
			assert.are.same({ p50 = nil, p90 = nil, p99 = nil }, c:stats().latency)
			local received = 0
			for _ = 1, 3 do
				received = received + #assert(c:get(sandbox:item(1), { decode = false }))
			end
			assert.are.equal(received, c:stats().bytes_received)
			local sent = assert(json.encode({ x = 1 }))
			assert(c:post("/_sandbox/echo", { x = 1 }))
			local results = c:batch({ { "GET", sandbox:item(2), { decode = false } }, { "GET", "/nowhere" } })
			local s = c:stats()
			assert.are.equal(6, s.requests)
			-- Every request's head counts, GETs' too, and the body.
			assert.is_true(s.bytes_sent > #sent + 6 * 60 and s.bytes_sent < #sent + 6 * 600, s.bytes_sent)
			assert.is_true(s.bytes_received > received + #results[1][1], "the echo and the 404 count too")
			assert.is_true(s.latency.p50 > 0 and s.latency.p50 <= s.latency.p90 and s.latency.p90 <= s.latency.p99)
			c:close()
			assert.are.same(s, c:stats())
		end)

		it("keeps empty arrays from the server as arrays", function()
			local created = assert(client:post(support.GUESTS, sandbox:guest(1, { tags = pulse.array() })))
			assert.is_true(json.is_array(created.tags))
			assert.are.equal('[]', json.encode(created.tags))
		end)
	end)

	describe("errors", function()
		local function fails(kind, status, fn)
			local body, err = fn()
			assert.is_nil(body)
			assert.is_true(pulse.is_error(err))
			assert.are.equal(kind, err.kind)
			assert.are.equal(status, err.status)
			assert.is_string(tostring(err))
			assert.is_nil(tostring(err):find("\n"), "one line")
			return err
		end

		it("maps 401 to auth, with the body's error object", function()
			local c = sandbox:client({ api_key = "not-a-key" })
			local err = fails("auth", 401, function()
				return c:get(support.READ)
			end)
			assert.are.equal(401, err.error.code)
			assert.are.equal("Authorization has been denied for this request.", err.message)
			assert.are.equal("GET", err.method)
			assert.are.equal(sandbox.url .. support.READ, err.url)
			assert.are.equal(1, err.attempts)
			c:close()
		end)

		it("maps 403, 404, 400 (its codes 503 and 422), 500, 502 and 504 from real responses", function()
			sandbox:fault("status:code=403")
			fails("forbidden", 403, function()
				return client:get(support.READ)
			end)
			fails("not_found", 404, function()
				return client:get(support.MISSING)
			end)
			fails("client", 400, function()
				return client:post(support.GUESTS, nil, { body = "{not json" })
			end)
			local err = fails("client", 400, function()
				return client:post(support.GUESTS, { center_id = sandbox:center(), personal_info = { first_name = "A" } })
			end)
			assert.are.equal(503, err.code) -- the API's code for a missing input
			assert.are.equal("last_name is missing.", err.message)
			err = fails("client", 400, function()
				return client:get(support.GUESTS, { query = { center_id = sandbox:center(), size = 101 } })
			end)
			assert.are.equal(422, err.code) -- the API's code for a page over 100
			sandbox:fault("status:code=500")
			fails("server", 500, function()
				return client:get(support.READ)
			end)
			sandbox:fault("status:code=504")
			fails("server", 504, function()
				return client:get(support.READ, { retry = false })
			end)
			sandbox:fault("html502")
			err = fails("server", 502, function()
				return client:get(support.READ, { retry = false })
			end)
			assert.truthy(err.body:find("Bad Gateway"), "the raw HTML is kept")
		end)

		it("maps 429 to rate_limited and 503 to unavailable when retries are off", function()
			sandbox:fault("503:retry_after=7")
			local err = fails("unavailable", 503, function()
				return client:get(support.READ, { retry = false })
			end)
			assert.are.equal(7, err.retry_after)
		end)

		it("reports a slow response as timeout", function()
			sandbox:fault("latency:ms=1500")
			local body, err = client:get(support.READ, { timeout = 0.2, retry = false })
			assert.is_nil(body)
			assert.are.equal("timeout", err.kind)
			assert.is_nil(err.status)
		end)

		it("reports connection refused as network", function()
			local c = pulse.new({ api_key = "k", base_url = "http://127.0.0.1:9", retry = false })
			local body, err = c:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("network", err.kind)
			assert.truthy(tostring(err):find("127.0.0.1:9", 1, true))
			c:close()
		end)

		it("reports a truncated body as decode, keeping status and raw text", function()
			sandbox:fault("truncate")
			local body, err = client:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("decode", err.kind)
			assert.are.equal(200, err.status)
			assert.truthy(err.body:find('^{"'), err.body)
			assert.truthy(err.message:find("not valid JSON"), err.message)
		end)
	end)

	describe("bad input", function()
		local function raises(pattern, fn)
			local ok, err = pcall(fn)
			assert.is_false(ok)
			assert.truthy(tostring(err):find(pattern), tostring(err))
		end

		it("refuses a base URL that is not http(s)", function()
			raises("base_url must be an http", function()
				pulse.new({ api_key = "k", base_url = "ftp://example.com" })
			end)
			raises("base_url must be an http", function()
				pulse.new({ api_key = "k", base_url = "localhost:8080" })
			end)
		end)

		it("names the bad argument", function()
			raises("bad argument #1 to 'get' %(path must be a string, got number%)", function()
				client:get(42)
			end)
			raises("bad argument #2 to 'post' %(JSON body must be a table", function()
				client:post(support.GUESTS, "{}")
			end)
			raises("options must be a table", function()
				client:get(support.READ, "fast")
			end)
			raises("with a colon", function()
				client.get(support.READ)
			end)
			raises("method must be an upper%-case string", function()
				client:request("get", support.READ)
			end)
		end)

		it("points the error at the caller's line", function()
			local ok, err = pcall(function()
				client:get(42) -- this line
			end)
			assert.is_false(ok)
			assert.truthy(err:find("client_spec.lua:%d+:"), err)
		end)

		it("refuses unknown options and lists the valid ones", function()
			raises("unknown option 'timout' %(valid: .*timeout", function()
				pulse.new({ api_key = "k", base_url = "http://x", timout = 5 })
			end)
			raises("unknown option 'qeury' %(valid: .*query", function()
				client:get(support.READ, { qeury = {} })
			end)
			raises("retry: unknown option 'max_attempt'", function()
				client:get(support.READ, { retry = { max_attempt = 2 } })
			end)
			raises("option 'timeout' must be positive", function()
				pulse.new({ api_key = "k", base_url = "http://x", timeout = -1 })
			end)
			raises("rate_limit: option 'limit' must be above 0 and below 1e9, got 1000000000.0", function()
				pulse.new({ api_key = "k", base_url = "http://x", rate_limit = { limit = 1e9 } })
			end)
		end)

		it("refuses a limiter it does not have rather than ignoring it", function()
			raises('limiter must be "shm:<path>" or "redis://', function()
				pulse.new({ api_key = "k", base_url = "http://x", limiter = "memcached://127.0.0.1:11211" })
			end)
		end)

		it("refuses a body it cannot encode before anything is sent", function()
			local before = sandbox:stats().requests
			raises("cannot encode a function", function()
				client:post(support.GUESTS, { name = print })
			end)
			local cyclic = {}
			cyclic.me = cyclic
			raises("cyclic", function()
				client:post(support.GUESTS, cyclic)
			end)
			assert.are.equal(before, sandbox:stats().requests)
		end)

		it("refuses header injection and setting Authorization", function()
			raises("line break", function()
				client:get(support.READ, { headers = { ["X-A"] = "a\r\nX-B: b" } })
			end)
			raises("Authorization header is the client's", function()
				client:get(support.READ, { headers = { authorization = "Api-key other" } })
			end)
			raises("spaces or control characters", function()
				client:set_api_key("key\r\nX-Evil: 1")
			end)
		end)

		it("refuses a path on another origin, which would carry the key away", function()
			raises("another origin", function()
				client:get("http://example.com/steal")
			end)
			assert(client:get(sandbox.url .. support.READ))
		end)
	end)

	describe("the key", function()
		local KEY = "spec-key-primary-123"

		it("is in no field of res, err or the client", function()
			local _, res = client:get(support.READ)
			assert.is_false(support.contains(res, KEY))
			local c = sandbox:client({ api_key = "wrong-key-abc" })
			local _, err = c:get(support.READ)
			assert.is_false(support.contains(err, "wrong-key-abc"))
			assert.is_nil(tostring(err):find("wrong-key-abc", 1, true))
			assert.is_false(support.contains(c, "wrong-key-abc"))
			assert.is_false(support.contains(c:stats(), "wrong-key-abc"))
			assert.is_false(support.contains(c:ratelimit(), "wrong-key-abc"))
			assert.is_nil(tostring(c):find("wrong-key-abc", 1, true))
			c:close()
			local timeout_err = select(2, pulse.new({ api_key = KEY, base_url = "http://127.0.0.1:9", retry = false }):get("/"))
			assert.is_false(support.contains(timeout_err, KEY))
		end)

		it("never appears in the sandbox's request log", function()
			assert(client:get(support.READ))
			local c = sandbox:client({ api_key = "not-valid-key-555" })
			c:get(support.READ)
			c:close()
			local text = support.read_file(sandbox.log_path)
			assert.truthy(#text > 0)
			assert.is_nil(text:find(KEY, 1, true))
			assert.is_nil(text:find("not-valid-key-555", 1, true))
		end)
	end)
end)

describe("proxies", function()
	local proxy

	setup(function()
		-- The echo server says the request line's target: through a proxy,
		-- the whole URL.
		proxy = require("support.hostile").start("spec/support/echo.py")
	end)

	teardown(function()
		proxy:stop()
	end)

	-- What a pulse-lua process with env (variables) read for a GET of
	-- /v1/centers at a base URL nothing listens on; opts: pulse.new's.
	local function fetch(env, opts)
		local script = support.temp_path(".lua")
		support.write_file(script, [[
local body, err = require("pulse").new(]] .. opts .. [[):get("/v1/centers", { retry = false })
print(body and body.path or ("failed: " .. tostring(err)))
]])
		local out = support.run(string.format("env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY "
			.. "-u all_proxy -u ALL_PROXY %s PULSE_API_KEY=k %s/pulse-lua %s", env, support.BIN, script))
		os.remove(script)
		return (out or ""):match("([^\n]*)\n*$")
	end

	it("are taken from http_proxy and all_proxy, or the proxy option, and none is used without them", function()
		local target = "http://127.0.0.1:9/v1/centers"
		local opts = '{ base_url = "http://127.0.0.1:9" }'
		assert.are.equal(target, fetch("http_proxy=" .. proxy.url, opts))
		assert.are.equal(target, fetch("all_proxy=" .. proxy.url, opts))
		assert.are.equal(target, fetch("", '{ base_url = "http://127.0.0.1:9", proxy = "' .. proxy.url .. '" }'))
		assert.matches("^failed: ", fetch("", opts))
		-- no_proxy names the host: straight there, and refused.
		assert.matches("^failed: ", fetch("http_proxy=" .. proxy.url .. " no_proxy=127.0.0.1", opts))
	end)
end)
