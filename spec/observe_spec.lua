-- Seeing where the calls went: hooks (on = { request, response, retry,
-- wait, cache }, on a client and per call) and the trace (a JSON line per
-- attempt), against the sandbox. Every event is plain data, encodable, and
-- free of the key; a hook that raises is told of once and removed.

local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

-- Hooks that keep every event, in order, in events.
local function recorder(events)
	local hooks = {}
	for _, kind in ipairs({ "request", "response", "retry", "wait", "cache" }) do
		hooks[kind] = function(event)
			events[#events + 1] = event
		end
	end
	return hooks
end

local function kinds(events)
	local list = {}
	for i, e in ipairs(events) do
		list[i] = e.event
	end
	return table.concat(list, " ")
end

local function read_lines(path)
	local lines = {}
	for line in io.lines(path) do
		lines[#lines + 1] = assert(json.decode(line))
	end
	return lines
end

describe("hooks", function()
	local sandbox

	setup(function()
		sandbox = support.start({ rate_limit = "3/1/3" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		sandbox:reset()
	end)

	it("tell of each attempt, its retry and its wait for a token, in plain data without the key", function()
		local events = {}
		local client = sandbox:client({ on = recorder(events) })
		sandbox:fault("503:count=1")
		-- The key in a query too: the events' URLs are redacted of it.
		local body, res = client:get(support.READ, { query = { echo = sandbox.key } })
		assert.is_table(body, tostring(res))
		assert.are.equal("request response retry request response", kinds(events))
		local first, failed, retry, again, answered = table.unpack(events)
		assert.are.same({ "GET", 1, "normal" }, { first.method, first.attempt, first.lane })
		assert.are.equal(503, failed.status)
		assert.are.equal(1, failed.attempt)
		assert.is_true(failed.elapsed > 0)
		assert.are.equal(503, retry.status)
		assert.is_true(retry.wait >= 0)
		assert.are.equal(2, again.attempt)
		assert.are.same({ 200, 2, false }, { answered.status, answered.attempt, answered.shared })
		assert.are.equal(3, answered.rate.limit, "the rate-limit view after the answer")
		for _, e in ipairs(events) do
			local text = json.encode(e)
			assert.is_nil(text:find(sandbox.key, 1, true), "no event holds the key: " .. text)
			assert.is_number(e.time)
		end
		assert.truthy(first.url:find("/v1/centers?echo=", 1, true), first.url)
		-- A bucket of 3 a second: a burst of 5 waits for the refill.
		for i = #events, 1, -1 do
			events[i] = nil
		end
		for _ = 1, 5 do
			assert(client:get(support.READ))
		end
		local waits = {}
		for _, e in ipairs(events) do
			if e.event == "wait" then
				waits[#waits + 1] = e
			end
		end
		assert.is_true(#waits >= 1, kinds(events))
		assert.is_true(waits[1].wait > 0 and waits[1].wait <= 1, tostring(waits[1].wait))
		local waited = 0
		for _, e in ipairs(events) do
			if e.event == "response" then
				waited = waited + e.waited
			end
		end
		assert.is_true(waited > 0, "the answers count the wait")
		client:close()
	end)

	it("tell what the cache did, and a call's own hooks run after the client's", function()
		local events = {}
		local client = sandbox:client({ cache = { ttl = 60 }, on = recorder(events) })
		assert(client:get(support.READ))
		assert.are.equal("request response cache", kinds(events))
		assert.are.equal("stored", events[3].cache)
		for i = #events, 1, -1 do
			events[i] = nil
		end
		local own = {}
		local body, res = client:get(support.READ, {
			on = {
				cache = function(e)
					own[#own + 1] = { e.cache, #events } -- how many the client's hook had seen
				end,
			},
		})
		assert.is_true(res.from_cache, tostring(body))
		assert.are.equal("cache", kinds(events))
		assert.are.equal("hit", events[1].cache)
		assert.are.same({ { "hit", 1 } }, own, "the call's hook, after the client's")
		client:close()
	end)

	it("tell of every request of a batch, each on the full path", function()
		local events = {}
		local client = sandbox:client({ on = recorder(events), rate_limit = { limit = 3, window = 1 } })
		local list = {}
		for i = 1, 6 do
			list[i] = { "GET", sandbox:item(i) }
		end
		for _, r in ipairs(client:batch(list, { concurrency = 3 })) do
			assert.is_table(r.body, tostring(r.err))
		end
		local count = {}
		for _, e in ipairs(events) do
			count[e.event] = (count[e.event] or 0) + 1
		end
		assert.are.equal(6, count.request)
		assert.are.equal(6, count.response)
		assert.is_true((count.wait or 0) >= 1, "6 at 3 a second wait for the refill: " .. kinds(events))
		client:close()
	end)

	it("that raise are told of once on stderr and removed; the calls go on", function()
		local script = support.temp_path(".lua")
		support.write_file(
			script,
			string.format(
				[[
local pulse = require("pulse")
local seen = 0
local client = pulse.new({ api_key = %q, base_url = %q, on = {
	response = function() seen = seen + 1; error("boom " .. %q) end,
	request = function() seen = seen + 1 end,
} })
for _ = 1, 3 do assert(client:get("/v1/centers")) end
print(seen)
]],
				sandbox.key,
				sandbox.url,
				sandbox.key
			)
		)
		local out, err, code = support.run(support.BIN .. "/pulse-lua " .. script)
		os.remove(script)
		assert.are.equal(0, code, err)
		assert.are.equal("4\n", out, "3 request hooks and 1 response hook, then it was gone")
		local _, told = err:gsub("the response hook raised, and is removed", "")
		assert.are.equal(1, told, err)
		assert.is_nil(err:find(sandbox.key, 1, true), "the key is redacted from what it raised")
	end)

	it("are refused when they are not functions of the kinds known, naming them", function()
		local ok, err = pcall(sandbox.client, sandbox, { on = { respone = print } })
		assert.is_false(ok)
		assert.truthy(tostring(err):find("new.on: unknown option 'respone' (valid: cache, request, response", 1, true), err)
		ok, err = pcall(sandbox.client, sandbox, { on = { response = 5 } })
		assert.is_false(ok)
		assert.truthy(tostring(err):find("option 'response' must be function, got 5", 1, true), err)
		local client = sandbox:client()
		ok, err = pcall(client.get, client, support.READ, { on = "x" })
		assert.is_false(ok)
		assert.truthy(tostring(err):find("option 'on' must be table, got x", 1, true), err)
		client:close()
	end)
end)

describe("the trace", function()
	local sandbox, path

	setup(function()
		sandbox = support.start({ rate_limit = "1000/1/1000" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		path = support.temp_path(".jsonl")
	end)

	after_each(function()
		os.remove(path)
	end)

	it("writes a JSON line per attempt: libcurl's phases, sizes, token wait, lane, cache, rate", function()
		local client = sandbox:client({ trace = path, cache = { ttl = 60 }, priority = "bulk" })
		assert(client:get(support.READ))
		assert(client:get(support.READ)) -- from the cache: a line, no attempt
		assert(client:post(support.GUESTS, sandbox:guest(1)))
		client:close()
		local lines = read_lines(path)
		assert.are.equal(4, #lines)
		local get, stored, hit, post = table.unpack(lines)
		assert.are.same({ "cache", "stored", get.url }, { stored.event, stored.cache, stored.url })
		assert.are.same({ "response", "GET", 200, 1, "bulk" }, { get.event, get.method, get.status, get.attempt, get.lane })
		local p = get.phases_us
		assert.is_true(p.dns >= 0 and p.connect >= p.dns and p.first_byte >= p.connect and p.total >= p.first_byte)
		assert.is_true(p.total > 0 and math.abs(p.total - get.elapsed_us) <= 1, json.encode(get))
		assert.is_true(get.bytes_in > 100 and get.bytes_out > 50, json.encode(get))
		assert.are.equal(0, get.waited_us)
		assert.is_true(math.abs(get.time_ms / 1000 - os.time()) < 60)
		assert.are.equal(1000, get.rate.limit)
		assert.is_true(get.rate.remaining < 1000 and get.rate.reset_ms >= 0)
		assert.are.same({ "cache", "hit" }, { hit.event, hit.cache })
		assert.are.same({ "POST", 200 }, { post.method, post.status })
		assert.is_true(post.bytes_out > get.bytes_out, "a body went out")
		local text = support.read_file(path)
		assert.is_nil(text:find(sandbox.key, 1, true), "the key is in no line")
	end)

	it("writes the lines of a batch's requests, sent at once on the engine, and of a retry", function()
		local client = sandbox:client({ trace = path })
		local list = {}
		for i = 1, 6 do
			list[i] = { "GET", sandbox:item(i) }
		end
		for _, r in ipairs(client:batch(list, { concurrency = 3 })) do
			assert.is_table(r.body, tostring(r.err))
		end
		sandbox:fault("503:count=1")
		assert(client:get(support.READ))
		client:close()
		local lines, attempts = read_lines(path), {}
		assert.are.equal(8, #lines, "6, then a 503 and its retry")
		for i = 1, 6 do
			local line = lines[i]
			assert.are.equal(200, line.status)
			assert.is_true(line.phases_us.total > 0 and line.bytes_in > 0, json.encode(line))
			attempts[line.url:match("services/(.*)$")] = true
		end
		local services = 0
		for _ in pairs(attempts) do
			services = services + 1
		end
		assert.are.equal(6, services, "a line for each request")
		assert.are.same({ 503, 1 }, { lines[7].status, lines[7].attempt })
		assert.are.same({ 200, 2 }, { lines[8].status, lines[8].attempt })
	end)

	it("keeps the lines of a process killed, but for its last half second of work", function()
		local script = support.temp_path(".lua")
		support.write_file(
			script,
			[[
local core, c = require("pulse.core"), require("pulse").new()
for _ = 1, 3 do
	assert(c:get("/v1/centers"))
	core.sleep(0.6)
end
io.write("done\n")
io.flush()
core.sleep(60)
]]
		)
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		local out = support.temp_path()
		local pid = support.background("env " .. env .. support.BIN .. "/pulse-lua --trace " .. path .. " " .. script, out)
		local deadline = core.now() + 20
		while not (support.read_file(out) or ""):find("done") do
			assert(core.now() < deadline, "the script did not finish its calls")
			core.sleep(0.05)
		end
		os.execute("kill -9 " .. pid)
		os.remove(script)
		os.remove(out)
		assert.are.equal(3, #read_lines(path), "each line came half a second after the last flush")
	end)

	it("is asked for by --trace FILE and $PULSE_TRACE, and a file it cannot open is named", function()
		local script = support.temp_path(".lua")
		support.write_file(script, 'local c = require("pulse").new() for _ = 1, 2 do assert(c:get("/v1/centers")) end')
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		local _, err, code = support.run("env " .. env .. support.BIN .. "/pulse-lua --trace " .. path .. " " .. script)
		assert.are.equal(0, code, err)
		assert.are.equal(2, #read_lines(path))
		_, err, code = support.run("env " .. env .. "PULSE_TRACE=" .. path .. " " .. support.BIN .. "/pulse-lua " .. script)
		assert.are.equal(0, code, err)
		assert.are.equal(4, #read_lines(path), "appended")
		_, err, code = support.run("env " .. env .. support.BIN .. "/pulse-lua --trace /nonexistent/dir/t.jsonl " .. script)
		os.remove(script)
		assert.are.equal(1, code)
		assert.truthy(err:find("new: trace: cannot open /nonexistent/dir/t.jsonl", 1, true), err)
	end)
end)
