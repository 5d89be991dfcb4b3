-- pulse-sandbox under abuse and bad input: it serves, bounds what a client
-- may send, validates its options, and says clearly what is wrong.

local core = require("pulse.core")
local json = require("pulse.json")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-sandbox"

-- A crowd of n connections to port (spec/support/crowd.py): a handle to
-- end it with, which returns how many the server had closed.
local function crowd(port, n, mode)
	local base = os.tmpname()
	local fifo = base .. ".in"
	os.execute("mkfifo " .. fifo)
	local pid_path = base .. ".pid"
	os.execute(string.format(
		"/usr/bin/python3 spec/support/crowd.py %d %d %s < %s > %s.out 2>&1 & echo $! > %s",
		port,
		n,
		mode,
		fifo,
		base,
		pid_path
	))
	local writer = assert(io.open(fifo, "w")) -- opens once the crowd reads it
	local deadline = core.now() + 60
	while core.now() < deadline and not (support.read_file(base .. ".out") or ""):find("ready") do
		core.sleep(0.05)
	end
	assert((support.read_file(base .. ".out") or ""):find("ready " .. n), support.read_file(base .. ".out"))
	return function()
		writer:close()
		local pid = support.read_file(pid_path):match("%d+")
		while support.alive(pid) do
			core.sleep(0.05)
		end
		local closed = tonumber((support.read_file(base .. ".out") or ""):match("closed (%d+)"))
		for _, path in ipairs({ base, fifo, pid_path, base .. ".out" }) do
			os.remove(path)
		end
		return closed
	end
end

local function open_connections(sandbox)
	return sandbox:stats().connections_open - 1 -- less the one asking
end

-- Waits up to seconds for check() to hold; returns whether it did.
local function eventually(seconds, check)
	local deadline = core.now() + seconds
	repeat
		if check() then
			return true
		end
		core.sleep(0.1)
	until core.now() > deadline
	return false
end

describe("pulse-sandbox under abuse", function()
	it("serves a new client within a second while 2,000 idle connections are open", function()
		local sandbox = support.start()
		local finish = crowd(sandbox.port, 2000, "idle")
		local client = sandbox:client({ retry = false })
		local started = core.now()
		assert(client:get("/v1/centers"))
		local elapsed = core.now() - started
		assert.is_true(elapsed < 1, "served in " .. elapsed .. " s")
		assert.is_true(open_connections(sandbox) >= 2000)
		client:close()
		finish()
		sandbox:stop()
	end)

	it("closes the oldest idle connection for a new one at the cap", function()
		local sandbox = support.start({ args = "--max-connections 20" })
		local finish = crowd(sandbox.port, 20, "idle")
		local client = sandbox:client({ retry = false })
		local started = core.now()
		assert(client:get("/v1/centers"))
		assert.is_true(core.now() - started < 1)
		assert.is_true(open_connections(sandbox) <= 20)
		client:close()
		assert.is_true(finish() >= 1, "the crowd lost a connection")
		sandbox:stop()
	end)

	it("cuts off requests that do not arrive in time, and idle connections", function()
		local sandbox = support.start({ args = "--request-timeout 1 --idle-timeout 1" })
		local loris = crowd(sandbox.port, 50, "loris")
		assert.is_true(eventually(5, function()
			return open_connections(sandbox) == 0
		end), "slow-loris connections cut off")
		assert.are.equal(50, loris())
		local idle = crowd(sandbox.port, 10, "idle")
		assert.is_true(eventually(5, function()
			return open_connections(sandbox) == 0
		end), "idle connections closed")
		assert.are.equal(10, idle())
		sandbox:stop()
	end)

	describe("bounds", function()
		local sandbox, key

		setup(function()
			sandbox = support.start()
			key = { "Authorization: Api-key " .. sandbox.key }
		end)

		teardown(function()
			sandbox:stop()
		end)

		it("answers a body over 1 MiB with 413 and the envelope, said length or not", function()
			local status, _, body = sandbox:raw("POST", "/v1/guests", key, string.rep("x", 2 * 1024 * 1024))
			assert.are.equal(413, status)
			assert.are.equal("too_large", body.error.code)
			local out = support.run(string.format(
				"head -c 2097152 /dev/zero | curl -s -H 'Transfer-Encoding: chunked' -H '%s' --data-binary @- %s/v1/guests",
				key[1],
				sandbox.url
			))
			assert.are.equal("too_large", json.decode(out).error.code)
		end)

		it("answers a URL over 8 KiB with 414, a header block over 32 KiB with 431", function()
			local status, _, body = sandbox:raw("GET", "/v1/centers?q=" .. string.rep("a", 9000), key)
			assert.are.equal(414, status)
			assert.are.equal("too_large", body.error.code)
			local headers = { key[1] }
			for i = 1, 40 do
				headers[#headers + 1] = "X-Filler-" .. i .. ": " .. string.rep("b", 1000)
			end
			status, _, body = sandbox:raw("GET", "/v1/centers", headers)
			assert.are.equal(431, status)
			assert.are.equal("too_large", body.error.code)
		end)

		it("answers a GET with 1,000 short parameters", function()
			local params = {}
			for i = 1, 1000 do
				params[i] = "p" .. i .. "=1"
			end
			local status = sandbox:raw("GET", "/v1/centers?" .. table.concat(params, "&"), key)
			assert.are.equal(200, status)
		end)
	end)
end)

describe("pulse-sandbox's options", function()
	local function run(args, env)
		return support.run(string.format("%s %s %s", env or "", BIN, args))
	end

	it("refuses bad values, naming the option, with exit status 2", function()
		local cases = {
			{ "--rate-limit 1e19/1/1", "--rate-limit" },
			{ "--rate-limit inf/1/1", "--rate-limit" },
			{ "--rate-limit 5/0.5/5", "--rate-limit" },
			{ "--port 1.5", "--port" },
			{ "--seed x", "--seed" },
			{ "--faults latency:ms=1e308", "fault option ms" },
			{ "--faults 999", "unknown fault kind '999'" },
			{ "--faults 503:retry_after=1.5", "fault option retry_after" },
			{ "--faults redirect:port=1.5", "fault option port" },
			{ "--faults status:code=700", "fault option code" },
		}
		for _, case in ipairs(cases) do
			local _, err, code = run("--api-key k " .. case[1])
			assert.are.equal(2, code, case[1] .. ": " .. err)
			assert.truthy(err:find(case[2], 1, true), case[1] .. ": " .. err)
		end
	end)

	it("refuses bad faults posted to /_sandbox/faults with 400 and the envelope", function()
		local sandbox = support.start()
		for _, spec in ipairs({ "latency:ms=1e308", "status:code=99", "redirect:port=70000", "503:count=-1" }) do
			local status, _, body = sandbox:raw("POST", "/_sandbox/faults", {}, json.encode({ spec = spec }))
			assert.are.equal(400, status, spec)
			assert.truthy(body.error.message:find("fault option"), body.error.message)
		end
		sandbox:stop()
	end)

	it("stops within a second of SIGTERM or SIGINT, a ten-minute latency pending", function()
		for _, signal in ipairs({ "TERM", "INT" }) do
			local sandbox = support.start({ faults = "latency:ms=600000" })
			os.execute(string.format("curl -s -m 30 -H 'Authorization: Api-key %s' %s/v1/centers > /dev/null &", sandbox.key, sandbox.url))
			core.sleep(0.3)
			local started = core.now()
			os.execute("kill -" .. signal .. " " .. sandbox.pid)
			assert.is_true(eventually(1, function()
				return not support.alive(sandbox.pid)
			end), signal .. " took over a second")
			assert.is_true(core.now() - started < 1.2)
			sandbox:stop()
		end
	end)

	it("says what is wrong with an option, an argument, a file or the port", function()
		local _, err, code = run("--bogus")
		assert.are.equal(2, code)
		assert.truthy(err:find("--bogus is not an option", 1, true), err)
		_, err, code = run("--bogus 1")
		assert.are.equal(2, code)
		assert.truthy(err:find("--bogus is not an option", 1, true), err)
		_, err, code = run("--api-key k stray")
		assert.are.equal(2, code)
		assert.truthy(err:find("unexpected argument", 1, true), err)
		_, err, code = run("--port")
		assert.are.equal(2, code)
		assert.truthy(err:find("--port needs a value", 1, true), err)
		_, err, code = run("--api-key k --log /nonexistent-dir/sandbox.log")
		assert.are.equal(1, code)
		assert.truthy(err:find("--log: cannot open /nonexistent-dir/sandbox.log: No such file or directory", 1, true), err)
		assert.falsy(err:find("init.lua", 1, true), err)
		local busy = support.start()
		_, err, code = run("--api-key k --port " .. busy.port)
		assert.are.equal(1, code)
		assert.truthy(err:find("Address already in use", 1, true), err)
		busy:stop()
	end)

	it("checks everything else before saying there is no key", function()
		local env = "env -u PULSE_API_KEY -u PULSE_SANDBOX_API_KEY"
		local _, err = run("--faults meteor", env)
		assert.truthy(err:find("unknown fault kind", 1, true), err)
		_, err = run("--tls /nonexistent.pem /nonexistent.key", env)
		assert.truthy(err:find("cannot read /nonexistent.pem", 1, true), err)
		_, err = run("--log /nonexistent-dir/x.log", env)
		assert.truthy(err:find("--log: cannot open", 1, true), err)
		local _, none, code = run("", env)
		assert.are.equal(1, code)
		assert.truthy(none:find("no key", 1, true), none)
	end)

	it("lists every option in --help, and takes --option=value", function()
		local out, _, code = run("--help")
		assert.are.equal(0, code)
		for _, option in ipairs({ "--refill", "--api-key-file", "PULSE_SANDBOX_API_KEY", "--max-connections" }) do
			assert.truthy(out:find(option, 1, true), option)
		end
		local sandbox = support.start({ args = "--rate-limit=7/3/9 --seed=4" })
		local _, headers = sandbox:raw("GET", "/v1/centers", { "Authorization: Api-key " .. sandbox.key })
		assert.are.equal("7;w=3;b=9", headers["organization-ratelimit-limit"])
		sandbox:stop()
	end)
end)

describe("pulse-sandbox's keys", function()
	local function echo(sandbox, key)
		local _, _, body = sandbox:raw("GET", "/_sandbox/echo", { "Authorization: Api-key " .. key })
		return body
	end

	it("come from --api-key-file or $PULSE_SANDBOX_API_KEY, off the command line", function()
		local file = os.tmpname()
		support.write_file(file, "file-key-1\n\n  file-key-2  \n")
		local from_file = support.start({ keys = {}, args = "--api-key-file " .. file })
		assert.are.equal(0, echo(from_file, "file-key-1").key_id)
		assert.are.equal(1, echo(from_file, "file-key-2").key_id)
		from_file:stop()
		os.remove(file)
		local from_env = support.start({ keys = {}, env = "PULSE_SANDBOX_API_KEY='env-a, env-b' PULSE_API_KEY=ignored" })
		assert.are.equal(1, echo(from_env, "env-b").key_id)
		assert.are.equal(json.null, echo(from_env, "ignored").key_id, "PULSE_API_KEY comes after, unused")
		from_env:stop()
	end)

	it("stay out of /_sandbox/echo, which says which key matched", function()
		local sandbox = support.start({ keys = { "echo-key-0", "echo-key-1" } })
		local body = echo(sandbox, "echo-key-1")
		assert.are.equal("Api-key [REDACTED]", body.headers.authorization)
		assert.are.equal(1, body.key_id)
		assert.are.equal(json.null, echo(sandbox, "unknown").key_id)
		assert.is_false(support.contains(body, "echo-key-1"))
		sandbox:stop()
	end)
end)

describe("pulse-sandbox's documented answers", function()
	it("answers 400 to a POST of an array, and resets to a new rate limit", function()
		local sandbox = support.start()
		local key = { "Authorization: Api-key " .. sandbox.key }
		assert.are.equal(400, (sandbox:raw("POST", "/v1/guests", key, "[]")))
		local status = sandbox:raw("POST", "/_sandbox/reset", {}, '{"rate_limit": "20/5/20"}')
		assert.are.equal(200, status)
		local _, headers = sandbox:raw("GET", "/v1/centers", key)
		assert.are.equal("20;w=5;b=20", headers["organization-ratelimit-limit"])
		assert.are.equal(400, (sandbox:raw("POST", "/_sandbox/reset", {}, '{"rate_limit": "1e19/1/1"}')))
		sandbox:stop()
	end)
end)
