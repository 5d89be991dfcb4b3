-- Endpoint wrappers from a Postman collection: the loader (v2.0 and v2.1,
-- each URL form and body mode, variables, names) and the calls, against an
-- echo server of the specs' own (spec/support/echo.py) that says what it
-- read.

local hostile = require("support.hostile")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

local V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
local V20 = "https://schema.getpostman.com/json/collection/v2.0.0/collection.json"

local function temp_file(text)
	local path = os.tmpname()
	support.write_file(path, text)
	return path
end

-- A collection document of items, in schema (v2.1 by default).
local function doc(items, extra)
	local d = { info = { name = "spec", schema = V21 }, item = items }
	for k, v in pairs(extra or {}) do
		d[k] = v
	end
	return d
end

local function load_error(source)
	local ok, err = pcall(pulse.collection.load, source)
	assert.is_false(ok, "loaded")
	return err
end

describe("a Postman collection", function()
	local server, client

	setup(function()
		server = hostile.start("spec/support/echo.py")
		client = server:client({ api_key = "k-collection" })
	end)

	teardown(function()
		client:close()
		server:stop()
	end)

	-- The request the echo server read, for an endpoint's call.
	local function echo(fn, args, opts)
		local body, res = fn(args, opts)
		assert(body, tostring(res))
		return body
	end

	describe("URLs and paths", function()
		local items = {
			{
				name = "Get thing",
				request = {
					method = "GET",
					url = {
						raw = "{{baseUrl}}/things/:id?fields=all",
						host = { "{{baseUrl}}" },
						path = { "things", ":id" },
						query = {
							{ key = "fields", value = "all" },
							{ key = "skip", value = "me", disabled = true },
						},
						variable = { { key = "id", value = "7" } },
					},
				},
			},
			{ name = "Absolute", request = { method = "get", url = "https://api.pulse.example/v1/things?x=1&x=2" } },
			{ name = "Just a string", request = "{{baseUrl}}/strings" },
			{ name = "No scheme", request = "api.pulse.example:8443/bare/path" },
			{ name = "Disabled", disabled = true, request = "{{baseUrl}}/never" },
		}

		it("reads v2.1 URL objects and v2.0 URL strings alike, the host never used", function()
			local v21 = client:api(doc(items))
			local v20 = client:api(doc(items, { info = { name = "old", schema = V20 } }))
			for _, api in ipairs({ v21, v20 }) do
				local got = echo(api.get_thing, { id = 7 })
				assert.are.equal("GET", got.method)
				assert.are.equal("/things/7", got.path)
				assert.are.equal("fields=all", got.query)
				got = echo(api.absolute)
				assert.are.equal("/v1/things", got.path) -- scheme and host dropped
				assert.are.equal("x=1&x=2", got.query)
				assert.are.equal("/strings", echo(api.just_a_string).path)
				assert.are.equal("/bare/path", echo(api.no_scheme).path)
			end
			assert.has_error(function()
				return v21.disabled
			end)
		end)

		it("sends base_url's own path first, and escapes path values", function()
			local under = pulse.new({ base_url = server.url .. "/v2", api_key = "k", retry = false })
			local api = under:api(doc(items))
			assert.are.equal("/v2/things/a%2Fb%20c", echo(api.get_thing, { id = "a/b c" }).path)
			under:close()
		end)
	end)

	describe("bodies", function()
		local function request(body, headers)
			return { method = "POST", header = headers or {}, url = "{{baseUrl}}/echo", body = body }
		end
		local api

		setup(function()
			api = client:api(doc({
				{
					name = "Raw JSON",
					request = request({
						mode = "raw",
						raw = '{"name": "{{name}}", "count": {{count}}}',
						options = { raw = { language = "json" } },
					}),
				},
				{ name = "Raw text", request = request({ mode = "raw", raw = "hello {{name}}" }) },
				{
					name = "Form",
					request = request({
						mode = "urlencoded",
						urlencoded = {
							{ key = "a", value = "1 2" },
							{ key = "b", value = "{{name}}" },
							{ key = "c", value = "x", disabled = true },
						},
					}),
				},
				{
					name = "Multipart",
					request = request({
						mode = "formdata",
						formdata = { { key = "note", value = "hi {{name}}", type = "text" } },
					}),
				},
				{
					name = "Upload",
					request = request({ mode = "formdata", formdata = { { key = "file", type = "file", src = "/x" } } }),
				},
				{
					name = "Query",
					request = request({
						mode = "graphql",
						graphql = { query = "{ thing(id: {{count}}) { name } }", variables = '{"v": "{{name}}"}' },
					}),
				},
			}))
		end)

		it("sends raw JSON with its variables filled, as JSON", function()
			local got = echo(api.raw_json, { name = "Ada", count = 3 })
			assert.are.same({ name = "Ada", count = 3 }, json.decode(got.body))
			assert.are.equal("application/json", got.headers["content-type"])
		end)

		it("sends raw text, urlencoded forms, text form-data and GraphQL", function()
			local got = echo(api.raw_text, { name = "Ada" })
			assert.are.equal("hello Ada", got.body)
			assert.are.equal("text/plain", got.headers["content-type"])
			got = echo(api.form, { name = "A&B" })
			assert.are.equal("a=1%202&b=A%26B", got.body)
			assert.are.equal("application/x-www-form-urlencoded", got.headers["content-type"])
			got = echo(api.multipart, { name = "Ada" })
			local boundary = got.headers["content-type"]:match("^multipart/form%-data; boundary=(.+)$")
			assert.truthy(boundary, got.headers["content-type"])
			assert.truthy(got.body:find('name="note"\r\n\r\nhi Ada\r\n', 1, true), got.body)
			assert.truthy(got.body:find("--" .. boundary .. "--", 1, true))
			got = echo(api.query, { name = "Ada", count = 5 })
			assert.are.same({ query = "{ thing(id: 5) { name } }", variables = { v = "Ada" } }, json.decode(got.body))
		end)

		it("refuses a file part, naming it, before sending", function()
			local before = #server:log()
			local ok, err = pcall(api.upload)
			assert.is_false(ok)
			assert.truthy(err:find("api.upload: formdata part 'file' is a file", 1, true), err)
			assert.are.equal(before, #server:log())
		end)

		it("lets opts.json and opts.body replace the body, and merges query and headers by key", function()
			local got = echo(api.raw_json, {}, { json = { other = true } })
			assert.are.same({ other = true }, json.decode(got.body))
			assert.are.equal("application/json", got.headers["content-type"])
			got = echo(api.raw_text, {}, { body = "mine", headers = { ["Content-Type"] = "text/csv" } })
			assert.are.equal("mine", got.body)
			assert.are.equal("text/csv", got.headers["content-type"])
		end)
	end)

	describe("variables", function()
		local items = {
			{
				name = "Show",
				request = {
					method = "GET",
					header = {
						{ key = "X-Who", value = "{{who}}" },
						{ key = "Authorization", value = "Api-key {{apiKey}}" },
						{ key = "X-Off", value = "no", disabled = true },
					},
					url = "{{baseUrl}}/show?who={{who}}&g={{$guid}}&t={{$timestamp}}&i={{$isoTimestamp}}&r={{$randomInt}}",
				},
			},
		}
		local collection = doc(items, {
			variable = { { key = "who", value = "collection" }, { key = "apiKey", value = "not-this" } },
		})

		it("fill from args, then data, then environment, then the collection", function()
			local function who(api, args)
				return echo(api.show, args).headers["x-who"]
			end
			assert.are.equal("collection", who(client:api(collection)))
			local env = { values = { { key = "who", value = "environment", enabled = true } } }
			assert.are.equal("environment", who(client:api(collection, { environment = env })))
			local env_file = temp_file(json.encode(env))
			assert.are.equal("environment", who(client:api(collection, { environment = env_file })))
			os.remove(env_file)
			local api = client:api(collection, { environment = { who = "environment" }, data = { who = "data" } })
			assert.are.equal("data", who(api))
			assert.are.equal("args", who(api, { who = "args" }))
		end)

		it("fill the dynamic ones", function()
			local got = echo(client:api(collection).show)
			local q = {}
			for k, v in got.query:gmatch("([^&=]+)=([^&]*)") do
				q[k] = v
			end
			assert.truthy(q.g:find("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x+$"), q.g)
			assert.is_true(math.abs(tonumber(q.t) - os.time()) < 5, q.t)
			assert.truthy(q.i:find("^%d%d%d%d%-%d%d%-%d%dT%d%d%%3A%d%d%%3A%d%d%.%d%d%dZ$"), q.i)
			assert.is_true(tonumber(q.r) >= 0 and tonumber(q.r) <= 1000)
		end)

		it("keep the request's headers, but the client's key", function()
			local got = echo(client:api(collection).show)
			assert.are.equal("Api-key k-collection", got.headers.authorization)
			assert.is_nil(got.headers["x-off"])
		end)

		it("name what is missing or left over, before sending", function()
			local api = client:api(doc({
				{ name = "Get", request = "{{baseUrl}}/things/:id/{{part}}" },
			}))
			local before = #server:log()
			local function message(args)
				local ok, err = pcall(api.get, args)
				assert.is_false(ok)
				return err
			end
			assert.truthy(message({ part = "x" }):find("path parameter :id is missing", 1, true))
			assert.truthy(message({ id = 1 }):find("{{part}} has no value", 1, true))
			assert.truthy(message({ id = 1, part = "x", color = "red" }):find("args.color fills nothing", 1, true))
			assert.are.equal(before, #server:log())
			assert.are.equal("/things/1/x", echo(api.get, { id = 1, part = "x" }).path)
		end)
	end)

	describe("names", function()
		it("are snake_case, nested by folder, numbered on collisions in document order", function()
			local api = client:api(doc({
				{ name = "Get echo by id", request = "{{baseUrl}}/a" },
				{ name = "Deep echo (v2)", request = "{{baseUrl}}/b" },
				{ name = "get echo by ID", request = "{{baseUrl}}/c" },
				{ name = "Get-Echo by id", request = "{{baseUrl}}/d" },
				{ name = "end", request = "{{baseUrl}}/e" },
				{ name = "help", request = "{{baseUrl}}/f" },
				{ name = "2fa setup", request = "{{baseUrl}}/g" },
				{
					name = "Outer folder",
					item = {
						{ name = "Inner", item = { { name = "Get echo by id", request = "{{baseUrl}}/h" } } },
					},
				},
			}))
			assert.are.equal("/a", echo(api.get_echo_by_id).path)
			assert.are.equal("/b", echo(api.deep_echo_v2).path)
			assert.are.equal("/c", echo(api.get_echo_by_id_2).path)
			assert.are.equal("/d", echo(api.get_echo_by_id_3).path)
			assert.are.equal("/e", echo(api.end_).path)
			assert.are.equal("/f", echo(api.help_).path)
			assert.are.equal("/g", echo(api["2fa_setup_"]).path)
			assert.are.equal("/h", echo(api.outer_folder.inner.get_echo_by_id).path)
			local ok, err = pcall(function()
				return api.outer_folder.inner.get_echo_byid
			end)
			assert.is_false(ok)
			assert.truthy(err:find("no endpoint api.outer_folder.inner.get_echo_byid; did you mean api.outer_folder.inner.get_echo_by_id?", 1, true), err)
			local help = api:help()
			assert.truthy(help:find("api.outer_folder.inner.get_echo_by_id%s+GET%s+/h"), help)
			assert.truthy(help:find("auth is ignored", 1, true) and help:find("scripts (event) are not run", 1, true), help)
		end)

		it("number thousands of repeats of one name, past a name that looks numbered already", function()
			local items = { { name = "Get item 3", request = "{{baseUrl}}/three" } }
			for i = 1, 3000 do
				items[#items + 1] = { name = "Get item", request = "{{baseUrl}}/items/" .. i }
			end
			items[#items + 1] = { name = "Get item 2", request = "{{baseUrl}}/two" }
			local api = client:api(doc(items))
			assert.are.equal("/three", echo(api.get_item_3).path)
			assert.are.equal("/items/1", echo(api.get_item).path)
			assert.are.equal("/items/2", echo(api.get_item_2).path)
			assert.are.equal("/items/3", echo(api.get_item_4).path) -- get_item_3 was taken
			assert.are.equal("/items/3000", echo(api.get_item_3001).path)
			assert.are.equal("/two", echo(api.get_item_2_2).path)
		end)
	end)

	describe("files", function()
		local good = json.encode(doc({ { name = "Ping", request = "{{baseUrl}}/ping" } }))

		it("load bare, in the documentation wrapper, and after a UTF-8 BOM", function()
			for _, text in ipairs({ good, '{"collection": ' .. good .. "}", "\239\187\191" .. good }) do
				local path = temp_file(text)
				local c = pulse.collection.load(path)
				os.remove(path)
				assert.are.equal("/ping", pulse.collection.path_of(c.requests[1]))
				assert.are.equal("2.1.0", c.version)
			end
		end)

		it("refuse what is broken, naming the file and the request", function()
			local missing = support.temp_path()
			assert.truthy(load_error(missing):find("pulse: collection " .. missing .. ": cannot be read", 1, true))
			local path = temp_file("{ not json")
			assert.truthy(load_error(path):find("pulse: collection " .. path .. ": not JSON", 1, true))
			os.remove(path)
			assert.truthy(load_error({ info = { schema = V21 } }):find("no 'item' list", 1, true))
			local v1 = { id = "x", name = "old", order = {}, requests = {} }
			assert.truthy(load_error(v1):find("Postman Collection v1", 1, true))
			local v1_schema = { info = { schema = "https://schema.getpostman.com/json/collection/v1.0.0/collection.json" }, item = {} }
			assert.truthy(load_error(v1_schema):find("v1.0.0: export it as v2.1", 1, true))
			local err = load_error(doc({ { name = "F", item = { { name = "Bad", request = { url = "ftp://x/y" } } } } }))
			assert.truthy(err:find("request 'F/Bad': bad URL 'ftp://x/y'", 1, true), err)
			err = load_error(doc({ { name = "Spaces", request = "{{baseUrl}}/a b" } }))
			assert.truthy(err:find("request 'Spaces': bad URL", 1, true), err)
			err = load_error(doc({ { name = "Open", request = "{{baseUrl}}/{{id" } }))
			assert.truthy(err:find("unclosed {{variable}}", 1, true), err)
			-- Compact JSON ends its objects with }}: that is no variable.
			local compact = pulse.collection.load(doc({
				{ name = "Nested", request = { method = "POST", url = "{{baseUrl}}/a", body = { mode = "raw", raw = '{"a":{"b":1}}' } } },
			}))
			assert.are.equal(1, #compact.requests)
			err = load_error(doc({ { name = "Nothing" } }))
			assert.truthy(err:find("request 'Nothing': neither a request nor a folder", 1, true), err)
			err = load_error(doc({ { name = "NoURL", request = { method = "GET" } } }))
			assert.truthy(err:find("request 'NoURL': the request has no URL", 1, true), err)
		end)

		it("a collection on the API's paths works against the sandbox", function()
			local sandbox = support.start()
			local c = sandbox:client({ retry = false })
			local api = c:api(doc({
				{ name = "List centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers" } },
				{ name = "Get center", request = { method = "GET", url = "{{baseUrl}}/v1/Centers/:center_id" } },
				{
					name = "Create guest",
					request = {
						method = "POST",
						url = "{{baseUrl}}/v1/guests",
						body = {
							mode = "raw",
							raw = '{"center_id": "{{center}}", "personal_info": {"first_name": "Ada", "last_name": "{{last}}"} }',
						},
					},
				},
			}))
			local center = assert(api.list_centers()).centers[1].id
			assert.are.equal(center, assert(api.get_center({ center_id = center })).center.id)
			local created = assert(api.create_guest({ center = center, last = "Lovelace" }))
			assert.are.equal("Lovelace", created.personal_info.last_name)
			local _, err = api.get_center({ center_id = "00000000-0000-4000-8000-000000000000" })
			assert.are.equal("client", err.kind)
			assert.are.equal(502, err.code)
			c:close()
			sandbox:stop()
		end)
	end)
end)

-- The loader's property: whatever it is given, it returns a collection or
-- raises its own one-line error, never another Lua error. Cases:
-- $PULSE_PROPERTY_CASES (10,000 by default, 2,000 under ASan), at least
-- half of them valid collections with a field mutated.
describe("the collection loader, fed generated and mutated collections", function()
	local CASES = tonumber(os.getenv("PULSE_PROPERTY_CASES") or "") or (os.getenv("ASAN_OPTIONS") and 2000 or 10000)
	local seed = tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time()

	local function random_scalar()
		local choices = {
			function()
				return math.random(-5, 100000)
			end,
			function()
				return math.random() * 1e10
			end,
			function()
				return ({ "", "{{baseUrl}}/x", ":id", "{{", "}}", "ftp://a", "GET", "raw", "file", "\0", "é" })[math.random(11)]
			end,
			function()
				return math.random(2) == 1
			end,
			function()
				return json.null
			end,
			function()
				return {}
			end,
			function()
				return json.array({ "a", 1 })
			end,
		}
		return choices[math.random(#choices)]()
	end

	local function valid_request()
		local modes = {
			nil,
			{ mode = "raw", raw = '{"a": {{v}}}', options = { raw = { language = "json" } } },
			{ mode = "urlencoded", urlencoded = { { key = "a", value = "{{v}}" } } },
			{ mode = "formdata", formdata = { { key = "a", value = "b", type = "text" } } },
			{ mode = "graphql", graphql = { query = "{ x }", variables = "{}" } },
		}
		local url = math.random(2) == 1 and "{{baseUrl}}/r/:id?q={{v}}"
			or { raw = "https://h/r/:id", host = { "h" }, path = { "r", ":id" }, query = { { key = "q", value = "1" } } }
		return {
			method = ({ "GET", "POST", "patch", "DELETE" })[math.random(4)],
			header = { { key = "X-A", value = "{{v}}" } },
			url = url,
			body = modes[math.random(5)],
		}
	end

	local function valid_collection(depth)
		local items = {}
		for i = 1, math.random(0, 4) do
			if depth < 3 and math.random(4) == 1 then
				items[i] = { name = "Folder " .. i, item = valid_collection(depth + 1).item }
			else
				items[i] = { name = ({ "Get", "get", "end", "help", "1st", "A b (c)" })[math.random(6)], request = valid_request() }
			end
		end
		return doc(items, { variable = { { key = "v", value = "1" } } })
	end

	-- Replaces one value somewhere in t (a table tree) by a random one.
	local function mutate(t)
		local keys = {}
		for k in pairs(t) do
			keys[#keys + 1] = k
		end
		if #keys == 0 then
			return
		end
		table.sort(keys, function(a, b)
			return tostring(a) < tostring(b)
		end)
		local k = keys[math.random(#keys)]
		if type(t[k]) == "table" and math.random(3) > 1 then
			mutate(t[k])
		elseif math.random(5) == 1 then
			t[k] = nil
		else
			t[k] = random_scalar()
		end
	end

	it("only ever returns a collection or raises its own error", function()
		math.randomseed(seed)
		local client = pulse.new({ base_url = "http://127.0.0.1:9", api_key = "k" })
		local loaded, refused = 0, 0
		for case = 1, CASES do
			local input = valid_collection(1)
			for _ = 1, math.random(0, 3) do
				mutate(input)
			end
			local text = case % 10 == 0 and json.encode(input)
			if text then -- now and then, text mangled before decoding
				local at = math.random(#text)
				text = text:sub(1, at - 1) .. string.char(math.random(0, 255)) .. text:sub(at + 1)
				input = json.decode(text) or text
			end
			local ok, result = pcall(pulse.collection.load, input)
			if ok then
				loaded = loaded + 1
				-- Its wrappers can be made, and their help written.
				local made, api = pcall(client.api, client, result)
				assert(made and type(api:help()) == "string", tostring(api))
			else
				refused = refused + 1
				assert(
					type(result) == "string" and result:find("^pulse: ") and not result:find("\n"),
					string.format("case %d (seed %d): %s\ninput: %s", case, seed, tostring(result), json.encode(input) or "?")
				)
			end
		end
		client:close()
		assert.is_true(loaded >= CASES / 4, "loaded " .. loaded .. ", refused " .. refused)
		assert.is_true(refused > 0)
	end)
end)
