-- The durable write queue on a local journal: every write applied once,
-- through kill -9, torn journals, 503 storms and SIGTERM, checked on the
-- sandbox's side (its guests, looked up by e-mail, and its log). A slow
-- server and a kill loop: queue_settle_spec.lua; damage, second names and
-- planted files: queue_journal_spec.lua.

local core = require("pulse.core")
local pulse = require("pulse")
local guests = require("support.guests")
local drainer = require("support.drainer")
local support = require("support.sandbox")

local row, push_rows, applied = guests.row, guests.push, guests.applied
local reconcile_by_email = guests.reconcile

local function journal_path()
	return support.temp_path(".journal")
end

local function remove_journal(path)
	os.remove(path)
	os.remove(path .. ".lock")
end

-- Waits (up to 20 s) until the sandbox has applied n writes.
local function wait_applied(sandbox, n)
	local deadline = core.now() + 20
	while sandbox:stats().writes_applied < n do
		assert(core.now() < deadline, "the sandbox applied " .. sandbox:stats().writes_applied .. " of " .. n .. " writes")
		core.sleep(0.02)
	end
end

describe("pulse.queue (file journal)", function()
	local sandbox, client, journal

	before_each(function()
		sandbox = support.start({ log = true })
		client = sandbox:client()
		journal = journal_path()
	end)

	after_each(function()
		client:close()
		sandbox:stop()
		remove_journal(journal)
	end)

	it("applies every pushed write once, and a repeated id is not queued again", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 30)
		local id, queued, why = q:push({ method = "POST", path = guests.PATH, json = row(3), id = row(3).personal_info.email })
		assert.are.same({ "q3@example.org", false, "pending" }, { id, queued, why })
		assert.are.same({ pending = 30, uncertain = 0, done = 0, dead = 0, settling = 0, damaged = 0 }, q:stats())
		local calls = {}
		local report = assert(q:drain(client, {
			workers = 4,
			on_progress = function(done, total, info)
				calls[#calls + 1] = { done, total, info.ok }
			end,
		}))
		assert.are.same({ done = 30, dead = 0, pending = 0, calls = 30 }, report)
		assert.are.equal(30, #calls)
		assert.are.same({ 30, 30, 30 }, calls[30])
		for i = 1, 30 do
			assert.are.equal(1, applied(client, row(i).personal_info.email))
		end
		-- Done, and inside the dedupe window: still not queued again.
		id, queued, why = q:push({ method = "POST", path = guests.PATH, json = row(3), id = row(3).personal_info.email })
		assert.are.same({ "q3@example.org", false, "done" }, { id, queued, why })
		q:close()
		-- With no window, a done id may come again.
		q = assert(pulse.queue.open("file:" .. journal, { dedupe_window = 0 }))
		assert.is_true(select(2, q:push({ method = "POST", path = guests.PATH, json = row(3), id = row(3).personal_info.email })))
		q:close()
	end)

	it("makes an id for an entry pushed without one, and checks what is pushed", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		local a = assert(q:push({ method = "PUT", path = "/v1/invoices/a/cancel" }))
		local b = assert(q:push({ method = "PUT", path = "/v1/invoices/b/cancel" }))
		assert.is_string(a)
		assert.are_not.equal(a, b)
		assert.has_error(function()
			q:push({ method = "post", path = "/x" })
		end, 'pulse.queue: push: method must be an upper-case string like "POST"')
		assert.has_error(function()
			q:push({ method = "POST", path = "/x", jsn = {} })
		end)
		assert.has_error(function()
			q:push({ method = "POST", path = "/x", json = { f = function() end } })
		end)
		-- No key goes into the journal's file.
		assert.has_error(function()
			q:push({ method = "POST", path = "/x", headers = { AUTHORIZATION = "Api-key secret" } })
		end, "pulse.queue: push: no Authorization header: the client that drains the queue sends its key")
		assert.is_nil(support.read_file(journal):find("secret", 1, true))
		assert.has_error(function()
			pulse.queue.open("file:" .. journal, { sync = "never" })
		end, 'pulse.queue: open: sync must be "each" or "batch", got "never"')
		assert.has_error(function()
			pulse.queue.open("/no/scheme")
		end)
		local none, why = pulse.queue.open("file:/nonexistent-dir/x.journal")
		assert.is_nil(none)
		assert.matches("cannot open", why)
		q:close()
		assert.has_error(function()
			q:push({ method = "POST", path = "/x" })
		end, "pulse.queue: push: the queue is closed")
		-- A journal removed while open is made anew, a journal again.
		local again = assert(pulse.queue.open("file:" .. journal))
		os.remove(journal)
		assert(again:push({ method = "POST", path = "/x" }))
		again:close()
		again = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(1, again:stats().pending)
		-- Replaced by some other file, it is refused, and the file kept.
		support.write_file(journal .. ".other", "precious data\n")
		assert(os.rename(journal .. ".other", journal))
		local none_pushed, replaced_why = again:push({ method = "POST", path = "/y" })
		assert.is_nil(none_pushed)
		assert.matches("replaced by a file that is not a pulse queue journal", replaced_why)
		assert.are.equal("precious data\n", support.read_file(journal))
		again:close()
		os.remove(journal)
		-- A file that is not a journal is refused, and left as it was.
		local other = support.temp_path(".txt")
		support.write_file(other, "precious data\n")
		none, why = pulse.queue.open("file:" .. other)
		assert.is_nil(none)
		assert.matches("is not a pulse queue journal", why)
		assert.are.equal("precious data\n", support.read_file(other))
		os.remove(other)
	end)

	it("loses no flushed push to a torn tail, and cuts the tail off", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 5)
		q:close()
		local whole = assert(support.read_file(journal))
		-- A sixth record cut half way, as a crash mid-write leaves it.
		q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 6)
		q:close()
		local longer = assert(support.read_file(journal))
		assert.is_true(#longer > #whole)
		support.write_file(journal, longer:sub(1, #whole + (#longer - #whole) // 2))
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(5, q:stats().pending)
		assert.are.equal(#whole, #support.read_file(journal)) -- the torn record is gone
		-- Garbage after whole records is a torn tail too.
		q:close()
		support.write_file(journal, whole .. "\255\0\0\0garbage")
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(5, q:stats().pending)
		push_rows(q, 7) -- 6 and 7 are new; appended after the cut, they read back
		q:close()
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(7, q:stats().pending)
		q:close()
		-- A creator killed while writing the journal's first bytes.
		support.write_file(journal, "pulse-q")
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(0, q:stats().pending)
		assert.are.equal("pulse-queue 1\n", support.read_file(journal))
		q:close()
	end)

	it("with sync = batch promises the pushes flush made durable", function()
		local q = assert(pulse.queue.open("file:" .. journal, { sync = "batch" }))
		push_rows(q, 4)
		assert.are.equal("pulse-queue 1\n", support.read_file(journal)) -- no record written yet
		assert(q:flush())
		local other = assert(pulse.queue.open("file:" .. journal))
		assert.are.equal(4, other:stats().pending)
		other:close()
		q:close()
	end)

	it("makes a refused write a dead letter at once, and a storm of 503s one after max_failures", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		q:push({ method = "POST", path = guests.PATH, json = guests.refused(), id = "bad" })
		q:push({ method = "PUT", path = "/v1/appointments/00000000-0000-4000-8000-000000000000/check_in", id = "gone" })
		local results = {}
		local report = assert(q:drain(client, {
			on_result = function(entry, outcome, err)
				results[entry.id] = { outcome, err.status }
			end,
		}))
		assert.are.same({ done = 0, dead = 2, pending = 0, calls = 2 }, report)
		assert.are.same({ bad = { "dead", 400 }, gone = { "dead", 404 } }, results)
		local dead = q:dead()
		assert.are.equal(2, #dead)
		assert.are.equal("bad", dead[1].id)
		assert.are.equal("No last name", dead[1].json.personal_info.first_name)
		assert.matches("HTTP 400", dead[1].reason)
		assert.matches("last_name is missing", dead[1].reason)

		-- 503 on every POST: retried by the client, then backed off by the
		-- queue, then dead after max_failures.
		sandbox:fault("503:count=0:method=POST")
		q:push({ method = "POST", path = guests.PATH, json = row(1), id = "storm" })
		local no_retry = sandbox:client({ retry = false })
		report = assert(q:drain(no_retry, { max_failures = 3, backoff = { base = 0.01, cap = 0.02 } }))
		assert.are.same({ done = 0, dead = 1, pending = 0, calls = 3 }, report)
		assert.matches("failure 3 of 3", q:dead()[3].reason)
		assert.are.equal(0, sandbox:stats().writes_applied)

		-- The storm passes: retry_dead puts the dead letters back.
		sandbox:clear_faults()
		assert.are.equal(1, q:retry_dead({ "storm" }))
		report = assert(q:drain(no_retry))
		assert.are.same({ done = 1, dead = 0, pending = 0, calls = 1 }, report)
		assert.are.equal(1, applied(client, row(1).personal_info.email))
		assert.are.equal(2, #q:dead())
		no_retry:close()
		q:close()
	end)

	it("applies the entries of one key in push order", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		sandbox:fault("latency:ms=30:count=0:method=POST")
		for i = 1, 12 do
			-- Three keys, four entries each, pushed interleaved.
			local key = "k" .. (i % 3)
			q:push({ method = "POST", path = guests.PATH, json = row(i, key .. "-"), key = key })
		end
		assert(q:drain(client, { workers = 4 }))
		-- The center's list holds guests in the order the sandbox made them.
		local places = guests.places(client)
		for k = 0, 2 do
			local last = 0
			for i = 1, 12 do
				if i % 3 == k then
					local place = places[row(i, "k" .. k .. "-").personal_info.email][1]
					assert.is_true(place > last, "entry " .. i .. " of key k" .. k .. " applied out of order")
					last = place
				end
			end
		end
		q:close()
	end)

	it("asks reconcile about a write whose answer was lost, and never resends it blindly", function()
		-- Held its timeout and settle before it is reconciled: short ones.
		client:close()
		client = sandbox:client({ timeout = 1 })
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 2)
		-- The first POST is applied, then its connection dropped.
		sandbox:fault("drop_after:count=1:method=POST")
		local report = assert(q:drain(client, { workers = 1 }))
		assert.are.same({ done = 1, dead = 1, pending = 0, calls = 2 }, report)
		assert.matches("no reconcile", q:dead()[1].reason)
		assert.are.equal(2, sandbox:stats().writes_applied)

		-- retry_dead puts it back as it was, uncertain: with a reconcile it
		-- is found applied and done without a second POST.
		assert.are.equal(1, q:retry_dead())
		local asked = 0
		local function counted(entry, c)
			asked = asked + 1
			return reconcile_by_email(entry, c)
		end
		report = assert(q:drain(client, {
			reconcile = counted,
			settle = 0.1,
		}))
		assert.are.equal(1, asked)
		assert.are.same({ done = 1, dead = 0, pending = 0, calls = 1 }, report)
		assert.are.equal(2, sandbox:stats().writes_applied)

		-- Uncertain, then found not applied (reconcile says false): sent.
		q:push({ method = "POST", path = guests.PATH, json = row(8), id = "not-applied" })
		sandbox:fault("drop:count=1:method=POST") -- dropped before it is handled
		report = assert(q:drain(client, {
			backoff = { base = 0.01, cap = 0.02 },
			reconcile = counted,
			settle = 0.1,
		}))
		assert.are.equal(1, applied(client, row(8).personal_info.email))
		assert.are.same({ done = 1, dead = 0, pending = 0, calls = 3 }, report)
		asked = 0

		q:push({ method = "POST", path = guests.PATH, json = row(9), id = "lost" })
		sandbox:fault("drop_after:count=1:method=POST")
		report = assert(q:drain(client, {
			max_failures = 5,
			backoff = { base = 0.01, cap = 0.02 },
			reconcile = counted,
			settle = 0.1,
		}))
		assert.are.equal(1, asked)
		assert.are.same({ done = 1, dead = 0, pending = 0, calls = 2 }, report)
		assert.are.equal(1, applied(client, row(9).personal_info.email))
		q:close()
	end)

	it("refuses a second drainer, naming the holder's pid; a killed holder's lock is taken at once", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 40)
		sandbox:fault("latency:ms=200:count=0:method=POST")
		local pid, out = drainer.start(sandbox, journal, { mode = "reconcile", workers = 1, env = { QUEUE_TIMEOUT = "1" } })
		wait_applied(sandbox, 1)
		local none, why = q:drain(client)
		assert.is_nil(none)
		assert.matches("being drained by another process %(pid " .. pid .. "%)", why)
		os.execute("kill -9 " .. pid)
		drainer.wait_exit(pid)
		os.remove(out)
		sandbox:clear_faults()
		local report = assert(q:drain(client, {
			reconcile = reconcile_by_email,
			settle = 0.1,
		}))
		assert.are.equal(0, report.pending)
		for i = 1, 40 do
			assert.are.equal(1, applied(client, row(i).personal_info.email))
		end
		q:close()
	end)

	it("on SIGTERM stops taking entries, finishes the writes in flight and records them", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 60)
		sandbox:fault("latency:ms=400:count=0:method=POST")
		local pid, out = drainer.start(sandbox, journal, { mode = "none", workers = 4 })
		wait_applied(sandbox, 4)
		os.execute("kill -TERM " .. pid)
		drainer.wait_exit(pid, 10)
		local report = drainer.report(out)
		os.remove(out)
		assert.are.equal("SIGTERM", report.stopped)
		local applied_writes = sandbox:stats().writes_applied
		assert.is_true(applied_writes < 60, "it stopped taking entries")
		-- Every write that went out has its outcome recorded: none uncertain.
		local stats = q:stats()
		assert.are.same({ pending = 60 - applied_writes, uncertain = 0, done = applied_writes, dead = 0, settling = 0, damaged = 0 }, stats)
		assert.are.equal(applied_writes, report.done)
		q:close()
	end)

	it("with until_empty = false applies what other processes push while it drains, until SIGTERM", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		local pid, out = drainer.start(sandbox, journal, { mode = "none", workers = 2, forever = true })
		for i = 1, 20 do
			local r = row(i, "live")
			assert(q:push({ method = "POST", path = guests.PATH, json = r, id = r.personal_info.email, key = r.personal_info.email }))
			core.sleep(0.02)
		end
		wait_applied(sandbox, 20)
		assert.is_true(support.alive(pid), "it waits for more")
		os.execute("kill -TERM " .. pid)
		drainer.wait_exit(pid, 10)
		assert.are.same({ done = 20, dead = 0, pending = 0, stopped = "SIGTERM", reconciled = 0, calls = 20 }, drainer.report(out))
		os.remove(out)
		q:close()
	end)

	it("loses no push of another process when the drainer compacts the journal under it", function()
		-- 300 entries done, as a drain records them, and not compacted:
		-- the drainer compacts as soon as it is idle.
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 300, "old")
		for i = 1, 300 do
			local id = row(i, "old").personal_info.email
			assert(q.store:append({ { op = "send", id = id }, { op = "done", id = id, at = core.epoch() } }))
		end
		local before = #support.read_file(journal)
		local inode = core.file_stamp(journal):match("^%d+")
		local pid, out = drainer.start(sandbox, journal, { mode = "none", workers = 2, forever = true })
		local compacted_at -- the push after which the journal was a new file
		for i = 1, 100 do
			local r = row(i, "new")
			assert(q:push({ method = "POST", path = guests.PATH, json = r, id = r.personal_info.email, key = r.personal_info.email }))
			compacted_at = compacted_at or (core.file_stamp(journal):match("^%d+") ~= inode and i or nil)
			core.sleep(0.01)
		end
		assert.is_true(compacted_at and compacted_at < 100, "compacted while the pushes came")
		wait_applied(sandbox, 100)
		os.execute("kill -TERM " .. pid)
		drainer.wait_exit(pid, 10)
		assert.are.equal(100, drainer.report(out).done)
		os.remove(out)
		assert.is_true(#support.read_file(journal) < before)
		assert.are.same({ pending = 0, uncertain = 0, done = 400, dead = 0, settling = 0, damaged = 0 }, q:stats())
		for i = 1, 100 do
			assert.are.equal(1, applied(client, row(i, "new").personal_info.email))
		end
		q:close()
	end)

	it("compacts a journal of done entries, keeping their ids for the dedupe window", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 300)
		local before = #support.read_file(journal)
		assert(q:drain(client, { workers = 4 }))
		q:close()
		-- 300 pushes and 600 send and done records became 300 ids.
		local after = #support.read_file(journal)
		assert.is_true(after < before, string.format("%d bytes after, %d before", after, before))
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.same({}, q:dead())
		assert.are.same({ pending = 0, uncertain = 0, done = 300, dead = 0, settling = 0, damaged = 0 }, q:stats())
		assert.is_false(select(2, q:push({ method = "POST", path = guests.PATH, json = row(1), id = row(1).personal_info.email })))
		q:close()
	end)
end)
