-- The examples do their jobs, as the README shows them run.

local core = require("pulse.core")
local json = require("pulse.json")
local slow_server = require("support.slow_server")
local support = require("support.sandbox")

local function run(args)
	return support.run(support.BIN .. "/pulse-lua " .. args)
end

local function count_lines(text)
	local _, n = text:gsub("\n", "")
	return n
end

describe("examples", function()
	it("export_services.lua writes every service as CSV and JSON Lines", function()
		local jsonl = support.temp_path()
		local out, err, code = run("--sandbox examples/export_services.lua " .. jsonl)
		assert.are.equal(0, code, err)
		assert.are.equal("id,service,price,duration_minutes,staff", out:match("^[^\n]*"))
		assert.are.equal(13, count_lines(out), out) -- the sample data's 12 services
		assert.truthy(out:find("\n1,Haircut,", 1, true), out)
		local lines = 0
		for line in io.lines(jsonl) do
			local service = json.decode(line)
			lines = lines + 1
			assert.is_number(service.id)
			for _, member in ipairs(service.staff) do
				assert.is_string(member.name)
			end
		end
		os.remove(jsonl)
		assert.are.equal(12, lines)
		assert.truthy(err:find("exported 12 services", 1, true), err)
	end)

	it("import_customers.lua creates every customer once through Ctrl-C and kill -9", function()
		-- Its own sandbox, outliving the runs, behind a proxy that holds each
		-- write 1 s before the sandbox applies it (even once the run is gone:
		-- longer than a new run takes to start), and answered 150 ms after: a kill finds writes in flight,
		-- some not yet applied, some applied and unanswered.
		local sandbox = support.start({ rate_limit = "1000/1/1000", faults = "latency:ms=150:count=0:method=POST" })
		local slow = slow_server.start(sandbox, 1000)
		local journal = support.temp_path(".journal")
		-- A write out at the kill is held its timeout and settle: short ones.
		local env = string.format(
			"PULSE_BASE_URL=%s PULSE_API_KEY=%s IMPORT_TIMEOUT=2 IMPORT_SETTLE=0.5 ",
			slow.url,
			support.shell_quote(sandbox.key)
		)
		local command = string.format("%s/pulse-lua examples/import_customers.lua examples/data/customers.csv %s", support.BIN, journal)

		-- Ctrl-C: it stops taking rows, finishes those in flight, says so.
		local out, err, code = support.run("timeout -s INT 0.8 env " .. env .. command)
		assert.are.equal(124, code, err) -- timeout's status: it sent SIGINT
		assert.truthy(out:find("stopped by SIGINT: run it again to go on", 1, true), out)
		local after_interrupt = sandbox:stats().writes_applied
		assert.is_true(after_interrupt > 0 and after_interrupt < 48, "applied before Ctrl-C: " .. after_interrupt)

		-- kill -9 while writes are out.
		local pid = support.background(env .. command)
		local deadline = core.now() + 20
		while sandbox:stats().writes_applied < after_interrupt + 8 do
			assert(core.now() < deadline, "the second run made no progress")
			core.sleep(0.01)
		end
		-- The next write goes out 150 ms after that one is applied: killed
		-- 0.3 s in, it is at the proxy, to be applied after the run is gone.
		core.sleep(0.3)
		os.execute("kill -9 " .. pid)
		while support.alive(pid) do
			core.sleep(0.01)
		end
		assert.is_true(sandbox:stats().writes_applied < 48, "killed half way")

		out, err, code = support.run("env " .. env .. command)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("resuming: %d+ of 50 rows were settled in an earlier run"), out)
		assert.truthy(out:find("refused row-17 (donald.dijkstra at example.org)", 1, true), out)
		assert.truthy(out:find("refused row-38 (katherine.cerf at example.org)", 1, true), out)
		local client = sandbox:client()
		local n = 0
		for line in io.lines("examples/data/customers.csv") do
			local email = line:match(",([^,]+@[^,]+),")
			if email then
				n = n + 1
				local body = assert(client:get("/customers", { query = { email = email } }))
				assert.are.equal(1, body.meta.total, email .. " created " .. body.meta.total .. " times")
			end
		end
		assert.are.equal(48, n)
		assert.are.equal(48, sandbox:stats().writes_applied)
		client:close()
		slow:stop()
		sandbox:stop()
		os.remove(journal)
		os.remove(journal .. ".lock")
	end)

	it("booking_desk.lua books six customers, resolving each 409", function()
		local out, err, code = run("--sandbox examples/booking_desk.lua")
		assert.are.equal(0, code, err)
		local _, booked = out:gsub("clerk %d booked customer %d+ with [%a ]+ at %d%d:00", "")
		assert.are.equal(6, booked, out)
		local _, taken = out:gsub("was just taken; next slot", "")
		assert.is_true(taken > 0, out)
		assert.truthy(out:find(taken .. " conflicts answered 409 and resolved", 1, true), out)
	end)

	it("nightly_sync.lua reports what was added, changed and removed since its snapshot", function()
		local snapshot = support.temp_path()
		local out, err, code = run("--sandbox examples/nightly_sync.lua --demo " .. snapshot)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("first run: 30 bookings", 1, true), out)
		assert.truthy(out:find("30 bookings: 1 added, 1 changed, 1 removed", 1, true), out)
		assert.truthy(out:find("changed  #2 start", 1, true), out)
		assert.truthy(out:find("removed  #3 ", 1, true), out)
		-- A fresh sandbox has the snapshot's first state back: the reverse.
		out, err, code = run("--sandbox examples/nightly_sync.lua " .. snapshot)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("30 bookings: 1 added, 1 changed, 1 removed", 1, true), out)
		assert.truthy(out:find("added    #3 ", 1, true), out)
		support.write_file(snapshot, "{")
		out, err, code = run("--sandbox examples/nightly_sync.lua " .. snapshot)
		assert.are.equal(1, code)
		assert.are.equal("", out)
		assert.truthy(err:find("is not a snapshot this script wrote", 1, true), err)
		os.remove(snapshot)
		out, err, code = support.run(
			"PULSE_BASE_URL=https://api.example.com PULSE_API_KEY=k "
				.. support.BIN
				.. "/pulse-lua examples/nightly_sync.lua --demo "
				.. snapshot
		)
		assert.are.equal(1, code)
		assert.are.equal("", out) -- refused before any request
		assert.truthy(err:find("run it against the sandbox", 1, true), err)
	end)

	it("collection_tour.lua calls the sandbox through its Postman collection", function()
		local out, err, code = run("--sandbox examples/collection_tour.lua")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("Pulse sandbox (Postman Collection v2.1.0): 20 endpoints", 1, true), out)
		assert.truthy(out:find("customer 46: Grace Hopper", 1, true), out)
		assert.truthy(out:find("read back: customer 46, staff 7", 1, true), out)
		assert.truthy(out:find("bookings page 2: 5 of them", 1, true), out)
	end)

	-- With a bucket each, these 4 workers draw 4-6 answers of 429.
	it("shared_limit.lua splits a job over workers that share one bucket", function()
		local out, err, code = run("--sandbox-rate-limit 10/1/10 examples/shared_limit.lua 4")
		assert.are.equal(0, code, err)
		local refreshed, failed, rejected = 0, 0, 0
		for ok, bad, r429 in out:gmatch("worker %d+: (%d+) refreshed, (%d+) failed, (%d+) answers of 429") do
			refreshed, failed, rejected = refreshed + ok, failed + bad, rejected + r429
		end
		assert.are.equal(45, refreshed, out)
		assert.are.equal(0, failed, out)
		assert.are.equal(0, rejected, out)
		assert.truthy(out:find("45 customers refreshed by 4 workers", 1, true), out)
		assert.truthy(out:find("10 calls every 1 s", 1, true), out)
	end)
end)
