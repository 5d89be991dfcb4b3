-- Building request URLs: joining a base URL and a path, encoding queries;
-- and taking one apart (a recording's, a dry run's).

local url = {}

local function escape_byte(c)
	return string.format("%%%02X", c:byte())
end

-- Percent-escapes everything but RFC 3986's unreserved characters.
function url.escape(s)
	return (s:gsub("[^%w%-%._~]", escape_byte))
end

--- s with its %XX escapes decoded (and + as a space, in a query: form).
function url.unescape(s, form)
	if form then
		s = s:gsub("+", " ")
	end
	return (s:gsub("%%(%x%x)", function(hex)
		return string.char(tonumber(hex, 16))
	end))
end

--- The parts of a URL: its scheme://authority ("" when it has none), its
-- path ("/" when empty), and its query's pairs in order ({ name, value },
-- decoded); the fragment is left out.
function url.split(text)
	local origin, rest = text:match("^(%a[%w+.-]*://[^/?#]*)(.*)$")
	if not origin then
		origin, rest = "", text
	end
	rest = rest:gsub("#.*$", "")
	local path, query = rest:match("^([^?]*)%??(.*)$")
	local pairs_ = {}
	for part in query:gmatch("[^&]+") do
		local name, value = part:match("^([^=]*)=?(.*)$")
		pairs_[#pairs_ + 1] = { name = url.unescape(name, true), value = url.unescape(value, true) }
	end
	return origin, path ~= "" and path or "/", pairs_
end

-- The scheme://host[:port] part, lower-cased, or nil when s is not http(s).
function url.origin(s)
	local scheme, authority = s:match("^(%a[%w+.-]*)://([^/?#]+)")
	if not scheme then
		return nil
	end
	scheme = scheme:lower()
	if scheme ~= "http" and scheme ~= "https" then
		return nil
	end
	if authority:find("@", 1, true) then
		return nil -- credentials in the URL would travel outside the key's header
	end
	return scheme .. "://" .. authority:lower()
end

-- Joins base and path with exactly one slash between them. Characters that
-- cannot stand in a URL (spaces, controls, non-ASCII) are escaped; the rest
-- of the path is the caller's to have escaped.
function url.join(base, path)
	if path:find("[%c%s\128-\255]") then
		path = path:gsub("[%c%s\128-\255]", escape_byte)
	end
	if path == "" then
		return base
	end
	if base:byte(-1) == 47 then -- "/"
		base = base:gsub("/+$", "")
	end
	local first = path:byte(1)
	if first == 63 then -- "?"
		return base .. path
	elseif first == 47 and path:byte(2) ~= 47 then
		return base .. path
	end
	return base .. "/" .. path:gsub("^/+", "")
end

-- Removes "." and ".." segments (RFC 3986 section 5.2.4).
local function remove_dot_segments(path)
	local out = {}
	for segment in (path .. "/"):gmatch("([^/]*)/") do
		if segment == ".." then
			if #out > 1 then
				out[#out] = nil
			end
		elseif segment ~= "." then
			out[#out + 1] = segment
		end
	end
	local last = path:match("[^/]*$")
	if last == "." or last == ".." then
		out[#out + 1] = ""
	end
	return table.concat(out, "/")
end

-- The absolute URL a Location header names, read against base (an
-- absolute http(s) URL): absolute, scheme-relative, absolute-path or
-- relative references. nil when it is no http(s) URL.
function url.resolve(base, ref)
	if type(ref) ~= "string" or ref:find("[%c%s]") then
		return nil
	end
	ref = ref:gsub("#.*$", "")
	if ref:find("^%a[%w+.-]*:") then
		return url.origin(ref) and ref or nil
	end
	local scheme, authority, base_path = base:match("^(%a[%w+.-]*)://([^/?#]*)([^?#]*)")
	if not scheme then
		return nil
	end
	if ref:sub(1, 2) == "//" then
		return scheme .. ":" .. ref
	end
	local path, query = ref:match("^([^?]*)(.*)$")
	if path == "" then
		path = base_path ~= "" and base_path or "/"
		if query == "" then
			query = base:match("(%?[^#]*)") or ""
		end
	elseif path:byte(1) ~= 47 then -- relative to the base's directory
		path = (base_path:match("^(.*/)") or "/") .. path
	end
	return scheme .. "://" .. authority .. remove_dot_segments(path) .. query
end

--- A number as a URL writes it: an integer whole, a float in the fewest
-- digits that read back as it; nil for an infinity or NaN.
function url.format_number(n)
	if math.type(n) == "integer" then
		return string.format("%d", n)
	end
	if n == math.floor(n) and n > -2 ^ 63 and n < 2 ^ 63 then
		return string.format("%d", math.tointeger(n))
	end
	for precision = 15, 17 do
		local text = string.format("%." .. precision .. "g", n)
		if tonumber(text) == n then
			return text
		end
	end
end

local function format_value(key, v)
	local t = type(v)
	if t == "string" then
		return v
	elseif t == "number" then
		if v ~= v or v == math.huge or v == -math.huge then
			return nil, "query value '" .. key .. "' is not a finite number"
		end
		return url.format_number(v)
	elseif t == "boolean" then
		return tostring(v)
	end
	return nil, "query value '" .. key .. "' is a " .. t .. " (want a string, number, boolean or array of them)"
end

-- Encodes a table as a query string: keys in sorted order (stable URLs
-- cache well), arrays as repeated keys. Returns the string, or nil and why.
function url.encode_query(query)
	local keys = {}
	for k in pairs(query) do
		if type(k) ~= "string" then
			return nil, "query keys must be strings, got a " .. type(k)
		end
		keys[#keys + 1] = k
	end
	table.sort(keys)
	local parts = {}
	for _, k in ipairs(keys) do
		local v = query[k]
		local values = type(v) == "table" and v or { v }
		if type(v) == "table" and next(v) ~= nil and #v == 0 then
			return nil, "query value '" .. k .. "' is a table that is not an array"
		end
		for _, item in ipairs(values) do
			local text, err = format_value(k, item)
			if not text then
				return nil, err
			end
			parts[#parts + 1] = url.escape(k) .. "=" .. url.escape(text)
		end
	end
	return table.concat(parts, "&")
end

return url
