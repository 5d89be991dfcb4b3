-- The client against a real HTTP server we did not write: Debian's
-- python3-httpbin (make deps installs it).

local pulse = require("pulse")
local hostile = require("support.hostile")
local support = require("support.sandbox")

describe("the client against httpbin", function()
	local httpbin, elsewhere, client

	setup(function()
		local output = os.tmpname()
		local pid, url = support.spawn("/usr/bin/python3 spec/support/httpbin_server.py", output)
		httpbin = { pid = pid, url = url, output = output }
		elsewhere = hostile.start()
	end)

	teardown(function()
		support.stop_spawned(httpbin.pid)
		os.remove(httpbin.output)
		elsewhere:stop()
	end)

	before_each(function()
		client = pulse.new({ api_key = "httpbin-key-1", base_url = httpbin.url, retry = { base = 0.05, cap = 0.2 } })
	end)

	after_each(function()
		client:close()
	end)

	it("follows /redirect/3, listing each hop", function()
		local body, res = assert(client:get("/redirect/3"))
		assert.are.equal(httpbin.url .. "/get", body.url)
		assert.are.equal(3, #res.redirects)
		assert.are.equal(4, res.attempts, "the request and three hops")
	end)

	it("stops /redirect/8 after five hops, as kind redirect, not retried", function()
		local body, err = client:get("/redirect/8")
		assert.is_nil(body)
		assert.are.equal("redirect", err.kind)
		assert.are.equal(5, #err.res.redirects)
		assert.are.equal(6, err.attempts, "one try: the request and five hops")
		assert.are.equal(0, client:stats().retries)
	end)

	it("sends no key on a redirect to another port", function()
		local target = elsewhere.url .. "/json"
		local body = assert(client:get("/redirect-to", { query = { url = target } }))
		assert.are.same({}, body)
		local log = elsewhere:log()
		assert.are.equal("/json", log[#log].path)
		assert.are.equal(require("pulse.json").null, log[#log].key, "no Authorization reached it")
	end)

	it("decodes gzip, deflate and brotli", function()
		for _, encoding in ipairs({ "gzip", "deflate", "brotli" }) do
			local body = assert(client:get("/" .. encoding))
			assert.is_true(body[encoding == "gzip" and "gzipped" or encoding == "deflate" and "deflated" or "brotli"])
		end
	end)

	it("reports /status/418 and /status/503 by kind", function()
		local _, teapot = client:get("/status/418")
		assert.are.equal("client", teapot.kind)
		assert.are.equal(418, teapot.status)
		local _, unavailable = client:get("/status/503", { retry = { max_elapsed = 2 } })
		assert.are.equal("unavailable", unavailable.kind)
		assert.is_true(unavailable.attempts > 1)
	end)

	it("times out /delay/3 with timeout = 1", function()
		local _, err = client:get("/delay/3", { timeout = 1, retry = false })
		assert.are.equal("timeout", err.kind)
	end)

	it("assembles /stream/50 and /drip", function()
		local text = assert(client:get("/stream/50", { decode = false }))
		local lines = 0
		for _ in text:gmatch("[^\n]+") do
			lines = lines + 1
		end
		assert.are.equal(50, lines)
		local drip = assert(client:get("/drip", { query = { numbytes = 20, duration = 1, delay = 0 }, decode = false }))
		assert.are.equal(20, #drip)
	end)

	it("stops /stream-bytes past max_body as too_large", function()
		local _, err = client:get("/stream-bytes/200000", { max_body = 100000 })
		assert.are.equal("too_large", err.kind)
		assert(client:get("/stream-bytes/50000", { max_body = 100000, decode = false }))
	end)
end)
