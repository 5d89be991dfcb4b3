-- client:pages and client:each against a list server of the specs' own
-- (spec/support/pages.py): each strategy, the ends of a list, laziness,
-- failures mid-way, resuming, and tasks.

local hostile = require("support.hostile")
local pulse = require("pulse")

describe("pagination", function()
	local server, client

	setup(function()
		server = hostile.start("spec/support/pages.py")
		client = server:client({ api_key = "k-pagination" })
	end)

	teardown(function()
		client:close()
		server:stop()
	end)

	-- The requests the server read since the last call, and their count.
	local seen = 0
	local function requests()
		local log = server:log()
		local new = { table.unpack(log, seen + 1) }
		seen = #log
		return new
	end

	before_each(function()
		requests()
	end)

	local function ids(path, opts)
		local out = {}
		for item in client:each(path, opts) do
			out[#out + 1] = item.id
		end
		return out
	end

	local function range(n)
		local out = {}
		for i = 1, n do
			out[i] = i
		end
		return out
	end

	it("follows Link rel=next by default, absolute or relative", function()
		assert.are.same(range(12), ids("/link"))
		assert.are.equal(3, #requests())
		assert.are.same(range(12), ids("/link", { query = { relative = 1 } }))
		assert.are.equal(3, #requests())
	end)

	it("follows meta.next_page without a Link header, keeping the query", function()
		assert.are.same(range(7), ids("/meta", { query = { items = 7, size = 3 } }))
		local log = requests()
		assert.are.same({ "/meta?items=7&size=3", "/meta?items=7&page=2&size=3", "/meta?items=7&page=3&size=3" }, log)
	end)

	it("takes a page that is a bare JSON array as its own list", function()
		assert.are.same(range(12), ids("/bare"))
		assert.are.equal(3, #requests())
	end)

	it("handles an empty list and exactly one page", function()
		assert.are.same({}, ids("/meta", { query = { items = 0 } }))
		assert.are.equal(1, #requests())
		assert.are.same(range(5), ids("/link", { query = { items = 5 } }))
		assert.are.equal(1, #requests())
	end)

	it("is lazy: breaking out after item 7 of 5-item pages fetched two pages", function()
		for item in client:each("/link") do
			if item.id == 7 then
				break
			end
		end
		assert.are.equal(2, #requests())
	end)

	it("counts pages itself, stopping on a short or an empty page", function()
		local opts = { page = { param = "page", start = 1 }, items = "results" }
		assert.are.same(range(12), ids("/numbered", opts))
		assert.are.equal(3, #requests()) -- 5, 5, then a short page of 2
		assert.are.same(range(10), ids("/numbered", { page = {}, items = "results", query = { items = 10 } }))
		assert.are.equal(3, #requests()) -- 5, 5, then an empty page
	end)

	it("reads a cursor from a dotted path into the body", function()
		assert.are.same(range(12), ids("/cursor", { cursor = { param = "after", from = "paging.next" } }))
		assert.are.same({ "/cursor", "/cursor?after=5", "/cursor?after=10" }, requests())
	end)

	it("asks a next function, whose query replaces the last one's paging keys", function()
		local calls = 0
		local got = ids("/meta", {
			query = { size = 4 },
			next = function(body, res)
				calls = calls + 1
				assert.are.equal(200, res.status)
				local n = body.meta.next_page
				if n == pulse.null then
					return nil
				end
				return { page = n, [n % 2 == 0 and "even" or "odd"] = 1 }
			end,
		})
		assert.are.same(range(12), got)
		assert.are.equal(3, calls)
		assert.are.same({ "/meta?size=4", "/meta?even=1&page=2&size=4", "/meta?odd=1&page=3&size=4" }, requests())
		-- A URL goes as it is.
		local urls = ids("/link", {
			next = function(_, res)
				return res.headers.link and res.headers.link:match('<([^>]*)>; rel="next"')
			end,
		})
		assert.are.same(range(12), urls)
	end)

	it("iterates pages: the body and res of each", function()
		local sizes, nexts = {}, {}
		for body, res in client:pages("/meta") do
			sizes[#sizes + 1] = #body.data
			nexts[#nexts + 1] = res.next ~= nil
			assert.are.equal(200, res.status)
		end
		assert.are.same({ 5, 5, 2 }, sizes)
		assert.are.same({ true, true, false }, nexts)
	end)

	it("resumes from res.next, in a new client as well", function()
		local checkpoint
		for body, res in client:pages("/meta", { query = { size = 4 } }) do
			if body.meta.page == 2 then
				checkpoint = res.next
				break
			end
		end
		assert.is_string(checkpoint)
		requests()
		local other = pulse.new({ base_url = server.url, api_key = "k-pagination", retry = false })
		local rest = {}
		for item in other:each("/meta", { start = checkpoint }) do
			rest[#rest + 1] = item.id
		end
		other:close()
		assert.are.same({ 9, 10, 11, 12 }, rest)
		assert.are.same({ "/meta?page=3&size=4" }, requests())
	end)

	it("stops an endless next at max_pages, res.next still set", function()
		local count, last
		count = 0
		for _, res in client:pages("/endless", { max_pages = 25 }) do
			count, last = count + 1, res
		end
		assert.are.equal(25, count)
		assert.is_string(last.next)
		assert.are.equal(25, #requests())
	end)

	it("raises the failing page's err, with err.page, after the pages before it", function()
		local got = {}
		local ok, err = pcall(function()
			for item in client:each("/failing", { query = { size = 2 } }) do
				got[#got + 1] = item.id
			end
		end)
		assert.is_false(ok)
		assert.is_true(pulse.is_error(err), tostring(err))
		assert.are.equal(3, err.page)
		assert.are.equal("client", err.kind)
		assert.are.equal(400, err.status)
		assert.are.same(range(4), got)
	end)

	it("refuses a next link on another origin, with err.page", function()
		local ok, err = pcall(function()
			for _ in client:pages("/foreign") do -- luacheck: ignore 512
			end
		end)
		assert.is_false(ok)
		assert.are.equal("redirect", err.kind)
		assert.are.equal(1, err.page)
		assert.truthy(tostring(err):find("another origin", 1, true))
		assert.are.equal(1, #requests())
	end)

	it("stops a walk whose next page leads back to one it fetched, naming both", function()
		for _, case in ipairs({ { "/same", 3, 2, 2 }, { "/circle", 4, 2, 3 } }) do
			local route, again, first, calls = table.unpack(case)
			local before = #requests()
			local ok, err = pcall(function()
				for _ in client:pages(route) do -- luacheck: ignore 512
				end
			end)
			assert.is_false(ok)
			assert.are.equal("loop", err.kind)
			assert.are.equal(again, err.page)
			assert.matches(string.format("page %d is page %d again", again, first), tostring(err))
			assert.are.equal(calls, #requests() - before, "the repeat was not fetched")
		end
	end)

	it("walks lists in tasks at once, each yielding on its requests", function()
		local a, b
		pulse.run(function()
			local first = pulse.spawn(function()
				return ids("/link", { query = { items = 9 } })
			end)
			local second = pulse.spawn(function()
				return ids("/cursor", { query = { items = 8 }, cursor = { param = "after", from = "paging.next" } })
			end)
			a, b = first:join(), second:join()
		end)
		assert.are.same(range(9), a)
		assert.are.same(range(8), b)
	end)

	it("raises on misuse, at the caller", function()
		local function message(fn)
			local ok, err = pcall(fn)
			assert.is_false(ok)
			return err
		end
		assert.truthy(message(function()
			client:pages(42)
		end):find("path must be a string", 1, true))
		assert.truthy(message(function()
			client:each("/meta", { page = {}, cursor = { param = "a", from = "b" } })
		end):find("give one", 1, true))
		assert.truthy(message(function()
			client:each("/meta", { start = "not a checkpoint" })
		end):find("pagination_spec.lua", 1, true))
		assert.truthy(message(function()
			client.pages("/meta")
		end):find("with a colon", 1, true))
		assert.truthy(message(function()
			for _ in client:each("/meta", { items = "nope" }) do -- luacheck: ignore 512
			end
		end).message:find("no list at 'nope'", 1, true))
		assert.truthy(message(function()
			for _ in client:each("/meta", { bogus = 1 }) do -- luacheck: ignore 512
			end
		end):find("bogus", 1, true))
	end)
end)
