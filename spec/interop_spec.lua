-- Real Postman tooling against our side, from the versions pinned in
-- tools/interop/package-lock.json (make deps installs them where npm is
-- present): Newman plays the examples' collection against pulse-sandbox
-- --collection, and client:api runs against Prism's mock of it. Where npm
-- is absent the tests say so and are skipped.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

local COLLECTION = "spec/support/pulse-api.postman_collection.json"
local BIN = "tools/interop/node_modules/.bin/"

local npm = os.execute("command -v npm >/dev/null")

local function tool(name)
	assert(support.read_file(BIN .. name), name .. " is not installed: run make deps (npm ci in tools/interop)")
	return BIN .. name
end

-- Starts Prism's mock of COLLECTION; returns its port, pid and log path.
-- Ports are drawn below the kernel's ephemeral range (32768 and up), where
-- an outgoing connection could hold them, and another is drawn if the one
-- tried was taken all the same.
local function start_prism()
	for _ = 1, 10 do
		local port = math.random(20000, 32000)
		local log = os.tmpname()
		local pid_path = log .. ".pid"
		os.execute(string.format("%s mock -p %d %s > %s 2>&1 & echo $! > %s", tool("prism"), port, COLLECTION, log, pid_path))
		local pid = support.read_file(pid_path):match("%d+")
		os.remove(pid_path)
		local deadline = core.now() + 60
		while true do
			local out = support.read_file(log) or ""
			if out:find("Prism is listening", 1, true) then
				return port, pid, log
			end
			if out:find("EADDRINUSE", 1, true) then
				support.stop_process(pid)
				os.remove(log)
				break
			end
			assert(core.now() < deadline and support.alive(pid), "prism did not start: " .. out)
			core.sleep(0.1)
		end
	end
	error("no free port for prism")
end

describe("Postman tooling", function()
	if not npm then
		it("is skipped: npm is absent, so Newman and Prism are not installed", function()
			pending("npm is absent: Newman and Prism interop not run")
		end)
		return
	end

	it("Newman plays the examples' collection against pulse-sandbox --collection", function()
		local sandbox = support.start({ args = "--collection " .. COLLECTION, rate_limit = "1000/1/1000" })
		local env = os.tmpname()
		support.write_file(
			env,
			json.encode({
				values = {
					{ key = "baseUrl", value = sandbox.url, enabled = true },
					{ key = "apiKey", value = sandbox.key, enabled = true },
				},
			})
		)
		local report = os.tmpname()
		local out, err, code = support.run(string.format(
			"%s run %s -e %s -r json --reporter-json-export %s",
			tool("newman"),
			COLLECTION,
			env,
			report
		))
		assert.are.equal(0, code, out .. err)
		local run = assert(json.decode(support.read_file(report))).run
		assert.are.equal(20, #run.executions)
		for _, e in ipairs(run.executions) do
			assert.are.equal(200, e.response.code, e.item.name)
		end
		assert.are.equal(20, sandbox:stats().requests) -- each took a token, with Newman's key
		os.remove(env)
		os.remove(report)
		sandbox:stop()
	end)

	it("Newman with pm.test scripts and pulse-lua with the same tests as --checks pass and fail the same requests", function()
		local sandbox = support.start({ log = true })
		local function get(name, url, test)
			return {
				name = name,
				request = {
					method = "GET",
					url = "{{baseUrl}}" .. url,
					header = { { key = "Authorization", value = "Api-key {{apiKey}}" } },
				},
				event = { { listen = "test", script = { exec = { test } } } },
			}
		end
		local coll = os.tmpname() .. ".json"
		support.write_file(coll, json.encode({
			info = { name = "parity", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				get("List centers", "/v1/centers", "pm.test('200', () => pm.response.to.have.status(200)); "
					.. "pm.test('has centers', () => pm.expect(pm.response.json().centers.length).to.be.above(0));"),
				get("Missing appointment", "/v1/appointments/00000000-0000-4000-8000-000000000000",
					"pm.test('404', () => pm.response.to.have.status(404));"),
				get("Wrong status", "/v1/centers", "pm.test('201', () => pm.response.to.have.status(201));"),
				get("Nobody found", "/v1/guests/search?email=nobody@example.invalid&center_id={{centerId}}",
					"pm.test('none', () => pm.expect(pm.response.json().guests.length).to.eql(0));"),
				get("Missing field", "/v1/centers", "pm.test('field', () => pm.expect(pm.response.json().nothing).to.exist);"),
			},
		}))
		local checks = os.tmpname() .. ".lua"
		support.write_file(checks, [[
			return {
				["List centers"] = function(res, body, check)
					check("200", res.status == 200)
					check("has centers", #body.centers > 0)
				end,
				["Missing appointment"] = { status = 404 },
				["Wrong status"] = { status = 201 },
				["Nobody found"] = function(_, body, check)
					check("none", #body.guests == 0)
				end,
				["Missing field"] = { json = { nothing = true } },
			}
		]])
		local vars = string.format("--env-var baseUrl=%s --env-var apiKey=%s --env-var centerId=%s", sandbox.url, sandbox.key, sandbox:center())
		local newman_report, ours_report = os.tmpname(), os.tmpname()
		local out, err, code = support.run(string.format(
			"%s run %s %s -r json --reporter-json-export %s", tool("newman"), coll, vars, newman_report))
		assert.are.equal(1, code, out .. err)
		local newman_failed = {}
		for _, e in ipairs(assert(json.decode(support.read_file(newman_report))).run.executions) do
			for _, a in ipairs(e.assertions or {}) do
				if a.error then
					newman_failed[e.item.name] = true
				end
			end
		end
		out, err, code = support.run(string.format(
			"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s/pulse-lua --collection %s %s --checks %s --reporters json --reporter-json-export %s",
			sandbox.key, sandbox.url, support.BIN, coll, vars, checks, ours_report))
		assert.are.equal(1, code, out .. err)
		local ours_failed = {}
		for _, r in ipairs(assert(json.decode(support.read_file(ours_report))).results) do
			if r.failed then
				ours_failed[r.request] = true
			end
		end
		assert.are.same({ ["Wrong status"] = true, ["Missing field"] = true }, newman_failed)
		assert.are.same(newman_failed, ours_failed)
		for _, path in ipairs({ coll, checks, newman_report, ours_report }) do
			os.remove(path)
		end
		sandbox:stop()
	end)

	it("client:api runs against Prism's mock of the same collection", function()
		local port, pid, log = start_prism()
		local client = pulse.new({ base_url = "http://127.0.0.1:" .. port, api_key = "k-prism", retry = false })
		local api = client:api(COLLECTION)
		local body = assert(api.centers.get_service({ center_id = "c-1", service_id = "s-1" }))
		assert.are.equal("Swedish Massage 60", body.name)
		local created = assert(api.guests.create_guest({ guestFirstName = "Ada", guestEmail = "ada@example.org" }))
		assert.is_string(created.id)
		local page = assert(api.guests.list_guests({ size = 2 }))
		assert.is_table(page.guests)
		client:close()
		support.stop_process(pid)
		os.remove(log)
	end)
end)
