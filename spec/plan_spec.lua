-- A plan before the work (pulse.plan, queue:plan, --plan), and max_calls:
-- a batch or a drain that stops cleanly at that many calls, and goes on
-- from there when run again.

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
