-- pulse-lua's prompt: what it shows of values (pulse.repl.show), what Tab
-- offers (pulse.repl.complete), help, and the prompt itself through a
-- pty (script(1)): completion, help, a table, history kept across runs
-- and free of the key.

local json = require("pulse.json")
local pulse = require("pulse")
local repl = require("pulse.repl")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-lua"

-- What the prompt printed for keys typed one line at a time (a pause
-- after each, so that readline takes them as a person's), on a pty; and
-- its exit status.
local function at_prompt(lines, env)
	local typed = {}
	for _, line in ipairs(lines) do
		typed[#typed + 1] = "printf '%s' " .. support.shell_quote(line) .. "; sleep 0.4"
	end
	local command = string.format(
		"(%s) | %s timeout 30 script -qfec %s /dev/null",
		table.concat(typed, "; "),
		env,
		support.shell_quote("exec " .. BIN)
	)
	local out, _, code = support.run(command)
	return (out:gsub("\27%[%?2004[hl]", ""):gsub("[\r\a]", "")), code
end

describe("pulse.repl.show", function()
	it("indents tables, shows JSON arrays and null as such, and marks cycles", function()
		local t = { name = "Ada", tags = json.array({ "a", "b" }), none = json.null, empty = json.array(), [3] = true }
		t.self = t
		assert.are.equal(
			table.concat({
				"{",
				"  [3] = true,",
				"  empty = [],",
				'  name = "Ada",',
				"  none = null,",
				"  self = <cycle>,",
				"  tags = [",
				'    "a",',
				'    "b"',
				"  ]",
				"}",
			}, "\n"),
			repl.show(t)
		)
	end)

	it("stops at its depth and width, and shows each value of a line on its own", function()
		local deep = { a = { b = { c = { d = { e = 1 } } } } }
		assert.truthy(repl.show(deep):find("d = {…}", 1, true), repl.show(deep))
		local wide = {}
		for i = 1, 40 do
			wide[i] = i
		end
		local text = repl.show(wide)
		assert.truthy(text:find("… 15 more", 1, true), text)
		assert.falsy(text:find("26", 1, true), text)
		assert.are.equal('1\n"two"\nnil', repl.show(1, "two", nil))
	end)
end)

describe("pulse.repl with a sandbox", function()
	local sandbox, client
	setup(function()
		sandbox = support.start()
		client = sandbox:client()
	end)
	teardown(function()
		client:close()
		sandbox:stop()
	end)

	it("shows a res in one line and an err as its one-line message", function()
		local _, res = assert(client:get(support.READ))
		local line = repl.show(res)
		assert.truthy(line:find("^<res 200 in [%d.]+ s, 1 attempt, waited [%d.]+ s, rate %d+/%d+>$"), line)
		local _, err = client:get(support.MISSING)
		assert.are.equal(tostring(err), repl.show(err))
		assert.falsy(repl.show(err):find("\n"))
	end)

	it("completes globals, fields, methods and api.<group>.<name>", function()
		local env = { api = client:api(), client = client, pulse = pulse }
		assert.are.same({ "api.guests" }, repl.complete("api.gue", env))
		local searches = repl.complete("api.guests.sea", env)
		assert.are.same({ "api.guests.search", "api.guests.search_guests" }, searches)
		local methods = repl.complete("client:ge", env)
		assert.truthy(#methods >= 1)
		for _, m in ipairs(methods) do
			assert.truthy(m:find("^client:ge"), m)
		end
		assert.truthy(table.concat(methods, " "):find("client:get", 1, true))
		assert.are.same({ "pulse.new" }, repl.complete("pulse.ne", env))
		assert.are.same({}, repl.complete("api.nogroup.x", env))
		assert.are.same({ "client", "coroutine" }, repl.complete("c", { client = client, coroutine = coroutine }))
	end)

	it("helps with an operation, a group, a function and a module", function()
		local api = client:api()
		assert.truthy(repl.help_text(api.guests.search):find("GET /v1/guests/search", 1, true))
		assert.truthy(repl.help_text(api.guests):find("api.guests: call", 1, true))
		local get = repl.help_text(client.get)
		assert.truthy(get:find("^function Client:get"), get)
		local module = repl.help_text(pulse)
		assert.truthy(module:find("\n  new +pulse.new"), module)
	end)

	it("keeps no line holding a key in the history", function()
		assert.is_false(repl.keep('pulse.new{ api_key = "x" }'))
		assert.is_false(repl.keep("s = '" .. sandbox.key .. "'"))
		assert.is_true(repl.keep("api.guests.search{ email = 'a@b.c' }"))
	end)
end)

describe("pulse-lua -i on a terminal", function()
	local sandbox, state
	setup(function()
		sandbox = support.start()
		state = os.tmpname()
		os.remove(state)
	end)
	teardown(function()
		sandbox:stop()
		os.execute("rm -rf " .. support.shell_quote(state))
	end)

	local function env()
		return "XDG_STATE_HOME=" .. support.shell_quote(state) .. " " .. sandbox:env()
	end

	it("completes, helps, shows a table, and keeps a history across runs that holds no key", function()
		local out = at_prompt({
			"api.gue\t.sea\t{}\n",
			"help(api.guests.search)\n",
			"=({ n = 1, list = pulse.json.array{ 2, 3 } })\n",
			"first_run = 6 * 7\n",
			"secret = '" .. sandbox.key .. "'\n",
			"other = pulse.new{ api_key = 'k-typed-here', base_url = '" .. sandbox.url .. "' }\n",
		}, env())
		assert.truthy(out:find("pulse, client (" .. sandbox.url .. "), api, help()", 1, true), out)
		-- Tab made api.guests.search of api.gue and .sea: its answer shows.
		assert.truthy(out:find("> api.guests.search{}", 1, true), out)
		assert.truthy(out:find("guests = [", 1, true), out)
		assert.truthy(out:find("  GET /v1/guests/search", 1, true), out)
		assert.truthy(out:find("{\n  list = [\n    2,\n    3\n  ],\n  n = 1\n}", 1, true), out)
		local history = assert(support.read_file(state .. "/pulse/history"))
		assert.truthy(history:find("first_run = 6 * 7", 1, true), history)
		assert.falsy(history:find(sandbox.key, 1, true), history)
		assert.falsy(history:find("k-typed-here", 1, true), history)
		-- The next run: the arrow up brings the last line kept back.
		out = at_prompt({ "\27[A\n", "=first_run or 'unset'\n" }, env())
		assert.truthy(out:find("> first_run = 6 * 7", 1, true), out)
		assert.truthy(out:find("\n42\n", 1, true), out)
	end)

	it("stops the running call on Ctrl-C and goes on, ending with its own status", function()
		local slow = support.start({ faults = "latency:ms=5000" })
		local out, code = at_prompt(
			{ '=client:get("/v1/centers")\n', "\3", "=6 * 7\n" },
			"XDG_STATE_HOME=" .. support.shell_quote(state) .. " " .. slow:env()
		)
		slow:stop()
		assert.truthy(out:find("^C", 1, true), out)
		assert.truthy(out:find("^Cinterrupted\n", 1, true), out)
		assert.falsy(out:find("centers = [", 1, true), out) -- cut short, not answered
		assert.truthy(out:find("> =6 * 7\n42\n", 1, true), out)
		assert.are.equal(0, code)
	end)

	it("reads plain lines without a terminal, with pulse ready", function()
		local out = support.run(env() .. " " .. BIN .. " -i", "=pulse.json.array{ 1 }\n")
		assert.truthy(out:find("[\n  1\n]", 1, true), out)
	end)
end)
