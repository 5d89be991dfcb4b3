-- HAR 1.2 files (http://www.softwareishard.com/blog/har-12-spec/): the
-- recording a client writes (record = FILE), the exchanges a replay
-- answers from (replay = FILE), and a file's scrubbing. A recording is
-- written as one JSON document that is whole after every entry: its
-- entries end with a fixed tail, and the next entry goes in before it.
-- What a stage does with them is stage/record.lua's and stage/replay.lua's.

local core = require("pulse.core")
local json = require("pulse.json")
local url = require("pulse.url")

local har = {}

local TAIL = "\n]}}\n"
local VERSION = "0.1.0"

-- Response headers a HAR's content no longer matches: its text is
-- decoded, whole.
local STALE_HEADERS = { ["content-encoding"] = true, ["transfer-encoding"] = true, ["content-length"] = true }

-- Header and query names whose values are credentials wherever they are.
local CREDENTIAL_HEADERS = {
	authorization = true,
	["proxy-authorization"] = true,
	cookie = true,
	["set-cookie"] = true,
	["x-api-key"] = true,
	apikey = true,
}
local CREDENTIAL_QUERY = { api_key = true, apikey = true, key = true, token = true, access_token = true }

local function iso_time(epoch)
	local seconds = math.floor(epoch)
	return os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%03dZ", math.floor((epoch - seconds) * 1000))
end

-- "Name: value" lines of a header block, as HAR's { name, value } list.
local function header_list(block)
	local list = json.array()
	for name, value in tostring(block or ""):gmatch("([^:\r\n]+):[ \t]*([^\r\n]*)") do
		list[#list + 1] = { name = name, value = value }
	end
	return list
end

local function header_value(list, wanted)
	for _, h in ipairs(list) do
		if type(h.name) == "string" and h.name:lower() == wanted then
			return h.value
		end
	end
	return nil
end

--- A HAR entry from one exchange's plain fields: started (epoch seconds),
-- method, url, request_headers (a block), body (or nil), status,
-- response_headers (a block), response_body, elapsed (seconds), and
-- _pulse (attempt, token wait, rate-limit view, cache status). Strings
-- are as the caller redacted them.
function har.entry(x)
	local _, _, query = url.split(x.url)
	local query_list = json.array()
	for _, p in ipairs(query) do
		query_list[#query_list + 1] = { name = p.name, value = p.value }
	end
	local request_headers, response_headers = header_list(x.request_headers), header_list(x.response_headers)
	local request = {
		method = x.method,
		url = x.url,
		httpVersion = "HTTP/1.1",
		cookies = json.array(),
		headers = request_headers,
		queryString = query_list,
		headersSize = -1,
		bodySize = x.body and #x.body or 0,
	}
	if x.body then
		request.postData = { mimeType = header_value(request_headers, "content-type") or "", text = x.body }
	end
	local mime = header_value(response_headers, "content-type") or ""
	local ms = math.floor(x.elapsed * 1000 + 0.5)
	return {
		startedDateTime = iso_time(x.started),
		time = ms,
		request = request,
		response = {
			status = x.status,
			statusText = x.status_text or "",
			httpVersion = "HTTP/1.1",
			cookies = json.array(),
			headers = response_headers,
			content = { size = #x.response_body, mimeType = mime, text = x.response_body },
			redirectURL = header_value(response_headers, "location") or "",
			headersSize = -1,
			bodySize = #x.response_body,
		},
		cache = {},
		timings = { send = 0, wait = ms, receive = 0 },
		_pulse = x.pulse,
	}
end

-- ---- writing ----------------------------------------------------------------

local Recorder = {}
Recorder.__index = Recorder

local function read_whole(path)
	local file = io.open(path, "rb")
	if not file then
		return nil
	end
	local text = file:read("a")
	file:close()
	return text
end

local function decode_har(text, path)
	local doc, why = json.decode(text)
	if type(doc) ~= "table" or type(doc.log) ~= "table" or type(doc.log.entries) ~= "table" then
		return nil, path .. " is no HAR file (" .. (why or "no log.entries") .. ")"
	end
	return doc
end

-- The decoded HAR at path, or nil and why.
local function read_har(path)
	local text = read_whole(path)
	if not text then
		return nil, "cannot read " .. path
	end
	return decode_har(text, path)
end

local function header_of(creator)
	return '{"log":{"version":"1.2","creator":'
		.. json.encode({ name = "pulse-lua", version = VERSION, comment = creator })
		.. ',"entries":[\n'
end

-- The recordings open in this process, by path: the clients of one run
-- (pulse-lua --record sets every client's) share one, since a second
-- would rewrite the file under the first's open handle.
local open_recorders = {}

--- A recording into path: the entries already there are kept (a HAR of
-- any tool), and each add goes after them; the file is 0600 (it holds
-- the organization's data). The clients of a process that record to one
-- path share its recorder. Returns the recorder, or nil and why.
function har.recorder(path)
	local shared = open_recorders[path]
	if shared then
		shared.users = shared.users + 1
		return shared
	end
	local text = read_whole(path)
	local entries = {}
	if text and text:find("%S") then
		local doc, why = decode_har(text, path)
		if not doc then
			return nil, why
		end
		for i, entry in ipairs(doc.log.entries) do
			entries[i] = json.encode(entry)
		end
	end
	local written, why = core.write_private(path, header_of() .. table.concat(entries, ",\n") .. TAIL)
	if not written then
		return nil, why
	end
	local file
	file, why = io.open(path, "r+b")
	if not file then
		return nil, why
	end
	local recorder = setmetatable({ path = path, file = file, count = #entries, users = 1 }, Recorder)
	open_recorders[path] = recorder
	return recorder
end

--- Adds an entry (har.entry's): the file is a whole HAR after it.
function Recorder:add(entry)
	local file = self.file
	if not file then
		return
	end
	file:seek("end", -#TAIL)
	file:write(self.count > 0 and ",\n" or "", json.encode(entry), TAIL)
	file:flush()
	self.count = self.count + 1
end

--- Closes the recording once each client that shares it has closed it
-- (a client closes it once).
function Recorder:close()
	if not self.file then
		return
	end
	self.users = self.users - 1
	if self.users == 0 then
		self.file:close()
		self.file = nil
		open_recorders[self.path] = nil
	end
end

-- ---- reading and matching --------------------------------------------------------

local BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local BASE64_VALUE = {}
for i = 1, #BASE64 do
	BASE64_VALUE[BASE64:byte(i)] = i - 1
end

local function base64_decode(text)
	local out, bits, count = {}, 0, 0
	for i = 1, #text do
		local v = BASE64_VALUE[text:byte(i)]
		if v then
			bits, count = (bits << 6) | v, count + 6
			if count >= 8 then
				count = count - 8
				out[#out + 1] = string.char((bits >> count) & 0xFF)
			end
		end
	end
	return table.concat(out)
end

-- The JSON value with the fields of ignore (dotted paths) removed.
local function without(value, ignore, prefix)
	if type(value) ~= "table" then
		return value
	end
	local out = setmetatable({}, getmetatable(value))
	for k, v in pairs(value) do
		local dotted = type(k) == "string" and (prefix and prefix .. "." .. k or k) or prefix
		if not (type(k) == "string" and ignore[dotted]) then
			out[k] = without(v, ignore, dotted)
		end
	end
	return out
end

-- JSON text with object keys sorted: two bodies that mean the same match.
local function canonical(value)
	if type(value) ~= "table" or value == json.null then
		return json.encode(value)
	end
	local parts = {}
	if json.is_array(value) then
		for i = 1, #value do
			parts[i] = canonical(value[i])
		end
		return "[" .. table.concat(parts, ",") .. "]"
	end
	local keys = {}
	for k in pairs(value) do
		keys[#keys + 1] = tostring(k)
	end
	table.sort(keys)
	for i, k in ipairs(keys) do
		parts[i] = json.encode(k) .. ":" .. canonical(value[k])
	end
	return "{" .. table.concat(parts, ",") .. "}"
end

--- The key a request is matched by: method, path, the query's pairs
-- (sorted, without the names rules.query ignores) and the body (JSON
-- canonical, without the fields rules.body ignores).
function har.match_key(method, url_text, body, rules)
	local _, path, query = url.split(url_text)
	local ignore_query = rules and rules.query or {}
	local kept = {}
	for _, p in ipairs(query) do
		if not ignore_query[p.name] then
			kept[#kept + 1] = p.name .. "=" .. p.value
		end
	end
	table.sort(kept)
	local body_key = body or ""
	if body and body:find("^%s*[%[{]") then
		local value = json.decode(body)
		if value ~= nil then
			body_key = canonical(without(value, rules and rules.body or {}))
		end
	end
	return method:upper() .. " " .. path .. "?" .. table.concat(kept, "&") .. "\n" .. body_key
end

--- The exchanges of a HAR file (ours, a browser's, another tool's):
-- { key (har.match_key's, by rules), method, url, status, headers (a
-- block), body, attempts }, in the file's order; or nil and why.
function har.load(path, rules)
	local doc, why = read_har(path)
	if not doc then
		return nil, why
	end
	local exchanges = {}
	for i, entry in ipairs(doc.log.entries) do
		local request, response = entry.request, entry.response
		if type(request) ~= "table" or type(response) ~= "table" or type(request.url) ~= "string" then
			return nil, string.format("%s: entry %d has no request or response", path, i)
		end
		local body = type(request.postData) == "table" and request.postData.text or nil
		if body == "" then
			body = nil
		end
		local content = type(response.content) == "table" and response.content or {}
		local response_body = type(content.text) == "string" and content.text or ""
		if content.encoding == "base64" then
			response_body = base64_decode(response_body)
		end
		local lines = {}
		for _, h in ipairs(type(response.headers) == "table" and response.headers or {}) do
			local name = tostring(h.name or "")
			if name ~= "" and not STALE_HEADERS[name:lower()] and not name:find("^:") then
				lines[#lines + 1] = name .. ": " .. tostring(h.value or "")
			end
		end
		local method = tostring(request.method or "GET"):upper()
		local pulse_fields = type(entry["_pulse"]) == "table" and entry["_pulse"] or {} -- HAR's custom field
		exchanges[#exchanges + 1] = {
			key = har.match_key(method, request.url, body, rules),
			method = method,
			url = request.url,
			status = math.tointeger(response.status) or 0,
			headers = table.concat(lines, "\r\n") .. (lines[1] and "\r\n" or ""),
			body = response_body,
			attempts = math.tointeger(pulse_fields.attempt) or 1,
		}
	end
	return exchanges
end

-- ---- scrubbing --------------------------------------------------------------------

-- Every string in value with each secret replaced.
local function scrub_strings(value, secret_list)
	if type(value) == "string" then
		for _, secret in ipairs(secret_list) do
			value = value:gsub(secret:gsub("%p", "%%%0"), "[REDACTED]")
		end
		return value
	elseif type(value) ~= "table" then
		return value
	end
	for k, v in pairs(value) do
		value[k] = scrub_strings(v, secret_list)
	end
	return value
end

local function scrub_pairs(list, names, credentials)
	if type(list) ~= "table" then
		return
	end
	for _, pair in ipairs(list) do
		local name = type(pair) == "table" and type(pair.name) == "string" and pair.name:lower()
		if name and (credentials[name] or names[name]) then
			pair.value = "[REDACTED]"
		end
	end
end

local function scrub_body(holder, field, names)
	if type(holder) ~= "table" or type(holder[field]) ~= "string" or not holder[field]:find("^%s*[%[{]") then
		return
	end
	local value = json.decode(holder[field])
	if value == nil then
		return
	end
	local function walk(t)
		if type(t) ~= "table" then
			return
		end
		for k, v in pairs(t) do
			if type(k) == "string" and names[k:lower()] then
				t[k] = "[REDACTED]"
			else
				walk(v)
			end
		end
	end
	walk(value)
	holder[field] = json.encode(value)
end

--- Scrubs the HAR at path in place: credential headers and query
-- parameters (Authorization, cookies, api_key, token, ...), each secret
-- of secret_list wherever it is, and the fields named in fields (headers,
-- query parameters and JSON body fields of any depth, by name). Returns
-- the number of entries, or nil and why.
function har.scrub(path, secret_list, fields)
	local doc, why = read_har(path)
	if not doc then
		return nil, why
	end
	local names = {}
	for _, name in ipairs(fields or {}) do
		names[name:lower()] = true
	end
	for _, entry in ipairs(doc.log.entries) do
		local request, response = entry.request or {}, entry.response or {}
		scrub_pairs(request.headers, names, CREDENTIAL_HEADERS)
		scrub_pairs(request.queryString, names, CREDENTIAL_QUERY)
		scrub_pairs(response.headers, names, CREDENTIAL_HEADERS)
		for _, cookie in ipairs(type(request.cookies) == "table" and request.cookies or {}) do
			cookie.value = "[REDACTED]"
		end
		for _, cookie in ipairs(type(response.cookies) == "table" and response.cookies or {}) do
			cookie.value = "[REDACTED]"
		end
		if type(request.url) == "string" then
			request.url = request.url:gsub("([?&])([^=&#]+)=([^&#]*)", function(sep, name, value)
				local lower = url.unescape(name, true):lower()
				if CREDENTIAL_QUERY[lower] or names[lower] then
					return sep .. name .. "=[REDACTED]"
				end
				return sep .. name .. "=" .. value
			end)
		end
		local content = response.content
		if
			type(content) == "table"
			and content.encoding == "base64"
			and type(content.text) == "string"
			and tostring(content.mimeType):find("json")
		then
			content.text, content.encoding = base64_decode(content.text), nil -- to scrub what it holds
		end
		scrub_body(request.postData, "text", names)
		scrub_body(content, "text", names)
	end
	local clean = {}
	for _, s in ipairs(secret_list or {}) do
		if s ~= "" then
			clean[#clean + 1] = s
			clean[#clean + 1] = url.escape(s) -- as a query would carry it
		end
	end
	scrub_strings(doc, clean)
	local written
	written, why = core.write_private(path, json.encode(doc) .. "\n")
	if not written then
		return nil, why
	end
	return #doc.log.entries
end

return har
