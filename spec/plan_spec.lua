-- A plan before the work (pulse.plan, queue:plan, --plan), and max_calls:
-- a batch or a drain that stops cleanly at that many calls, and goes on
-- from there when run again.

local core = require("pulse.core")
local plan = require("pulse.plan")
local pulse = require("pulse")
local support = require("support.sandbox")

describe("a plan", function()
	it("counts the tokens left now, then a limit at each refill, after a 429's block", function()
		local view = { limit = 5, window = 1, remaining = 2, reset = 0.5, blocked = 0 }
		assert.are.equal(0, plan.seconds(2, view), "what is left goes at once")
		assert.are.equal(0.5, plan.seconds(7, view), "2 now, 5 at the refill")
		assert.are.equal(1.5, plan.seconds(12, view), "2 now, then 5, then 5 a window later")
		view.blocked = 4
		assert.are.equal(4, plan.seconds(5, view), "nothing before the block ends")
		local p = { calls = 130, seconds = 125, rate = { limit = 60, window = 60, remaining = 10 } }
		assert.are.equal("130 calls, about 2 min 5 s (the bucket: 60 calls every 60 s, 10 left now)", plan.describe(p))
		p.seconds = 179.4 -- rounded once: not "2 min 60 s"
		assert.truthy(plan.describe(p):find("about 3 min 0 s", 1, true), plan.describe(p))
	end)

	it("counts the callers waiting ahead, and a reserve a bulk job reaches only shortly before each refill", function()
		local view = { limit = 10, window = 5, remaining = 10, reset = 3, blocked = 0 }
		local bulk = { ahead = 0, held = 2 }
		assert.are.equal(0, plan.seconds(8, view, bulk), "8 outside the reserve go at once")
		assert.are.equal(2.5, plan.seconds(9, view, bulk), "the 9th at the reserve's release, half a second early")
		assert.are.equal(3, plan.seconds(18, view, bulk), "8 more at the refill")
		assert.are.equal(7.5, plan.seconds(19, view, bulk), "the 19th from the next window's reserve")
		assert.are.equal(3, plan.seconds(19, view), "a normal job spends the reserve at once")
		assert.are.equal(3, plan.seconds(5, view, { ahead = 6, held = 0 }), "6 waiting first leave 4 now")
	end)

	it("plans a drain in its lane on a shared bucket, behind the callers other processes have waiting", function()
		local shm, journal = support.temp_path(), support.temp_path(".journal")
		local other = core.limiter({ url = "shm:" .. shm, bucket = "org", limit = 10, window = 60, burst = 10 })
		assert.is_true(other:set_reserve(0.2))
		local taken, first = other:take()
		assert.are.equal(0, taken)
		-- The server's word: nothing left, 30 s to the refill.
		local policy = "Organization-RateLimit-Limit: 10;w=60;b=10\r\n"
		other:observe(200, policy .. "RateLimit-Remaining: 0\r\nRateLimit-Reset: 30\r\n", nil, first)
		local _, interactive = other:take(nil, "interactive", 0)
		local _, bulk = other:take(nil, "bulk", 0)
		assert.is_true(interactive > 0 and bulk > 0, "both wait in line")
		local client = pulse.new({ api_key = "k", base_url = "http://127.0.0.1:9", limiter = "shm:" .. shm, bucket = "org" })
		assert.are.same(
			{ reserve = 0.2, waiting = { interactive = 1, normal = 0, bulk = 1 }, priority = "normal" },
			client:lanes()
		)
		local q = assert(pulse.queue.open("file:" .. journal))
		for i = 1, 17 do
			assert(q:push({ method = "POST", path = support.GUESTS, json = { n = i } }))
		end
		-- Bulk: behind both, 10 at the refill (8 then, 2 of the reserve at
		-- its release a second before the next), then 9 of the next: the
		-- 9th needs that window's reserve too.
		local p = assert(q:plan(client))
		assert.are.equal("bulk", p.priority)
		assert.are.equal(2, p.ahead)
		assert.is_true(p.seconds > 148 and p.seconds <= 149, tostring(p.seconds))
		assert.truthy(plan.describe(p):find("bulk lane, 2 calls ahead, reserve 0.2 for interactive calls", 1, true))
		-- Normal: behind the interactive caller only, and the reserve is its own.
		p = assert(q:plan(client, { priority = "normal" }))
		assert.are.equal(1, p.ahead)
		assert.is_true(p.seconds > 89 and p.seconds <= 90, tostring(p.seconds))
		local ok, err = pcall(q.plan, q, client, { priority = "urgent" })
		assert.is_false(ok)
		assert.truthy(tostring(err):find("option 'priority' must be", 1, true), tostring(err))
		q:close()
		client:close()
		os.remove(shm)
		os.remove(journal)
	end)
end)

describe("max_calls and --plan", function()
	local sandbox, journal

	setup(function()
		sandbox = support.start({ rate_limit = "1000/1/1000" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		sandbox:reset()
		journal = support.temp_path(".journal")
	end)

	after_each(function()
		os.remove(journal)
	end)

	local function runner(args)
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		return support.run("env " .. env .. support.BIN .. "/pulse-lua " .. args)
	end

	local function pushed(n)
		local q = assert(pulse.queue.open("file:" .. journal))
		for i = 1, n do
			assert(q:push({ method = "POST", path = support.GUESTS, json = sandbox:guest(i), id = "guest-" .. i }))
		end
		return q
	end

	it("stops a batch at max_calls; the requests not started end cancelled, to run again", function()
		local client = sandbox:client()
		local list = {}
		for i = 1, 10 do
			list[i] = { "GET", sandbox:item(i) }
		end
		local results = client:batch(list, { concurrency = 3, max_calls = 4 })
		assert.are.equal(4, sandbox:stats().requests)
		assert.are.equal(4, client:calls())
		local again = {}
		for i, r in ipairs(results) do
			if r.err then
				assert.are.equal("cancelled", r.err.kind)
				assert.truthy(tostring(r.err):find("max_calls", 1, true), tostring(r.err))
				again[#again + 1] = list[i]
			end
		end
		assert.are.equal(6, #again)
		for _, r in ipairs(client:batch(again)) do
			assert.is_table(r.body)
		end
		assert.are.equal(10, sandbox:stats().requests, "none sent twice")
	end)

	it("stops a drain at max_calls; the next drain goes on from there; the plan said how many", function()
		local q = pushed(12)
		local client = sandbox:client()
		local p = q:plan(client)
		assert.are.equal(12, p.calls)
		assert.are.equal(12, p.entries)
		local report = assert(q:drain(client, { workers = 2, max_calls = 5 }))
		assert.are.equal("max_calls", report.stopped)
		assert.are.equal(5, report.calls)
		assert.are.same({ 5, 0, 7 }, { report.done, report.dead, report.pending })
		assert.are.equal(5, sandbox:stats().writes_applied)
		assert.are.equal(7, q:plan(client).calls)
		report = assert(q:drain(client, { workers = 2 }))
		assert.are.same({ 7, 0, 0 }, { report.done, report.dead, report.pending })
		assert.is_nil(report.stopped)
		assert.are.equal(12, sandbox:stats().writes_applied, "each write applied once")
		q:close()
	end)

	it("plans and drains a queue from the command line, --max-calls resumable", function()
		pushed(6):close()
		local out, err, code = runner("--queue file:" .. journal .. " --plan")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("6 pending, 0 uncertain", 1, true), out)
		assert.truthy(out:find("6 calls, at once", 1, true), out)
		assert.are.equal(0, sandbox:stats().requests, "a plan sends nothing")
		out, err, code = runner("--queue file:" .. journal .. " --drain --max-calls 4")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("4 done, 0 dead, 2 left, 4 calls (--max-calls 4: run it again to go on)", 1, true), out)
		out, err, code = runner("--queue file:" .. journal .. " --drain")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("2 done, 0 dead, 0 left, 2 calls", 1, true), out)
		assert.are.equal(6, sandbox:stats().writes_applied)
		out, err, code = runner("--queue file:" .. journal .. " --drain --max-calls 0")
		assert.are.equal(1, code, out)
		assert.truthy(err:find("--max-calls takes a whole number of calls, 1 or more, not '0'", 1, true), err)
		out, err, code = runner("--plan")
		assert.are.equal(1, code, out)
		assert.truthy(err:find("'--plan' goes with '--collection FILE' or '--queue URL'", 1, true), err)
		out, err, code = runner("--queue file:" .. journal .. " --status --max-calls 3")
		assert.are.equal(1, code, out)
		assert.truthy(err:find("'--max-calls N' goes with '--queue URL --drain'", 1, true), err)
	end)

	it("plans a walk by the page_info of a first page the cache holds, less the pages it holds fresh", function()
		local client = sandbox:client({ cache = { ttl = 60 } })
		local api = client:api()
		local center = assert(client:get("/v1/centers")).centers[1]
		local args = { center_id = center.id, size = 50 }
		local p = api.guests.list:plan(args)
		assert.are.same({ 1, 1, false, 0 }, { p.calls, p.pages, p.pages_known, p.cached })
		assert.truthy(plan.describe(p):find("^at least 1 call,"), plan.describe(p))
		local first = assert(api.guests.list({ center_id = center.id, page = 1, size = 50 }))
		local pages = math.ceil(first.page_Info.total / 50)
		assert.is_true(pages >= 3, "a walk of several pages")
		local before = sandbox:stats().requests
		p = api.guests.list:plan(args)
		assert.are.equal(before, sandbox:stats().requests, "a plan sends nothing")
		assert.are.same({ pages - 1, pages, true, 1 }, { p.calls, p.pages, p.pages_known, p.cached })
		local walked = 0
		for _ in api.guests.list:pages(args) do
			walked = walked + 1
		end
		assert.are.equal(pages, walked)
		assert.are.equal(p.calls, sandbox:stats().requests - before, "the walk spent what the plan said")
		p = api.guests.list:plan(args, { priority = "bulk" })
		assert.are.same({ 0, pages, "bulk" }, { p.calls, p.cached, p.priority })
		-- A window operation's calls are its windows: 20 days, 3 of 7.
		p = api.appointments.list:plan({ center_id = center.id, start_date = "2026-11-01", end_date = "2026-11-20" })
		assert.are.same({ 3, 3, true }, { p.calls, p.pages, p.pages_known })
		local ok, err = pcall(api.guests.list.plan, api.guests.list, "x")
		assert.is_false(ok)
		assert.truthy(tostring(err):find("api.guests.list:plan: args must be a table, got string", 1, true), tostring(err))
		client:close()
	end)

	it("plans a collection's run within 10% of the calls it then spends, sending nothing", function()
		local collection = support.temp_path(".json")
		local data = support.temp_path(".csv")
		support.write_file(collection, require("pulse.json").encode({
			info = { name = "plan", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				{ name = "Centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers?page={{page}}" } },
				{ name = "Again", request = { method = "GET", url = "{{baseUrl}}/v1/centers?page={{page}}&size=5" } },
			},
		}))
		support.write_file(data, "page\n1\n2\n3\n")
		local args = "--collection " .. collection .. " --data " .. data
		local out, err, code = runner(args .. " --plan")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("2 requests x 3 rows", 1, true), out)
		local planned = tonumber(out:match("(%d+) calls"))
		assert.are.equal(0, sandbox:stats().requests)
		out, err, code = runner(args)
		assert.are.equal(0, code, err)
		local sent = tonumber(out:match("(%d+) sent"))
		assert.is_true(math.abs(planned - sent) <= 0.1 * sent, planned .. " planned, " .. sent .. " sent")
		os.remove(collection)
		os.remove(data)
	end)
end)
