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
		-- The new key's first call goes out: the server has to take it
		-- before anything stored is served to it. Then the cache serves.
		_, res = a:get("/items/1")
		assert.is_false(res.from_cache)
		_, res = a:get("/items/1")
		assert.is_true(res.from_cache)
		-- Two keys of one organization share by naming the bucket.
		local dir = support.temp_path()
		local c1 = client({ dir = dir }, { api_key = "key-c1", bucket = "acme" })
		local c2 = client({ dir = dir }, { api_key = "key-c2", bucket = "acme" })
		c1:get("/items/9")
		c2:get("/items/8")
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
			assert(c:get("/items/0")) -- the key's first answer, from the server
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
		local second = run() -- another process, later: a restart, whose key the server took before
		assert.are.equal(first:match("^%d+"), second:match("^%d+"))
		assert.truthy(second:find("true"), second)
		assert.are.equal(2, reached(), "the second process spent no call")
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
		assert.are.equal(4, reached())
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

	-- The entry files of a cache directory.
	local function entry_files(dir)
		local out = support.run("ls " .. dir .. " | grep -c '[.]entry$' || true")
		return tonumber(out:match("%d+"))
	end

	it("stores no answer that did not decode, or that carries an error object", function()
		local c = client(true)
		for _ = 1, 2 do
			local none, err = c:get("/truncated")
			assert.is_nil(none)
			assert.are.equal("decode", err.kind)
			local failed, why = c:get("/error-in-200")
			assert.is_nil(failed)
			assert.are.equal(502, why.code)
			assert.are.equal(200, why.status)
			assert.are.equal("client", why.kind)
			assert.is_false(why.res.from_cache)
		end
		-- Both went out twice: nothing of them was kept.
		assert.are.equal(4, reached())
		-- Kept as it came (decode = false), a body is stored when whole.
		local raw = c:get("/items/5", { decode = false })
		local again, res = c:get("/items/5", { decode = false })
		assert.are.equal(raw, again)
		assert.is_true(res.from_cache)
		c:close()
	end)

	it("refuses a directory others may write in or own, and ignores entries that are not the user's", function()
		local open = support.temp_path()
		os.execute("mkdir -m 0777 " .. open)
		local ok, err = pcall(pulse.new, { base_url = server.url, api_key = "k", cache = { dir = open } })
		assert.is_false(ok)
		assert.matches("cache.dir: .* is writable by others: refused", err)
		os.execute("chmod 0700 " .. open .. " && chown 65534 " .. open)
		ok, err = pcall(pulse.new, { base_url = server.url, api_key = "k", cache = { dir = open } })
		assert.is_false(ok)
		assert.matches("is not owned by this user: refused", err)
		os.execute("rm -rf " .. open)

		local dir = support.temp_path()
		local a = client({ dir = dir })
		local first = assert(a:get("/items/7"))
		a:close()
		-- The entry, made another user's (a planted file looks so): ignored.
		os.execute("chown 65534 " .. dir .. "/*.entry")
		local b = client({ dir = dir })
		assert(b:get("/items/0")) -- the key's first answer
		local body, res = b:get("/items/7")
		assert.is_false(res.from_cache)
		assert.are_not.equal(first.n, body.n)
		assert.is_true(b:stats().cache_refused >= 1)
		b:close()
		-- An entry "stored" in the future is no entry this cache wrote.
		os.execute("rm -f " .. dir .. "/*")
		local c = client({ dir = dir, ttl = 60 })
		assert(c:get("/items/0"))
		assert(c:get("/items/7"))
		for name in support.run("ls " .. dir):gmatch("%S+%.entry") do
			local path = dir .. "/" .. name
			local entry = pulse.json.decode(support.read_file(path))
			if entry.base:find("/items/7", 1, true) then
				entry.stored = core.epoch() + 3600
				entry.body = '{"name":"ATTACKER DATA"}'
				support.write_file(path, pulse.json.encode(entry))
			end
		end
		body, res = c:get("/items/7")
		assert.is_false(res.from_cache)
		assert.is_nil(body.name)
		c:close()
		os.execute("rm -rf " .. dir)
	end)

	it("keeps max_entries on disk, prunes what expired, and bounds memory in bytes", function()
		local dir = support.temp_path()
		local c = client({ dir = dir, max_entries = 8, ttl = 0.3 })
		for i = 1, 30 do
			assert(c:get("/items/1", { query = { email = "e" .. i .. "@example.org" } }))
			assert.is_true(entry_files(dir) <= 8, entry_files(dir) .. " entries after " .. i)
		end
		core.sleep(0.4)
		assert(c:get("/items/2")) -- a put sweeps: the expired ones go
		assert.are.equal(1, entry_files(dir))
		c:close()
		os.execute("rm -rf " .. dir)

		-- Four answers of about 1,000 bytes, at most 2,500 in memory: the
		-- two oldest go.
		local m = client({ max_bytes = 2500 })
		for i = 1, 4 do
			assert(m:get("/big", { query = { size = 1000, i = i } }))
		end
		local before = reached()
		local _, res = m:get("/big", { query = { size = 1000, i = 4 } })
		assert.is_true(res.from_cache)
		_, res = m:get("/big", { query = { size = 1000, i = 1 } })
		assert.is_false(res.from_cache)
		assert.are.equal(before + 1, reached())
		m:close()
	end)

	it("serves nothing stored to a key the server has not taken since it came into use", function()
		local dir = support.temp_path()
		local good = client({ dir = dir }, { api_key = "k-good", bucket = "acme" })
		assert(good:get("/items/4"))
		local _, res = good:get("/items/4")
		assert.is_true(res.from_cache)
		-- Another client with the key the server took: it reads at once.
		local before = reached()
		local again = client({ dir = dir }, { api_key = "k-good", bucket = "acme" })
		_, res = again:get("/items/4")
		assert.is_true(res.from_cache)
		assert.are.equal(before, reached())
		again:close()
		-- Another process on the bucket with a key the server refuses.
		local wrong = client({ dir = dir }, { api_key = "bad-key", bucket = "acme" })
		local none, err = wrong:get("/items/4")
		assert.is_nil(none)
		assert.are.equal("auth", err.kind)
		-- A rotation to a key the server refuses: not served either.
		good:set_api_key("bad-rotated")
		none, err = good:get("/items/4")
		assert.is_nil(none)
		assert.are.equal(401, err.status)
		none = good:get("/items/4")
		assert.is_nil(none)
		-- Back to a good key: one call goes out, then the cache serves.
		good:set_api_key("k-good-2")
		_, res = good:get("/items/4")
		assert.is_false(res.from_cache)
		_, res = good:get("/items/4")
		assert.is_true(res.from_cache)
		good:close()
		wrong:close()
		os.execute("rm -rf " .. dir)
	end)
end)


describe("stale_while_revalidate", function()
	local sandbox

	before_each(function()
		sandbox = support.start({ rate_limit = "1/2/1", log = true })
	end)

	after_each(function()
		sandbox:stop()
	end)

	it("serves a stale entry at once in a task, refreshing it behind in the bulk lane, after the others", function()
		local c = sandbox:client({ cache = { ttl = 0.3, stale_while_revalidate = 60 } })
		local item, other = sandbox:item(1), sandbox:item(2)
		pulse.run(function()
			assert(c:get(item)) -- stored; the bucket's one token spent
			pulse.sleep(0.4) -- stale now
			local started = core.now()
			local body, res = c:get(item)
			assert.is_table(body)
			assert.is_true(res.from_cache and res.stale, tostring(res))
			assert.is_true(core.now() - started < 0.2, "served at once, not after the refill")
			local _, again = c:get(item)
			assert.is_true(again.stale, "still stale: its one refresh waits for a token")
			pulse.sleep(0.1) -- the refresh has asked for its token, and waits
			-- A normal call asked after the refresh still goes before it.
			assert(c:get(other))
		end)
		-- The run waited for the refresh: the entry is fresh now.
		local _, res = c:get(item)
		assert.is_true(res.from_cache)
		assert.is_nil(res.stale)
		local paths = {}
		for _, entry in ipairs(sandbox:log_lines()) do
			paths[#paths + 1] = entry.path
			assert.are.equal(200, entry.status)
		end
		assert.are.same({ item, other, item }, paths, "the refresh went last, once")
		assert.are.equal(1, c:stats().cache_refreshes)
		c:close()
	end)
end)
