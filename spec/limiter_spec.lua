-- The limiters that share an organization's bucket, for real: shm: between
-- the processes of this machine, redis:// between machines, each with real
-- worker processes (spec/support/limiter_worker.lua) against a sandbox, a
-- real redis-server of the spec's own, and kill -9. The policies are loose
-- here (1 s windows); the tight runs belong to make bench.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")
local redis = require("support.redis")
local support = require("support.sandbox")
local workers = require("support.workers")

-- Every worker's GETs succeeded.
local function assert_all_ok(results, count)
	for i, r in ipairs(results) do
		assert.are.equal(count, r.ok, "worker " .. i .. ": " .. table.concat(r.errors, "; "))
	end
end

local function runner(args)
	return support.run(support.BIN .. "/pulse-lua " .. args)
end

describe("a shared bucket", function()
	local server

	setup(function()
		server = redis.start()
	end)

	teardown(function()
		server:stop()
	end)

	-- The same steps on each backend: answers out of order, a 429, a policy
	-- change. Returns the views after each.
	local function steps(rl)
		local views = {}
		local function note(v)
			views[#views + 1] = {
				limit = v.limit,
				window = v.window,
				burst = v.burst,
				remaining = v.remaining,
				in_flight = v.in_flight,
				reset = v.reset,
				blocked = v.blocked,
			}
		end
		local taken, first = rl:take()
		assert.are.equal(0, taken)
		assert.are.equal(-1, rl:take(), "one request checks a new bucket before the rest go")
		note(select(2, rl:observe(200, "Organization-RateLimit-Limit: 5;w=60;b=5\r\nRateLimit-Remaining: 4\r\nRateLimit-Reset: 30\r\n", nil, first)))
		local tickets = {}
		for i = 1, 4 do
			taken, tickets[i] = rl:take()
			assert.are.equal(0, taken)
		end
		-- Empty: the 4 out may have been counted by the server already, so
		-- their answers could free a token; ask again soon.
		assert.are.equal(0.05, rl:take(), "asks again soon while requests are out")
		-- The second request's answer comes after the third's: the server
		-- counted it first, so its Remaining is higher, and older news.
		note(select(2, rl:observe(200, "RateLimit-Remaining: 1\r\nRateLimit-Reset: 29\r\n", nil, tickets[3])))
		note(select(2, rl:observe(200, "RateLimit-Remaining: 2\r\nRateLimit-Reset: 29\r\n", nil, tickets[2])))
		note(select(2, rl:observe(200, "RateLimit-Remaining: 0\r\nRateLimit-Reset: 29\r\n", nil, tickets[4])))
		note(select(2, rl:observe(200, "RateLimit-Remaining: 3\r\nRateLimit-Reset: 29\r\n", nil, tickets[1])))
		return views
	end

	local function limiters(name)
		local shm = support.temp_path()
		local url = server.url .. "/?bucket=" .. name
		return {
			["this process's"] = core.ratelimit(60, 60, 60),
			["shm:"] = core.limiter({ url = "shm:" .. shm, bucket = name, limit = 60, window = 60, burst = 60 }),
			["redis://"] = core.limiter({ url = url, limit = 60, window = 60, burst = 60 }),
		},
			function()
				os.remove(shm)
			end
	end

	it("takes the same steps on every backend, reading answers in any order", function()
		local all, clean = limiters("steps")
		local expected
		for name, rl in pairs(all) do
			local views = steps(rl)
			-- Remaining only falls within a window: the lowest said is the
			-- newest, whatever order the answers came in.
			assert.are.same({ 4, 0, 0, 0, 0 }, {
				views[1].remaining,
				views[2].remaining,
				views[3].remaining,
				views[4].remaining,
				views[5].remaining,
			}, name)
			assert.are.equal(1, views[2].remaining + views[2].in_flight - 2, name .. ": 1 said, 2 still out")
			assert.are.equal(5, views[5].limit, name)
			for _, v in ipairs(views) do
				v.reset, v.blocked = math.floor(v.reset + 0.5), math.floor(v.blocked + 0.5)
			end
			expected = expected or views
			assert.are.same(expected, views, name)
		end
		clean()
	end)

	it("gives back a refill that an answer out of order would have wasted", function()
		local all, clean = limiters("order")
		for name, rl in pairs(all) do
			local _, first = rl:take()
			rl:observe(200, "Organization-RateLimit-Limit: 10;w=60;b=10\r\nRateLimit-Remaining: 9\r\n", nil, first)
			local _, a = rl:take()
			local _, b = rl:take()
			-- b's answer first (the server had counted a: Remaining 7), then
			-- a's (6 is not possible; a was counted first: 8).
			rl:observe(200, "RateLimit-Remaining: 7\r\n", nil, b)
			local _, v = rl:observe(200, "RateLimit-Remaining: 8\r\n", nil, a)
			assert.are.equal(7, v.remaining, name .. ": the server's last word, all answered")
		end
		clean()
	end)

	it("reads a 429's Retry-After date from the response's Date, not this machine's clock", function()
		-- This process's clock is right; the Date says the server's is an
		-- hour ahead, and the Retry-After date is 20 s after it.
		local server_now = os.time() + 3600
		local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", server_now)
		local retry = os.date("!%a, %d %b %Y %H:%M:%S GMT", server_now + 20)
		local rl = core.ratelimit(60, 60, 60)
		local _, ticket = rl:take()
		local wait = rl:observe(429, "Date: " .. date .. "\r\nRetry-After: " .. retry .. "\r\n", nil, ticket)
		assert.are.equal(20, wait)
	end)
end)

describe("limiter = 'shm:<path>'", function()
	local sandbox, path

	before_each(function()
		path = support.temp_path()
	end)

	after_each(function()
		os.remove(path)
		if sandbox then
			sandbox:stop()
			sandbox = nil
		end
	end)

	it("shares one bucket between processes: the policy learned once, not one 429", function()
		-- 6 workers against a bucket of 5: each would start with the default
		-- policy's 60 tokens, were the first request's check not shared too.
		sandbox = support.start({ rate_limit = "5/1/5" })
		local results, elapsed = workers.run(sandbox, "shm:" .. path, 6, 5)
		assert_all_ok(results, 5)
		assert.are.equal(0, sandbox:stats().rate_limited)
		-- 30 calls at 5 a second, 5 of them at once: 5 refills at least.
		assert.is_true(elapsed > 4.5, "faster than the policy allows: " .. elapsed)
		local out = runner("--limiter shm:" .. path .. " --status")
		assert.truthy(out:find("policy     5 calls every 1 s, bucket of 5", 1, true), out)
		local st = support.run("stat -c %a " .. path)
		assert.are.equal("600\n", st, "made for its owner only")
	end)

	it("is every client's with $PULSE_LIMITER or pulse-lua --limiter, a --collection run's too", function()
		sandbox = support.start({ rate_limit = "7/60/7" })
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		local script = support.temp_path(".lua")
		support.write_file(script, "local c = require('pulse').new() assert(c:get('/v1/centers')) print(c:ratelimit().limit)")
		-- From the environment: the bucket in the file learns the policy.
		local from_env = "env " .. env .. "PULSE_LIMITER=shm:" .. path .. " " .. support.BIN .. "/pulse-lua " .. script
		local out, err, code = support.run(from_env)
		assert.are.equal(0, code, err)
		assert.are.equal("7\n", out)
		out = runner("--limiter shm:" .. path .. " --status")
		assert.truthy(out:find("policy     7 calls every 60 s, bucket of 7", 1, true), out)
		-- From --limiter, for a collection's run: the same bucket, 2 more taken.
		local other = support.temp_path()
		local collection = support.temp_path(".json")
		support.write_file(collection, require("pulse.json").encode({
			info = { name = "shared", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				{ name = "Centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers" } },
				{ name = "Again", request = { method = "GET", url = "{{baseUrl}}/v1/centers" } },
			},
		}))
		local played = "env " .. env .. support.BIN .. "/pulse-lua --limiter shm:" .. other .. " --collection " .. collection
		out, err, code = support.run(played)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("2 requests, 0 failed", 1, true), out)
		out = runner("--limiter shm:" .. other .. " --status")
		assert.truthy(out:find("policy     7 calls every 60 s, bucket of 7", 1, true), out)
		-- A bad one is named where it came from; an action goes alone.
		local bad = "env " .. env .. "PULSE_LIMITER=memcached://x " .. support.BIN .. "/pulse-lua " .. script
		out, err, code = support.run(bad)
		assert.are.equal(1, code, out)
		assert.truthy(err:find("new: $PULSE_LIMITER must be", 1, true), err)
		out, err, code = runner("--limiter shm:" .. other .. " --status --collection " .. collection)
		assert.are.equal(2, code, out) -- a --collection run's usage status
		assert.truthy(err:find("'--limiter URL' goes alone with one of '--status', '--reset', '--reserve' and '--top'", 1, true), err)
		os.remove(script)
		os.remove(collection)
		os.remove(other)
	end)

	it("lets a task told to wait for another client's probe ask again, not wait for good", function()
		-- Two clients on one bucket, in one process: a's request is the
		-- probe that confirms a new bucket; b's task, told to wait for it,
		-- must not wait on b's own answers (there are none). In a child
		-- process under timeout: a task that waits for good hangs the run.
		sandbox = support.start({ rate_limit = "5/1/5", faults = "latency:ms=300:count=0" })
		local script = support.temp_path(".lua")
		support.write_file(
			script,
			string.format(
				[[
local pulse = require("pulse")
local a = pulse.new({ base_url = %q, limiter = %q })
local b = pulse.new({ base_url = %q, limiter = %q })
pulse.run(function()
	local ta = pulse.spawn(function() return a:get("/v1/centers") end)
	pulse.sleep(0.05)
	local tb = pulse.spawn(function() return b:get("/v1/centers") end)
	assert(ta:join())
	assert(tb:join())
end)
print("both answered")
]],
				sandbox.url,
				"shm:" .. path,
				sandbox.url,
				"shm:" .. path
			)
		)
		local out, err = support.run(
			string.format("PULSE_API_KEY=%s timeout 10 %s/pulse-lua %s", support.shell_quote(sandbox.key), support.BIN, script)
		)
		os.remove(script)
		assert.are.equal("both answered\n", out, tostring(err))
	end)

	it("refuses a file that is not one of its own, saying so", function()
		support.write_file(path, "#!/bin/sh\necho hello\n")
		local ok, err = pcall(core.limiter, { url = "shm:" .. path, bucket = "b", limit = 1, window = 1, burst = 1 })
		assert.is_false(ok)
		assert.truthy(err:find("is not a pulse-lua limiter file", 1, true), err)
		assert.are.equal("#!/bin/sh\necho hello\n", support.read_file(path), "left as it was")
		-- One of ours, damaged: the right size, the header gone.
		core.limiter({ url = "shm:" .. path .. ".2", bucket = "b", limit = 1, window = 1, burst = 1 })
		local good = support.read_file(path .. ".2")
		support.write_file(path .. ".2", ("x"):rep(32) .. good:sub(33))
		ok, err = pcall(core.limiter, { url = "shm:" .. path .. ".2", bucket = "b", limit = 1, window = 1, burst = 1 })
		os.remove(path .. ".2")
		assert.is_false(ok)
		assert.truthy(err:find("is not a pulse-lua limiter file of this version", 1, true), err)
		ok, err = pcall(pulse.new, { api_key = "k", base_url = "http://127.0.0.1:1", limiter = "shm:/nonexistent/dir/f" })
		assert.is_false(ok)
		assert.truthy(err:find("No such file or directory", 1, true), err)
	end)

	it("survives its file cut short under running workers: paced alone with limiter_fallback, else failing", function()
		sandbox = support.start({ rate_limit = "40/1/40" })
		local crowd = workers.start(sandbox, "shm:" .. path, 3, 60, function(i)
			return i < 3 and "WORKER_FALLBACK_SHARE=0.5" or ""
		end)
		-- All three have the file mapped (a late one would make it anew).
		local deadline = core.now() + 30
		while ((core.limiter_status("shm:" .. path) or {})[1] or {}).workers ~= 3 do
			assert(core.now() < deadline, "the workers did not all attach")
			core.sleep(0.02)
		end
		workers.wait_for_requests(sandbox, 20)
		os.execute(": > " .. path) -- a cleanup job; the next access to the mapping faults
		-- Each finished and said how (a worker killed by SIGBUS says nothing).
		local results = workers.finish(crowd, 60)
		assert_all_ok({ results[1], results[2] }, 60)
		assert.is_true(results[3].failed > 0, "the worker with no fallback went on without a limiter")
		assert.matches("cut short", results[3].errors[1])
		assert.are.equal(0, sandbox:stats().rate_limited)
	end)

	it("checks what it reads from the file: tampered indices and counts are set right, not followed", function()
		sandbox = support.start({ rate_limit = "20/1/20" })
		local crowd = workers.start(sandbox, "shm:" .. path, 1, 60) -- about 3 s
		workers.wait_for_requests(sandbox, 5)
		-- The file's last bytes (the worker slots, the running worker's
		-- among them) overwritten in place with 50,000,000.
		local file = assert(io.open(path, "r+b"))
		local size = file:seek("end")
		local slot = 4 * 4 + 3 * 8 -- used, bucket, in_flight, pid; taken by lane (shm.c's struct shm_worker)
		local tail = 256 * slot + 8
		file:seek("set", size - tail)
		file:write(string.rep(string.pack("<i4", 50000000), tail // 4))
		file:close()
		-- --status walks the slots (a live one's bucket index included).
		local out, err, code = runner("--limiter shm:" .. path .. " --status")
		assert.are.equal(0, code, err)
		assert.matches("repaired   %d+ value%(s%) of the file that were out of bounds", out)
		assert_all_ok(workers.finish(crowd, 60), 60)
		assert_all_ok(workers.run(sandbox, "shm:" .. path, 2, 3), 3)
	end)

	it("holds every wait to the policy when one worker's clock runs 30 s ahead #timing", function()
		local _, why, code = support.run("unshare --time --monotonic 30 --fork true")
		if code ~= 0 then
			pending("no time namespace here (unshare --time: " .. tostring(why) .. ")")
			return
		end
		-- 3 workers x 15 GETs at 15 a second: about 3 s. A refill time
		-- written on the clock that is ahead would hold the others 30 s.
		sandbox = support.start({ rate_limit = "15/1/15" })
		local results, seconds = workers.run(sandbox, "shm:" .. path, 3, 15, function(i)
			return i == 1 and "unshare --time --monotonic 30 --fork" or ""
		end)
		assert_all_ok(results, 15)
		assert.is_true(seconds < 15, string.format("the job took %.1f s", seconds))
		-- The worker whose clock is ahead reads the others' refill times as
		-- past, and may draw a 429 or two, which the server's word settles.
		assert.is_true(sandbox:stats().rate_limited <= 3, sandbox:stats().rate_limited .. " answers of 429")
		local out = runner("--limiter shm:" .. path .. " --status")
		local by = out:match("clocks     %d+ time%(s%) a worker found another's clock ahead of its own, last by ([%d.]+) s")
		assert(by, out)
		assert.is_true(tonumber(by) > 25 and tonumber(by) < 35, by)
	end)

	it("outside tasks, sleeps while another process's request confirms the bucket, within the call's budget", function()
		-- The first request of a fresh bucket confirms it, and is answered
		-- 4 s late: meanwhile the bucket lets no other request go.
		sandbox = support.start({ faults = "latency:ms=4000:count=1" })
		local first = support.background(string.format(
			"PULSE_API_KEY=%s %s/pulse-lua -e 'local c = require(\"pulse\").new{base_url = %q, limiter = \"shm:%s\"} "
				.. "assert(c:get(\"/v1/centers\"))'",
			support.shell_quote(sandbox.key),
			support.BIN,
			sandbox.url,
			path
		))
		workers.wait_for_requests(sandbox, 1)
		local script = string.format(
			"local core = require('pulse.core') "
				.. "local c = require('pulse').new{base_url = %q, limiter = 'shm:%s', retry = {max_elapsed = 1}} "
				.. "local t0, cpu0 = core.now(), os.clock() "
				.. "local body, err = c:get('/v1/centers') "
				.. "print(string.format('%%s %%.2f %%.2f', body and 'ok' or err.kind, core.now() - t0, os.clock() - cpu0))",
			sandbox.url,
			path
		)
		local out, err, code = support.run(
			string.format("PULSE_API_KEY=%s %s/pulse-lua -e %s", support.shell_quote(sandbox.key), support.BIN, support.shell_quote(script))
		)
		assert.are.equal(0, code, err)
		local kind, wall, cpu = out:match("^(%S+) ([%d.]+) ([%d.]+)")
		assert.are.equal("rate_limited", kind, out)
		assert.is_true(tonumber(wall) < 3, "it waited " .. wall .. " s, past its budget of 1 s")
		assert.is_true(tonumber(cpu) < 0.5, "it spent " .. cpu .. " s of CPU waiting")
		while support.alive(first) do
			core.sleep(0.05)
		end
	end)

	it("recovers the lock of a process killed holding it, and the others finish", function()
		-- A process taking and giving back tokens as fast as it can spends
		-- much of its time holding the lock: kill -9 it until one dies so.
		local loop = string.format(
			"%s/pulse-lua -e 'local rl = require(\"pulse.core\").limiter{url = \"shm:%s\", bucket = \"b\", "
				.. "limit = 1e6, window = 1, burst = 1e6} while true do local _, t = rl:take() rl:cancel(t) end'",
			support.BIN,
			path
		)
		local recovered, kills = 0, 0
		while recovered == 0 and kills < 200 do
			local pid_path = support.temp_path()
			os.execute(loop .. " > /dev/null 2>&1 & echo $! > " .. pid_path)
			local pid = assert(support.read_file(pid_path)):match("%d+")
			os.remove(pid_path)
			core.sleep(0.05 + math.random() * 0.05)
			os.execute("kill -9 " .. pid)
			kills = kills + 1
			while support.alive(pid) do
				core.sleep(0.005)
			end
			local buckets = core.limiter_status("shm:" .. path)
			recovered = buckets and buckets[1] and buckets[1].recovered or 0
		end
		assert.are.equal(1, recovered, "no kill landed inside the lock in " .. kills .. " tries")
		local b = core.limiter_status("shm:" .. path)[1]
		assert.are.equal(0, b.rate.in_flight, "the dead process's tokens are back")
		assert.are.equal(0, b.workers)
		-- The file still works for everyone.
		sandbox = support.start({ rate_limit = "10/1/10" })
		local results = workers.run(sandbox, "shm:" .. path, 3, 5)
		assert_all_ok(results, 5)
		assert.are.equal(0, sandbox:stats().rate_limited)
	end)

	it("gives back the tokens of a worker killed with requests out", function()
		sandbox = support.start({ rate_limit = "100/1/100", faults = "latency:ms=3000" })
		local crowd = workers.start(sandbox, "shm:" .. path, 1, 1)
		local deadline = core.now() + 10
		local b
		repeat
			core.sleep(0.05)
			b = (core.limiter_status("shm:" .. path) or {})[1]
		until (b and b.rate.in_flight == 1) or core.now() > deadline
		assert.are.equal(1, b.rate.in_flight, "the worker's request is out")
		os.execute("kill -9 " .. crowd[1].pid)
		while support.alive(crowd[1].pid) do
			core.sleep(0.01)
		end
		os.remove(crowd[1].out)
		b = core.limiter_status("shm:" .. path)[1]
		assert.are.equal(0, b.rate.in_flight)
	end)

	it("keeps two organizations apart in one file, and a key change in its bucket", function()
		sandbox = support.start({ rate_limit = "10/1/10" })
		local other = support.start({ rate_limit = "10/1/10" })
		local a = workers.start(sandbox, "shm:" .. path, 2, 15)
		local b = workers.start(other, "shm:" .. path, 2, 15)
		local results_a, elapsed_a = workers.finish(a)
		local results_b = workers.finish(b)
		assert_all_ok(results_a, 15)
		assert_all_ok(results_b, 15)
		assert.are.equal(0, sandbox:stats().rate_limited)
		assert.are.equal(0, other:stats().rate_limited)
		-- 30 calls each at 10 a second: 2 refills each, not the 5 of a
		-- bucket shared by both.
		assert.is_true(elapsed_a < 4, "the organizations shared a bucket: " .. elapsed_a)
		assert.are.equal(2, #core.limiter_status("shm:" .. path))
		-- A client's new key (a rotation) keeps its bucket.
		local c = sandbox:client({ limiter = "shm:" .. path })
		c:set_api_key(other.key)
		c:get(sandbox:item(1)) -- a 401 from this sandbox: the key is the other's
		c:close()
		other:stop()
		assert.are.equal(2, #core.limiter_status("shm:" .. path))
	end)

	it("lets several keys of one organization share a bucket by name", function()
		sandbox = support.start({ rate_limit = "5/1/5", keys = { "old-key-1", "new-key-2" } })
		local crowd = workers.start(sandbox, "shm:" .. path, 4, 5, function(i)
			return "WORKER_BUCKET=acme PULSE_API_KEY=" .. (i % 2 == 0 and "old-key-1" or "new-key-2")
		end)
		local results = workers.finish(crowd)
		assert_all_ok(results, 5)
		assert.are.equal(0, sandbox:stats().rate_limited)
		local buckets = core.limiter_status("shm:" .. path)
		assert.are.equal(1, #buckets)
		assert.are.equal("acme", buckets[1].name)
	end)

	it("shows a worker's 429 to the others, who send nothing until it passes", function()
		sandbox = support.start({ rate_limit = "1/60/1" })
		sandbox:raw("GET", sandbox:item(1), { "Authorization: Api-key " .. sandbox.key })
		local a = sandbox:client({ limiter = "shm:" .. path, retry = false })
		local _, err = a:get(sandbox:item(1))
		assert.are.equal(429, err.status)
		a:close()
		local b = sandbox:client({ limiter = "shm:" .. path, retry = { max_elapsed = 5 } })
		local before = sandbox:stats().requests
		_, err = b:get(sandbox:item(1))
		assert.are.equal("rate_limited", err.kind)
		assert.is_true(err.retry_after > 50, tostring(err.retry_after))
		assert.are.equal(before, sandbox:stats().requests, "nothing sent into the 429")
		assert.are.equal(1, b:ratelimit().limit, "the policy the other learned")
		b:close()
		local out = runner("--limiter shm:" .. path .. " --status")
		assert.truthy(out:find("(a 429)", 1, true), out)
	end)

	it("resets a bucket from the command line", function()
		sandbox = support.start({ rate_limit = "3/60/3" })
		local c = sandbox:client({ limiter = "shm:" .. path })
		assert(c:get(sandbox:item(1)))
		c:close()
		local out, err, code = runner("--limiter shm:" .. path .. " --reset")
		assert.are.equal(0, code, err)
		assert.are.equal("reset 1 bucket\n", out)
		out = runner("--limiter shm:" .. path .. " --status")
		assert.truthy(out:find("predicted: the next request checks", 1, true), out)
		local _, why, failed = runner("--limiter shm:" .. path .. ".none --status")
		assert.are.equal(1, failed)
		assert.truthy(why:find("No such file", 1, true), why)
	end)
end)

describe("limiter = 'redis://...'", function()
	local server, sandbox

	before_each(function()
		server = redis.start({ password = "pw-" .. math.random(1e6, 9e6) })
	end)

	after_each(function()
		server:stop()
		if sandbox then
			sandbox:stop()
			sandbox = nil
		end
	end)

	it("shows a new client what Redis holds, before its first request", function()
		sandbox = support.start({ rate_limit = "20/5/20" })
		local first = sandbox:client({ limiter = server.url .. "?bucket=seen" })
		assert(first:get(sandbox:item(1))) -- the server's policy, into the bucket
		local later = sandbox:client({ limiter = server.url .. "?bucket=seen" })
		local view = later:ratelimit()
		assert.are.same({ 20, 5, 20 }, { view.limit, view.window, view.burst })
		first:close()
		later:close()
	end)

	it("shares one bucket on Redis' clock, with workers' clocks 30 s off", function()
		sandbox = support.start({ rate_limit = "10/1/10", retry_after = "http-date" })
		local results = workers.run(sandbox, server.url .. "/?bucket=clock", 4, 10, function(i)
			return "PULSE_TEST_CLOCK_OFFSET=" .. ({ 30, -30, 0, 0 })[i]
		end)
		assert_all_ok(results, 10)
		assert.are.equal(0, sandbox:stats().rate_limited)
		local out, err = runner("--limiter " .. server.url .. "/?bucket=clock --status")
		assert.truthy(out:find("policy     10 calls every 1 s", 1, true), out .. err)
		assert.truthy(out:find("workers    4 seen in the last minute", 1, true), out)
	end)

	it("survives a restart, FLUSHALL and SCRIPT FLUSH mid-run, at most one 429 each", function()
		sandbox = support.start({ rate_limit = "20/1/20" })
		local crowd = workers.start(sandbox, server.url .. "/?bucket=loss", 4, 30)
		workers.wait_for_requests(sandbox, 30)
		server:restart()
		workers.wait_for_requests(sandbox, 60)
		server:cli("FLUSHALL")
		workers.wait_for_requests(sandbox, 90)
		server:cli("SCRIPT FLUSH")
		local results = workers.finish(crowd)
		assert_all_ok(results, 30)
		assert.is_true(sandbox:stats().rate_limited <= 2, "429s: " .. sandbox:stats().rate_limited)
		local out = runner("--limiter " .. server.url .. "/?bucket=loss --status")
		assert.truthy(out:find("policy     20 calls every 1 s", 1, true), "learned again: " .. out)
	end)

	it("fails calls within the connect timeout, naming Redis, when it is down", function()
		sandbox = support.start({ rate_limit = "20/1/20" })
		server:kill()
		local c = sandbox:client({ limiter = server.url, connect_timeout = 2 })
		local started = core.now()
		local _, err = c:get(sandbox:item(1))
		assert.is_true(core.now() - started < 3)
		assert.are.equal("network", err.kind)
		assert.truthy(tostring(err):find("the limiter's Redis at 127.0.0.1:" .. server.port, 1, true), tostring(err))
		assert.are.equal(0, sandbox:stats().requests, "nothing sent unpaced")
		c:close()
		-- Unless the user chose to pace alone, at a share of the limit.
		c = sandbox:client({ limiter = server.url, connect_timeout = 2, limiter_fallback = { share = 0.25 } })
		started = core.now()
		for _ = 1, 12 do
			assert(c:get(sandbox:item(1)))
		end
		assert.are.equal(5, c:ratelimit().limit, "a quarter of 20")
		assert.is_true(core.now() - started > 1, "12 calls at 5 a second go past a refill")
		assert.is_true(c:stats().throttled > 0)
		c:close()
	end)

	it("fails the workers' calls, naming Redis, when it dies mid-run; or paces them at their share", function()
		sandbox = support.start({ rate_limit = "20/1/20" })
		local crowd = workers.start(sandbox, server.url .. "/?bucket=dies", 2, 40, function()
			return "WORKER_CONNECT_TIMEOUT=2"
		end)
		local paced = workers.start(sandbox, server.url .. "/?bucket=dies", 2, 40, function()
			return "WORKER_FALLBACK_SHARE=0.25"
		end)
		workers.wait_for_requests(sandbox, 30)
		local killed_at = core.now()
		server:kill()
		local _, _, code = support.run("redis-cli -p " .. server.port .. " ping")
		assert.are_not.equal(0, code, "something still answers on Redis' port after the kill")
		local results = workers.finish(crowd, 30)
		for _, r in ipairs(results) do
			-- What the worker did, and when the kill came on its clock, should this fail.
			r.killed_after = killed_at - r.started
			assert.is_true(r.failed > 0, "no call failed with Redis gone: " .. json.encode(r))
			assert.truthy(r.errors[1]:find("the limiter's Redis", 1, true), r.errors[1])
		end
		assert_all_ok(workers.finish(paced, 60), 40)
		assert.are.equal(0, sandbox:stats().rate_limited, "two workers at a quarter each stay under the limit")
	end)

	it("paces alone from the next window when Redis dies: the others spent this one", function()
		sandbox = support.start({ rate_limit = "20/2/20" })
		local url = server.url .. "/?bucket=spent"
		local paced = sandbox:client({ limiter = url, limiter_fallback = { share = 0.25 } })
		local other = sandbox:client({ limiter = url })
		assert(paced:get(sandbox:item(1))) -- it last saw 19 left
		for _ = 1, 19 do
			assert(other:get(sandbox:item(1)))
		end
		local window_ends = core.now() + paced:ratelimit().reset
		server:kill()
		for _ = 1, 3 do
			assert(paced:get(sandbox:item(1)))
		end
		assert.are.equal(0, sandbox:stats().rate_limited, "sent into the window the other spent")
		assert.is_true(core.now() >= window_ends - 0.05, "the window it was in is over")
		paced:close()
		other:close()
	end)

	it("needs the password Redis wants, and never shows it", function()
		sandbox = support.start({ rate_limit = "20/1/20" })
		local no_password = server.url:gsub(":[^:@/]*@", "@")
		local c = sandbox:client({ limiter = no_password })
		local _, err = c:get(sandbox:item(1))
		assert.truthy(tostring(err):find("NOAUTH", 1, true), tostring(err))
		c:close()
		local wrong = string.format("redis://:not-%s@127.0.0.1:%d", server.password, server.port)
		local trace = support.temp_path()
		local out, errors, code = runner(string.format(
			"--verbose -e %s 2> %s",
			support.shell_quote(string.format(
				"local c = require('pulse').new{api_key = %q, base_url = %q, limiter = %q} "
					.. "local _, err = c:get('/v1/centers') print(err) print(c) error(tostring(err))",
				sandbox.key,
				sandbox.url,
				wrong
			)),
			trace
		))
		local all = out .. errors .. (support.read_file(trace) or "")
		os.remove(trace)
		assert.are_not.equal(0, code)
		assert.truthy(all:find("WRONGPASS", 1, true), all)
		assert.falsy(all:find(server.password, 1, true), "the password shows:\n" .. all)
		assert.falsy(all:find(sandbox.key, 1, true), "the key shows:\n" .. all)
		assert.truthy(all:find("Redis at 127.0.0.1:" .. server.port, 1, true), all)
	end)

	it("refuses rediss:// with hiredis 0.14, saying why", function()
		local ok, err = pcall(pulse.new, { api_key = "k", base_url = "http://127.0.0.1:1", limiter = "rediss://127.0.0.1:1" })
		assert.is_false(ok)
		assert.truthy(err:find("needs hiredis 1.0 or later", 1, true), err)
	end)

	it("resets a bucket from the command line", function()
		sandbox = support.start({ rate_limit = "3/60/3" })
		local c = sandbox:client({ limiter = server.url .. "/?bucket=admin" })
		assert(c:get(sandbox:item(1)))
		c:close()
		local url = server.url .. "/?bucket=admin"
		local out = runner("--limiter " .. url .. " --status")
		assert.truthy(out:find("policy     3 calls every 60 s", 1, true), out)
		assert.falsy(out:find(server.password, 1, true))
		out = runner("--limiter " .. url .. " --reset")
		assert.are.equal("reset 1 bucket\n", out)
		out = runner("--limiter " .. url .. " --status")
		assert.are.equal("no bucket admin there yet\n", out)
	end)
end)
