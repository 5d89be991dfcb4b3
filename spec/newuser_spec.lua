-- What a new user trips on: the progress bar during a rate-limit wait, the
-- runner's sandbox options and flags, what stats mean, interrupts, a key
-- from a file, and setting up.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

local RUNNER = support.BIN .. "/pulse-lua"

local function script(text)
	local path = os.tmpname() .. ".lua"
	support.write_file(path, text)
	return path
end

local function run(args, stdin, env)
	return support.run((env or "") .. " " .. RUNNER .. " " .. args, stdin)
end

local BATCH_OF_30 = [[
	local client = require("pulse").new()
	local requests = {}
	for i = 1, 30 do -- pages of their own: twins at once would share one call
		requests[i] = { "GET", "/v1/centers", { query = { page = i } } }
	end
	client:batch(requests)
]]

describe("the progress bar", function()
	it("moves during a rate-limit wait, its ETA from the allowance", function()
		local path = script(BATCH_OF_30)
		-- A terminal (script(1) gives it a pty) at 10 calls every 4 s.
		local out = support.run(string.format(
			"timeout 60 script -qfec '%s --sandbox-rate-limit 10/4/10 %s' /dev/null",
			RUNNER,
			path
		))
		local frames = {}
		for frame in out:gmatch("[^\r\n]+") do
			frames[#frames + 1] = frame
		end
		local waiting, first_eta = 0, nil
		for _, frame in ipairs(frames) do
			if frame:find("10/30", 1, true) and frame:find("waiting for the rate limit, %d") then
				waiting = waiting + 1
				first_eta = first_eta or tonumber(frame:match("ETA (%d+)s"))
			end
		end
		assert.is_true(waiting >= 5, "redrawn while nothing finished: " .. waiting .. " frames\n" .. out)
		-- 20 left, the bucket empty: one refill within 4 s, another 4 s later.
		assert.is_true(first_eta >= 6 and first_eta <= 8, "ETA " .. tostring(first_eta) .. " s, the allowance's ~8")
		assert.truthy(frames[#frames]:find("30/30", 1, true), frames[#frames])
		os.remove(path)
	end)
end)

describe("pulse-lua's sandbox", function()
	it("takes --sandbox-rate-limit, --sandbox-faults and --sandbox-seed, =-forms too", function()
		local path = script([[
			local client = require("pulse").new({ retry = false })
			local _, err = client:get("/v1/centers")
			print(err.status)
			local _, res = client:get("/v1/centers")
			print(res.headers["organization-ratelimit-limit"])
			print(client:get("/v1/centers").centers[1].id)
		]])
		local out, err, code = run(
			"--sandbox-rate-limit=7/3/9 --sandbox-faults 'status:code=418' --sandbox-seed 5 " .. path,
			nil,
			"env -u PULSE_API_KEY -u PULSE_BASE_URL"
		)
		assert.are.equal(0, code, err)
		local lines = {}
		for line in out:gmatch("[^\n]+") do
			lines[#lines + 1] = line
		end
		assert.are.equal("418", lines[1])
		assert.are.equal("7;w=3;b=9", lines[2])
		local other = run("--sandbox --sandbox-seed 6 " .. path, nil, "env -u PULSE_API_KEY")
		assert.are_not.equal(lines[3], other:match("([^\n]+)\n$"), "another seed, other sample data")
		os.remove(path)
	end)

	it("refuses --sandbox with --base-url, and a bad sandbox value", function()
		local _, err, code = run("--sandbox --base-url http://x -e ''")
		assert.are.equal(1, code)
		assert.truthy(err:find("cannot go together", 1, true), err)
		_, err, code = run("--sandbox-rate-limit 1e19/1/1 -e ''")
		assert.are.equal(1, code)
		assert.truthy(err:find("--sandbox-rate-limit", 1, true), err)
	end)

	it("starts from Lua for a test suite, under pulse-lua and under lua5.4", function()
		local path = script([[
			local sb = require("pulse.sandbox").start({ rate_limit = "20/5/20", faults = "503:count=1" })
			local client = require("pulse").new({ base_url = sb.url, api_key = sb.key, retry = { base = 0.01 } })
			local body, res = assert(client:get("/v1/centers"))
			print(#body.centers > 0, res.attempts, res.headers["organization-ratelimit-limit"])
			sb:stop()
			sb:stop()
			print(select(2, client:get("/v1/centers", { retry = false })).kind)
		]])
		local expected = "true\t2\t20;w=5;b=20\nnetwork\n"
		local out, err = run(path)
		assert.are.equal(expected, out, err)
		out, err = support.run_lua54(path)
		assert.are.equal(expected, out, err)
		os.remove(path)
	end)
end)

describe("pulse-lua's flags, as lua.c has them", function()
	it("takes -l g=mod, -lmod and -estat", function()
		local out, err = run("-l g=string -lstring -estat=2 -e 'print(g.rep(\"a\", stat), string == g)'")
		assert.are.equal("aa\ttrue\n", out, err)
	end)

	it("says --base-url needs a value, and takes --base-url=URL", function()
		local _, err, code = run("--base-url")
		assert.are.equal(1, code)
		assert.truthy(err:find("'--base-url' needs a value", 1, true), err)
		local out = run("--base-url=http://example.test -e 'print(os.getenv(\"PULSE_BASE_URL\"))'")
		assert.are.equal("http://example.test\n", out)
	end)
end)

describe("statistics", function()
	local sandbox

	setup(function()
		sandbox = support.start({ rate_limit = "4/2/4" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	it("say throttled wall time, throttled_sum, and bytes sent by GETs", function()
		local client = sandbox:client()
		local infos = {}
		client:batch(
			(function()
				local list = {}
				for i = 1, 12 do
					list[i] = { "GET", "/v1/centers", { query = { page = i } } }
				end
				return list
			end)(),
			{
				on_progress = function(_, _, info)
					infos[#infos + 1] = info
				end,
			}
		)
		local s = client:stats()
		assert.is_true(s.throttled > 2 and s.throttled < 6, "two refills' wall time: " .. s.throttled)
		assert.is_true(s.throttled_sum > s.throttled, "the waits of concurrent requests add up past it")
		assert.is_true(s.bytes_sent > 12 * 60, "every GET's request head: " .. s.bytes_sent)
		local last = infos[#infos]
		assert.are.same({ 12, 12, 12, 0 }, { last.done, last.total, last.ok, last.failed })
		for _, field in ipairs({ "retries", "rate_limited", "waited", "elapsed", "eta", "waiting" }) do
			assert.is_number(last[field], field)
		end
		assert.is_nil(getmetatable(last), "a plain table")
		assert.truthy(json.encode(last), "and JSON can write it")
		client:close()
	end)
end)

describe("interrupts", function()
	local sandbox

	setup(function()
		sandbox = support.start({ rate_limit = "5/60/5" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	for _, case in ipairs({ { "INT", 130 }, { "TERM", 143 } }) do
		it("end a batch with one line and exit status " .. case[2] .. " on SIG" .. case[1], function()
			sandbox:reset()
			local path = script(string.format(
				[[
				local client = require("pulse").new()
				local requests = {}
				for i = 1, 20 do
					local guest = { center_id = %q, personal_info = { first_name = "C", last_name = tostring(i) } }
					requests[i] = i %% 2 == 0 and { "GET", "/v1/centers", { query = { page = i } } }
						or { "POST", "/v1/guests", { json = guest } }
				end
				client:batch(requests, { concurrency = 4 })
			]],
				sandbox:center()
			))
			local _, err, code = support.run(string.format(
				"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s %s & pid=$!; sleep 1.5; kill -%s $pid; wait $pid",
				sandbox.key,
				sandbox.url,
				RUNNER,
				path,
				case[1]
			))
			assert.are.equal(case[2], code, err)
			local line = err:match("([^\n]+)\n$")
			assert.truthy(line:find("interrupted: 5 of 20 done; %d+ writes? may have been applied$"), err)
			assert.falsy(err:find("traceback", 1, true), err)
			os.remove(path)
		end)
	end

	it("name embedded modules in tracebacks as require finds them", function()
		local _, err = run([[-e "require('pulse').run(function() error('boom') end)"]])
		assert.truthy(err:find("pulse/tasks.lua:", 1, true), err)
		assert.falsy(err:find("lua/pulse/tasks.lua", 1, true), err)
	end)
end)

describe("a key from a file", function()
	it("is read again when the file changes: rotation without a restart", function()
		local sandbox = support.start({ keys = { "file-key-one", "file-key-two" } })
		local path = os.tmpname()
		support.write_file(path, "file-key-one\n")
		local client = pulse.new({ base_url = sandbox.url, api_key_file = path })
		assert.are.equal(0, client:get("/_sandbox/echo").key_id)
		core.sleep(0.01) -- a later modification time
		support.write_file(path, "  file-key-two  \n")
		assert.are.equal(1, client:get("/_sandbox/echo").key_id)
		client:close()
		local out = run(
			"-e 'print(require(\"pulse\").new():get(\"/_sandbox/echo\").key_id)'",
			nil,
			"env -u PULSE_API_KEY PULSE_API_KEY_FILE=" .. path .. " PULSE_BASE_URL=" .. sandbox.url
		)
		assert.are.equal("1\n", out)
		support.write_file(path, "\n")
		assert.has_error(function()
			pulse.new({ base_url = sandbox.url, api_key_file = path })
		end)
		os.remove(path)
		sandbox:stop()
	end)
end)

describe("setting up", function()
	it("make deps evaluates no pkg-config flags", function()
		local dir = os.tmpname()
		os.remove(dir)
		os.execute("mkdir -p " .. dir)
		support.write_file(dir .. "/pkg-config", "#!/bin/sh\necho 'Package lua5.4 was not found' >&2\nexit 1\n")
		os.execute("chmod +x " .. dir .. "/pkg-config")
		local out, err = support.run("PATH=" .. dir .. ":$PATH make -n deps")
		assert.falsy((out .. err):find("was not found", 1, true), out .. err)
		os.execute("rm -r " .. dir)
	end)

	it("says pulse needs Lua 5.4 under another Lua", function()
		local _, err = support.run("lua5.1 -e 'package.path = \"lua/?.lua;lua/?/init.lua;\" .. package.path; require \"pulse\"'")
		assert.truthy(err:find("pulse needs Lua 5.4 (this is Lua 5.1)", 1, true), err)
	end)

	it("installs man pages and the README, and says its version", function()
		local dir = os.tmpname()
		os.remove(dir)
		local _, err, code = support.run("make install BUILD=" .. support.BIN .. " DESTDIR=" .. dir .. " PREFIX=/usr")
		assert.are.equal(0, code, err)
		local installed = {
			"share/man/man1/pulse-lua.1",
			"share/man/man1/pulse-sandbox.1",
			"share/doc/pulse-lua/README.md",
			"share/doc/pulse-lua/doc/client.md",
			"share/doc/pulse-lua/doc/api/NAMES.md",
		}
		for _, file in ipairs(installed) do
			assert.truthy(support.read_file(dir .. "/usr/" .. file), file)
		end
		local page = support.read_file(dir .. "/usr/share/man/man1/pulse-lua.1")
		assert.truthy(page:find("^%.TH PULSE%-LUA 1") and page:find("sandbox\\-rate\\-limit", 1, true), page)
		assert.truthy(page:find(pulse.VERSION, 1, true), "the version, filled in")
		os.execute("rm -r " .. dir)
		assert.are.equal("pulse-lua " .. pulse.VERSION, pulse._VERSION)
		assert.truthy(support.read_file("CHANGELOG.md"):find(pulse.VERSION, 1, true))
	end)
end)

describe("what a new user tripped on", function()
	local function write(text, suffix)
		local path = support.temp_path(suffix)
		support.write_file(path, text)
		return path
	end

	it("pulse-sandbox --version answers, and so does --help", function()
		local out, err, code = support.run(support.BIN .. "/pulse-sandbox --version")
		assert.are.equal(0, code, err)
		assert.matches("^pulse%-sandbox %d+%.%d+%.%d+ %(Lua 5%.4", out)
		out = support.run(support.BIN .. "/pulse-sandbox --help")
		assert.matches("%-%-version", out)
	end)

	it("a --collection run without a key says so in one line, with no traceback", function()
		local _, err, code = run(
			"--collection spec/support/pulse-api.postman_collection.json",
			nil,
			"env -u PULSE_API_KEY -u PULSE_API_KEY_FILE PULSE_BASE_URL=http://127.0.0.1:1"
		)
		assert.are.equal(2, code) -- usage, as Newman's
		assert.matches("no API key", err)
		assert.is_nil(err:find("traceback", 1, true), err)
		assert.is_nil(err:find("play.lua", 1, true), err)
	end)

	it("a SIGTERM caught in pcall reads as the signal, not an address", function()
		local path = script([[
			local ok, e = pcall(function() require("pulse.core").sleep(10) end)
			io.stdout:write(tostring(e), "\n")
		]])
		local out = support.run("timeout -s TERM 0.5 " .. RUNNER .. " " .. path)
		assert.are.equal("pulse: interrupted by SIGTERM\n", out)
	end)

	it("reads a collection with no info, and a variable nested in another's name", function()
		local sandbox = support.start()
		local coll = write(json.encode({
			item = {
				{ name = "Nested", request = { method = "GET", url = "{{baseUrl}}/_sandbox/echo?who={{name{{i}}}}" } },
			},
		}), ".json")
		local client = sandbox:client()
		local api = client:api(coll, { environment = { baseUrl = sandbox.url, name2 = "Ada Lovelace" } })
		local body = assert(api.nested({ i = 2 }))
		assert.are.equal("who=Ada%20Lovelace", body.query)
		client:close()
		sandbox:stop()
		-- The sandbox's mock reads it too.
		local mock = support.start({ args = "--collection " .. coll })
		mock:stop()
		os.remove(coll)
	end)

	it("pulse-sandbox --collection refuses an example code it cannot answer, naming it", function()
		for _, code in ipairs({ 100, 700 }) do
			local coll = write(json.encode({
				info = { name = "c", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
				item = {
					{ name = "Odd", request = "{{baseUrl}}/odd", response = { { name = "weird", code = code, body = "{}" } } },
				},
			}), ".json")
			local _, err, status = support.run(support.BIN .. "/pulse-sandbox --port 0 --collection " .. coll)
			assert.are.equal(2, status, err)
			assert.matches("request 'Odd', example 'weird': code " .. code .. " cannot be answered", err)
			os.remove(coll)
		end
	end)

	it("plays CSV data whose quoted fields hold line breaks (RFC 4180)", function()
		local sandbox = support.start()
		local coll = write(json.encode({
			item = { { name = "Echo", request = "{{baseUrl}}/_sandbox/echo?label={{label}}" } },
		}), ".json")
		local csv = write('label,n\r\n"two\r\nlines, and a ""quote""",1\r\nplain,2\r\n', ".csv")
		local report = support.temp_path(".json")
		local _, err, code = run(
			string.format("--collection %s --data %s --reporter json:%s", coll, csv, report),
			nil,
			string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s baseUrl=x", support.shell_quote(sandbox.key), sandbox.url)
		)
		assert.are.equal(0, code, err)
		local doc = json.decode(support.read_file(report))
		assert.are.equal(2, doc.requests)
		sandbox:stop()
		for _, p in ipairs({ coll, csv, report }) do
			os.remove(p)
		end
	end)

	it("says to run the specs as lua5.4 /usr/bin/busted when Debian's busted (Lua 5.1) runs them", function()
		local mine = write('describe("mine", function() it("loads", function() require("pulse") end) end)\n', "_spec.lua")
		local out = support.run("busted " .. mine)
		assert.matches("pulse needs Lua 5%.4 %(this is Lua 5%.1%): run the specs as lua5%.4 /usr/bin/busted", out)
		os.remove(mine)
	end)
end)

