-- The response cache, against a server of the specs' own
-- (spec/support/cacheable.py) whose answers say how many requests it has
-- read (n) and carry an ETag; its log says what reached it.

local core = require("pulse.core")
local hostile = require("support.hostile")
local pulse = require("pulse")
local support = require("support.sandbox")

describe("the response cache", function()
	local server

	before_each(function()
		server = hostile.start("spec/support/cacheable.py")
	end)

	after_each(function()
		server:stop()
	end)

	local function client(cache, extra)
		local opts = { api_key = "k-cache", cache = cache }
		for k, v in pairs(extra or {}) do
			opts[k] = v
		end
		return server:client(opts)
	end

	-- How many requests reached the server.
	local function reached()
		return #server:log()
	end

	it("answers a GET from memory until its TTL, then asks again", function()
		local c = client({ ttl = 0.5 })
		local first, res = c:get("/items/1", { query = { b = 2, a = 1 } })
		assert.is_false(res.from_cache)
		local again, res2 = c:get("/items/1?a=1&b=2") -- the same URL, the query in another order
		assert.are.equal(first.n, again.n)
		assert.is_true(res2.from_cache)
		assert.are.equal(200, res2.status)
		assert.are.equal('"v0-/items/1"', res2.headers.ETag)
		assert.are.equal(1, reached())
		core.sleep(0.6)
		local _, res3 = c:get("/items/1", { query = { a = 1, b = 2 } })
		assert.is_true(res3.revalidated) -- asked again, and the server said 304
		assert.are.equal(2, reached())
		assert.truthy(server:log()[2]:find('"v0-/items/1"', 1, true), "sent If-None-Match")
		local stats = c:stats()
		assert.are.same({ 1, 2, 1 }, { stats.cache_hits, stats.cache_misses, stats.cache_revalidations })
		c:close()
	end)

	it("keeps at most max_entries, dropping the least recently used", function()
		local c = client({ max_entries = 2 })
		c:get("/items/1")
		c:get("/items/2")
		c:get("/items/1") -- a hit: 1 is now newer than 2
		c:get("/items/3") -- evicts 2
		assert.are.equal(3, reached())
		local _, res1 = c:get("/items/1")
		local _, res2 = c:get("/items/2")
		assert.is_true(res1.from_cache)
		assert.is_false(res2.from_cache)
		c:close()
	end)

	it("takes the TTL of the longest matching rule, 0 meaning not at all, and a call's own", function()
		local c = client({ ttl = 60, rules = { ["/items*"] = 0, ["/items/special*"] = 60, ["*/nocache"] = 0 } })
		c:get("/items/1")
		local _, res = c:get("/items/1")
		assert.is_false(res.from_cache) -- "/items*" says 0
		c:get("/items/special/1")
		_, res = c:get("/items/special/1")
		assert.is_true(res.from_cache) -- the longer pattern wins
		c:get("/other/x/nocache")
		_, res = c:get("/other/x/nocache")
		assert.is_false(res.from_cache) -- "*" matches "/" too
		c:get("/other/1")
		_, res = c:get("/other/1", { cache = false })
		assert.is_false(res.from_cache)
		_, res = c:get("/other/1", { cache = { ttl = 60 } })
		assert.is_true(res.from_cache)
		c:close()
	end)

	it("drops the reads of a write's path and of its parent list, for each write method", function()
		local c = client(true)
		for _, method in ipairs({ "POST", "PUT", "PATCH", "DELETE" }) do
			c:get("/items/5")
			c:get("/items", { query = { page = 2 } })
			c:get("/other")
			local _, res = c:get("/items/5")
			assert.is_true(res.from_cache)
			assert(c:request(method, "/items/5", method ~= "DELETE" and { json = {} } or nil))
			local body
			body, res = c:get("/items/5")
			assert.is_false(res.from_cache, method)
			_, res = c:get("/items", { query = { page = 2 } })
			assert.is_false(res.from_cache, method .. " of the parent list")
			_, res = c:get("/other")
			assert.is_true(res.from_cache, method .. " left other paths")
			assert.is_true(body.version > 0)
		end
		c:close()
	end)

	it("stores nothing said no-store, or that holds the key", function()
		local c = client(true)
		c:get("/nostore")
		local _, res = c:get("/nostore")
		assert.is_false(res.from_cache)
		local body = assert(c:get("/echo-key"))
		assert.are.equal("k-cache", body.key)
		_, res = c:get("/echo-key")
		assert.is_false(res.from_cache)
		c:close()
	end)

	it("serves a stale entry on a 503 or a dead server within stale_if_error, not past it", function()
		local c = client({ ttl = 0.2, stale_if_error = 2 })
		local first = assert(c:get("/items/7"))
		core.sleep(0.3)
		support.run("curl -s -X POST " .. server.url .. "/_fail?status=503")
		local body, res = c:get("/items/7")
		assert.is_true(res.stale, tostring(res))
		assert.are.equal(first.n, body.n)
		server:stop()
		body, res = c:get("/items/7")
		assert.is_true(res.stale)
		assert.are.equal(first.n, body.n)
		assert.are.equal(2, c:stats().cache_stale)
		server = hostile.start("spec/support/cacheable.py")
		local late = client({ ttl = 0.2, stale_if_error = 0.1 })
		assert(late:get("/items/7"))
		core.sleep(0.4)
		support.run("curl -s -X POST " .. server.url .. "/_fail?status=503")
		local none, err = late:get("/items/7")
		assert.is_nil(none)
		assert.are.equal("unavailable", err.kind)
		late:close()
		c:close()
	end)

	it("keeps organizations apart, and a key rotation keeps the cache", function()
		local a = client(true, { api_key = "key-a" })
		local b = client(true, { api_key = "key-b" })
		a:get("/items/1")
		local _, res = b:get("/items/1")
		assert.is_false(res.from_cache)
		a:set_api_key("key-a2")
		_, res = a:get("/items/1")
		assert.is_true(res.from_cache)
		-- Two keys of one organization share by naming the bucket.
		local dir = support.temp_path()
		local c1 = client({ dir = dir }, { api_key = "key-c1", bucket = "acme" })
		local c2 = client({ dir = dir }, { api_key = "key-c2", bucket = "acme" })
		c1:get("/items/9")
		_, res = c2:get("/items/9")
		assert.is_true(res.from_cache)
		for _, cl in ipairs({ a, b, c1, c2 }) do
			cl:close()
		end
		os.execute("rm -rf " .. dir)
	end)

	it("shares a disk directory between processes, across restarts, with private files and no key", function()
		local dir = support.temp_path()
		local script = string.format(
			[[local c = require("pulse").new({ base_url = %q, api_key = "k-disk", retry = false,
				cache = { dir = %q } })
			local body, res = assert(c:get("/items/3"))
			print(body.n, res.from_cache)]],
			server.url,
			dir
		)
		local function run()
			local out, err, code = support.run(support.BIN .. "/pulse-lua -e " .. support.shell_quote(script))
			assert.are.equal(0, code, err)
			return out
		end
		local first = run()
		assert.truthy(first:find("false"), first)
		local second = run() -- another process, later: a restart
		assert.are.equal(first:match("^%d+"), second:match("^%d+"))
		assert.truthy(second:find("true"), second)
		assert.are.equal(1, reached())
		local listing = support.run("stat -c '%a %n' " .. dir .. " " .. dir .. "/*")
		for mode in listing:gmatch("(%d+) ") do
			assert.truthy(mode == "700" or mode == "600", listing)
		end
		local text = support.run("cat " .. dir .. "/*")
		assert.falsy(text:find("k-disk", 1, true))
		-- A corrupt file is a miss, never an error.
		os.execute("for f in " .. dir .. "/*; do printf '{not json' > \"$f\"; done")
		local third = run()
		assert.truthy(third:find("false"), third)
		assert.are.equal(2, reached())
		os.execute("rm -rf " .. dir)
	end)

	it("refuses bad options, naming them", function()
		local function message(cache)
			local ok, err = pcall(pulse.new, { base_url = server.url, api_key = "k", cache = cache })
			assert.is_false(ok)
			return err
		end
		assert.truthy(message({ ttl = -1 }):find("ttl", 1, true))
		assert.truthy(message({ colour = 1 }):find("unknown option 'colour'", 1, true))
		assert.truthy(message({ rules = { ["/x"] = "long" } }):find("cache.rules", 1, true))
		assert.truthy(message({ dir = "/proc/nope/cache" }):find("cache.dir", 1, true))
		local c = client(true)
		local ok, err = pcall(c.get, c, "/items/1", { cache = { dir = "/tmp" } })
		assert.is_false(ok)
		assert.truthy(err:find("unknown option 'dir'", 1, true), err)
		c:close()
	end)
end)
