-- Record and replay (record = FILE, replay = FILE, pulse-lua --record,
-- --replay, --scrub; pulse-sandbox --replay): a recording of a real job
-- replays offline with identical output, is HAR 1.2 (checked against a
-- schema with Debian's python3-jsonschema), holds no byte of the key,
-- and serves from pulse-sandbox too; a miss fails clearly or goes live;
-- a browser's HAR replays; --scrub cleans one.

local har = require("pulse.har")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-lua"
local SCHEMA = "spec/support/har-1.2.schema.json"
local DEVTOOLS = "spec/support/devtools.har"

local function validate(path)
	return support.run("/usr/bin/python3 spec/support/har_validate.py " .. SCHEMA .. " " .. path .. " 2>&1")
end

local function entries_of(path)
	return assert(json.decode(assert(support.read_file(path)))).log.entries
end

-- Runs a script of text under pulse-lua with args; out, err, code.
local function run_script(text, args, env)
	local path = support.temp_path(".lua")
	support.write_file(path, text)
	local out, err, code = support.run(string.format("%s %s %s %s", env or "", BIN, args, path))
	os.remove(path)
	return out, err, code
end

local OFFLINE = "env -u PULSE_API_KEY -u PULSE_BASE_URL -u PULSE_API_KEY_FILE"

describe("record and replay", function()
	local sandbox
	setup(function()
		sandbox = support.start({ log = true })
	end)
	teardown(function()
		sandbox:stop()
	end)
	before_each(function()
		sandbox:reset()
	end)

	it("replays book_appointment.lua offline with identical output, from a valid HAR 1.2 free of the key", function()
		local recording = support.temp_path(".har")
		local trace = support.temp_path(".jsonl")
		local date = support.bookable_day(1)
		local job = "examples/book_appointment.lua --date " .. date
		local live, err, code =
			support.run(string.format("%s %s --record %s --trace %s %s", sandbox:env(), BIN, recording, trace, job))
		assert.are.equal(0, code, err)
		assert.truthy(live:find("booked    " .. date, 1, true), live)
		local entries = entries_of(recording)
		assert.truthy(live:find("\n" .. #entries .. " calls\n", 1, true), live .. #entries)
		assert.are.equal("valid\n", validate(recording))
		for _, path in ipairs({ recording, trace }) do
			assert.falsy(support.read_file(path):find(sandbox.key, 1, true), path .. " holds the key")
		end
		assert.are.equal("Authorization", entries[1].request.headers[1].name)
		assert.are.equal("Api-key [REDACTED]", entries[1].request.headers[1].value)
		assert.are.equal(1, entries[1]["_pulse"].attempt)
		assert.is_number(entries[1]["_pulse"].rate.remaining)
		-- Offline: no key, no base URL, and the sandbox's log unchanged.
		local before = #sandbox:log_lines()
		local replayed
		replayed, err, code = support.run(string.format("%s %s --replay %s %s", OFFLINE, BIN, recording, job))
		assert.are.equal(0, code, err)
		assert.are.equal(live, replayed)
		assert.are.equal(before, #sandbox:log_lines())
		-- pulse-sandbox serves the recording behind its bucket and headers.
		local server = support.start({ args = "--replay " .. recording })
		local served
		served, err, code = support.run(string.format("%s %s %s", server:env(), BIN, job))
		local _, res = pulse.new({ api_key = server.key, base_url = server.url }):get("/v1/centers")
		server:stop()
		assert.are.equal(0, code, err)
		assert.are.equal(live, served)
		assert.is_number(res.rate.remaining)
		os.remove(recording)
		os.remove(trace)
	end)

	it("answers repeats in recorded order and fails a miss clearly, or sends it and adds it with miss = live", function()
		local recording = support.temp_path(".har")
		local client = sandbox:client({ record = recording })
		local search = { query = { email = "replay.order@example.com" } }
		local first = assert(client:get("/v1/guests/search", search))
		assert(client:post("/v1/guests", sandbox:guest(1, {
			personal_info = { first_name = "Re", last_name = "Play", email = "replay.order@example.com" },
		})))
		local second = assert(client:get("/v1/guests/search", search))
		client:close()
		assert.are.equal(0, #first.guests)
		assert.are.equal(1, #second.guests)

		local offline = pulse.new({ replay = recording })
		local a, res = assert(offline:get("/v1/guests/search", search))
		assert.is_true(res.replayed)
		assert.are.equal(0, #a.guests)
		assert(offline:post("/v1/guests", sandbox:guest(1, {
			personal_info = { email = "replay.order@example.com", last_name = "Play", first_name = "Re" },
		})))
		local b = assert(offline:get("/v1/guests/search", search))
		assert.are.equal(1, #b.guests)
		local none, err = offline:get("/v1/guests/search", search) -- a third: none was recorded
		assert.is_nil(none)
		assert.are.equal("replay_miss", err.kind)
		assert.truthy(tostring(err):find("no answer recorded for it in " .. recording, 1, true), tostring(err))
		assert.truthy(tostring(err):find("each of this request's used already", 1, true), tostring(err))
		none, err = offline:get("/v1/centers", { query = { page = 9 } })
		assert.is_nil(none)
		assert.truthy(tostring(err):find("replay_miss on GET", 1, true), tostring(err))
		assert.are.equal(3, offline:stats().replayed)
		assert.are.equal(3, offline:stats().requests)

		-- Live: the miss goes out and joins the file; the next replay has it.
		local live = sandbox:client({ replay = { file = recording, miss = "live" } })
		assert(live:get("/v1/centers", { query = { page = 9 } }))
		live:close()
		assert.are.equal(4, #entries_of(recording))
		assert(pulse.new({ replay = recording }):get("/v1/centers", { query = { page = 9 } }))
		os.remove(recording)
	end)

	it("keeps one recording for the clients of a run that record to one file", function()
		local recording = support.temp_path(".har")
		local out, err, code = run_script([[
			local pulse = require("pulse")
			local a, b = pulse.new(), pulse.new()
			assert(a:get("/v1/centers"))
			assert(b:get("/v1/centers", { query = { page = 2 } }))
			assert(a:get("/v1/centers", { query = { page = 3 } }))
			a:close()
			assert(b:get("/v1/centers", { query = { page = 4 } }))
			b:close()
		]], "--record " .. recording, sandbox:env())
		assert.are.equal(0, code, out .. err)
		local pages = {}
		for i, entry in ipairs(entries_of(recording)) do
			pages[i] = entry.request.url:match("page=(%d)") or "1"
		end
		assert.are.same({ "1", "2", "3", "4" }, pages)
		assert.are.equal("valid\n", validate(recording))
		os.remove(recording)
	end)

	it("matches by method, path, query and body, with volatile fields ignored by a rule", function()
		local a = har.match_key("POST", "http://x/v1/a?b=2&a=1", '{"x":1,"y":{"z":[1,2]}}')
		assert.are.equal(a, har.match_key("POST", "http://y/v1/a?a=1&b=2", '{"y":{"z":[1,2]},"x":1}'))
		assert.are_not.equal(a, har.match_key("PUT", "http://x/v1/a?a=1&b=2", '{"x":1,"y":{"z":[1,2]}}'))
		assert.are_not.equal(a, har.match_key("POST", "http://x/v1/a?a=1&b=3", '{"x":1,"y":{"z":[1,2]}}'))
		assert.are_not.equal(a, har.match_key("POST", "http://x/v1/a?a=1&b=2", '{"x":2,"y":{"z":[1,2]}}'))
		local rules = { query = { ts = true }, body = { ["meta.sent_at"] = true } }
		assert.are.equal(
			har.match_key("POST", "/v1/a?ts=1&a=1", '{"meta":{"sent_at":"09:00","n":1}}', rules),
			har.match_key("POST", "/v1/a?a=1&ts=2", '{"meta":{"sent_at":"10:00","n":1}}', rules)
		)

		local recording = support.temp_path(".har")
		local client = sandbox:client({ record = recording })
		assert(client:get("/v1/centers", { query = { ts = 1 } }))
		client:close()
		local out, err, code = run_script(
			'print(#assert(require("pulse").new():get("/v1/centers", { query = { ts = 2 } })).centers)',
			"--replay " .. recording .. " --replay-ignore query:ts",
			OFFLINE
		)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("^%d+\n$"), out)
		out, err, code = run_script('assert(require("pulse").new():get("/v1/centers", { query = { ts = 2 } }))', "--replay " .. recording, OFFLINE)
		assert.are.equal("", out)
		assert.are.equal(1, code)
		assert.truthy(err:find("replay_miss on GET [^\n]*/v1/centers%?ts=2"), err)
		os.remove(recording)
	end)

	it("replays a browser's HAR, and --scrub cleans one of keys, cookies and fields", function()
		local script = [[
			local client = require("pulse").new()
			local api = client:api()
			local center = assert(api.centers.list()).centers[1]
			local found = assert(api.guests.search({ email = "grace@example.com", center_id = center.id }))
			print(center.name, found.guests[1].personal_info.last_name)
		]]
		local out, err, code = run_script(script, "--replay " .. DEVTOOLS, OFFLINE)
		assert.are.equal(0, code, err)
		assert.are.equal("Devtools Center\tHopper\n", out)

		local copy = support.temp_path(".har")
		support.write_file(copy, support.read_file(DEVTOOLS))
		out, err, code = support.run(
			string.format("PULSE_API_KEY=devtools-key-0000 %s --scrub %s --scrub-field last_name --scrub-field code", BIN, copy)
		)
		assert.are.equal(0, code, err)
		assert.are.equal("", out)
		assert.truthy(err:find("scrubbed " .. copy .. ": 3 entries", 1, true), err)
		local text = support.read_file(copy)
		for _, gone in ipairs({ "devtools-key-0000", "s3cr3t-cookie", "Hopper", "DT01" }) do
			assert.falsy(text:find(gone, 1, true), gone .. " is still there")
		end
		assert.truthy(text:find("Grace", 1, true)) -- a field not named stays
		out, err, code = run_script(script, "--replay " .. copy, OFFLINE)
		assert.are.equal(0, code, err)
		assert.are.equal("Devtools Center\t[REDACTED]\n", out)
		os.remove(copy)
	end)

	it("refuses what it cannot use, naming it", function()
		local _, err, code = run_script("require('pulse').new()", "--replay /nonexistent.har", OFFLINE)
		assert.are.equal(1, code)
		assert.truthy(err:find("new: replay: cannot read /nonexistent.har", 1, true), err)
		local bad = support.temp_path(".har")
		support.write_file(bad, '{"log": {}}')
		_, err = run_script("require('pulse').new()", "--replay " .. bad, OFFLINE)
		assert.truthy(err:find(bad .. " is no HAR file", 1, true), err)
		_, err = run_script("require('pulse').new()", "--record " .. bad, sandbox:env())
		assert.truthy(err:find("new: record: cannot write " .. bad, 1, true), err)
		os.remove(bad)
		_, err, code = support.run(BIN .. " --replay-miss live x.lua")
		assert.are.equal(1, code)
		assert.truthy(err:find("'--replay-miss' and '--replay-ignore' go with '--replay FILE.har'", 1, true), err)
		_, err = support.run(BIN .. " --replay x.har --replay-miss sometimes x.lua")
		assert.truthy(err:find("'--replay-miss' takes fail or live, not 'sometimes'", 1, true), err)
		local ok, why = pcall(pulse.new, { replay = { miss = "live" } })
		assert.is_false(ok)
		assert.truthy(tostring(why):find("option 'replay' needs its file", 1, true), tostring(why))
		_, why = pcall(pulse.new, { replay = { file = "x", miss = "maybe" } })
		assert.truthy(tostring(why):find('must be "fail" or "live"', 1, true), tostring(why))
	end)
end)
