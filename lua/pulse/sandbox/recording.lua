-- pulse-sandbox --replay FILE.har: the exchanges of a HAR recording (the
-- client's, a browser's, another tool's) served in place of the sample
-- resources, behind the same key check, bucket and faults. Read on its
-- own, with cjson: the sandbox shares no code with the client it checks.
--
-- A request is matched by method, path, query (its pairs in any order)
-- and body (JSON compared with keys in any order). Repeats of a request
-- are answered in their recorded order, and the last again once they run
-- out. A request the recording lacks answers 404 with the error envelope.

local json = require("pulse.sandbox.json")
local OWN_HEADERS = require("pulse.sandbox.own_headers")

local recording = {}

local Recording = {}
Recording.__index = Recording

local function refuse(path, why)
	error("--replay: " .. path .. ": " .. why, 0)
end

local function unescape(s)
	return (s:gsub("+", " "):gsub("%%(%x%x)", function(hex)
		return string.char(tonumber(hex, 16))
	end))
end

local function query_key(raw)
	local pairs_ = {}
	for part in (raw or ""):gmatch("[^&]+") do
		local name, value = part:match("^([^=]*)=?(.*)$")
		pairs_[#pairs_ + 1] = unescape(name) .. "=" .. unescape(value)
	end
	table.sort(pairs_)
	return table.concat(pairs_, "&")
end

-- JSON text with its objects' keys sorted; other text as it is.
local function sorted_json(value)
	if type(value) ~= "table" then
		return json.encode(value)
	end
	local parts = {}
	if #value > 0 or next(value) == nil then
		for i, v in ipairs(value) do
			parts[i] = sorted_json(v)
		end
		if #parts == 0 then
			return "[]"
		end
		return "[" .. table.concat(parts, ",") .. "]"
	end
	local keys = {}
	for k in pairs(value) do
		keys[#keys + 1] = tostring(k)
	end
	table.sort(keys)
	for i, k in ipairs(keys) do
		parts[i] = json.encode(k) .. ":" .. sorted_json(value[k])
	end
	return "{" .. table.concat(parts, ",") .. "}"
end

local function body_key(text)
	if not text or text == "" then
		return ""
	end
	local ok, value = pcall(json.decode, text)
	return ok and sorted_json(value) or text
end

local function key_of(method, path, raw_query, body)
	return method:upper() .. " " .. path .. "?" .. query_key(raw_query) .. "\n" .. body_key(body)
end

local function base64_decode(text)
	local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	local out, bits, count = {}, 0, 0
	for c in text:gmatch("[%w+/]") do
		bits, count = (bits << 6) | (alphabet:find(c, 1, true) - 1), count + 6
		if count >= 8 then
			count = count - 8
			out[#out + 1] = string.char((bits >> count) & 0xFF)
		end
	end
	return table.concat(out)
end

--- The recording at path; raises "--replay: ..." when it is no HAR.
function recording.load(path)
	local file = io.open(path, "rb")
	if not file then
		refuse(path, "cannot be read")
	end
	local text = file:read("a")
	file:close()
	local ok, doc = pcall(json.decode, text)
	if not ok or type(doc) ~= "table" or type(doc.log) ~= "table" or type(doc.log.entries) ~= "table" then
		refuse(path, "is no HAR file (no log.entries)")
	end
	local self = setmetatable({ by_key = {}, count = 0 }, Recording)
	for i, entry in ipairs(doc.log.entries) do
		local request, response = entry.request, entry.response
		if type(request) ~= "table" or type(response) ~= "table" or type(request.url) ~= "string" then
			refuse(path, "entry " .. i .. " has no request or response")
		end
		local rest = request.url:gsub("^%a[%w+.-]*://[^/?#]*", ""):gsub("#.*$", "")
		local url_path, raw_query = rest:match("^([^?]*)%??(.*)$")
		local post = type(request.postData) == "table" and request.postData.text or nil
		local content = type(response.content) == "table" and response.content or {}
		local body = type(content.text) == "string" and content.text or ""
		if content.encoding == "base64" then
			body = base64_decode(body)
		end
		local headers = {}
		for _, h in ipairs(type(response.headers) == "table" and response.headers or {}) do
			local name = tostring(h.name or "")
			if name ~= "" and not name:find("^:") and not OWN_HEADERS[name:lower()] then
				headers[#headers + 1] = { name, tostring(h.value or "") }
			end
		end
		local key = key_of(tostring(request.method or "GET"), url_path ~= "" and url_path or "/", raw_query, post)
		local list = self.by_key[key] or { next = 1 }
		list[#list + 1] = { status = math.tointeger(response.status) or 200, headers = headers, body = body }
		self.by_key[key] = list
		self.count = self.count + 1
	end
	return self
end

--- The recorded response to req ({ status, headers, body }), or nil and
-- the error envelope's (status, code, message).
function Recording:route(req)
	local list = self.by_key[key_of(req.method, req.path, req.raw_query, req.body)]
	if not list then
		return nil, 404, "not_found", "no exchange of the recording matches " .. req.method .. " " .. req.path
	end
	local exchange = list[math.min(list.next, #list)]
	list.next = list.next + 1
	local headers = {}
	for i, h in ipairs(exchange.headers) do
		headers[i] = { h[1], h[2] }
	end
	return { status = exchange.status, headers = headers, body = exchange.body }
end

--- Starts every request's repeats over (POST /_sandbox/reset).
function Recording:rewind()
	for _, list in pairs(self.by_key) do
		list.next = 1
	end
end

return recording
