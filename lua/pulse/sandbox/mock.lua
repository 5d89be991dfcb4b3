-- pulse-sandbox --collection FILE: the saved examples of a Postman
-- collection (v2.0 or v2.1) served at its requests' paths, in place of the
-- sample resources, behind the same key check, bucket and faults. Read on
-- its own, with cjson, not with the client's loader: the sandbox is the
-- client's oracle and shares no code with it.
--
-- An endpoint answers its first 2xx example in document order (its first
-- example when none is 2xx); "Prefer: example=NAME" or "Prefer: code=404"
-- picks another. An endpoint without examples answers 501, an unknown
-- path 404, a known path with another method 405: each with the "error"
-- envelope.

local json = require("pulse.sandbox.json")
local OWN_HEADERS = require("pulse.sandbox.own_headers")

local mock = {}

local Mock = {}
Mock.__index = Mock

local function refuse(path, why)
	error("--collection: " .. path .. ": " .. why, 0)
end

-- A URL's path segments, without its scheme and host or its leading
-- {{variable}}.
local function segments_of(url)
	local path
	if type(url) == "string" then
		path = url
	elseif type(url) == "table" and type(url.path) == "table" then
		local parts = {}
		for i, p in ipairs(url.path) do
			parts[i] = type(p) == "table" and tostring(p.value) or tostring(p)
		end
		path = "/" .. table.concat(parts, "/")
	elseif type(url) == "table" and type(url.path) == "string" then
		path = url.path
	elseif type(url) == "table" and type(url.raw) == "string" then
		path = url.raw
	else
		return nil
	end
	path = path:gsub("[?#].*$", ""):gsub("^{{[^{}]*}}", ""):gsub("^%a[%w+.-]*://[^/]*", "")
	local segments = {}
	for segment in path:gmatch("[^/]+") do
		segments[#segments + 1] = segment
	end
	return segments
end

-- An example's headers as { name, value } pairs, the sandbox's own left out.
local function example_headers(header)
	local out = {}
	for _, h in ipairs(type(header) == "table" and header or {}) do
		if type(h) == "table" and type(h.key) == "string" and not OWN_HEADERS[h.key:lower()] then
			out[#out + 1] = { h.key, tostring(h.value or "") }
		end
	end
	return out
end

-- An example's status: a final one, 200 to 599 (what the file says is
-- refused, naming the request, when it cannot be answered: a 1xx is no
-- answer at all, and a code past 599 no HTTP status).
local function example_code(path, item, r)
	local code = r.code == nil and 200 or math.tointeger(tonumber(r.code))
	if not code or code < 200 or code > 599 then
		refuse(
			path,
			string.format(
				"request '%s', example '%s': code %s cannot be answered (an example answers 200 to 599)",
				tostring(item.name),
				tostring(r.name),
				tostring(math.tointeger(r.code) or r.code)
			)
		)
	end
	return code
end

local function read_items(path, items, endpoints)
	for _, item in ipairs(type(items) == "table" and items or {}) do
		if type(item) == "table" and item.disabled ~= true then
			if type(item.item) == "table" then
				read_items(path, item.item, endpoints)
			elseif item.request ~= nil then
				local request = type(item.request) == "string" and { url = item.request } or item.request
				local segments = type(request) == "table" and segments_of(request.url)
				if segments then
					local examples = {}
					for _, r in ipairs(type(item.response) == "table" and item.response or {}) do
						if type(r) == "table" then
							examples[#examples + 1] = {
								name = type(r.name) == "string" and r.name or "",
								code = example_code(path, item, r),
								headers = example_headers(r.header),
								body = type(r.body) == "string" and r.body or "",
							}
						end
					end
					endpoints[#endpoints + 1] = {
						name = type(item.name) == "string" and item.name or "",
						method = (type(request.method) == "string" and request.method or "GET"):upper(),
						segments = segments,
						examples = examples,
					}
				end
			end
		end
	end
end

-- The mock of the collection in the file at path; raises, naming the
-- option and the file, when it cannot be read.
function mock.load(path)
	local file, why = io.open(path, "rb")
	if not file then
		refuse(path, "cannot be read: " .. tostring(why))
	end
	local text = file:read("a"):gsub("^\239\187\191", "")
	file:close()
	local ok, doc = pcall(json.decode, text)
	if not ok or type(doc) ~= "table" then
		refuse(path, "not JSON")
	end
	if type(doc.collection) == "table" and doc.info == nil then
		doc = doc.collection
	end
	local schema = type(doc.info) == "table" and doc.info.schema
	local version = type(schema) == "string" and schema:match("v(%d+%.%d+%.%d+)")
	if doc.info == nil and type(doc.item) == "table" then
		version = "2.1.0" -- no info (Newman runs such files): the item list says v2
	end
	if version ~= "2.0.0" and version ~= "2.1.0" then
		refuse(path, "not a Postman Collection v2.0.0 or v2.1.0" .. (version and (" (v" .. version .. ")") or ""))
	end
	if type(doc.item) ~= "table" then
		refuse(path, "no 'item' list")
	end
	local self = setmetatable({ endpoints = {} }, Mock)
	read_items(path, doc.item, self.endpoints)
	return self
end

-- How well an endpoint's segments match a path's: nil when they do not,
-- else the number of literal segments (the more, the better the match).
local function match(template, segments)
	if #template ~= #segments then
		return nil
	end
	local literal = 0
	for i, t in ipairs(template) do
		if t:find("^:") or t:find("^{{[^{}]*}}$") then -- luacheck: ignore 542
			-- any one segment
		elseif t == segments[i] then
			literal = literal + 1
		else
			return nil
		end
	end
	return literal
end

-- The example a Prefer header asks for, or the default; nil and why when
-- the one asked for is not there.
local function choose(endpoint, prefer)
	local want_name = prefer and (prefer:match('example="([^"]*)"') or prefer:match("example=([^,;]+)"))
	local want_code = prefer and tonumber(prefer:match("code=(%d+)"))
	if want_name or want_code then
		for _, e in ipairs(endpoint.examples) do
			if (want_name and e.name == want_name) or (want_code and e.code == want_code) then
				return e
			end
		end
		return nil, "no example " .. (want_name and ("named '" .. want_name .. "'") or ("with code " .. want_code))
	end
	for _, e in ipairs(endpoint.examples) do
		if e.code >= 200 and e.code < 300 then
			return e
		end
	end
	return endpoint.examples[1], "no example"
end

-- The response to req: a table { status, headers, body }, or the error
-- envelope's (status, code, message) for the caller to wrap.
function Mock:route(req)
	local segments = {}
	for segment in req.path:gmatch("[^/]+") do
		segments[#segments + 1] = segment
	end
	local best, best_score, path_known
	for _, endpoint in ipairs(self.endpoints) do
		local score = match(endpoint.segments, segments)
		if score then
			path_known = true
			if endpoint.method == req.method and (not best_score or score > best_score) then
				best, best_score = endpoint, score
			end
		end
	end
	if not best then
		if path_known then
			return nil, 405, "method_not_allowed", req.method .. " is not in the collection for " .. req.path
		end
		return nil, 404, "not_found", "no request of the collection matches " .. req.path
	end
	local example, why = choose(best, req.headers.prefer)
	if not example then
		return nil, 501, "not_implemented", "'" .. best.name .. "' has " .. why
	end
	local headers = {}
	local has_type = false
	for i, h in ipairs(example.headers) do
		headers[i] = { h[1], h[2] }
		has_type = has_type or h[1]:lower() == "content-type"
	end
	if not has_type then
		local ok = pcall(json.decode, example.body)
		table.insert(headers, 1, { "Content-Type", ok and "application/json" or "text/plain" })
	end
	return { status = example.code, headers = headers, body = example.body }
end

return mock
