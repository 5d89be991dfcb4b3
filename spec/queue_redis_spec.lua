-- The write queue on Redis Streams: many drainer processes on one
-- stream, under one shared limit, through a drainer killed for good and
-- a restart of Redis, each write applied once, counted from the
-- sandbox's log. Each test starts its own redis-server and sandbox.

local core = require("pulse.core")
local pulse = require("pulse")
local redis = require("support.redis")
local drainer = require("support.drainer")
local slow_server = require("support.slow_server")
local support = require("support.sandbox")

local guests = require("support.guests")
local row = guests.row

local function push_rows(q, from, to, prefix, key_of)
	for i = from, to do
		local r = row(i, prefix)
		local id, queued, why = q:push({
			method = "POST",
			path = guests.PATH,
			json = r,
			id = r.personal_info.email,
			key = key_of and key_of(i) or r.personal_info.email,
		})
		assert(id and queued, "push " .. i .. ": " .. tostring(why or queued))
	end
end

-- The POSTs the sandbox's log says it applied.
local function applied_posts(sandbox)
	local n = 0
	for _, line in ipairs(sandbox:log_lines()) do
		if line.applied and line.method == "POST" then
			n = n + 1
		end
	end
	return n
end

-- Waits until the sandbox's log shows n writes applied, failing after
-- seconds.
local function wait_for_posts(sandbox, n, seconds)
	local deadline = core.now() + seconds
	while applied_posts(sandbox) < n do
		assert(core.now() < deadline,
			string.format("the drainers applied %d of %d writes in %g s", applied_posts(sandbox), n, seconds))
		core.sleep(0.01)
	end
end

-- How many consumers the stream's group has.
local function consumers(server, stream)
	local _, n = server:cli("XINFO CONSUMERS " .. stream .. " pulse"):gsub("%f[%w]name%f[%W]", "")
	return n
end

-- The drainers started and not yet reaped: a failed test kills them.
local spawned = {}

local function kill_spawned()
	for pid in pairs(spawned) do
		os.execute("kill -9 " .. pid .. " 2>/dev/null")
	end
	spawned = {}
end

-- Starts a drainer process (2 workers) on the queue at url.
local function start_drainer(sandbox, url, env)
	local pid, out = drainer.start(sandbox, url, { workers = 2, env = env })
	spawned[pid] = true
	return pid, out
end

-- Asserts that each of the n rows exists once on the sandbox, and that
-- the writes of each key (key_of(i)) were applied in push order: the
-- center's list holds guests in the order the sandbox made them. One walk
-- of the list: the sandbox's limit is spent on the drainers, not on the
-- check.
local function assert_once_in_order(client, n, prefix, key_of)
	local by_email = guests.places(client)
	local last = {}
	for i = 1, n do
		local ids = by_email[row(i, prefix).personal_info.email] or {}
		assert.are.equal(1, #ids, "guest " .. i .. " exists " .. #ids .. " times")
		local key = key_of(i)
		assert.is_true(ids[1] > (last[key] or 0), "entry " .. i .. " of key " .. key .. " out of order")
		last[key] = ids[1]
	end
end

describe("pulse.queue on Redis Streams", function()
	local server, sandbox, client, url

	before_each(function()
		server = redis.start({ appendonly = true })
		sandbox = support.start({ log = true })
		client = sandbox:client()
		url = server.url .. "?stream=writes"
	end)

	after_each(function()
		kill_spawned()
		client:close()
		sandbox:stop()
		server:stop()
	end)

	it("refuses a repeated id while pending, once done and as a dead letter; retry_dead brings one back", function()
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 3, "d")
		local _, queued, why = q:push({ method = "POST", path = guests.PATH, json = row(1, "d"), id = row(1, "d").personal_info.email })
		assert.are.same({ false, "pending" }, { queued, why })
		assert(q:push({ method = "POST", path = guests.PATH, json = guests.refused(), id = "bad" }))
		assert.are.same({ pending = 4, uncertain = 0, done = 0, dead = 0, settling = 0, damaged = 0 }, q:stats())
		local report = assert(q:drain(client, { workers = 2 }))
		assert.are.same({ 3, 1, 0 }, { report.done, report.dead, report.pending })
		-- A drainer left holding nothing leaves the consumer group.
		assert.are.equal(0, consumers(server, "writes"))
		_, queued, why = q:push({ method = "POST", path = guests.PATH, json = row(2, "d"), id = row(2, "d").personal_info.email })
		assert.are.same({ false, "done" }, { queued, why })
		_, queued, why = q:push({ method = "POST", path = guests.PATH, json = {}, id = "bad" })
		assert.are.same({ false, "a dead letter" }, { queued, why })
		local dead = assert(q:dead())
		assert.are.equal(1, #dead)
		assert.are.equal("bad", dead[1].id)
		assert.are.equal("No last name", dead[1].json.personal_info.first_name)
		assert.matches("400", dead[1].reason)
		assert.matches("last_name is missing", dead[1].reason)
		assert.are.same({ pending = 0, uncertain = 0, done = 3, dead = 1, settling = 0, damaged = 0 }, q:stats())
		-- Another process sees the same queue.
		local other = assert(pulse.queue.open(url))
		assert.are.same({ pending = 0, uncertain = 0, done = 3, dead = 1, settling = 0, damaged = 0 }, other:stats())
		assert.are.equal(1, other:retry_dead({ "bad" }))
		assert.are.same({ pending = 1, uncertain = 0, done = 3, dead = 0, settling = 0, damaged = 0 }, q:stats())
		other:close()
		q:close()
		assert.are.equal(3, applied_posts(sandbox))
	end)

	it("makes an entry another program added to the stream a dead letter, and drains the rest", function()
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 2, "g")
		server:cli("XADD writes '*' id junk e not-json")
		server:cli("XADD writes '*' nothing here")
		-- Well formed, as a push would write it, but outside the queue's
		-- bookkeeping: it would never come to the head of its key.
		local alien = { op = "push", id = "alien", key = "k", method = "POST", path = guests.PATH }
		alien.opts = { json = row(9, "alien") }
		server:cli("XADD writes '*' id alien e " .. support.shell_quote(pulse.json.encode(alien)))
		push_rows(q, 3, 3, "g")
		local out, err, code = support.run(support.BIN .. "/pulse-lua --queue " .. url .. " --check")
		assert.are.equal(1, code)
		assert.matches("3 entries of the stream are not the queue's: junk, [%d-]+, alien", out)
		assert.matches("a drain makes them dead letters", err)
		local report = assert(q:drain(client, { workers = 2 }))
		assert.are.same({ 3, 3, 0 }, { report.done, report.dead, report.pending })
		local dead = assert(q:dead())
		assert.are.equal(3, #dead)
		assert.are.equal("junk", dead[1].id)
		assert.matches("^not sent", dead[1].reason)
		assert.are.equal("alien", dead[3].id)
		assert.matches("^not queued by pulse.queue: another program added it", dead[3].reason)
		assert.are.same(row(9, "alien"), dead[3].json)
		-- Put back, the readable one joins the queue's order; the others
		-- have no request to make, and stay dead.
		assert.are.equal(1, q:retry_dead())
		report = assert(q:drain(client, { workers = 2 }))
		assert.are.same({ 1, 0, 0 }, { report.done, report.dead, report.pending })
		assert.are.equal(4, applied_posts(sandbox))
		q:close()
	end)

	it("with a short dedupe_window lets an id in again once the window has passed", function()
		local q = assert(pulse.queue.open(url, { dedupe_window = 0.3 }))
		push_rows(q, 1, 1, "w")
		assert(q:drain(client))
		local _, queued = q:push({ method = "POST", path = guests.PATH, json = row(1, "w"), id = row(1, "w").personal_info.email })
		assert.is_false(queued)
		core.sleep(0.4)
		_, queued = q:push({ method = "POST", path = guests.PATH, json = row(1, "w"), id = row(1, "w").personal_info.email })
		assert.is_true(queued)
		q:close()
	end)

	it("with sync = batch sends the pushes at flush, and tells the repeats it found", function()
		local q = assert(pulse.queue.open(url, { sync = "batch" }))
		push_rows(q, 1, 70, "b") -- more than one script's worth
		local other = assert(pulse.queue.open(url))
		assert.are.equal(0, other:stats().pending)
		local ok, repeats = q:flush()
		assert.are.same({ true, 0 }, { ok, repeats })
		assert.are.equal(70, other:stats().pending)
		push_rows(q, 70, 71, "b")
		local _, queued, why = q:push({ method = "POST", path = guests.PATH, json = row(71, "b"), id = row(71, "b").personal_info.email })
		assert.are.same({ false, "pending" }, { queued, why }) -- a repeat among the pushes not yet flushed
		ok, repeats = q:flush()
		assert.are.same({ true, 1 }, { ok, repeats })
		assert.are.equal(71, other:stats().pending)
		other:close()
		q:close()
	end)

	it("holds a stopped drainer's writes in flight for their timeout and settle before another reconciles", function()
		-- Each POST is applied 1.5 s after it arrives. The first drainer is
		-- stopped 0.2 s after SIGTERM (stop_timeout), its writes still at
		-- the server; the second takes them over at once, and must not
		-- find them "not applied" before the server is done with them.
		local slow = slow_server.start(sandbox, 1500)
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 6, "term")
		local env = { QUEUE_TIMEOUT = "3", QUEUE_SETTLE = "1", QUEUE_STOP_TIMEOUT = "0.2" }
		local first, first_out = drainer.start(slow, url, { workers = 4, env = env })
		spawned[first] = true
		local deadline = core.now() + 10
		while q:stats().uncertain < 1 do
			assert(core.now() < deadline, "the first drainer sent nothing")
			core.sleep(0.01)
		end
		core.sleep(0.3) -- its first answer came: several writes are out
		os.execute("kill -TERM " .. first)
		-- Its clock 30 s ahead: the hold is on Redis' clock, not a drainer's.
		local skewed = { PULSE_TEST_CLOCK_OFFSET = "30" }
		for name, value in pairs(env) do
			skewed[name] = value
		end
		local second, second_out = drainer.start(slow, url, { workers = 4, env = skewed })
		spawned[second] = true
		drainer.wait_exit(first, 20)
		local stats = q:stats()
		assert.is_true(stats.settling >= 1, "the writes in flight are held")
		drainer.wait_exit(second, 30)
		spawned[first], spawned[second] = nil, nil
		local report = drainer.report(second_out)
		os.remove(first_out)
		os.remove(second_out)
		assert.are.equal(0, report.pending)
		assert.is_true(report.reconciled >= 1, "the second drainer reconciled what the first left")
		for i = 1, 6 do
			assert.are.equal(1, guests.applied(client, row(i, "term").personal_info.email), "guest " .. i)
		end
		slow:stop()
		q:close()
	end)

	it("says loudly that Redis lost the queue under a drainer, with the count it last knew", function()
		local bare = redis.start() -- no persistence
		local bare_url = bare.url .. "?stream=lost"
		local q = assert(pulse.queue.open(bare_url))
		push_rows(q, 1, 100, "lost")
		sandbox:fault("latency:ms=100:count=0:method=POST")
		local pid, out = drainer.start(sandbox, bare_url, { workers = 2 })
		spawned[pid] = true
		wait_for_posts(sandbox, 4, 10)
		bare:cli("FLUSHALL")
		drainer.wait_exit(pid, 20)
		spawned[pid] = nil
		local said = support.read_file(out)
		os.remove(out)
		local known = said:match("the (%d+) entries pending or uncertain at the last look are gone")
		assert(known, "the drainer said:\n" .. said)
		assert.matches("Redis lost the queue's stream lost under this drainer", said)
		assert.is_true(tonumber(known) >= 80 and tonumber(known) <= 99, known)
		q:close()
		bare:stop()
	end)

	it("names the server and never the password when it cannot reach Redis or is refused", function()
		local locked = redis.start({ password = "right-pass" })
		local q, why = pulse.queue.open(
			string.format("redis://:wrong-secret@127.0.0.1:%d?stream=s", locked.port),
			{ timeout = 0.5 }
		)
		locked:stop()
		assert.is_nil(q)
		assert.matches("queue's Redis at 127.0.0.1:" .. locked.port, why, 1, true)
		assert.is_nil(why:find("wrong-secret", 1, true))
		local t0 = core.now()
		q, why = pulse.queue.open(
			string.format("redis://:wrong-secret@127.0.0.1:%d?stream=s", locked.port),
			{ timeout = 0.5 }
		)
		assert.is_nil(q)
		assert.is_true(core.now() - t0 < 5, "it waited " .. (core.now() - t0) .. " s")
		assert.is_nil(why:find("wrong-secret", 1, true))
		q, why = pulse.queue.open("redis://:wrong-secret@127.0.0.1:99999?stream=s")
		assert.is_nil(q)
		assert.matches("port", why)
		assert.is_nil(why:find("wrong-secret", 1, true))
		local ok, err = pcall(pulse.queue.open, "redis:/:wrong-secret@host")
		assert.is_false(ok)
		assert.is_nil(tostring(err):find("wrong-secret", 1, true))
	end)

	it("blocks an idle drainer in Redis until a push comes, with no look between, and stops it at once #timing", function()
		-- Redis' own count of the commands each kind of call made.
		local function calls_of(command)
			return tonumber(server:cli("INFO commandstats"):match("cmdstat_" .. command .. ":calls=(%d+)") or "0")
		end
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 1, "b")
		local pid, out = drainer.start(sandbox, url, { workers = 2, forever = true })
		spawned[pid] = true
		wait_for_posts(sandbox, 1, 10)
		core.sleep(0.3)
		local looks, reads = calls_of("evalsha"), calls_of("xread")
		core.sleep(2)
		-- Idle for 2 s: a look every 0.1 s would be 20 scripts.
		assert.are.equal(looks, calls_of("evalsha"))
		assert.is_true(calls_of("xread") - reads <= 1)
		-- A push wakes it: written well within what a look every 0.1 s
		-- would give, but for the machine's noise.
		local pushed = core.now()
		push_rows(q, 2, 2, "b")
		wait_for_posts(sandbox, 2, 10)
		local took = core.now() - pushed
		assert.is_true(took < 1, "the push was applied " .. took .. " s later")
		core.sleep(0.3)
		local stopped = core.now()
		os.execute("kill -TERM " .. pid)
		drainer.wait_exit(pid, 5)
		spawned[pid] = nil
		assert.is_true(core.now() - stopped < 1, "the drainer stopped " .. (core.now() - stopped) .. " s after SIGTERM")
		local report = drainer.report(out)
		assert.are.equal(2, report.done)
		assert.are.equal("SIGTERM", report.stopped)
		assert.are.equal(0, consumers(server, "writes"))
		q:close()
	end)

	it("ends a drainer that waits with nothing to take as soon as another empties the queue #timing", function()
		sandbox:fault("latency:ms=300:count=0:method=POST")
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 4, "e", function()
			return "one key"
		end)
		local first, first_out = start_drainer(sandbox, url)
		-- The first takes all four (its workers' twice over): the second,
		-- started once the first is at work, has none to take and waits.
		wait_for_posts(sandbox, 1, 5)
		local second, second_out = start_drainer(sandbox, url)
		drainer.wait_exit(first, 10)
		local first_ended = core.now()
		drainer.wait_exit(second, 10)
		local late = core.now() - first_ended
		assert.is_true(late < 1, "the second drainer ended " .. late .. " s after the queue was empty")
		assert.are.equal(4, drainer.report(first_out).done + drainer.report(second_out).done)
		assert.are.equal(4, applied_posts(sandbox))
		q:close()
	end)

	it("keeps each key's order across three drainers", function()
		-- The first write of each key fails once and backs off: the next
		-- ones of its key, held by other workers and drainers, must wait.
		sandbox:fault("503:count=2:method=POST")
		local q = assert(pulse.queue.open(url))
		-- Two keys, twelve entries each, pushed interleaved.
		local function key_of(i)
			return "k" .. (i % 2)
		end
		push_rows(q, 1, 24, "o", key_of)
		local drainers = {}
		for i = 1, 3 do
			drainers[i] = { start_drainer(sandbox, url) }
		end
		local done = 0
		for _, d in ipairs(drainers) do
			drainer.wait_exit(d[1])
			done = done + drainer.report(d[2]).done
			os.remove(d[2])
		end
		assert.are.equal(24, done)
		assert.are.equal(0, consumers(server, "writes"))
		assert_once_in_order(client, 24, "o", key_of)
		q:close()
	end)
end)

describe("pulse.queue on Redis Streams, the whole", function()
	-- #timing: it bounds how long the drainers may take to make progress,
	-- which drainers slowed by memcheck's sandbox would miss.
	it("applies 200 writes exactly once through a drainer killed for good and a restart of Redis #timing", function()
		-- Each POST is applied, then answered 250 ms late: a drainer killed
		-- holds writes applied and unanswered, which another takes over
		-- after the lease and reconciles. 15 calls a second is less than
		-- the six workers would make: without the shared limiter the three
		-- draw 429s (10 in a run with each its own).
		local server = redis.start({ appendonly = true })
		local sandbox = support.start({
			log = true,
			faults = "latency:ms=250:count=0:method=POST",
			rate_limit = "15/1/15",
		})
		local client = sandbox:client()
		finally(function() -- also when an assertion fails
			kill_spawned()
			client:close()
			sandbox:stop()
			server:stop()
		end)
		local url = server.url .. "?stream=whole"
		local env = { QUEUE_LEASE = "1", QUEUE_LIMITER = server.url .. "?bucket=whole" }
		-- 20 keys, 10 writes each: a key's next write waits for the one
		-- the killed drainer held, until another takes that one over.
		local function key_of(i)
			return "k" .. (i % 20)
		end
		local q = assert(pulse.queue.open(url))
		push_rows(q, 1, 100, "whole", key_of)
		local drainers = {}
		for i = 1, 3 do
			drainers[i] = { start_drainer(sandbox, url, env) }
		end
		-- Pushes from this process while the three drain.
		push_rows(q, 101, 200, "whole", key_of)
		local deadline = core.now() + 30
		while applied_posts(sandbox) < 40 do
			assert(core.now() < deadline, "the drainers applied " .. applied_posts(sandbox) .. " writes in 30 s")
			core.sleep(0.02)
		end
		os.execute("kill -9 " .. drainers[1][1])
		drainer.wait_exit(drainers[1][1])
		local at_kill = applied_posts(sandbox)
		while applied_posts(sandbox) < at_kill + 30 do
			assert(core.now() < deadline + 30, "no progress after the kill")
			core.sleep(0.02)
		end
		server:restart()
		local reconciled, done = 0, 0
		for i = 2, 3 do
			drainer.wait_exit(drainers[i][1], 120)
			local report = drainer.report(drainers[i][2])
			assert.are.equal(0, report.pending)
			reconciled = reconciled + report.reconciled
			done = done + report.done
			os.remove(drainers[i][2])
		end
		os.remove(drainers[1][2])
		-- The killed drainer held writes it had recorded as sent: another
		-- took them over and asked reconcile about them (applied, or
		-- still waiting for a token when the kill came).
		assert.is_true(reconciled >= 1, "no write of the killed drainer was reconciled")
		assert_once_in_order(client, 200, "whole", key_of)
		assert.are.equal(200, applied_posts(sandbox))
		local stats = q:stats()
		assert.are.same({ pending = 0, uncertain = 0, done = 200, dead = 0, settling = 0, damaged = 0 }, stats)
		local refused = 0
		for _, line in ipairs(sandbox:log_lines()) do
			if line.status == 429 then
				refused = refused + 1
			end
		end
		assert.are.equal(0, refused, "the sandbox answered 429")
		q:close()
	end)
end)
