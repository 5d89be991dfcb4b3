-- Dry runs (dry_run = true, pulse-lua --dry-run): reads go out, writes do
-- not; each write is checked against the catalog, printed as the request
-- it would have been, traced, and answered with res.dry_run. A queue
-- drain and the collection runner say what they would write and change
-- nothing. What the sandbox's request log shows is what went out.

local json = require("pulse.json")
local pulse = require("pulse")
local redis = require("support.redis")
local support = require("support.sandbox")

local BIN = support.BIN .. "/pulse-lua"

local function methods_in(log)
	local count = {}
	for _, line in ipairs(log) do
		count[line.method] = (count[line.method] or 0) + 1
	end
	return count
end

describe("a dry run", function()
	local sandbox
	setup(function()
		sandbox = support.start({ log = true })
	end)
	teardown(function()
		sandbox:stop()
	end)
	before_each(function()
		sandbox:reset()
		support.write_file(sandbox.log_path, "")
	end)

	it("sends reads, answers writes unsent with res.dry_run, checks them against the catalog, and traces them", function()
		local trace = support.temp_path(".jsonl")
		local client = sandbox:client({ dry_run = true, trace = trace })
		-- What a dry run prints goes to stderr: caught here, to read.
		local stderr, printed = io.stderr, io.tmpfile()
		io.stderr = printed -- luacheck: ignore 122
		finally(function()
			io.stderr = stderr -- luacheck: ignore 122
		end)
		local centers = assert(client:get("/v1/centers"))
		local center_id = centers.centers[1].id
		local guest = { center_id = center_id, personal_info = { first_name = "Ada", last_name = "Dry" } }
		local body, res = client:post("/v1/guests", guest)
		assert.is_true(res.dry_run)
		assert.are.equal(200, res.status)
		assert.are.equal("create_guest", res.operation)
		assert.are.same(guest, body)
		-- The catalog documents every body of POST /v1/guests/online_guests.
		local none, err = client:post("/v1/guests/online_guests", { email = "a@b.c", centre_id = center_id })
		assert.is_nil(none)
		assert.are.equal("dry_run", err.kind)
		assert.truthy(err.message:find("body field centre_id not documented for create_online_guest", 1, true), err.message)
		none, err = client:delete("/v1/no/such/thing")
		assert.is_nil(none)
		assert.are.equal("dry_run", err.kind)
		assert.truthy(err.message:find("no documented operation is DELETE /v1/no/such/thing", 1, true), err.message)
		none, err = client:put("/v1/guests/nil", { center_id = center_id })
		assert.is_nil(none)
		assert.truthy(err.message:find("path parameter guest_id is 'nil'", 1, true), err.message)
		local stats = client:stats()
		client:close()
		io.stderr = stderr -- luacheck: ignore 122
		printed:seek("set")
		local said = printed:read("a")
		printed:close()
		assert.truthy(said:find("pulse: dry run: POST " .. sandbox.url .. "/v1/guests (guests.create)\n  {", 1, true), said)
		assert.truthy(said:find("  refused: path parameter guest_id is 'nil'", 1, true), said)
		assert.falsy(said:find(sandbox.key, 1, true))
		assert.are.equal(1, stats.requests)
		assert.are.equal(4, stats.dry_run)
		assert.are.same({ GET = 1 }, methods_in(sandbox:log_lines()))
		local lines = {}
		for line in support.read_file(trace):gmatch("[^\n]+") do
			local t = json.decode(line)
			if t.event == "dry_run" then
				lines[#lines + 1] = t
			end
		end
		os.remove(trace)
		assert.are.equal(4, #lines)
		assert.are.equal("create_guest", lines[1].operation)
		assert.are.equal("POST", lines[1].method)
		assert.truthy(lines[1].body:find('"first_name":"Ada"', 1, true), lines[1].body)
		assert.truthy(lines[2].refused:find("centre_id", 1, true))
	end)

	it("of the guest import sends no write, reports each, and leaves the queue to a real run", function()
		local journal = support.temp_path(".journal")
		local out, err, code = support.run(
			string.format("%s %s --dry-run examples/import_guests.lua examples/data/guests.csv %s", sandbox:env(), BIN, journal)
		)
		assert.are.equal(0, code, err)
		assert.truthy(out:find("dry run: 50 guests to create, nothing sent; the queue keeps them", 1, true), out)
		local _, printed = err:gsub("pulse: dry run: POST [^\n]+/v1/guests %(guests%.create%)\n", "")
		assert.are.equal(50, printed, err)
		assert.falsy(err:find(sandbox.key, 1, true))
		local methods = methods_in(sandbox:log_lines())
		assert.is_nil(methods.POST)
		assert.is_true((methods.GET or 0) >= 1) -- the center, a read
		local q = assert(pulse.queue.open("file:" .. journal))
		local s = assert(q:stats())
		q:close()
		assert.are.same({ 50, 0, 0 }, { s.pending, s.done, s.uncertain })
		-- The run that writes: the rows the dry run left, each created once.
		out, err, code = support.run(string.format("%s %s examples/import_guests.lua examples/data/guests.csv %s", sandbox:env(), BIN, journal))
		assert.are.equal(0, code, err)
		assert.truthy(out:find("%d+ created, %d+ refused, 0 left"), out)
		os.remove(journal)
		os.remove(journal .. ".lock")
	end)

	it("of a queue drain and of a collection says what it would write", function()
		-- The file store and Redis: each lists its entries without taking one.
		local journal = support.temp_path(".journal")
		local server = redis.start()
		for _, url in ipairs({ "file:" .. journal, server.url .. "?stream=dry" }) do
			local q = assert(pulse.queue.open(url))
			for i = 1, 3 do
				assert(q:push({ method = "POST", path = support.GUESTS, json = sandbox:guest(i) }))
			end
			assert(q:push({ method = "POST", path = "/v1/nowhere", json = { n = 4 } }))
			q:close()
			local out, err, code = support.run(string.format("%s %s --dry-run --queue %s --drain", sandbox:env(), BIN, support.shell_quote(url)))
			assert.are.equal(0, code, err)
			assert.truthy(out:find("dry run: 4 writes not sent (1 the catalog refuses), 0 calls; the queue is as it was", 1, true), out)
			assert.truthy(err:find("refused: no documented operation is POST /v1/nowhere", 1, true), err)
			local _, posts = err:gsub("pulse: dry run: POST", "")
			assert.are.equal(4, posts, err)
			q = assert(pulse.queue.open(url))
			assert.are.equal(4, assert(q:stats()).pending, url)
			q:close()
		end
		assert.is_nil(methods_in(sandbox:log_lines()).POST)
		server:stop()
		os.remove(journal)
		os.remove(journal .. ".lock")

		local collection = support.temp_path(".json")
		support.write_file(collection, json.encode({
			info = { name = "dry", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				{ name = "Centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers" } },
				{
					name = "Create guest",
					request = {
						method = "POST",
						url = "{{baseUrl}}/v1/guests",
						body = { mode = "raw", raw = '{"personal_info":{"first_name":"Col","last_name":"Lection"}}' },
						header = { { key = "Content-Type", value = "application/json" } },
					},
				},
			},
		}))
		local checkpoint = support.temp_path(".checkpoint")
		local out, err, code =
			support.run(string.format("%s %s --dry-run --collection %s --checkpoint %s", sandbox:env(), BIN, collection, checkpoint))
		assert.are.equal(0, code, out .. err)
		assert.truthy(out:find("api.create_guest +1 +0 dry%-run"), out)
		assert.truthy(out:find("dry run: 1 write not sent", 1, true), out)
		assert.are.same({ GET = 1 }, methods_in(sandbox:log_lines()))
		-- A dry run keeps no checkpoint: a --resume after it has none to go on from.
		assert.is_nil(support.read_file(checkpoint))
		out, err, code = support.run(string.format("%s %s --collection %s --checkpoint %s --resume", sandbox:env(), BIN, collection, checkpoint))
		assert.are.equal(2, code, out)
		assert.truthy(err:find("--resume: no checkpoint of a run before at " .. checkpoint, 1, true), err)
		os.remove(collection)
	end)
end)
