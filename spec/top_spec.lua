-- pulse-lua --limiter URL --top: a shared bucket live, on shm: and Redis,
-- while two processes take its tokens in two lanes. On a terminal (a pty,
-- through script(1)) the frame is redrawn each second; on a pipe it is a
-- line each second. Ctrl-C ends it.

local core = require("pulse.core")
local pulse = require("pulse")
local redis = require("support.redis")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-lua"

-- Starts the two workers on url's bucket "top"; their pids.
local function workers(url, seconds)
	local pids = {}
	for i, lane in ipairs({ "bulk", "interactive" }) do
		local out = support.temp_path()
		pids[i] = support.background(
			string.format("%s spec/support/top_worker.lua %s top %s %d", BIN, support.shell_quote(url), lane, seconds),
			out
		)
		local deadline = core.now() + 10
		while not (support.read_file(out) or ""):find("started") do
			assert(core.now() < deadline, "a worker did not start")
			core.sleep(0.02)
		end
		os.remove(out)
	end
	return pids
end

-- What --top printed in seconds, then stopped by SIGINT (its status too).
local function top(args, seconds, on_tty)
	local out = support.temp_path()
	local command = string.format("%s --limiter %s --top", BIN, args)
	if on_tty then
		-- exec: script(1) runs the command through $SHELL, and dash, unlike
		-- bash, stays as its parent and does not pass SIGINT on.
		command = "script -qfec " .. support.shell_quote("exec " .. command) .. " /dev/null"
	end
	local pid = support.background(command, out)
	core.sleep(seconds)
	-- On a terminal the runner is script(1)'s child: Ctrl-C reaches it.
	os.execute((on_tty and "pkill -INT -P " or "kill -INT ") .. pid)
	local deadline = core.now() + 10
	while support.alive(pid) do
		assert(core.now() < deadline, "--top did not stop on SIGINT")
		core.sleep(0.05)
	end
	local text = support.read_file(out) or ""
	os.remove(out)
	return text
end

describe("pulse-lua --top", function()
	local server

	setup(function()
		server = redis.start()
	end)

	teardown(function()
		server:stop()
	end)

	it("redraws the bucket on a terminal: tokens, waiters, tokens taken per process and lane, the queue", function()
		local shm, journal = support.temp_path(), support.temp_path(".journal")
		local q = assert(pulse.queue.open("file:" .. journal))
		for i = 1, 3 do
			assert(q:push({ method = "POST", path = support.GUESTS, json = { n = i } }))
		end
		q:close()
		local pids = workers("shm:" .. shm, 6)
		local text = top(string.format("'shm:%s?bucket=top' --queue file:%s", shm, journal), 4.5, true)
		local _, frames = text:gsub("\27%[H\27%[2J", "")
		assert.is_true(frames >= 3, "redrawn each second: " .. frames .. "\n" .. text)
		assert.truthy(text:find("bucket top", 1, true), text)
		assert.truthy(text:find("tokens     %d+ of 5, next refill in"), text)
		assert.truthy(text:find("queue      3 pending, 0 uncertain, 0 done, 0 dead", 1, true), text)
		for i, lane in ipairs({ "bulk", "interactive" }) do
			local row = text:match("pid " .. pids[i] .. " +" .. lane .. " +(%d+) |")
			assert.truthy(row, "a row for worker " .. i .. " in " .. lane .. ":\n" .. text)
		end
		-- The windows past: a refill every 2 s, so by 4 s one closed, and
		-- the two took at most its 5 tokens (and the bucket's first 5).
		local closed = 0
		for n in text:gmatch("pid %d+ +%a+ +%d+ | +(%d+)") do
			closed = closed + tonumber(n)
		end
		assert.is_true(closed > 0, text)
		os.remove(shm)
		os.remove(journal)
		os.remove(journal .. ".lock")
	end)

	it("writes a line a second on a pipe, on Redis, naming each worker by host and pid", function()
		local url = server.url .. "/?bucket=top"
		local pids = workers(url, 6)
		local text = top(support.shell_quote(url), 3.5, false)
		local lines = {}
		for line in text:gmatch("[^\n]+") do
			lines[#lines + 1] = line
			assert.truthy(line:find("^%d%d:%d%d:%d%d tokens=%d+/5 refill_in=[%d.]+ in_flight=%d+ waiting=%d+/%d+/%d+ 429s=%d+ taken="), line)
		end
		assert.is_true(#lines >= 3 and #lines <= 5, text)
		local seen = table.concat(lines, "\n")
		assert.truthy(seen:find(":" .. pids[1] .. "/bulk=", 1, true) or seen:find(":" .. pids[2] .. "/interactive=", 1, true), seen)
	end)

	it("counts the answers of 429 the bucket's workers read, on both backends", function()
		local shm = support.temp_path()
		for _, url in ipairs({ "shm:" .. shm .. "?bucket=limited", server.url .. "/?bucket=limited" }) do
			local store = url:find("^shm:") and url:gsub("[?].*$", "") or url
			local rl = core.limiter({ url = store, bucket = "limited", limit = 5, window = 60, burst = 5 })
			for _ = 1, 2 do
				local wait, ticket = rl:take()
				assert.are.equal(0, wait)
				rl:observe(429, "Retry-After: 1\r\n", nil, ticket)
				core.sleep(1.05)
			end
			local out, err, code = support.run(BIN .. " --limiter " .. support.shell_quote(url) .. " --status")
			assert.are.equal(0, code, err)
			assert.truthy(out:find("answers of 429: 2", 1, true), out)
		end
		os.remove(shm)
	end)

	it("is refused without a limiter, or with a queue's action, naming how it goes", function()
		local _, err, code = support.run(BIN .. " --top")
		assert.are.equal(1, code)
		assert.truthy(err:find("'--top' goes with '--limiter URL'", 1, true), err)
		_, err, code = support.run(BIN .. " --limiter shm:/tmp/x --top --status")
		assert.are.equal(1, code)
		assert.truthy(err:find("and '--queue URL' beside '--top'", 1, true), err)
	end)
end)
