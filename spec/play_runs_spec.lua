-- pulse-lua --collection as Newman's users expect it: Newman's spellings,
-- scripts reported (never silently skipped) and --strict-scripts, checks
-- in Lua, exit statuses, and runs that survive: a checkpoint, --resume
-- after kill -9 with every write applied once, --rerun-failed,
-- --max-calls. What the sandbox's request log shows is what went out.

local json = require("pulse.json")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-lua"
local V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

local function collection_file(items, extra)
	local path = support.temp_path(".json")
	local doc = { info = { name = "runs", schema = V21 }, item = items }
	for k, v in pairs(extra or {}) do
		doc[k] = v
	end
	support.write_file(path, json.encode(doc))
	return path
end

local function get(name, url)
	return { name = name, request = { method = "GET", url = "{{baseUrl}}" .. url } }
end

local CREATE = {
	name = "Create guest",
	request = {
		method = "POST",
		url = "{{baseUrl}}/v1/guests",
		header = { { key = "Content-Type", value = "application/json" } },
		body = {
			mode = "raw",
			raw = '{"center_id": "{{centerId}}", "personal_info": {"first_name": "{{first}}", "last_name": "Run", "email": "{{email}}"} }',
		},
	},
}

local function data_file(rows)
	local path = support.temp_path(".json")
	support.write_file(path, json.encode(json.array(rows)))
	return path
end

local function count(log, method, applied)
	local n = 0
	for _, line in ipairs(log) do
		if line.method == method and (applied == nil or line.applied == applied) then
			n = n + 1
		end
	end
	return n
end

describe("pulse-lua --collection, Newman's way", function()
	local sandbox, state
	setup(function()
		sandbox = support.start({ log = true })
		state = os.tmpname()
		os.remove(state)
	end)
	teardown(function()
		sandbox:stop()
		os.execute("rm -rf " .. support.shell_quote(state))
	end)
	before_each(function()
		sandbox:reset()
		support.write_file(sandbox.log_path, "")
	end)

	local function env()
		return "XDG_STATE_HOME=" .. support.shell_quote(state) .. " " .. sandbox:env()
	end

	local function play(args)
		return support.run(string.format("%s %s --collection %s", env(), BIN, args))
	end

	it("takes Newman's spellings: --environment, -d, -n, --folder twice, --env-var, --global-var, -x, --reporters", function()
		local coll = collection_file({
			{ name = "Centers", item = { get("List centers", "/v1/centers?size={{size}}") } },
			{ name = "Guests", item = { get("Search", "/v1/guests/search?email={{email}}&center_id={{centerId}}") } },
			{ name = "Other", item = { get("Missing", "/v1/appointments/{{missing}}") } },
		})
		local environment = support.temp_path(".json")
		support.write_file(environment, json.encode({ values = { { key = "size", value = "2", enabled = true } } }))
		local data = data_file({ { email = "a@example.com" }, { email = "b@example.com" } })
		local junit = support.temp_path(".xml")
		local out, err, code = play(string.format(
			"%s --environment %s -d %s -n 3 --folder Centers --folder Guests --env-var centerId=%s "
				.. "--global-var size=9 --reporters cli,junit --reporter-junit-export %s",
			coll,
			environment,
			data,
			sandbox:center(),
			junit
		))
		assert.are.equal(0, code, out .. err)
		-- 3 iterations of 2 requests: the data's two rows, then its last again.
		assert.truthy(out:find("6 requests, 0 failed", 1, true), out)
		local searches = 0
		for _, line in ipairs(sandbox:log_lines()) do
			searches = searches + (line.path == "/v1/guests/search" and 1 or 0)
		end
		assert.are.equal(3, searches)
		local xml = support.read_file(junit)
		local _, cases = xml:gsub("<testcase ", "")
		assert.are.equal(6, cases, xml)
		-- A failure: its request and answer in the JUnit file, the key not;
		-- -x makes the exit status 0 all the same.
		out, err, code = play(string.format(
			"%s --folder Other --global-var missing=00000000-0000-4000-8000-000000000000 "
				.. "--reporters junit --reporter-junit-export %s",
			coll,
			junit
		))
		assert.are.equal(1, code, out .. err)
		assert.are.equal("", out) -- no cli reporter asked
		xml = support.read_file(junit)
		assert.truthy(xml:find('<failure message="not_found', 1, true), xml)
		assert.truthy(xml:find("request: GET " .. sandbox.url .. "/v1/appointments/00000000", 1, true), xml)
		assert.truthy(xml:find("answer: HTTP 404", 1, true), xml)
		assert.falsy(xml:find(sandbox.key, 1, true))
		_, _, code = play(coll .. " --folder Other --global-var missing=x -x")
		assert.are.equal(0, code)
		for _, path in ipairs({ coll, environment, data, junit }) do
			os.remove(path)
		end
	end)

	it("stops at the first failure with --bail, or only that iteration with --bail iteration", function()
		local coll = collection_file({ get("Missing", "/v1/appointments/{{id}}"), get("Centers", "/v1/centers") })
		local data = data_file({ { id = "x1" }, { id = "x2" } })
		local out, _, code = play(coll .. " -d " .. data .. " --bail")
		assert.are.equal(1, code)
		assert.truthy(out:find("1 requests, 1 failed", 1, true), out)
		assert.truthy(out:find("bailed at the first failure", 1, true), out)
		out, _, code = play(coll .. " -d " .. data .. " --bail iteration")
		assert.are.equal(1, code)
		assert.truthy(out:find("2 requests, 2 failed", 1, true), out) -- each row's first, not its second
		assert.are.equal(0, count(sandbox:log_lines(), "GET") - 3)
		os.remove(coll)
		os.remove(data)
	end)

	it("reports the scripts it does not run, and fails under --strict-scripts sending nothing", function()
		local with_scripts = get("Centers", "/v1/centers")
		with_scripts.event = {
			{ listen = "test", script = { exec = { "pm.test('ok', function () { pm.response.to.have.status(200); });" } } },
			{ listen = "prerequest", script = { exec = { "" } } }, -- empty: no script
		}
		local coll = collection_file({ with_scripts }, {
			event = {
				{ listen = "prerequest", script = { exec = "pm.variables.set('x', 1);" } },
				{ listen = "test", script = { exec = { "pm.test('t', () => {});" } } },
			},
		})
		local out, err, code = play(coll)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("scripts: 1 pre-request and 2 test scripts in the collection, not run", 1, true), out)
		support.write_file(sandbox.log_path, "")
		out, err, code = play(coll .. " --strict-scripts")
		assert.are.equal(1, code, out)
		assert.truthy(err:find("holds 1 pre-request and 2 test scripts, which pulse-lua does not run (--strict-scripts)", 1, true), err)
		assert.are.equal(0, #sandbox:log_lines())
		os.remove(coll)
	end)

	it("counts --checks failures as Newman counts assertions, with one-line forms and functions", function()
		local coll = collection_file({
			{ name = "Centers", item = { get("List centers", "/v1/centers") } },
			get("Missing", "/v1/appointments/00000000-0000-4000-8000-000000000000"),
			get("Slow to check", "/v1/centers?size=1"),
		})
		local checks = support.temp_path(".lua")
		support.write_file(checks, [[
			return {
				["api.centers.*"] = function(res, body, check)
					check("has centers", #body.centers > 0)
					check("first has a name", body.centers[1].name ~= nil)
				end,
				["Missing"] = { status = 404, json = { ["error.code"] = true } },
				["Slow to check"] = { status = { 200, 201 }, json = { ["centers.1.id"] = true, nothing = false }, max_ms = 60000 },
				["api.slow_*"] = function(_, body, check)
					check("no centers", #body.centers == 0)
				end,
			}
		]])
		local report = support.temp_path(".json")
		local out, err, code = play(coll .. " --checks " .. checks .. " --reporter json:" .. report)
		assert.are.equal(1, code, out .. err)
		assert.truthy(out:find("3 requests, 1 failed", 1, true), out)
		assert.truthy(out:find("checks: 8 passed, 1 failed", 1, true), out)
		assert.truthy(out:find("failed: api.slow_to_check (row 1): check failed: no centers", 1, true), out)
		local doc = json.decode(support.read_file(report))
		assert.are.same({ passed = 8, failed = 1 }, doc.checks)
		local kept = assert(support.read_file(report .. ".checkpoint"), "a checkpoint beside the report")
		assert.truthy(kept:find('"state":"failed"', 1, true), kept)
		os.remove(report .. ".checkpoint")
		assert.is_false(doc.results[2].failed) -- the 404 its rule expects
		-- A rule that raises fails a check named after it; a broken file is status 3.
		support.write_file(checks, 'return { ["Missing"] = function() error("boom") end }')
		out = play(coll .. " --checks " .. checks .. " --folder Centers")
		assert.truthy(out:find("1 requests, 0 failed", 1, true), out)
		out = play(coll .. " --checks " .. checks)
		assert.truthy(out:find("check failed: Missing raised", 1, true), out)
		support.write_file(checks, "return {")
		out, err, code = play(coll .. " --checks " .. checks)
		assert.are.equal("", out)
		assert.are.equal(3, code)
		assert.truthy(err:find("--checks: ", 1, true), err)
		support.write_file(checks, "return 7")
		out, err, code = play(coll .. " --checks " .. checks)
		assert.are.equal("", out)
		assert.are.equal(2, code)
		assert.truthy(err:find("returns number, not a table of rules", 1, true), err)
		os.remove(checks)
		os.remove(report)
		os.remove(coll)
	end)

	it("plays the built-in catalog as a collection: its read-only folder, ids chained, green and writing nothing", function()
		local out, err, code = play("builtin:pulse --folder read-only")
		assert.are.equal(0, code, out .. err)
		assert.truthy(out:find("15 requests, 0 failed", 1, true), out)
		local log = sandbox:log_lines()
		assert.are.equal(15, #log)
		local paths = {}
		for _, line in ipairs(log) do
			assert.are.equal("GET", line.method)
			assert.are.equal(200, line.status, line.path)
			paths[#paths + 1] = line.path
		end
		-- The ids came from the lists before: the first center's, its first
		-- service's, a guest's, an appointment's and its invoice's.
		local center = sandbox:center()
		assert.are.equal("/v1/Centers/" .. center, paths[2])
		assert.truthy(paths[4]:find("^/v1/Centers/" .. center:gsub("%-", "%%-") .. "/services/[%x-]+$"), paths[4])
		assert.truthy(paths[11]:find("^/v1/guests/[%x-]+$"), paths[11])
		assert.truthy(paths[14]:find("^/v1/appointments/[%x-]+$"), paths[14])
		assert.truthy(paths[15]:find("^/v1/invoices/[%x-]+$"), paths[15])
		-- Every documented operation is there, in its group's folder.
		out = play("builtin:pulse --plan")
		local operations = 0
		for _, op in ipairs(require("pulse.catalog").operations) do
			operations = operations + (op.path ~= "" and 1 or 0)
		end
		assert.truthy(out:find("Pulse API (built in): " .. (operations + 15) .. " requests x 1 rows", 1, true), out)
		-- A capture its answer cannot fill fails the request, naming it.
		local coll = collection_file({
			{ name = "Centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers" }, _pulse = { capture = { x = "nothing.here" } } },
		})
		out, err, code = play(coll)
		assert.are.equal(1, code, err)
		assert.truthy(out:find("its answer has no nothing.here to set {{x}} from", 1, true), out)
		os.remove(coll)
	end)

	it("exits 3 when the collection or its data cannot be read, 2 on a wrong option", function()
		local _, err, code = play("/nonexistent/collection.json")
		assert.are.equal(3, code)
		assert.truthy(err:find("cannot be read", 1, true), err)
		local coll = collection_file({ get("Centers", "/v1/centers") })
		_, err, code = play(coll .. " -d /nonexistent.csv")
		assert.are.equal(3, code)
		assert.truthy(err:find("--data: /nonexistent.csv cannot be read", 1, true), err)
		_, err, code = play(coll .. " -n zero")
		assert.are.equal(2, code)
		assert.truthy(err:find("'--iteration-count' takes a whole number, 1 or more, not 'zero'", 1, true), err)
		_, err, code = play(coll .. " --env-var novalue")
		assert.are.equal(2, code)
		assert.truthy(err:find("'--env-var' takes NAME=VALUE", 1, true), err)
		_, err, code = play(coll .. " --reporters cli,xml")
		assert.are.equal(2, code)
		assert.truthy(err:find("cli, json, junit and html, not 'xml'", 1, true), err)
		_, err, code = play(coll .. " --resume --rerun-failed")
		assert.are.equal(2, code)
		assert.truthy(err:find("cannot go together", 1, true), err)
		os.remove(coll)
	end)

	it("goes on after kill -9 with --resume: every write applied once, the uncertain one reconciled", function()
		local rows = {}
		for i = 1, 8 do
			rows[i] = { first = "Resume" .. i, email = string.format("resume.%d.%d@example.com", i, math.random(1e9)) }
		end
		local data = data_file(rows)
		local coll = collection_file({ CREATE })
		local checkpoint = support.temp_path(".checkpoint")
		local checks = support.temp_path(".lua")
		support.write_file(checks, string.format([[
			local client = require("pulse").new()
			return {
				["Create guest"] = { status = 200 },
				reconcile = {
					["Create guest"] = function(step)
						local found = assert(client:get("/v1/guests/search", { query = { email = step.data.email, center_id = %q } }))
						return #found.guests > 0
					end,
				},
			}
		]], sandbox:center()))
		local args = string.format(
			"%s -d %s --env-var centerId=%s --checkpoint %s --checks %s",
			coll,
			data,
			sandbox:center(),
			checkpoint,
			checks
		)
		-- Each write takes 0.4 s at the server: kill -9 lands amid the run.
		sandbox:fault("latency:ms=400:count=0:method=POST")
		local pid = support.background(string.format("%s %s --collection %s", env(), BIN, args))
		local deadline = os.time() + 20
		while count(sandbox:log_lines(), "POST") < 3 and os.time() < deadline do
			require("pulse.core").sleep(0.05)
		end
		-- The 3rd was applied and its answer is 0.4 s late: the kill leaves
		-- it sent with no outcome, which only the reconcile can settle.
		require("pulse.core").sleep(0.2)
		os.execute("kill -9 " .. pid)
		while support.alive(pid) do
			require("pulse.core").sleep(0.02)
		end
		require("pulse.core").sleep(0.6) -- what the server had begun, it finishes
		sandbox:control("DELETE", "faults")
		local before = count(sandbox:log_lines(), "POST", true)
		assert.is_true(before >= 3 and before < 8, "killed amid the run: " .. before .. " applied")
		local out, err, code = play(args .. " --resume")
		assert.are.equal(0, code, out .. err)
		assert.truthy(out:find("api.create_guest +%d+ +0 +200,applied"), out) -- reconciled: "applied"
		assert.truthy(out:find("resumed: %d+ requests done in the run before"), out)
		assert.are.equal(8, count(sandbox:log_lines(), "POST", true))
		local client = sandbox:client()
		for _, row in ipairs(rows) do
			local found = assert(client:get("/v1/guests/search", { query = { email = row.email, center_id = sandbox:center() } }))
			assert.are.equal(1, #found.guests, row.email)
		end
		client:close()
		for _, path in ipairs({ data, coll, checkpoint, checks }) do
			os.remove(path)
		end
	end)

	it("stops on Ctrl-C with status 130 saying how to go on, and SIGTERM with 143", function()
		local coll = collection_file({ get("Centers", "/v1/centers?page={{page}}") })
		local rows = {}
		for i = 1, 20 do
			rows[i] = { page = i }
		end
		local data = data_file(rows)
		local checkpoint = support.temp_path(".checkpoint")
		sandbox:fault("latency:ms=300:count=0")
		for signal, status in pairs({ INT = 130, TERM = 143 }) do
			local out = support.temp_path(".out")
			local pid = support.background(
				string.format("(%s %s --collection %s -d %s --checkpoint %s; echo \"exit $?\")", env(), BIN, coll, data, checkpoint),
				out
			)
			local deadline = os.time() + 20
			while count(sandbox:log_lines(), "GET") < 2 and os.time() < deadline do
				require("pulse.core").sleep(0.05)
			end
			os.execute("pkill -" .. signal .. " -P " .. pid) -- pulse-lua, the child of the shell that echoes
			while support.alive(pid) do
				require("pulse.core").sleep(0.05)
			end
			local text = support.read_file(out)
			assert.truthy(text:find("exit " .. status, 1, true), text)
			assert.truthy(text:find("--resume goes on from checkpoint " .. checkpoint, 1, true), text)
			os.remove(out)
			support.write_file(sandbox.log_path, "")
		end
		sandbox:control("DELETE", "faults")
		local out, err, code = play(string.format("%s -d %s --checkpoint %s --resume", coll, data, checkpoint))
		assert.are.equal(0, code, out .. err)
		assert.truthy(out:find("20 requests, 0 failed", 1, true), out)
		assert.is_true(#sandbox:log_lines() < 20) -- what was done is not asked again
		for _, path in ipairs({ coll, data, checkpoint }) do
			os.remove(path)
		end
	end)

	it("lists an uncertain write without a reconcile, replays only the failed with --rerun-failed, stops at --max-calls", function()
		local coll = collection_file({ get("Item", "/v1/appointments/{{id}}"), get("Centers", "/v1/centers") })
		local data = data_file({ { id = "missing-1" }, { id = "missing-2" } })
		local checkpoint = support.temp_path(".checkpoint")
		local base = string.format("%s -d %s --checkpoint %s", coll, data, checkpoint)
		local out, _, code = play(base)
		assert.are.equal(1, code)
		assert.truthy(out:find("4 requests, 2 failed", 1, true), out)
		support.write_file(sandbox.log_path, "")
		out, _, code = play(base .. " --rerun-failed")
		assert.are.equal(1, code)
		assert.truthy(out:find("2 requests, 2 failed", 1, true), out)
		assert.are.equal(2, #sandbox:log_lines()) -- the two failed, nothing else
		-- --max-calls: stops cleanly, and --resume does the rest.
		support.write_file(sandbox.log_path, "")
		out, _, code = play(string.format("%s --max-calls 3 --global-var id=x", base))
		assert.are.equal(1, code) -- what ran failed: the ids are x
		assert.truthy(out:find("stopped at --max-calls 3", 1, true), out)
		assert.are.equal(3, #sandbox:log_lines())
		out = play(string.format("%s --resume --global-var id=x", base))
		assert.truthy(out:find("resumed: 3 requests done in the run before", 1, true), out)
		assert.are.equal(4, #sandbox:log_lines())
		-- A write sent whose outcome is unknown, with no reconcile: listed, exit 1.
		local writes = collection_file({ CREATE })
		support.write_file(checkpoint, table.concat({
			json.encode({ run = { collection = "runs", file = writes, rows = 1, requests = 1 } }),
			json.encode({ row = 1, index = 1, name = "api.create_guest", state = "sent" }),
		}, "\n") .. "\n")
		support.write_file(sandbox.log_path, "")
		out, _, code = play(string.format("%s --checkpoint %s --resume --env-var centerId=c --global-var first=f --global-var email=e", writes, checkpoint))
		assert.are.equal(1, code, out)
		assert.truthy(out:find("uncertain: the write was sent and its outcome is unknown", 1, true), out)
		assert.are.equal(0, #sandbox:log_lines())
		for _, path in ipairs({ coll, data, checkpoint, writes }) do
			os.remove(path)
		end
	end)
end)
