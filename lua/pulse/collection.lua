--- pulse.collection: a Postman collection (v2.0.0 or v2.1.0, the format
-- Pulse publishes its API in) read into plain requests, checked once, so
-- that `client:api` can make a function of each. Nothing is sent here, and
-- the collection's host is never used: a request keeps only its path.
-- The collection's `auth` is ignored (the client's key goes with every
-- request) and its scripts (`event`) are not run.
-- @module pulse.collection

local json = require("pulse.json")

local collection = {}

local Collection = {}
Collection.__index = Collection
Collection.__name = "pulse.collection"

local BOM = "\239\187\191"

-- Every failure of the loader: one line naming the file (or "table") and,
-- when there is one, the request; nothing else escapes load.
local function fail(source, where, message)
	local text = string.format("%s: %s%s", source, where and (where .. ": ") or "", message)
	if #text > 600 then
		text = text:sub(1, 600) .. "..."
	end
	error("pulse: collection " .. text:gsub("%c", "?"), 0)
end

-- The scripts of an item's (or the collection's) event list that hold
-- code, added to counts: { prerequest = n, test = n }. They are not run;
-- a runner says how many there were.
local function count_scripts(event, counts)
	if type(event) ~= "table" then
		return
	end
	for _, e in ipairs(event) do
		local listen = type(e) == "table" and e.listen
		local script = type(e) == "table" and e.script
		local exec = type(script) == "table" and script.exec
		if type(exec) == "table" then
			exec = table.concat(exec, "\n")
		end
		if (listen == "prerequest" or listen == "test") and type(exec) == "string" and exec:find("%S") then
			counts[listen] = counts[listen] + 1
		end
	end
end

local function present(v)
	return v ~= nil and v ~= json.null
end

local function describe_type(v)
	if v == json.null then
		return "null"
	end
	return json.is_array(v) and "array" or type(v)
end

-- A field that must be a string when present; nil when absent.
local function string_field(ctx, v, what)
	if not present(v) then
		return nil
	end
	if type(v) ~= "string" and math.type(v) ~= "integer" then
		fail(ctx.source, ctx.where, what .. " must be a string, got " .. describe_type(v))
	end
	return tostring(v)
end

local function table_field(ctx, v, what)
	if not present(v) then
		return nil
	end
	if type(v) ~= "table" then
		fail(ctx.source, ctx.where, what .. " must be an object or an array, got " .. describe_type(v))
	end
	return v
end

-- The enabled {key, value} pairs of a Postman list (query, header,
-- urlencoded, formdata, variable), in order. kind: what the list is.
local function pairs_list(ctx, list, kind)
	local out = {}
	list = table_field(ctx, list, kind)
	if not list then
		return out
	end
	for i, entry in ipairs(list) do
		local what = string.format("%s entry %d", kind, i)
		if type(entry) ~= "table" then
			fail(ctx.source, ctx.where, what .. " must be an object, got " .. describe_type(entry))
		end
		if entry.disabled ~= true then
			local key = string_field(ctx, entry.key, what .. "'s key")
			if key then
				local value = entry.value
				if type(value) == "number" or type(value) == "boolean" then
					value = tostring(value)
				end
				out[#out + 1] = {
					key = key,
					value = string_field(ctx, value, what .. " (" .. key .. ")'s value") or "",
					type = string_field(ctx, entry.type, what .. "'s type"),
				}
			end
		end
	end
	return out
end

-- Checks that text's {{variables}} are closed; one may be nested in
-- another's name ({{name{{i}}}}: Postman fills the inner one first). A
-- "}}" with no "{{" before it is text: compact JSON ends objects so.
local function check_braces(ctx, text, what)
	local stripped, n = text, 1
	while n > 0 do
		stripped, n = stripped:gsub("{{[^{}]*}}", "v")
	end
	if stripped:find("{{", 1, true) then
		fail(ctx.source, ctx.where, what .. " has an unclosed {{variable}}: " .. text)
	end
	return text
end

-- The query pairs of a query string ("a=1&b={{x}}").
local function query_of(text)
	local out = {}
	for part in text:gmatch("[^&]+") do
		local key, value = part:match("^([^=]*)=?(.*)$")
		out[#out + 1] = { key = key, value = value }
	end
	return out
end

-- The path segments of a path string ("/services/:id" -> {"services", ":id"}).
local function segments_of(text)
	local out = {}
	for segment in text:gmatch("[^/]+") do
		out[#out + 1] = segment
	end
	return out
end

-- A URL string's path and query, without its scheme and host or its
-- leading {{variable}}.
local function split_raw(ctx, raw)
	if raw:find("[%c ]") then
		fail(ctx.source, ctx.where, "bad URL '" .. raw:gsub("%c", "?") .. "': it holds spaces or control characters")
	end
	check_braces(ctx, raw, "the URL")
	local rest = raw:gsub("#.*$", "")
	if rest:find("^{{[^{}]*}}") then
		rest = rest:gsub("^{{[^{}]*}}", "")
	elseif rest:find("^%a[%w+.-]*://") then
		local scheme = rest:match("^(%a[%w+.-]*)://"):lower()
		if scheme ~= "http" and scheme ~= "https" then
			fail(ctx.source, ctx.where, "bad URL '" .. raw .. "': not http or https")
		end
		rest = rest:gsub("^%a[%w+.-]*://[^/?]*", "")
	elseif rest:find("^%a[%w+.-]*:") and not rest:find("^[^/]*:%d") then
		fail(ctx.source, ctx.where, "bad URL '" .. raw .. "'")
	elseif not rest:find("^/") then
		-- Postman takes "api.example.com/x" (no scheme) as host and path.
		local first = rest:match("^[^/?]*")
		if first:find(".", 1, true) or first:find(":%d+$") or first == "localhost" then
			rest = rest:sub(#first + 1)
		end
	end
	local path, query = rest:match("^([^?]*)%??(.*)$")
	return path, query
end

-- The path segments, query pairs and path parameters' examples of a
-- request's url (a string, or an object).
local function read_url(ctx, url)
	if not present(url) then
		fail(ctx.source, ctx.where, "the request has no URL")
	end
	if type(url) == "string" then
		local path, query = split_raw(ctx, url)
		return segments_of(path), query_of(query), {}
	end
	if type(url) ~= "table" then
		fail(ctx.source, ctx.where, "the URL must be a string or an object, got " .. describe_type(url))
	end
	local raw = string_field(ctx, url.raw, "url.raw")
	local raw_path, raw_query
	if raw then
		raw_path, raw_query = split_raw(ctx, raw)
	end
	local segments
	local path = url.path
	if type(path) == "string" then
		segments = segments_of(check_braces(ctx, path, "url.path"))
	elseif type(path) == "table" then
		segments = {}
		for i, segment in ipairs(path) do
			if type(segment) == "table" then -- v2.1: { type, value }
				segment = segment.value
			end
			local text = string_field(ctx, segment, "url.path segment " .. i) or ""
			if text:find("[%c /?#]") then
				fail(ctx.source, ctx.where, "bad URL: path segment " .. i .. " '" .. text:gsub("%c", "?") .. "'")
			end
			segments[#segments + 1] = check_braces(ctx, text, "url.path")
		end
	elseif present(path) then
		fail(ctx.source, ctx.where, "url.path must be a string or an array, got " .. describe_type(path))
	elseif raw_path then
		segments = segments_of(raw_path)
	else
		fail(ctx.source, ctx.where, "the URL has neither a path nor a raw form")
	end
	local query
	if present(url.query) then
		query = pairs_list(ctx, url.query, "url.query")
		for _, q in ipairs(query) do
			check_braces(ctx, q.key .. q.value, "url.query")
		end
	else
		query = query_of(raw_query or "")
	end
	local examples = {}
	for _, v in ipairs(pairs_list(ctx, url.variable, "url.variable")) do
		examples[v.key] = v.value
	end
	return segments, query, examples
end

-- A request's body, or nil: { mode, raw, language } / { mode, params } /
-- { mode, query, variables }.
local function read_body(ctx, body)
	body = table_field(ctx, body, "the body")
	if not body or body.disabled == true then
		return nil
	end
	local mode = string_field(ctx, body.mode, "body.mode")
	if mode == nil then
		return nil
	elseif mode == "raw" then
		local raw = string_field(ctx, body.raw, "body.raw") or ""
		local options = type(body.options) == "table" and type(body.options.raw) == "table" and body.options.raw or {}
		local language = type(options.language) == "string" and options.language or nil
		return { mode = "raw", raw = check_braces(ctx, raw, "body.raw"), language = language }
	elseif mode == "urlencoded" or mode == "formdata" then
		local params = pairs_list(ctx, body[mode], "body." .. mode)
		for _, p in ipairs(params) do
			if mode == "formdata" and p.type == "file" then
				p.file = true
			end
		end
		return { mode = mode, params = params }
	elseif mode == "graphql" then
		local graphql = table_field(ctx, body.graphql, "body.graphql") or {}
		local variables = graphql.variables
		if type(variables) == "table" then
			variables = json.encode(variables)
		end
		return {
			mode = "graphql",
			query = string_field(ctx, graphql.query, "body.graphql.query") or "",
			variables = string_field(ctx, variables, "body.graphql.variables"),
		}
	elseif mode == "file" then
		return { mode = "file" }
	end
	fail(ctx.source, ctx.where, "body mode '" .. mode .. "' is not one of raw, urlencoded, formdata, graphql")
end

-- What a request's answer sets for the requests after it in its row
-- (pulse-lua's own field, _pulse.capture: variable -> a dotted path in
-- the body), or nil. Postman ignores the field.
local function captures_of(ctx, item)
	local own = item["_pulse"]
	local capture = type(own) == "table" and own.capture or nil
	if capture == nil then
		return nil
	end
	if type(capture) ~= "table" then
		fail(ctx.source, ctx.where, "_pulse.capture must be an object of variable: path")
	end
	for name, path in pairs(capture) do
		if type(name) ~= "string" or type(path) ~= "string" then
			fail(ctx.source, ctx.where, "_pulse.capture." .. tostring(name) .. " must be a path (a string)")
		end
	end
	return capture
end

-- One request item into the collection's list.
local function read_request(ctx, item, name, folders, folder)
	local request = item.request
	if type(request) == "string" then -- v2: a request may be just its URL
		request = { url = request }
	elseif type(request) ~= "table" then
		fail(ctx.source, ctx.where, "request must be an object or a URL, got " .. describe_type(request))
	end
	local method = string_field(ctx, request.method, "method") or "GET"
	if not method:find("^%a[%w-]*$") then
		fail(ctx.source, ctx.where, "method '" .. method .. "' is not an HTTP method")
	end
	local segments, query, examples = read_url(ctx, request.url)
	local path_params = {}
	for _, segment in ipairs(segments) do
		local param = segment:match("^:(.+)$")
		if param then
			path_params[#path_params + 1] = param
		end
	end
	local headers = pairs_list(ctx, request.header, "header")
	for _, h in ipairs(headers) do
		check_braces(ctx, h.value, "header " .. h.key)
	end
	local description = request.description
	if type(description) == "table" then
		description = description.content
	end
	return {
		name = name,
		folders = folders,
		folder = folder,
		method = method:upper(),
		segments = segments,
		path_params = path_params,
		examples = examples,
		query = query,
		headers = headers,
		body = read_body(ctx, request.body),
		description = type(description) == "string" and description or nil,
		responses = type(item.response) == "table" and item.response or {},
		capture = captures_of(ctx, item),
	}
end

-- The items of a folder (or of the collection), in document order, into
-- out; folders is the path of folder names down to them, folder the
-- index of their folder in out.folders (0: the collection itself).
local function read_items(ctx, items, folders, folder, out, depth)
	if depth > 64 then
		fail(ctx.source, nil, "folders nest more than 64 deep")
	end
	for i, item in ipairs(items) do
		local name = type(item) == "table" and item.name
		local label = type(name) == "string" and name or ("item " .. i)
		ctx.where = "request '" .. table.concat(folders, "/") .. (#folders > 0 and "/" or "") .. label .. "'"
		if type(item) ~= "table" then
			fail(ctx.source, ctx.where, "an item must be an object, got " .. describe_type(item))
		end
		name = string_field(ctx, name, "name") or label
		if item.disabled ~= true then
			count_scripts(item.event, out.scripts)
		end
		if item.disabled == true then -- luacheck: ignore 542
			-- skipped, as Postman skips it
		elseif present(item.item) then
			if type(item.item) ~= "table" then
				fail(ctx.source, ctx.where, "a folder's item must be an array, got " .. describe_type(item.item))
			end
			local inner = { table.unpack(folders) }
			inner[#inner + 1] = name
			out.folders[#out.folders + 1] = { name = name, parent = folder, path = inner, index = #out.folders + 1 }
			out.order[#out.order + 1] = out.folders[#out.folders]
			read_items(ctx, item.item, inner, #out.folders, out, depth + 1)
		elseif present(item.request) then
			out.requests[#out.requests + 1] = read_request(ctx, item, name, folders, folder)
			out.order[#out.order + 1] = out.requests[#out.requests]
		else
			fail(ctx.source, ctx.where, "neither a request nor a folder (no 'request', no 'item')")
		end
	end
end

-- The format of doc, or a failure naming what it is instead.
local function schema_of(source, doc)
	local info = doc.info
	local schema = type(info) == "table" and info.schema
	if type(schema) == "string" then
		local version = schema:match("v(%d+%.%d+%.%d+)")
		if version == "2.0.0" or version == "2.1.0" then
			return version
		elseif version and version:find("^1%.") then
			fail(source, nil, "a Postman Collection v" .. version .. ": export it as v2.1 (Export > Collection v2.1)")
		end
		fail(source, nil, "schema '" .. schema .. "' is not Postman Collection v2.0.0 or v2.1.0")
	end
	if doc.requests ~= nil and doc.order ~= nil then
		fail(source, nil, "a Postman Collection v1: export it as v2.1 (Export > Collection v2.1)")
	end
	-- No info (Newman runs such files): the item list says v2.
	if info == nil and type(doc.item) == "table" then
		return "2.1.0"
	end
	fail(source, nil, "not a Postman collection: no info.schema")
end

-- The decoded document of a file.
local function read_file(path)
	local file, why = io.open(path, "rb")
	if not file then
		fail(path, nil, "cannot be read: " .. tostring(why))
	end
	local text = file:read("a")
	file:close()
	if text:sub(1, 3) == BOM then
		text = text:sub(4)
	end
	local doc, err = json.decode(text)
	if doc == nil then
		fail(path, nil, "not JSON: " .. tostring(err))
	end
	return doc
end

--- Reads a collection.
-- @tparam string|table source a file's path, or the decoded document;
-- bare, or in the published-documentation wrapper `{"collection": {...}}`
-- @treturn Collection with `name`, `version`, `variables` (name -> value),
-- `requests` (in document order: `name, folders, folder, method,
-- segments, path_params, query, headers, body, responses`), `folders`
-- (`name, parent, path, index`; `folder` and `parent` index it, 0 for
-- the top)
-- and `order` (folders and requests as the document has them), and
-- `scripts` (`prerequest`, `test`: how many scripts with code the
-- collection, its folders and requests hold; none is run)
function collection.load(source)
	if getmetatable(source) == Collection then
		return source
	end
	local label, doc
	if type(source) == "string" then
		label, doc = source, read_file(source)
	elseif type(source) == "table" then
		label, doc = "(table)", source
	else
		error("pulse: bad argument #1 to 'load' (a file name or a table, got " .. type(source) .. ")", 2)
	end
	if type(doc) ~= "table" then
		fail(label, nil, "not a Postman collection: the document is a " .. describe_type(doc))
	end
	if type(doc.collection) == "table" and doc.info == nil then
		doc = doc.collection
	end
	local version = schema_of(label, doc)
	local ctx = { source = label }
	if type(doc.item) ~= "table" then
		fail(label, nil, "no 'item' list: a collection holds its requests there")
	end
	local variables = {}
	for _, v in ipairs(pairs_list(ctx, doc.variable, "variable")) do
		variables[v.key] = v.value
	end
	local name = type(doc.info) == "table" and type(doc.info.name) == "string" and doc.info.name or label
	local out = setmetatable({
		name = name,
		version = version,
		variables = variables,
		requests = {},
		folders = {},
		order = {},
		scripts = { prerequest = 0, test = 0 },
	}, Collection)
	count_scripts(doc.event, out.scripts)
	read_items(ctx, doc.item, {}, 0, out, 1)
	return out
end

--- The request's path template, "/services/:id".
-- @tparam table request one of `requests`
-- @treturn string
function collection.path_of(request)
	return "/" .. table.concat(request.segments, "/")
end

return collection
