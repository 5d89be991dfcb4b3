-- client:api(): the Pulse API's documented operations (pulse.catalog) in
-- their groups, api.guests.search, each a call on the client (its key,
-- limiter, retries and write rules); see pulse.operation.
-- client:api(collection): the same, with the collection's folders as
-- nested tables and its requests as functions (a folder named as a group
-- joins it, and its requests override the group's of the same name). A
-- request's {{variables}} are filled, in Postman's order, from the call's
-- args, the iteration data, the environment, then the collection's
-- variables; `:path` parameters only from args.

local catalog = require("pulse.catalog")
local collection = require("pulse.collection")
local errors = require("pulse.errors")
local json = require("pulse.json")
local lookup = require("pulse.lookup")
local operation = require("pulse.operation")
local url = require("pulse.url")

local api = {}

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or
	repeat return then true until while]]):gmatch("%a+") do
	KEYWORDS[word] = true
end

--- The Lua name of a request or folder: snake_case, "Deep echo (v2)" ->
-- "deep_echo_v2"; a Lua keyword, a leading digit or "help" gets a trailing
-- "_".
function api.name_of(text)
	local name = text:gsub("(%l)(%u)", "%1_%2")
	name = name:lower():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")
	if name == "" then
		name = "unnamed"
	end
	if KEYWORDS[name] or name:find("^%d") or name == "help" then
		name = name .. "_"
	end
	return name
end

local usage = errors.usage

local refuse = errors.refuse

-- The dynamic variables Postman offers.
local function guid()
	local bytes = {}
	for i = 1, 16 do
		bytes[i] = math.random(0, 255)
	end
	bytes[7] = (bytes[7] & 0x0f) | 0x40
	bytes[9] = (bytes[9] & 0x3f) | 0x80
	local hex = string.format(string.rep("%02x", 16), table.unpack(bytes))
	return string.format("%s-%s-%s-%s-%s", hex:sub(1, 8), hex:sub(9, 12), hex:sub(13, 16), hex:sub(17, 20), hex:sub(21))
end

-- How deep variables may nest in one another's names ({{a{{b{{c}}}}}}).
local MAX_NESTING = 8

local DYNAMIC = {
	["$guid"] = guid,
	["$timestamp"] = function()
		return tostring(os.time())
	end,
	["$isoTimestamp"] = function()
		return os.date("!%Y-%m-%dT%H:%M:%S.000Z")
	end,
	["$randomInt"] = function()
		return tostring(math.random(0, 1000))
	end,
}

-- The environment as name -> value: a plain table, or a Postman
-- environment file's { values = { { key, value, enabled } } }. Errors
-- blame the caller of client:api (level 4: usage, here, api.new, api).
local function environment_of(env)
	if type(env) == "string" then
		local file = io.open(env, "rb")
		if not file then
			usage("api: environment file " .. env .. " cannot be read", 4)
		end
		local text = file:read("a")
		file:close()
		env = json.decode((text:gsub("^\239\187\191", ""))) or usage("api: environment file " .. env .. " is not JSON", 4)
	end
	if type(env) ~= "table" then
		return {}
	end
	if type(env.values) == "table" then
		local out = {}
		for _, v in ipairs(env.values) do
			if type(v) == "table" and type(v.key) == "string" and v.enabled ~= false then
				out[v.key] = v.value
			end
		end
		return out
	end
	return env
end

--- The variables of an environment, name -> value: a Postman environment
-- file's or document's enabled values, or a plain table as it is.
api.environment_of = environment_of

local function scalar_text(v)
	local t = type(v)
	if t == "string" or t == "number" or t == "boolean" then
		return tostring(v)
	end
	return nil
end

-- A call's variables: resolve(text) fills text's {{variables}}, in
-- Postman's order; used marks the args that filled something.
local function scope(endpoint, args, data, environment, variables, globals)
	local used = {}
	local function value_of(name)
		if args[name] ~= nil then
			used[name] = true
			return scalar_text(args[name]) or refuse(endpoint .. ": args." .. name .. " must be a string or number")
		end
		for _, source in ipairs({ data, environment, variables, globals }) do
			local value = source[name]
			if value ~= nil and value ~= json.null then
				return scalar_text(value) or refuse(endpoint .. ": variable " .. name .. " is a " .. type(value))
			end
		end
		if DYNAMIC[name] then
			return DYNAMIC[name]()
		end
		refuse(endpoint .. ": {{" .. name .. "}} has no value (give it in args, data, environment or the collection)")
	end
	-- Innermost first, as Postman does: a variable inside another's name
	-- ({{name{{i}}}}) fills that name as it is, the outer one is escaped.
	local function resolve(text, escape)
		for _ = 1, MAX_NESTING do
			local filled = 0
			text = text:gsub("()({{([^{}]*)}})", function(at, _, name)
				filled = filled + 1
				local before = text:sub(1, at - 1)
				local _, opened = before:gsub("{{", "")
				local _, closed = before:gsub("}}", "")
				local value = value_of(name)
				return (opened > closed or not escape) and value or escape(value)
			end)
			if filled == 0 or not text:find("{{", 1, true) then
				break
			end
		end
		return text
	end
	return resolve, used
end

-- The multipart/form-data body of text parts.
local function multipart(params)
	local boundary = "pulse-" .. guid()
	local parts = {}
	for _, p in ipairs(params) do
		parts[#parts + 1] = string.format(
			'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n',
			boundary,
			p.key:gsub('"', "%%22"),
			p.value
		)
	end
	parts[#parts + 1] = "--" .. boundary .. "--\r\n"
	return table.concat(parts), "multipart/form-data; boundary=" .. boundary
end

local function urlencoded(params)
	local parts = {}
	for _, p in ipairs(params) do
		parts[#parts + 1] = url.escape(p.key) .. "=" .. url.escape(p.value)
	end
	return table.concat(parts, "&")
end

-- The body and Content-Type of the collection's body, filled.
local function body_of(endpoint, body, resolve)
	if not body then
		return nil
	end
	if body.mode == "raw" then
		local text = resolve(body.raw)
		local language = body.language
		local is_json = language == "json" or (language == nil and json.decode(text) ~= nil and text:find("^%s*[%[{]"))
		return text, is_json and "application/json" or (language == "xml" and "application/xml" or "text/plain")
	elseif body.mode == "urlencoded" or body.mode == "formdata" then
		local params = {}
		for i, p in ipairs(body.params) do
			if p.file then
				refuse(endpoint .. ": formdata part '" .. p.key .. "' is a file, which pulse-lua does not send; pass opts.body")
			end
			params[i] = { key = resolve(p.key), value = resolve(p.value) }
		end
		if body.mode == "urlencoded" then
			return urlencoded(params), "application/x-www-form-urlencoded"
		end
		return multipart(params)
	elseif body.mode == "graphql" then
		local variables = body.variables and resolve(body.variables)
		local decoded = variables and variables:find("%S") and json.decode(variables)
		if variables and variables:find("%S") and decoded == nil then
			refuse(endpoint .. ": the GraphQL variables are not JSON")
		end
		return json.encode({ query = resolve(body.query), variables = decoded or json.null }), "application/json"
	end
	refuse(endpoint .. ": body mode '" .. body.mode .. "' is not sent by pulse-lua; pass opts.body")
end

local function lower_keys(t)
	local out = {}
	for k in pairs(t or {}) do
		if type(k) == "string" then
			out[k:lower()] = k
		end
	end
	return out
end

-- The function of one request.
local function endpoint_function(client, request, endpoint, context)
	-- The request's path and options for one call.
	local function build(args, opts)
		for _, field in ipairs({ "headers", "query" }) do
			if opts[field] ~= nil and type(opts[field]) ~= "table" then
				refuse(endpoint .. ": opts." .. field .. " must be a table, got " .. type(opts[field]))
			end
		end
		local resolve, used = scope(endpoint, args, context.data, context.environment, context.variables, context.globals)
		local segments = {}
		for i, segment in ipairs(request.segments) do
			local param = segment:match("^:(.+)$")
			if param then
				local value = args[param]
				if value == nil and context.path_defaults and (request.examples[param] or "") ~= "" then
					value = resolve(request.examples[param]) -- a runner's: the collection's own value
				end
				if value == nil then
					refuse(endpoint .. ": path parameter :" .. param .. " is missing (args." .. param .. ")")
				end
				value = scalar_text(value) or refuse(endpoint .. ": args." .. param .. " must be a string or number")
				used[param] = true
				segments[i] = url.escape(value)
			else
				segments[i] = resolve(segment, url.escape)
			end
		end
		local query = {}
		for _, q in ipairs(request.query) do
			local key, value = resolve(q.key), resolve(q.value)
			local previous = query[key]
			if previous == nil then
				query[key] = value
			elseif type(previous) == "table" then
				previous[#previous + 1] = value
			else
				query[key] = { previous, value }
			end
		end
		local headers = {}
		for _, h in ipairs(request.headers) do
			if h.key:lower() ~= "authorization" then -- the client's key goes instead
				headers[h.key] = resolve(h.value)
			end
		end
		local send = {}
		for k, v in pairs(opts) do
			send[k] = v
		end
		if opts.json == nil and opts.body == nil then
			local body, content_type = body_of(endpoint, request.body, resolve)
			send.body = body
			if content_type and not lower_keys(headers)["content-type"] then
				headers["Content-Type"] = content_type
			end
		else
			local names = lower_keys(headers)
			if names["content-type"] then
				headers[names["content-type"]] = nil -- the caller's body, the caller's type
			end
		end
		for key in pairs(args) do
			if not used[key] then
				refuse(endpoint .. ": args." .. tostring(key) .. " fills nothing in this request")
			end
		end
		local names = lower_keys(headers)
		for k, v in pairs(opts.headers or {}) do
			if type(k) == "string" and names[k:lower()] then
				headers[names[k:lower()]] = nil
			end
			headers[k] = v
		end
		for k, v in pairs(opts.query or {}) do
			query[k] = v
		end
		send.headers = next(headers) and headers or nil
		send.query = next(query) and query or nil
		return "/" .. table.concat(segments, "/"), send
	end
	return function(args, opts)
		if args ~= nil and type(args) ~= "table" then
			usage(endpoint .. ": args must be a table, got " .. type(args) .. " (call it with a dot: api.x.fn(args, opts))", 2)
		end
		if opts ~= nil and type(opts) ~= "table" then
			usage(endpoint .. ": opts must be a table, got " .. type(opts), 2)
		end
		local path, send = errors.built(pcall(build, args or {}, opts or {}))
		return client:request(request.method, path, send)
	end
end

-- The {{variables}} a request names (not the dynamic $ ones), sorted.
local function variables_of(request)
	local texts = { table.concat(request.segments, "/") }
	for _, list in ipairs({ request.query, request.headers, request.body and request.body.params or {} }) do
		for _, entry in ipairs(list) do
			texts[#texts + 1] = entry.key .. " " .. entry.value
		end
	end
	local body = request.body or {}
	texts[#texts + 1] = (body.raw or "") .. (body.query or "") .. (body.variables or "")
	local seen, names = {}, {}
	for name in table.concat(texts, " "):gmatch("{{([^{}$][^{}]*)}}") do
		if not seen[name] then
			seen[name], names[#names + 1] = true, name
		end
	end
	table.sort(names)
	return names
end

-- The text of api:help().
local function help_text(coll, rows)
	local lines = {
		string.format("%s (Postman Collection v%s): %d endpoints", coll.name, coll.version, #rows),
		"Call api.folder.endpoint(args, opts): args fill :path parameters and {{variables}};",
		"opts are the client's request options. The collection's auth is ignored (the",
		"client's key is used) and its scripts (event) are not run.",
		"",
	}
	for _, row in ipairs(rows) do
		lines[#lines + 1] = string.format("%-40s %-6s %s%s", row.name, row.method, row.path, row.params)
	end
	return table.concat(lines, "\n")
end

-- The names of one table taken so far, and for each name the last
-- suffix its repeats got: the next repeat starts from there, so that n
-- repeats of one name cost n steps, not n * n / 2.
local function names_taken()
	return { names = {}, last = {} }
end

-- Adds name to taken, with _2, _3... when it is taken; returns the name
-- given.
local function unique(taken, name)
	local candidate, n = name, taken.last[name] or 1
	while taken.names[candidate] do
		n = n + 1
		candidate = name .. "_" .. n
	end
	taken.names[candidate] = true
	taken.last[name] = n
	return candidate
end

-- The groups' names in the catalog's order.
local function group_names()
	local seen, list = {}, {}
	for _, entry in ipairs(catalog.operations) do
		if not seen[entry.group] then
			seen[entry.group], list[#list + 1] = true, entry.group
		end
	end
	return list
end

local function group_help(dotted, members)
	local lines = { dotted .. ": call " .. dotted .. ".<name>(args, opts); " .. dotted .. ".<name>:help() for one" }
	for _, op in ipairs(members) do
		local entry = op.entry
		local also = entry.short and ("  (also " .. entry.name .. ")") or ""
		lines[#lines + 1] = string.format("  %-36s %-6s %s%s", op.dotted:match("[^.]+$"), entry.method, entry.path, also)
		if entry.whole then
			local patch = entry.whole.patch_short or entry.whole.patch
			lines[#lines + 1] = string.format("  %-36s %-6s %s  (2 calls)", patch, "GET+PUT", entry.path)
		end
	end
	return table.concat(lines, "\n")
end

local BUILTIN_HELP = [[
The Pulse API's %d documented operations, in groups: api.<group>.<name>(args, opts)
returns body, res or nil, err. args fill the path, the query and the body; opts are the
client's request options, and opts.extra carries parameters the catalog omits. Every
operation also answers to its catalog name (api.guests.search_guests); doc/api/NAMES.md
has the table. api.<group>:help() lists a group, api.<group>.<name>:help() one operation.
]]

-- The built-in operations for client: the root table, the names it
-- answers without holding them (help), and its help's text.
local function builtin(client)
	local groups = {}
	local extra = {}
	local root = lookup.table("api", extra)
	local names = group_names()
	for _, name in ipairs(names) do
		local dotted = "api." .. name
		local members = {}
		local help = function()
			return group_help(dotted, members)
		end
		groups[name] = { table = lookup.table(dotted, { help = help }), members = members, dotted = dotted }
		rawset(root, name, groups[name].table)
	end
	local by_name = {}
	for _, entry in ipairs(catalog.operations) do
		local group = groups[entry.group]
		local op = operation.new(client, entry, group.dotted, catalog.reference)
		group.members[#group.members + 1] = op
		rawset(group.table, entry.name, op)
		if entry.short then
			rawset(group.table, entry.short, op)
		end
		by_name[entry.name] = op
	end
	for _, entry in ipairs(catalog.operations) do
		local whole = entry.whole
		if whole then
			local group = groups[entry.group]
			local patch = operation.patch(by_name[entry.name], by_name[whole.get], whole.patch_short or whole.patch)
			rawset(group.table, whole.patch, patch)
			if whole.patch_short then
				rawset(group.table, whole.patch_short, patch)
			end
		end
	end
	local lines = { string.format(BUILTIN_HELP, #catalog.operations) }
	for _, name in ipairs(names) do
		local count = #groups[name].members
		lines[#lines + 1] = string.format("  api.%-18s %d operation%s", name, count, count == 1 and "" or "s")
	end
	return root, extra, table.concat(lines, "\n")
end

--- The wrappers for client: the built-in operations, and a collection's.
-- @param client a pulse client
-- @param[opt] source a collection (`pulse.collection.load`), a file or a table
-- @tparam[opt] table opts `environment` (a table, or a Postman environment
-- file), `data` (one row of iteration data); for a runner, `path_defaults`
-- (a :path parameter missing from args takes the collection's value)
function api.new(client, source, opts)
	local root, extra, builtin_help = builtin(client)
	if source == nil then
		extra.help = function()
			return builtin_help
		end
		return root, {}
	end
	local own, calls, own_help = api.collection(client, source, opts)
	for name, value in pairs(own) do
		local group = rawget(root, name)
		if type(value) == "table" and group then -- a folder named as a group joins it
			for key, member in pairs(value) do
				rawset(group, key, member)
			end
		else
			rawset(root, name, value)
		end
	end
	extra.help = function()
		return own_help() .. "\n\n" .. builtin_help
	end
	return root, calls
end

--- The wrappers of a collection alone for client: its root table, its
-- calls in document order (for a runner), and its help.
function api.collection(client, source, opts)
	local coll = collection.load(source)
	opts = opts or {}
	local context = {
		data = type(opts.data) == "table" and opts.data or {},
		environment = environment_of(opts.environment),
		variables = coll.variables,
		globals = type(opts.globals) == "table" and opts.globals or {},
		path_defaults = opts.path_defaults,
	}
	local rows = {}
	local help = function()
		return help_text(coll, rows)
	end
	-- Folders and requests named in document order, each in its folder's
	-- table: the first of a name keeps it, the next get _2, _3.
	local root = lookup.table("api", { help = help })
	local calls = {} -- every endpoint in document order, for a runner
	local folders = { [0] = { table = root, dotted = "api", taken = names_taken() } }
	for _, entry in ipairs(coll.order) do
		local parent = folders[entry.folder or entry.parent]
		local name = unique(parent.taken, api.name_of(entry.name))
		local dotted = parent.dotted .. "." .. name
		if entry.method then
			local fn = endpoint_function(client, entry, dotted, context)
			rawset(parent.table, name, fn)
			calls[#calls + 1] = { name = dotted, request = entry, call = fn }
			local params = {}
			for _, p in ipairs(entry.path_params) do
				params[#params + 1] = ":" .. p
			end
			for _, v in ipairs(variables_of(entry)) do
				params[#params + 1] = "{{" .. v .. "}}"
			end
			rows[#rows + 1] = {
				name = dotted,
				method = entry.method,
				path = collection.path_of(entry),
				params = #params > 0 and ("  (" .. table.concat(params, ", ") .. ")") or "",
			}
		else
			local t = lookup.table(dotted, { help = help })
			rawset(parent.table, name, t)
			folders[entry.index] = { table = t, dotted = dotted, taken = names_taken() }
		end
	end
	return root, calls, help
end

return api
