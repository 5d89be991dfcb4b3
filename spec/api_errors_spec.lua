-- The API's error rules (PULSE_API.md, Transport): every documented shape
-- of the error object becomes one err (code, message, kind), an error
-- object inside a 200 is a failure, and such an answer is never cached,
-- never retried, a dead letter in a queue and a failed request in the
-- collection runner. Answers come from the specs' server
-- (spec/support/hostile.py: /json?status=N&body=TEXT).

local hostile = require("support.hostile")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")
local url = require("pulse.url")

describe("the API's error object", function()
	local server, client

	setup(function()
		server = hostile.start()
		client = server:client({ api_key = "k-errors", retry = { max_attempts = 3, base = 0.01, cap = 0.02 } })
	end)

	teardown(function()
		client:close()
		server:stop()
	end)

	local function path_of(status, body)
		return "/json?status=" .. status .. "&body=" .. url.escape(json.encode(body))
	end

	local function answer(status, body, opts)
		return client:get(path_of(status, body), opts)
	end

	it("gives every documented shape one err: code, message, kind from the HTTP status", function()
		local cases = {
			{ 400, { error = { code = 502, message = "Invalid center_id." } }, 502, "Invalid center_id.", "client" },
			{
				400,
				{ error = { StatusCode = 503, Message = "end_date is missing.", InternalMessage = "end_date is missing." } },
				503,
				"end_date is missing.",
				"client",
			},
			{ 400, { slots = {}, Error = { StatusCode = 400, Message = "Bad slot." } }, 400, "Bad slot.", "client" },
			{ 400, { error = { code = "GE502", message = "Invalid email." } }, "GE502", "Invalid email.", "client" },
			{ 404, { error = { code = 410, message = "Appointment could not be found." } }, 410, nil, "not_found" },
			{ 422, { code = 422, message = "You cannot request more than 100 items." }, nil, nil, "client" },
		}
		for _, c in ipairs(cases) do
			local status, body, code, message, kind = table.unpack(c)
			local none, err = answer(status, body)
			assert.is_nil(none)
			assert.are.equal(status, err.status)
			assert.are.equal(code, err.code, json.encode(body))
			if message then
				assert.are.equal(message, err.message)
			end
			assert.are.equal(kind, err.kind, json.encode(body))
			assert.are.equal(1, err.attempts, "a 4xx is not retried")
		end
	end)

	it("fails an error object inside a 200, its kind from the application code, and not retried", function()
		local cases = {
			{ 438, "forbidden" },
			{ 4051, "forbidden" },
			{ 418, "not_found" },
			{ 419, "conflict" },
			{ 1113, "conflict" },
			{ 502, "client" },
			{ 503, "client" }, -- a missing input, not a busy server
			{ "GE502", "client" },
			{ 9999, "client" },
		}
		local before = #server:log()
		for _, c in ipairs(cases) do
			local none, err = answer(200, { success = false, error = { code = c[1], message = "no" } })
			assert.is_nil(none)
			assert.are.equal(200, err.status)
			assert.are.equal(c[1], err.code)
			assert.are.equal(c[2], err.kind, tostring(c[1]))
			assert.are.equal(1, err.attempts)
			assert.truthy(tostring(err):find("(HTTP 200)", 1, true))
		end
		assert.are.equal(#cases, #server:log() - before, "each went out once")
		local _, capital = answer(200, { slots = {}, Error = { StatusCode = 5001, Message = "Cannot reschedule." } })
		assert.are.equal(5001, capital.code)
		assert.are.equal("conflict", capital.kind)
		local _, text = answer(200, { error = "Something failed." })
		assert.are.equal("Something failed.", text.message)
		-- a null error (or none) is a success
		assert.are.same({ success = true, error = json.null }, answer(200, { success = true, error = json.null }))
		assert.are.same({ success = true, Error = json.null }, answer(200, { success = true, Error = json.null }))
	end)

	it("never caches an error inside a 200", function()
		local cached = server:client({ api_key = "k-errors", cache = { ttl = 60 } })
		local path = path_of(200, { error = { code = 502, message = "Invalid id." } })
		local before = #server:log()
		for _ = 1, 2 do
			local none, err = cached:get(path)
			assert.is_nil(none)
			assert.is_false(err.res.from_cache)
		end
		assert.are.equal(2, #server:log() - before)
		cached:close()
	end)

	it("makes a write answered with an error inside a 200 a dead letter of the queue, sent once", function()
		local journal = support.temp_path(".journal")
		local queue = assert(pulse.queue.open("file:" .. journal))
		assert(queue:push({ method = "POST", path = path_of(200, { error = { code = 460, message = "Paid." } }), id = "a" }))
		assert(queue:push({ method = "POST", path = path_of(200, { success = true, error = json.null }), id = "b" }))
		local before = #server:log()
		local report = assert(queue:drain(client, { workers = 1 }))
		assert.are.equal(1, report.done)
		assert.are.equal(1, report.dead)
		assert.are.equal(2, #server:log() - before)
		local dead = queue:dead()
		assert.are.equal("a", dead[1].id)
		assert.truthy(tostring(dead[1].reason):find("Paid.", 1, true), tostring(dead[1].reason))
		queue:close()
		os.remove(journal)
	end)

	it("fails the collection runner's request answered with an error inside a 200", function()
		-- The bodies as variables: a JSON text's "}}" in a URL would close a {{variable}}.
		local coll = {
			info = { name = "errors", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				{ name = "ok", request = { method = "GET", url = "{{baseUrl}}/json?status=200&body={{ok}}" } },
				{ name = "inside", request = { method = "GET", url = "{{baseUrl}}/json?status=200&body={{inside}}" } },
			},
			variable = {
				{ key = "ok", value = json.encode({ error = json.null }) },
				{ key = "inside", value = json.encode({ error = { code = 438, message = "No." } }) },
			},
		}
		local file = support.temp_path(".json")
		support.write_file(file, json.encode(coll))
		local out, err, code = support.run(string.format(
			"PULSE_API_KEY=k-errors PULSE_BASE_URL=%s %s/pulse-lua --collection %s",
			server.url,
			support.BIN,
			file
		))
		assert.are.equal(1, code, out .. err)
		assert.truthy(out:find("2 requests, 1 failed", 1, true), out)
		os.remove(file)
	end)
end)
