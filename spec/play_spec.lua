-- A collection played: pulse-sandbox --collection serves its saved
-- examples, and pulse-lua --collection plays its requests through the
-- client, with data rows, --parallel and reports.

local json = require("pulse.json")
local support = require("support.sandbox")

local COLLECTION = "spec/support/pulse-api.postman_collection.json"

-- A collection file of items (v2.1), for the cases the examples' lacks.
local function collection_file(items, variables)
	local path = support.temp_path(".json")
	support.write_file(
		path,
		json.encode({
			info = { name = "spec", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = items,
			variable = variables,
		})
	)
	return path
end

local function example(name, code, body)
	return { name = name, code = code, header = { { key = "X-Example", value = name } }, body = json.encode(body) }
end

describe("pulse-sandbox --collection", function()
	local sandbox, key

	setup(function()
		local path = collection_file({
			{
				name = "Things",
				item = {
					{
						name = "Get thing",
						request = { method = "GET", url = "{{baseUrl}}/things/:id" },
						response = {
							example("Missing", 404, { error = { code = "not_found", message = "no such thing" } }),
							example("A thing", 200, { id = 1 }),
							example("Another", 200, { id = 2 }),
						},
					},
					{
						name = "Search things",
						request = { method = "GET", url = "{{baseUrl}}/things/search" },
						response = { example("Found", 200, { found = true }) },
					},
					{ name = "Delete thing", request = { method = "DELETE", url = "{{baseUrl}}/things/:id" } },
				},
			},
		})
		sandbox = support.start({ args = "--collection " .. path, rate_limit = "3/60/3" })
		key = { "Authorization: Api-key " .. sandbox.key }
		os.remove(path)
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		sandbox:reset()
	end)

	it("answers the first 2xx example, or the one Prefer names", function()
		local status, headers, body = sandbox:raw("GET", "/things/7", key)
		assert.are.equal(200, status)
		assert.are.same({ id = 1 }, body)
		assert.are.equal("A thing", headers["x-example"])
		status, headers, body = sandbox:raw("GET", "/things/7", { key[1], "Prefer: example=Another" })
		assert.are.same({ 200, "Another", { id = 2 } }, { status, headers["x-example"], body })
		status, headers, body = sandbox:raw("GET", "/things/7", { key[1], "Prefer: code=404" })
		assert.are.equal(404, status)
		assert.are.equal("Missing", headers["x-example"])
		assert.are.equal("not_found", body.error.code)
	end)

	it("prefers a literal path to a parameter, and answers 501, 404 and 405 with the envelope", function()
		local status, _, body = sandbox:raw("GET", "/things/search", key)
		assert.are.same({ 200, { found = true } }, { status, body })
		sandbox:reset()
		status, _, body = sandbox:raw("DELETE", "/things/1", key)
		assert.are.equal(501, status)
		assert.are.equal("not_implemented", body.error.code)
		status, _, body = sandbox:raw("GET", "/nothing/here", key)
		assert.are.equal(404, status)
		assert.are.equal("not_found", body.error.code)
		sandbox:reset()
		status, _, body = sandbox:raw("POST", "/things/1", key)
		assert.are.equal(405, status)
		assert.are.equal("method_not_allowed", body.error.code)
	end)

	it("checks the key, takes a token for every request and keeps the bucket's headers and faults", function()
		local status, headers = sandbox:raw("GET", "/things/1", {})
		assert.are.equal(401, status)
		for _ = 1, 3 do
			status, headers = sandbox:raw("GET", "/nothing", key) -- a 404 takes a token too
			assert.are.equal(404, status)
		end
		assert.are.equal("0", headers["ratelimit-remaining"])
		status, headers = sandbox:raw("GET", "/things/1", key)
		assert.are.equal(429, status)
		assert.truthy(headers["retry-after"])
		sandbox:reset()
		sandbox:fault("503:count=1")
		assert.are.equal(503, (sandbox:raw("GET", "/things/1", key)))
	end)

	it("refuses a collection it cannot read, naming the option, with status 2", function()
		local missing = support.temp_path(".json")
		local _, err, code = support.run(support.BIN .. "/pulse-sandbox --api-key k --collection " .. missing)
		assert.are.equal(2, code, err)
		assert.truthy(err:find("--collection: " .. missing .. ": cannot be read", 1, true), err)
		local v1 = collection_file({})
		support.write_file(v1, '{"id": "x", "name": "old", "order": [], "requests": []}')
		_, err, code = support.run(support.BIN .. "/pulse-sandbox --api-key k --collection " .. v1)
		assert.are.equal(2, code)
		assert.truthy(err:find("not a Postman Collection v2.0.0 or v2.1.0", 1, true), err)
		os.remove(v1)
	end)
end)

describe("pulse-lua --collection", function()
	local sandbox

	setup(function()
		sandbox = support.start({ args = "--collection " .. COLLECTION, rate_limit = "1000/1/1000" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	local function play(args)
		return support.run(string.format(
			"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s/pulse-lua --collection %s",
			sandbox.key,
			sandbox.url,
			support.BIN,
			args
		))
	end

	it("plays every request in order, prints a summary, and exits 0", function()
		local before = sandbox:stats().requests
		local out, err, code = play(COLLECTION)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("api.centers.list_centers%s+1%s+0%s+200"), out)
		assert.truthy(out:find("api.appointments.mark_no_show%s+1%s+0%s+200"), out)
		assert.truthy(out:find("20 requests, 0 failed", 1, true), out)
		assert.are.equal(20, sandbox:stats().requests - before)
		local first, last = out:find("list_centers", 1, true), out:find("mark_no_show", 1, true)
		assert.is_true(first < last)
	end)

	it("plays once per data row, rows at once with --parallel, and writes JUnit and JSON reports", function()
		local items = {
			{
				name = "Get one",
				request = { method = "GET", url = "{{baseUrl}}/things/{{thing}}", header = { { key = "X-Row", value = "{{label}}" } } },
				response = { example("Found", 200, { ok = true }) },
			},
			{ name = "Broken", request = { method = "DELETE", url = "{{baseUrl}}/things/{{thing}}" } },
		}
		local path = collection_file(items)
		local other = support.start({ args = "--collection " .. path, log = true })
		local csv = support.temp_path(".csv")
		support.write_file(csv, 'thing,label\n1,one\n2,"two, quoted"\n3,three\n')
		local junit, report = support.temp_path(".xml"), support.temp_path(".json")
		local out, err, code = support.run(string.format(
			"PULSE_API_KEY=%s PULSE_BASE_URL=%s %s/pulse-lua --collection %s --data %s --parallel 3 --reporter junit:%s --reporter json:%s",
			other.key,
			other.url,
			support.BIN,
			path,
			csv,
			junit,
			report
		))
		assert.are.equal(1, code, out) -- the DELETEs have no example: 501
		assert.truthy(err:find("3 of 6 requests failed", 1, true), err)
		assert.truthy(out:find("api.get_one%s+3%s+0%s+200"), out)
		assert.truthy(out:find("api.broken%s+3%s+3%s+501"), out)
		local paths = {}
		for _, line in ipairs(other:log_lines()) do
			paths[#paths + 1] = line.method .. " " .. line.path
		end
		table.sort(paths)
		assert.are.same(
			{ "DELETE /things/1", "DELETE /things/2", "DELETE /things/3", "GET /things/1", "GET /things/2", "GET /things/3" },
			paths
		)
		-- The JUnit file, read by an XML parser.
		local checked = support.run(
			"/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot();"
				.. ' print(r.tag, r.get("tests"), r.get("failures"), len(r.findall("testsuite")),'
				.. " len(r.findall(\".//failure\")))' "
				.. junit
		)
		assert.are.equal("testsuites 6 3 3 3\n", checked)
		local doc = json.decode(support.read_file(report))
		assert.are.equal(6, doc.requests)
		assert.are.equal(3, doc.failed)
		assert.are.equal(6, #doc.results)
		assert.are.same({ 1, 1, "api.get_one", 200 }, {
			doc.results[1].row,
			doc.results[1].index,
			doc.results[1].name,
			doc.results[1].status,
		})
		for _, f in ipairs({ path, csv, junit, report }) do
			os.remove(f)
		end
		other:stop()
	end)

	it("plays one folder, takes an environment and JSON data, and refuses bad options", function()
		local _, out, err, code
		out, err, code = play(COLLECTION .. " --folder Appointments")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("5 requests, 0 failed", 1, true), out)
		assert.falsy(out:find("centers", 1, true), out)
		local data = support.temp_path(".json")
		support.write_file(data, '[{"size": 3}, {"size": 4}]')
		local env = support.temp_path(".json")
		support.write_file(env, '{"values": [{"key": "guestFirstName", "value": "Env", "enabled": true}]}')
		out, err, code = play(COLLECTION .. " --folder Guests --data " .. data .. " --env " .. env)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("10 requests, 0 failed", 1, true), out)
		-- Usage is exit status 2, as Newman's.
		_, err, code = play(COLLECTION .. " --folder Nope")
		assert.are.equal(2, code)
		assert.truthy(err:find("--folder: no folder named 'Nope'", 1, true), err)
		_, err, code = play(COLLECTION .. " --parallel 0")
		assert.are.equal(2, code)
		assert.truthy(err:find("'--parallel' takes a whole number", 1, true), err)
		_, err, code = play(COLLECTION .. " --reporter xml:out.xml")
		assert.are.equal(2, code)
		assert.truthy(err:find("json:FILE, junit:FILE or html:FILE", 1, true), err)
		_, err, code = support.run(support.BIN .. "/pulse-lua --folder Guests -e ''")
		assert.are.equal(1, code)
		assert.truthy(err:find("'--folder' goes with '--collection FILE'", 1, true), err)
		os.remove(data)
		os.remove(env)
	end)
end)
