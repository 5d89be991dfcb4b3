-- Identical reads share one call: concurrent GETs of one URL under one key
-- (tasks, a batch) send one request, and the answers that rode along say
-- res.shared; each caller still gets a body of its own.

local pulse = require("pulse")
local support = require("support.sandbox")

describe("identical reads", function()
	local sandbox

	setup(function()
		sandbox = support.start({ keys = { "shared-key-a", "shared-key-b" }, faults = "latency:ms=150:count=0" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		sandbox:reset()
	end)

	-- n tasks asking at once; their answers in order.
	local function at_once(n, ask)
		local answers = {}
		pulse.run(function()
			local running = {}
			for i = 1, n do
				running[i] = pulse.spawn(function()
					local body, res = ask(i)
					answers[i] = { body = body, res = res }
				end)
			end
			for _, task in ipairs(running) do
				task:join()
			end
		end)
		return answers
	end

	it("asked by 16 tasks at once go out once; 15 answers ride along, each with a body of its own", function()
		local client = sandbox:client()
		local answers = at_once(16, function()
			return client:get(support.READ)
		end)
		assert.are.equal(1, sandbox:stats().requests)
		local shared = 0
		for i, a in ipairs(answers) do
			assert.is_table(a.body, tostring(a.res))
			assert.are.equal(200, a.res.status)
			if a.res.shared then
				shared = shared + 1
				assert.are.equal(0, a.res.attempts, "a rider sent nothing")
			end
			assert.are.same(answers[1].body, a.body, "answer " .. i)
		end
		assert.are.equal(15, shared)
		answers[1].body.changed = true
		assert.is_nil(answers[2].body.changed, "a rider's body is its own table")
	end)

	it("keep the first one's record for later twins when a twin with a shorter deadline gives up on it", function()
		local slow = support.start({ faults = "latency:ms=150:count=0" }) -- a reset ends a fault
		local client = slow:client()
		assert.is_table(client:get(support.READ .. "?page=2"), "the bucket confirmed: no call waits for a first answer")
		local answers = at_once(3, function(i)
			if i == 2 then -- gives up riding after 50 ms, and its own call times out too
				return client:get(support.READ, { timeout = 0.05, retry = false })
			elseif i == 3 then
				pulse.sleep(0.08) -- asked after the second gave up, while the first is out
			end
			return client:get(support.READ)
		end)
		assert.are.equal(200, answers[1].res.status)
		assert.is_false(answers[1].res.shared)
		assert.is_nil(answers[2].body)
		assert.are.equal("timeout", answers[2].res.kind)
		assert.are.equal(200, answers[3].res.status)
		assert.is_true(answers[3].res.shared, "the third rode along with the first, still out")
		assert.are.equal(0, answers[3].res.attempts)
		slow:stop()
	end)

	it("are not shared when asked with Cache-Control: no-cache, or under another key, or one after another", function()
		local client = sandbox:client()
		at_once(4, function()
			return client:get(support.READ, { headers = { ["Cache-Control"] = "no-cache" } })
		end)
		assert.are.equal(4, sandbox:stats().requests)
		sandbox:reset()
		local a, b = sandbox:client(), sandbox:client({ api_key = "shared-key-b" })
		at_once(2, function(i)
			return (i == 1 and a or b):get(support.READ)
		end)
		assert.are.equal(2, sandbox:stats().requests, "another key is another identity")
		sandbox:reset()
		assert.is_table(client:get(support.READ))
		local _, res = client:get(support.READ)
		assert.is_false(res.shared)
		assert.are.equal(2, sandbox:stats().requests)
	end)

	it("in a batch go out once, the twins of a routed request riding along", function()
		local client = sandbox:client()
		local list = {}
		for i = 1, 8 do
			list[i] = { "GET", support.READ }
		end
		list[9] = { "GET", support.READ, { query = { page = 2 } } }
		local results = client:batch(list, { concurrency = 9 })
		assert.are.equal(2, sandbox:stats().requests, "one per URL")
		local shared = 0
		for i = 1, 8 do
			assert.is_table(results[i].body)
			shared = shared + (results[i].res.shared and 1 or 0)
		end
		assert.are.equal(7, shared)
	end)
end)

describe("identical reads across processes", function()
	local redis = require("support.redis")
	local core = require("pulse.core")
	local server

	setup(function()
		server = redis.start()
	end)

	teardown(function()
		server:stop()
	end)

	-- n reader processes started at once; their outputs' files.
	local function readers(sandbox, limiter, dir, path, n)
		local outs = {}
		for i = 1, n do
			outs[i] = support.temp_path()
			support.background(
				string.format(
					"PULSE_API_KEY=%s %s/pulse-lua spec/support/reader_worker.lua %s %s %s %s",
					support.shell_quote(sandbox.key),
					support.BIN,
					sandbox.url,
					support.shell_quote(limiter),
					dir,
					support.shell_quote(path)
				),
				outs[i]
			)
		end
		return outs
	end

	local function answers(outs)
		local all = {}
		for i, out in ipairs(outs) do
			all[i] = support.json_line(out)
		end
		return all
	end

	for _, backend in ipairs({ "shm:", "redis://" }) do
		it("read by 16 processes at once spend one call on a shared limiter and cache (" .. backend .. ")", function()
			local sandbox = support.start({ faults = "latency:ms=300:count=0" })
			local dir = support.temp_path(".cache")
			local shm = support.temp_path()
			local limiter = backend == "shm:" and "shm:" .. shm or server.url .. "/?bucket=reads-" .. sandbox.port
			local all = answers(readers(sandbox, limiter, dir, support.READ, 16))
			local shared, stored = 0, 0
			for i, a in ipairs(all) do
				assert.is_true(a.ok, "reader " .. i .. ": " .. tostring(a.error))
				shared = shared + (a.shared and 1 or 0)
				stored = stored + (a.from_cache and 1 or 0)
			end
			assert.are.equal(1, sandbox:stats().requests, "calls spent by 16 readers")
			-- 15 answered from the fetcher's answer: those that waited on its
			-- claim (res.shared), and any that started after it was stored
			-- (a plain hit: under ASan a process starts slowly).
			assert.are.equal(15, stored)
			assert.is_true(shared >= 1, "none waited on the fetcher's claim")
			sandbox:stop()
			os.execute("rm -rf " .. dir)
			os.remove(shm)
		end)
	end

	it("are fetched by another process when the fetcher is killed while the others wait", function()
		local sandbox = support.start({ faults = "latency:ms=3000:count=1" })
		local dir = support.temp_path(".cache")
		local shm = support.temp_path()
		local first = readers(sandbox, "shm:" .. shm, dir, support.READ, 1)
		core.sleep(0.5) -- it has claimed the fetch, and waits for its slow answer
		local others = readers(sandbox, "shm:" .. shm, dir, support.READ, 3)
		core.sleep(0.3)
		local pid = support.run("pgrep -f 'reader_worker.lua " .. sandbox.url .. "' | head -1")
		os.execute("kill -9 " .. pid:match("%d+"))
		os.remove(first[1])
		local started = core.now()
		for i, a in ipairs(answers(others)) do
			assert.is_true(a.ok, "reader " .. i .. ": " .. tostring(a.error))
		end
		assert.is_true(core.now() - started < 2, "taken over at once, not after the claim's lease")
		assert.are.equal(2, sandbox:stats().requests, "the dead fetcher's call, and one more")
		sandbox:stop()
		os.execute("rm -rf " .. dir)
		os.remove(shm)
	end)
end)
