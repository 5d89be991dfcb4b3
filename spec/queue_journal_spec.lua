-- The write queue's journal against what a disk, an operator or another
-- local user may do to it: a bit flipped in the middle (only a torn last
-- record is ever cut; the rest is read, counted, and drained only when the
-- user says so), a second name for it (a symbolic link is the same
-- journal and the same lock; a hard link is refused), and files planted
-- where the queue keeps its own (never followed, never written).

local core = require("pulse.core")
local pulse = require("pulse")
local guests = require("support.guests")
local drainer = require("support.drainer")
local support = require("support.sandbox")

local row, push_rows, applied = guests.row, guests.push, guests.applied
local reconcile_by_email = guests.reconcile

-- The offsets (1-based, in the file's text) where each record starts,
-- after the journal's first line.
local function record_starts(text)
	local starts, at = {}, #"pulse-queue 1\n" + 1
	while at <= #text do
		starts[#starts + 1] = at
		at = at + 8 + string.unpack("<I4", text, at)
	end
	return starts
end

-- text with bit 2 of the byte at position pos flipped.
local function flip(text, pos)
	return text:sub(1, pos - 1) .. string.char(text:byte(pos) ~ 4) .. text:sub(pos + 1)
end

-- The record payloads of a journal's text, decoded, by start.
local function record_at(text, start)
	local n = string.unpack("<I4", text, start)
	return pulse.json.decode(text:sub(start + 8, start + 7 + n))
end

local function own_pid()
	local f = assert(io.open("/proc/self/stat"))
	local pid = f:read("a"):match("^(%d+)")
	f:close()
	return pid
end

describe("pulse.queue's journal", function()
	local sandbox, client, journal

	before_each(function()
		sandbox = support.start()
		client = sandbox:client()
		journal = support.temp_path(".journal")
	end)

	after_each(function()
		client:close()
		sandbox:stop()
		for _, p in ipairs({ journal, journal .. ".lock", journal .. ".link", journal .. ".hard" }) do
			os.remove(p)
		end
		os.execute("rm -f " .. journal .. ".damaged-*")
	end)

	it("reads past a record damaged in the middle, cuts nothing, and drains it only when told", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 20)
		q:close()
		local text = support.read_file(journal)
		local starts = record_starts(text)
		assert.are.equal(20, #starts)
		support.write_file(journal, flip(text, starts[3] + 20)) -- inside push 3's payload

		-- A process that only reads: the file keeps every byte.
		q = assert(pulse.queue.open("file:" .. journal))
		local stats = q:stats()
		assert.are.equal(#text, #support.read_file(journal))
		-- Pushes 1 and 2 came before the damage: what it held about them
		-- is unknown, so they are uncertain. Push 3 is lost; 4-20 are read.
		assert.are.same({ 17, 2, 1 }, { stats.pending, stats.uncertain, stats.damaged })

		local none, why = q:drain(client)
		assert.is_nil(none)
		assert.matches("the journal is damaged %(bytes %d+%-%d+%), and the state of 2 entries was in it", why)
		assert.are.equal(0, sandbox:stats().writes_applied)

		local report = assert(q:drain(client, { accept_damage = true, reconcile = reconcile_by_email }))
		assert.are.same({ 1, 2 }, { report.damage.stretches, report.damage.entries })
		assert.are.equal(19, report.done)
		assert.are.equal(text, flip(support.read_file(report.damage.copy), starts[3] + 20))
		for i = 1, 20 do
			assert.are.equal(i == 3 and 0 or 1, applied(client, row(i).personal_info.email), "guest " .. i)
		end
		-- Accepted, the damage is gone from the journal: the next drain runs.
		q:close()
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.same({ 0, 0, 19 }, { q:stats().damaged, q:stats().pending, q:stats().done })
		assert(q:drain(client))
		q:close()
	end)

	it("never sends a done write again for a flipped bit in its send record", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 20)
		assert(q:drain(client, { workers = 1 }))
		q:close()
		assert.are.equal(20, sandbox:stats().writes_applied)
		local text = support.read_file(journal)
		local damaged
		for _, start in ipairs(record_starts(text)) do
			local r = record_at(text, start)
			if r.op == "send" and r.id == row(5).personal_info.email then
				damaged = start
			end
		end
		support.write_file(journal, flip(text, damaged + 10))
		q = assert(pulse.queue.open("file:" .. journal))
		local stats = q:stats()
		assert.are.same({ 0, 0, 20, 1 }, { stats.pending, stats.uncertain, stats.done, stats.damaged })
		local report = assert(q:drain(client, { accept_damage = true, reconcile = reconcile_by_email }))
		assert.are.equal(0, report.done)
		assert.are.equal(20, sandbox:stats().writes_applied)
		q:close()
	end)

	it("still cuts a torn last record, and keeps a whole last record whose checksum fails", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 3)
		q:close()
		local text = support.read_file(journal)
		local last = record_starts(text)[3]
		support.write_file(journal, text:sub(1, #text - 5)) -- torn: shorter than its length says
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.same({ 2, 0 }, { q:stats().pending, q:stats().damaged })
		q:close()
		assert.are.equal(last - 1, #support.read_file(journal))
		support.write_file(journal, flip(text, #text - 3)) -- whole, but a bit flipped
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.same({ 0, 2, 1 }, { q:stats().pending, q:stats().uncertain, q:stats().damaged })
		q:close()
		assert.are.equal(#text, #support.read_file(journal))
	end)

	it("is one journal and one lock through a symbolic link; a hard link is refused", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 40, "link")
		q:close()
		assert(os.execute(string.format("ln -s %s %s", journal, journal .. ".link")))
		sandbox:fault("latency:ms=100:count=0:method=POST")
		local a, out_a = drainer.start(sandbox, journal, { workers = 2 })
		local b, out_b = drainer.start(sandbox, journal .. ".link", { workers = 2 })
		drainer.wait_exit(a)
		drainer.wait_exit(b)
		local said = support.read_file(out_a) .. support.read_file(out_b)
		os.remove(out_a)
		os.remove(out_b)
		assert.matches("is being drained by another process %(pid %d+%)", said)
		-- The one that ran was not followed by the other: each write once.
		for i = 1, 40 do
			local n = applied(client, row(i, "link").personal_info.email)
			assert.is_true(n <= 1, "guest " .. i .. " applied " .. n .. " times")
		end
		sandbox:clear_faults()
		q = assert(pulse.queue.open("file:" .. journal .. ".link"))
		assert(q:drain(client))
		for i = 1, 40 do
			assert.are.equal(1, applied(client, row(i, "link").personal_info.email), "guest " .. i)
		end
		q:close()

		assert(os.execute(string.format("ln %s %s", journal, journal .. ".hard")))
		for _, name in ipairs({ journal, journal .. ".hard" }) do
			local none, why = pulse.queue.open("file:" .. name)
			assert.is_nil(none)
			assert.matches("has more than one name %(a hard link%)", why)
		end
	end)

	it("follows no planted link and writes no file it does not own", function()
		local victim = support.temp_path(".victim")
		support.write_file(victim, "precious data\n")
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 3, "planted")

		-- The drainer's lock, planted as a link to another file.
		assert(os.execute(string.format("ln -s %s %s", victim, journal .. ".lock")))
		local none, why = q:drain(client)
		assert.is_nil(none)
		assert.matches("%.lock is a symbolic link: refused", why)
		assert.are.equal("precious data\n", support.read_file(victim))
		os.remove(journal .. ".lock")
		-- A FIFO there is not a file to write a pid in, and no hang either.
		assert(os.execute("mkfifo " .. journal .. ".lock"))
		none, why = q:drain(client)
		assert.is_nil(none)
		assert.matches("is not a regular file: refused", why)
		os.remove(journal .. ".lock")

		-- The compaction's file under the name it used to have (the pid):
		-- a new file of a name of its own is made instead.
		local planted = journal .. "." .. own_pid() .. ".compact"
		assert(os.execute(string.format("ln -s %s %s", victim, planted)))
		for i = 1, 300 do
			local id = "done-" .. i
			assert(q:push({ method = "POST", path = guests.PATH, json = row(i, "old"), id = id }))
			assert(q.store:append({ { op = "send", id = id }, { op = "done", id = id, at = core.epoch() } }))
		end
		local before = #support.read_file(journal)
		assert(q:drain(client))
		assert.is_true(#support.read_file(journal) < before, "compacted")
		assert.are.equal("precious data\n", support.read_file(victim))
		os.remove(planted)
		q:close()

		-- A journal that another user owns is not this queue's to write.
		support.write_file(victim, "pulse-queue 1\n")
		assert(os.execute("chown 65534 " .. victim))
		none, why = pulse.queue.open("file:" .. victim)
		assert.is_nil(none)
		assert.matches("is not owned by this user: refused", why)
		os.remove(victim)
	end)
end)

describe("pulse-lua --queue", function()
	local journal

	before_each(function()
		journal = support.temp_path(".journal")
	end)

	after_each(function()
		os.remove(journal)
		os.remove(journal .. ".lock")
		os.execute("rm -f " .. journal .. ".damaged-*")
	end)

	local function queue_command(action)
		return support.run(string.format("%s/pulse-lua --queue file:%s %s", support.BIN, journal, action))
	end

	it("shows a queue's counts and what settles until when, and lists and retries dead letters", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 3, "cli")
		assert(q.store:append({ { op = "send", id = row(1, "cli").personal_info.email, hold = 60 } }))
		assert(q.store:append({ { op = "dead", id = row(2, "cli").personal_info.email, reason = "HTTP 422: no email" } }))
		local out, err, code = queue_command("--status")
		assert.are.equal(0, code, err)
		assert.matches("pending    1\n", out)
		assert.matches("in flight  1 %(sent, outcome unknown%), 1 of them settling until %d+%-%d+%-%d+ [%d:]+", out)
		assert.matches("dead       1\n", out)
		assert.matches("damaged    none", out)
		out, err, code = queue_command("--dead")
		assert.are.equal(0, code, err)
		assert.matches(row(2, "cli").personal_info.email .. "  POST /v1/guests  attempts 0  HTTP 422: no email", out, 1, true)
		assert.matches("1 dead letter\n", out)
		out, err, code = queue_command("--retry-dead")
		assert.are.equal(0, code, err)
		assert.matches("1 dead letter back in the queue", out)
		assert.are.equal(0, #q:dead())
		q:close()
		err, code = select(2, support.run(support.BIN .. "/pulse-lua --queue file:" .. journal .. " --status --dead"))
		assert.are.equal(1, code)
		assert.matches("'%-%-queue URL' goes with one of", err)
	end)

	it("checks a damaged journal (exit 1), and accepts the damage for the next drain", function()
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 6, "chk")
		q:close()
		local text = support.read_file(journal)
		local starts = record_starts(text)
		support.write_file(journal, flip(text, starts[4] + 12))
		local out, err, code = queue_command("--check")
		assert.are.equal(1, code)
		assert.matches("damaged: bytes %d+%-%d+", out)
		assert.matches("3 entries whose state was in the damage", out)
		assert.matches(row(1, "chk").personal_info.email, out, 1, true)
		assert.matches("the journal is damaged; drain with accept_damage", err)
		out, err, code = queue_command("--status")
		assert.are.equal(0, code, err)
		assert.matches("damaged    1 stretch%(es%) of the journal", out)
		out, err, code = queue_command("--accept-damage")
		assert.are.equal(0, code, err)
		local copy = out:match("kept the damaged journal as (%S+)")
		assert.are.equal(#text, #support.read_file(copy))
		assert.matches("3 entries are uncertain", out)
		err, code = select(2, queue_command("--check"))
		assert.are.equal(0, code, err)
		q = assert(pulse.queue.open("file:" .. journal))
		assert.are.same({ 2, 3, 0 }, { q:stats().pending, q:stats().uncertain, q:stats().damaged })
		q:close()
	end)
end)

