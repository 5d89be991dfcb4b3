-- The write queue against a server slower than its client: a write still
-- being applied when its drainer gave up on it (a timeout, a kill -9) is
-- not reconciled, and so not sent again, before the server has had its
-- attempt's timeout and `settle` more to finish it. Counted on the
-- sandbox's side, behind a proxy that holds each POST before the sandbox
-- applies it and applies it after the client has gone
-- (spec/support/slow_apply.py).

local core = require("pulse.core")
local pulse = require("pulse")
local guests = require("support.guests")
local drainer = require("support.drainer")
local redis = require("support.redis")
local slow_server = require("support.slow_server")
local support = require("support.sandbox")

local row, push_rows, applied = guests.row, guests.push, guests.applied
local reconcile_by_email = guests.reconcile

-- The epoch seconds of an ISO time the sandbox logs ("...T10:00:01.250Z").
local function epoch_of(iso)
	local y, mo, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
	local utc_offset = os.time() - os.time(os.date("!*t"))
	return os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = 0 }) + utc_offset + tonumber(s)
end

-- The times the sandbox applied POSTs.
local function apply_times(sandbox)
	local times = {}
	for _, line in ipairs(sandbox:log_lines()) do
		if line.applied and line.method == "POST" then
			times[#times + 1] = epoch_of(line.time)
		end
	end
	return times
end

describe("pulse.queue against a server slower than its client", function()
	local sandbox, slow, direct, journal

	before_each(function()
		sandbox = support.start({ log = true })
		direct = sandbox:client()
		journal = support.temp_path(".journal")
	end)

	after_each(function()
		direct:close()
		if slow then
			slow:stop()
			slow = nil
		end
		sandbox:stop()
		os.remove(journal)
		os.remove(journal .. ".lock")
	end)

	it("does not reconcile a write that timed out before the server has had settle to finish it", function()
		-- Each POST is applied 1.5 s after it arrives; the client gives up
		-- after 0.5 s. Reconciled at once, every write would be found not
		-- applied and sent again.
		slow = slow_server.start(sandbox, 1500)
		local client = slow:client({ timeout = 0.5, retry = false })
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 8, "slow")
		local report = assert(q:drain(client, {
			workers = 4,
			settle = 1.5,
			backoff = { base = 0.05, cap = 0.1 },
			max_failures = 20,
			reconcile = reconcile_by_email,
		}))
		assert.are.same({ done = 8, dead = 0, pending = 0, calls = 16 }, report)
		for i = 1, 8 do
			assert.are.equal(1, applied(direct, row(i, "slow").personal_info.email), "guest " .. i)
		end
		assert.are.equal(8, sandbox:stats().writes_applied)
		client:close()
		q:close()
	end)

	it("after a kill -9, holds the writes in flight for their timeout and settle, on every drainer", function()
		slow = slow_server.start(sandbox, 1500)
		local q = assert(pulse.queue.open("file:" .. journal))
		push_rows(q, 4, "held")
		-- A drainer's first request goes out alone (until an answer shows
		-- the rate limit): each of the four is recorded sent, one is out.
		local env = { QUEUE_TIMEOUT = "2", QUEUE_SETTLE = "1" }
		local pid, out = drainer.start(slow, journal, { workers = 4, env = env })
		local deadline = core.now() + 10
		while q:stats().uncertain < 4 do
			assert(core.now() < deadline, "the drainer sent nothing")
			core.sleep(0.01)
		end
		local sent = core.epoch()
		os.execute("kill -9 " .. pid)
		drainer.wait_exit(pid)
		os.remove(out)
		-- Sent at about `sent`: held until then + the timeout (2 s) + settle (1 s).
		local stats = q:stats()
		assert.are.equal(4, stats.settling)
		assert.is_true(stats.settle_until > sent + 2.5 and stats.settle_until < sent + 3.5, tostring(stats.settle_until))
		-- The next drainer reconciles them only then: after the sandbox
		-- applied the one that went out, so it sends only the other three
		-- (4 searches and 3 writes, or a search more for a write of the
		-- three that timed out on a loaded machine: the report counts what
		-- the sandbox saw).
		while #apply_times(sandbox) < 1 do
			assert(core.now() < deadline + 5, "the write that went out was never applied")
			core.sleep(0.01)
		end
		local seen_before = #sandbox:log_lines()
		pid, out = drainer.start(slow, journal, { workers = 4, env = env })
		drainer.wait_exit(pid)
		local report = drainer.report(out)
		os.remove(out)
		local calls = #sandbox:log_lines() - seen_before
		assert.is_true(calls >= 7, tostring(calls))
		assert.are.same({ done = 4, dead = 0, pending = 0, reconciled = 4, calls = calls }, report)
		assert.is_true(core.epoch() >= stats.settle_until)
		for i = 1, 4 do
			assert.are.equal(1, applied(direct, row(i, "held").personal_info.email), "guest " .. i)
		end
		assert.are.equal(0, q:stats().settling)
		q:close()
	end)
end)

-- Pushes 200 writes to the queue at url, then starts drainers of it and
-- kills each (kill -9) 0.05-0.35 s after it started, QUEUE_KILLS times
-- (default 50), then lets one finish; asserts each write was applied
-- exactly once, counted on the sandbox. Each POST is held 200 ms by the
-- proxy before the sandbox applies it (a kill then leaves it to be
-- applied after its drainer is gone), then answered 150 ms late (a kill
-- then leaves it applied and unanswered): the kills come in both windows
-- while most of the 200 are still to do. env: the drainers' own.
local function kill_loop(url, env)
	local sandbox = support.start({ log = true, faults = "latency:ms=150:count=0:method=POST" })
	local slow = slow_server.start(sandbox, 200)
	local direct = sandbox:client()
	local q = assert(pulse.queue.open(url))
	push_rows(q, 200, "kill")
	q:close()
	local target = url:match("^file:(.*)") or url
	local kills, kill_times = 0, {}
	local wanted = tonumber(os.getenv("QUEUE_KILLS") or "50")
	local finished = false
	while not finished do
		local pid, out = drainer.start(slow, target, { workers = 3, env = env })
		if kills < wanted then
			core.sleep(0.05 + math.random() * 0.3)
		end
		if kills < wanted and support.alive(pid) then
			os.execute("kill -9 " .. pid)
			kill_times[#kill_times + 1] = core.epoch()
			kills = kills + 1
			drainer.wait_exit(pid)
		else
			drainer.wait_exit(pid, 120)
			local report = drainer.report(out)
			finished = report.pending == 0
			assert(not finished or kills >= wanted, "the writes were all done after only " .. kills .. " kills")
		end
		os.remove(out)
	end
	-- Where the kills landed: while a write was held before its apply
	-- (applied after its drainer died), or between apply and answer.
	local before, after = 0, 0
	local applies = apply_times(sandbox)
	for _, t in ipairs(kill_times) do
		local held, unanswered = false, false
		for _, a in ipairs(applies) do
			held = held or (t < a and t >= a - 0.2)
			unanswered = unanswered or (t >= a and t < a + 0.15)
		end
		before = before + (held and 1 or 0)
		after = after + (unanswered and 1 or 0)
	end
	-- A fifth of the kills in each window at least (50: 10), so both were
	-- tried (QUEUE_KILLS sets fewer under the sanitizers).
	local enough = math.max(2, wanted // 5)
	assert.is_true(before >= enough, before .. " kills of " .. kills .. " landed while a write was held")
	assert.is_true(after >= enough, after .. " kills of " .. kills .. " landed between apply and answer")
	for i = 1, 200 do
		assert.are.equal(1, applied(direct, row(i, "kill").personal_info.email), "guest " .. i)
	end
	assert.are.equal(200, sandbox:stats().writes_applied)
	direct:close()
	slow:stop()
	sandbox:stop()
end

describe("pulse.queue under kill -9, against a slow server", function()
	-- #timing: a kill must land while a write is out, which a drainer
	-- slowed by memcheck makes a matter of luck.
	it("applies each of 200 writes of a journal exactly once through 50 kills at random moments #timing", function()
		local journal = support.temp_path(".journal")
		kill_loop("file:" .. journal, { QUEUE_TIMEOUT = "1", QUEUE_SETTLE = "0.5" })
		os.remove(journal)
		os.remove(journal .. ".lock")
	end)

	it("applies each of 200 writes of a Redis stream exactly once through 50 kills #timing", function()
		-- A killed drainer's entries are taken over once idle past the lease.
		local server = redis.start({ appendonly = true })
		kill_loop(server.url .. "?stream=kills", { QUEUE_TIMEOUT = "1", QUEUE_SETTLE = "0.5", QUEUE_LEASE = "0.5" })
		server:stop()
	end)
end)
