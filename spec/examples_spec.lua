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
	it("export_guests.lua writes every guest of every center as CSV, 100 a page", function()
		local csv = support.temp_path(".csv")
		local out, err, code = run("--sandbox examples/export_guests.lua " .. csv)
		assert.are.equal(0, code, err)
		assert.are.equal("", out)
		-- 1 call for the centers, 2 pages of 100 for each center's 200 guests
		assert.truthy(err:find("exported 600 guests of 3 centers in 7 calls", 1, true), err)
		local text = assert(support.read_file(csv))
		assert.are.equal("guest_id,center,first_name,last_name,email,mobile", text:match("^[^\n]*"))
		assert.are.equal(601, count_lines(text))
		local ids = {}
		for id in text:gmatch("\n(%x+%-[%x-]+),") do
			assert.is_nil(ids[id], id)
			ids[id] = true
		end
		os.remove(csv)
	end)

	it("export_service_menu.lua writes the menu, and a second run on one server costs 0 calls", function()
		local sandbox = support.start({})
		local dir = support.temp_path(".cache")
		local env = string.format(
			"PULSE_BASE_URL=%s PULSE_API_KEY=%s PULSE_MENU_CACHE=%s ",
			sandbox.url,
			support.shell_quote(sandbox.key),
			dir
		)
		local out, err, code = support.run("env " .. env .. support.BIN .. "/pulse-lua examples/export_service_menu.lua")
		assert.are.equal(0, code, err)
		assert.are.equal("center,service,code,price,duration_minutes,therapists", out:match("^[^\n]*"))
		assert.are.equal(37, count_lines(out), out) -- 12 services in each of 3 centers
		assert.truthy(out:find("\n[^,\n]+,[^,\n]+,%u+%d*,%d+%.%d%d,%d+,%a+ %a+"), out)
		-- 1 for the centers, 1 for each center's services, 1 for each service's therapists
		assert.truthy(err:find("exported 36 services in 40 calls (0 answered from the cache", 1, true), err)
		local before = sandbox:stats().requests
		local again, err2, code2 = support.run("env " .. env .. support.BIN .. "/pulse-lua examples/export_service_menu.lua")
		assert.are.equal(0, code2, err2)
		assert.are.equal(out, again)
		assert.truthy(err2:find("exported 36 services in 0 calls (40 answered from the cache", 1, true), err2)
		assert.are.equal(before, sandbox:stats().requests)
		-- another key does not read what this one stored: the server refuses it
		local _, err3, code3 = support.run(
			"env " .. env .. "PULSE_API_KEY=wrong " .. support.BIN .. "/pulse-lua examples/export_service_menu.lua"
		)
		assert.are.equal(1, code3)
		assert.truthy(err3:find("auth (HTTP 401)", 1, true), err3)
		sandbox:stop()
		os.execute("rm -rf " .. support.shell_quote(dir))
	end)

	it("book_appointment.lua books, pays and closes or leaves open as the API allows", function()
		local out, err, code = run("--sandbox examples/book_appointment.lua --date " .. support.bookable_day(1))
		assert.are.equal(0, code, err)
		assert.truthy(out:find("guest     Ada Lovelace (created)", 1, true), out)
		assert.truthy(out:find("\nbooked    %d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d"), out)
		assert.truthy(out:find("\npaid      %d+%.%d%d on invoice %d+"), out)
		assert.truthy(out:find("stays open until the appointment's day (code 1113)", 1, true), out)
		assert.truthy(out:find("\n12 calls", 1, true), out)
		local _, usage_err, usage_code = run("--sandbox examples/book_appointment.lua --date tomorrow")
		assert.are.equal(1, usage_code)
		assert.truthy(usage_err:find("usage: book_appointment.lua", 1, true), usage_err)
	end)

	it("book_appointment.lua finds the guest on a second run, and tries the next slot when one expires", function()
		-- A reservation is held 0.2 s: one answered 0.5 s late has expired
		-- when the confirmation comes.
		local sandbox = support.start({ args = "--reservation-hold 0.2" })
		local env = string.format("PULSE_BASE_URL=%s PULSE_API_KEY=%s ", sandbox.url, support.shell_quote(sandbox.key))
		local function command(date)
			return "env " .. env .. support.BIN .. "/pulse-lua examples/book_appointment.lua grace@example.com --date " .. date
		end
		local day = support.bookable_day(2)
		local out, err, code = support.run(command(day))
		assert.are.equal(0, code, err)
		assert.truthy(out:find("(created)", 1, true), out)
		assert.is_nil(out:find("trying the next", 1, true), out)
		-- The next run's first POSTs (the booking, the first reserve) are
		-- answered late: that reservation expires, the next slot is booked.
		sandbox:fault("latency:ms=500:count=2:method=POST")
		out, err, code = support.run(command(day))
		assert.are.equal(0, code, err)
		assert.truthy(out:find("Ada Lovelace (found by e-mail)", 1, true), out)
		assert.truthy(out:find("not confirmed (", 1, true) and out:find("trying the next", 1, true), out)
		assert.truthy(out:find("\nbooked    ", 1, true), out)
		sandbox:stop()
	end)

	it("sync_appointments.lua copies every center's appointments in 7-day windows, resuming after kill -9", function()
		local first, last = os.date("%Y-%m-%d", os.time() - 14 * 86400), os.date("%Y-%m-%d", os.time() + 13 * 86400)
		-- a slow limit (5 calls a second), so that the kill finds it half way
		local sandbox = support.start({ rate_limit = "5/1/5" })
		local env = string.format("PULSE_BASE_URL=%s PULSE_API_KEY=%s ", sandbox.url, support.shell_quote(sandbox.key))
		local whole, cut = support.temp_path(".jsonl"), support.temp_path(".jsonl")
		local function command(out)
			return string.format("%s/pulse-lua examples/sync_appointments.lua %s %s %s", support.BIN, out, first, last)
		end
		local out, err, code = support.run("env " .. env .. command(whole))
		assert.are.equal(0, code, err)
		-- 28 days: 4 windows for each of 3 centers, and the centers' list
		assert.truthy(out:find("of 3 centers, " .. first .. " to " .. last .. ", in " .. whole .. "; 13 calls", 1, true), out)
		local n = tonumber(out:match("^(%d+) appointments"))
		assert.is_true(n > 100, out)
		local pid = support.background(env .. command(cut))
		local deadline = core.now() + 20
		repeat
			core.sleep(0.05)
			assert(core.now() < deadline, "no checkpoint written")
		until support.read_file(cut .. ".checkpoint")
		core.sleep(0.3)
		os.execute("kill -9 " .. pid)
		while support.alive(pid) do
			core.sleep(0.01)
		end
		assert.truthy(support.read_file(cut .. ".checkpoint"), "killed before the end")
		core.sleep(1.1) -- the bucket the killed run drained refills: the next run meets no 429
		local before = sandbox:stats().requests
		out, err, code = support.run("env " .. env .. command(cut))
		assert.are.equal(0, code, err)
		assert.truthy(err:find("resuming at center", 1, true), err)
		local calls = tonumber(out:match("; (%d+) calls"))
		assert.is_true(calls < 13, "the second run asked again what the first had: " .. out)
		assert.are.equal(calls, sandbox:stats().requests - before, "no 429: the limit was kept")
		assert.is_nil(support.read_file(cut .. ".checkpoint"))
		-- The same appointments, each once (a line's key order is the
		-- encoder's, which may differ between processes).
		local function ids_of(path)
			local ids, count = {}, 0
			for line in io.lines(path) do
				local id = json.decode(line).appointment_id
				assert.is_nil(ids[id], "written twice: " .. id)
				ids[id], count = true, count + 1
			end
			return ids, count
		end
		local a, a_count = ids_of(whole)
		local b, b_count = ids_of(cut)
		assert.are.equal(n, a_count)
		assert.are.equal(a_count, b_count)
		assert.are.same(a, b)
		sandbox:stop()
		os.remove(whole)
		os.remove(cut)
	end)

	it("import_guests.lua creates every guest once through Ctrl-C and kill -9", function()
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
		local command = string.format("%s/pulse-lua examples/import_guests.lua examples/data/guests.csv %s", support.BIN, journal)

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
		assert.truthy(out:find("refused row-17 (donald.dijkstra@example.org)", 1, true), out)
		assert.truthy(out:find("refused row-38 (katherine.cerf@example.org)", 1, true), out)
		local client = sandbox:client()
		local api = client:api()
		local n = 0
		for line in io.lines("examples/data/guests.csv") do
			local last, email = line:match("^[^,]*,([^,]*),([^,]+@[^,]+),")
			if email and last ~= "" then
				n = n + 1
				local body = assert(api.guests.search({ email = email }))
				assert.are.equal(1, body.page_info.total, email .. " created " .. body.page_info.total .. " times")
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
		assert.truthy(out:find("45 guests refreshed by 4 workers", 1, true), out)
		assert.truthy(out:find("10 calls every 1 s", 1, true), out)
	end)
end)
