-- pulse-lua, the runner: the stock lua flags and its own.

local core = require("pulse.core")
local support = require("support.sandbox")

local RUNNER = support.BIN .. "/pulse-lua"

local function script(text)
	local path = os.tmpname() .. ".lua"
	local f = assert(io.open(path, "w"))
	f:write(text)
	f:close()
	return path
end

local function run(args, stdin, env)
	return support.run((env or "") .. " " .. RUNNER .. " " .. args, stdin)
end

describe("pulse-lua", function()
	it("runs -e statements in order and exits 0", function()
		local out, _, code = run("-e 'x = 1' -e 'print(x + 1)'")
		assert.are.equal("2\n", out)
		assert.are.equal(0, code)
	end)

	it("requires a library into a global with -l", function()
		local out = run("-l pulse.json -e 'print(type(pulse))' -l string -e 'print(string.rep(\"a\", 2))'")
		assert.are.equal("nil\naa\n", out)
		out = run("-l pulse -e 'print(pulse.VERSION)'")
		assert.truthy(out:find("^%d+%.%d+%.%d+\n$"), out)
	end)

	it("passes script arguments in arg and as ...", function()
		local path = script("print(arg[0] ~= nil, arg[1], arg[2], #arg, select('#', ...), ...)")
		local out, _, code = run(path .. " one two")
		assert.are.equal("true\tone\ttwo\t2\t2\tone\ttwo\n", out)
		assert.are.equal(0, code)
		os.remove(path)
	end)

	it("puts the runner and its options at negative arg indices", function()
		local path = script("print(arg[-1], arg[-2] ~= nil)")
		local out = run("--quiet " .. path)
		assert.are.equal("--quiet\ttrue\n", out)
		os.remove(path)
	end)

	it("runs stdin with - and stops option handling at --", function()
		local out = run("- a b", "print(arg[1], arg[2])")
		assert.are.equal("a\tb\n", out)
		local path = script("print(arg[1])")
		out = run("-- " .. path .. " -v")
		assert.are.equal("-v\n", out)
		os.remove(path)
	end)

	it("runs stdin when it is not a terminal and no script is given", function()
		local out, _, code = run("", "print('from stdin')")
		assert.are.equal("from stdin\n", out)
		assert.are.equal(0, code)
	end)

	it("enters interactive mode with -i, showing expression values (pulse.repl's form: a value a line)", function()
		local out, _, code = run("-i -e 'y = 20'", "y + 1\nreturn 'ok', 3\n")
		assert.truthy(out:find("21"), out)
		assert.truthy(out:find('"ok"\n3', 1, true), out)
		assert.are.equal(0, code)
	end)

	it("prints versions with -v and --version", function()
		local out = run("-v")
		assert.truthy(out:find("^pulse%-lua %d+%.%d+%.%d+ %(libcurl [%d.]+, Lua 5%.4%.%d+%)"), out)
		assert.are.equal(out, (run("--version")))
	end)

	it("documents every option in --help", function()
		local out, _, code = run("--help")
		assert.are.equal(0, code)
		for _, flag in ipairs({ "-e", "-i", "-l", "-v", "-E", "-W", "--", "--sandbox", "--base-url", "--verbose", "--quiet", "--help", "--version" }) do
			assert.truthy(out:find(flag, 1, true), flag)
		end
		assert.truthy(out:find("PULSE_API_KEY", 1, true))
	end)

	it("exits 1 with a traceback on an uncaught error", function()
		local path = script("local function inner() error('boom') end\ninner()\n")
		local _, err, code = run(path)
		assert.are.equal(1, code)
		assert.truthy(err:find("boom"), err)
		assert.truthy(err:find("stack traceback:", 1, true), err)
		assert.truthy(err:find("in local 'inner'", 1, true) or err:find("inner", 1, true), err)
		os.remove(path)
	end)

	it("prints an error object through its __tostring", function()
		local _, err, code = run([[-e "error(setmetatable({}, {__tostring = function() return 'readable line' end}))"]])
		assert.are.equal(1, code)
		assert.truthy(err:find("readable line", 1, true), err)
		_, err = run([[-e "error({})"]])
		assert.truthy(err:find("error object is a table value", 1, true), err)
	end)

	it("refuses unknown options and options missing their value", function()
		local _, err, code = run("--nope")
		assert.are.equal(1, code)
		assert.truthy(err:find("unrecognized option '--nope'", 1, true), err)
		_, err, code = run("-e")
		assert.are.equal(1, code)
		assert.truthy(err:find("'-e' needs argument", 1, true), err)
		_, _, code = run("--base-url")
		assert.are.equal(1, code)
	end)

	it("reports a syntax error with exit status 1", function()
		local _, err, code = run("-e 'x = = 1'")
		assert.are.equal(1, code)
		assert.truthy(err:find("syntax error", 1, true) or err:find("unexpected symbol", 1, true), err)
	end)

	it("honours LUA_PATH, so the tree's files run without a rebuild", function()
		local dir = os.tmpname()
		os.remove(dir)
		os.execute("mkdir -p " .. dir .. "/pulse")
		local f = assert(io.open(dir .. "/pulse/json.lua", "w"))
		f:write("return { from_tree = true }")
		f:close()
		local out = run("-e 'print(require(\"pulse.json\").from_tree)'", nil, "LUA_PATH='" .. dir .. "/?.lua'")
		assert.are.equal("true\n", out)
		out = run("-e 'print(require(\"pulse.json\").from_tree)'", nil, "env -u LUA_PATH -u LUA_PATH_5_4")
		assert.are.equal("nil\n", out, "without LUA_PATH the embedded module is used")
		os.execute("rm -r " .. dir)
	end)

	it("loads a C module a script requires: the Lua C API is exported to it", function()
		-- lfs comes with busted; it links no Lua library of its own, as
		-- Debian's Lua modules do not, and finds lua_* in the runner.
		local out, err = run("-e 'print(require(\"lfs\").attributes(\".\", \"mode\"))'")
		assert.are.equal("directory\n", out, err)
	end)

	-- Lua's memory comes from the runner's pool, or from malloc with
	-- PULSE_MALLOC=system; each run here is made with both.
	local ALLOCATORS = { pool = "env -u PULSE_MALLOC", system = "env PULSE_MALLOC=system" }

	it("prints warnings as lua5.4 does: off until -W or @on, in parts", function()
		local code = "-e 'warn(\"hidden\") warn(\"@on\") warn(\"a\", \"b\") warn(\"@off\") warn(\"x\") "
			.. "warn(\"@on\") warn(\"@other\") warn(\"c\")'"
		local _, expected = support.run("lua5.4 " .. code)
		assert.are.equal("Lua warning: ab\nLua warning: c\n", expected)
		local _, expected_w = support.run("lua5.4 -W -e 'warn(\"w\")'")
		for name, env in pairs(ALLOCATORS) do
			local _, err = run(code, nil, env)
			assert.are.equal(expected, err, name)
			_, err = run("-W -e 'warn(\"w\")'", nil, env)
			assert.are.equal(expected_w, err, name)
		end
	end)

	it("computes the same with Lua's memory from its pool or from malloc", function()
		-- Blocks of every size around the pool's largest (512 bytes), grown,
		-- shrunk and freed in a random order, with collections in between.
		local path = script([[
			math.randomseed(tonumber(arg[1]))
			local live, sum = {}, 0
			for round = 1, 20000 do
				local i = math.random(200)
				local kind = math.random(4)
				if kind == 1 then
					live[i] = string.rep(string.char(65 + round % 26), math.random(0, 1100))
				elseif kind == 2 then
					local t = {}
					for j = 1, math.random(0, 70) do t[j] = j * round end
					for j = 1, math.random(0, 20) do t["k" .. j] = j end
					live[i] = t
				elseif kind == 3 and type(live[i]) == "table" then
					for j = #live[i], 1, -2 do live[i][j] = nil end
					live[i].grown = { table.unpack(live[i]) }
				else
					live[i] = nil
				end
				if round % 5000 == 0 then collectgarbage() end
			end
			for i = 1, 200 do
				local v = live[i]
				if type(v) == "string" then
					sum = sum + #v + (v:byte(1) or 0)
				elseif type(v) == "table" then
					for k, x in pairs(v) do
						sum = sum + (type(x) == "number" and x or 1) + (type(k) == "string" and #k or k)
					end
				end
			end
			print(sum)
		]])
		local expected = support.run("lua5.4 " .. path .. " 7")
		assert.truthy(expected:find("^%d+\n$"), expected)
		for name, env in pairs(ALLOCATORS) do
			local out, err = run(path .. " 7", nil, env)
			assert.are.equal(expected, out, name .. ": " .. tostring(err))
		end
		os.remove(path)
	end)

	it("works when copied away from the tree: the modules are compiled in", function()
		local dir = os.tmpname()
		os.remove(dir)
		os.execute("mkdir -p " .. dir .. " && cp " .. RUNNER .. " " .. dir .. "/")
		local out, err = support.run(
			"cd " .. dir .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 ./pulse-lua "
				.. "-e 'print(require(\"pulse\").VERSION, require(\"pulse.core\").curl_version)'"
		)
		assert.truthy(out:find("^%d+%.%d+%.%d+\t[%d.]+\n$"), tostring(out) .. tostring(err))
		os.execute("rm -r " .. dir)
	end)

	describe("with a sandbox", function()
		it("--sandbox runs the script against an embedded emulator with a fresh key", function()
			local path = script([[
				local pulse = require("pulse")
				local client = pulse.new()
				local list = assert(client:get("/v1/centers"))
				print(#list.centers > 0, os.getenv("PULSE_BASE_URL"):match("^http://127%.0%.0%.1:%d+$") ~= nil)
				print(#os.getenv("PULSE_API_KEY"))
			]])
			local out, err, code = run("--sandbox " .. path, nil, "env -u PULSE_API_KEY -u PULSE_BASE_URL")
			assert.are.equal(0, code, err)
			assert.are.equal("true\ttrue\n32\n", out)
			os.remove(path)
		end)

		it("--base-url sets the client's default base URL", function()
			local sandbox = support.start()
			local path = script("print(require('pulse').new():get('/_sandbox/echo').path)")
			local out, err = run(
				"--base-url " .. sandbox.url .. " " .. path,
				nil,
				"PULSE_API_KEY=" .. sandbox.key .. " PULSE_BASE_URL=http://unused.invalid"
			)
			assert.are.equal("/_sandbox/echo\n", out, err)
			sandbox:stop()
			os.remove(path)
		end)

		it("--verbose traces each request and response on stderr, never the key", function()
			local sandbox = support.start({ keys = { "verbose-secret-key-42" } })
			local path = script([[
				local client = require('pulse').new()
				client:get('/v1/centers')
				client:get('/v1/appointments/00000000-0000-4000-8000-000000000000')
			]])
			local _, err, code = run("--verbose " .. path, nil, "PULSE_API_KEY=verbose-secret-key-42 PULSE_BASE_URL=" .. sandbox.url)
			assert.are.equal(0, code)
			assert.truthy(err:find("-> GET " .. sandbox.url .. "/v1/centers (attempt 1)", 1, true), err)
			assert.truthy(err:find("<%- 200 GET [^\n]+/v1/centers [%d.]+ ms %(attempt 1%)"), err)
			assert.truthy(err:find("<%- 404 GET [^\n]+/v1/appointments/0+%-"), err)
			assert.is_nil(err:find("verbose-secret-key-42", 1, true))
			local _, quiet = run(path, nil, "PULSE_API_KEY=verbose-secret-key-42 PULSE_BASE_URL=" .. sandbox.url)
			assert.are.equal("", quiet, "silent without --verbose")
			sandbox:stop()
			os.remove(path)
		end)

		it("stops a transfer or a sleep at once on Ctrl-C (SIGINT)", function()
			local sandbox = support.start()
			sandbox:fault("latency:ms=10000")
			for _, body in ipairs({ "client:get('/v1/centers')", "require('pulse').sleep(30)" }) do
				local path = script("local client = require('pulse').new() " .. body)
				local started = core.now()
				local _, err, code = support.run(string.format(
					"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s %s & pid=$!; sleep 0.5; kill -INT $pid; wait $pid",
					sandbox.key,
					sandbox.url,
					RUNNER,
					path
				))
				local elapsed = core.now() - started
				assert.are.equal(130, code)
				assert.truthy(err:find("pulse%-lua: interrupted\n$"), err)
				assert.is_true(elapsed < 3, body .. " ran on for " .. elapsed .. " s after the signal")
				os.remove(path)
			end
			sandbox:stop()
		end)

		it("names PULSE_API_KEY when there is no key", function()
			local _, err, code = run("-e 'require(\"pulse\").new{base_url = \"http://127.0.0.1:9\"}'", nil, "env -u PULSE_API_KEY")
			assert.are.equal(1, code)
			assert.truthy(err:find("PULSE_API_KEY", 1, true), err)
		end)

		it("prints a returned pulse error through its __tostring when raised", function()
			local path = script([[
				local client = require('pulse').new{ base_url = 'http://127.0.0.1:9', api_key = 'never-printed-key', retry = false }
				local _, err = client:get('/v1/centers')
				error(err)
			]])
			local _, err, code = run(path)
			assert.are.equal(1, code)
			assert.truthy(err:find("pulse: network on GET http://127.0.0.1:9/v1/centers", 1, true), err)
			assert.is_nil(err:find("never-printed-key", 1, true))
			os.remove(path)
		end)
	end)
end)
