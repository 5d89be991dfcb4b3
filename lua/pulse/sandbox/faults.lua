-- Faults the sandbox injects: from --faults at start, or posted to
-- /_sandbox/faults. A spec is a comma-separated list of KIND[:NAME=VALUE]...
--   503          answer 503          retry_after=S (default: no Retry-After)
--   html502      an HTML 502, as a proxy sends
--   redirect     307 to port=N on 127.0.0.1, same path
--   drop         close the connection before handling the request
--   drop_after   handle (and apply) the request, then close with no response
--   truncate     cut the JSON body in half
--   bad_headers  malformed rate-limit header values
--   latency      answer ms=N milliseconds late (at most ten minutes)
--   status       answer code=N (100 to 599; default 500) with a JSON error body
--   error_200    answer an API operation's documented error with status 200
--   random       with probability p=P, one of kinds=A+B+... (default: all
--                but redirect), chosen with the --seed generator
-- and, for every kind: count=N (default 1; 0 for no limit), seconds=T (active
-- for T seconds; count then defaults to no limit), method=M (only for M).

local faults = {}

local KINDS = {
	["503"] = true,
	html502 = true,
	redirect = true,
	drop = true,
	drop_after = true,
	truncate = true,
	bad_headers = true,
	latency = true,
	status = true,
	error_200 = true,
	random = true,
}

local RANDOM_KINDS = { "503", "html502", "drop", "drop_after", "truncate", "bad_headers", "latency" }

-- Each fault option's bounds: a number (whole when integer), from min to
-- max; the others are strings.
local NUMERIC = {
	count = { integer = true, min = 0, max = 1e9 },
	seconds = { min = 0.001, max = 86400 },
	retry_after = { integer = true, min = 0, max = 86400 },
	port = { integer = true, min = 1, max = 65535 },
	ms = { min = 0, max = 600000 }, -- ten minutes
	p = { min = 0, max = 1 },
	code = { integer = true, min = 100, max = 599 },
}

local function describe(bounds)
	return string.format("%s from %g to %g", bounds.integer and "a whole number" or "a number", bounds.min, bounds.max)
end

-- value checked against name's bounds: the number, or nil and why.
local function check_number(name, value)
	local bounds = NUMERIC[name]
	local n = tonumber(value)
	if
		not n
		or n ~= n
		or n < bounds.min
		or n > bounds.max
		or (bounds.integer and n ~= math.floor(n))
	then
		return nil, string.format("fault option %s takes %s, not '%s'", name, describe(bounds), tostring(value))
	end
	return bounds.integer and math.tointeger(n) or n
end

-- kind as its name ("503" for 503), or nil when it names no kind.
local function kind_name(kind)
	if math.type(kind) == "float" and kind == math.floor(kind) then
		kind = math.tointeger(kind)
	end
	kind = tostring(kind)
	return KINDS[kind] and kind or nil
end

-- Checks and completes one fault table; returns it, or nil and why.
function faults.validate(f, now)
	if type(f) ~= "table" then
		return nil, "a fault is an object with a kind, got a " .. type(f)
	end
	local kind = kind_name(f.kind)
	if not kind then
		return nil, "unknown fault kind '" .. tostring(f.kind) .. "'"
	end
	f.kind = kind
	for name, value in pairs(f) do
		if NUMERIC[name] then
			local n, why = check_number(name, value)
			if not n then
				return nil, why
			end
			f[name] = n
		elseif name == "method" then
			if type(value) ~= "string" or not value:find("^%u+$") then
				return nil, "fault option method takes an upper-case method like POST"
			end
		elseif name ~= "kind" and name ~= "kinds" then
			return nil, "unknown fault option '" .. tostring(name) .. "'"
		end
	end
	if f.kind == "redirect" and not f.port then
		return nil, "redirect needs port=N"
	end
	if f.kind == "random" then
		f.p = f.p or 0.1
		if f.kinds ~= nil and type(f.kinds) ~= "string" then
			return nil, "random: kinds takes KIND+KIND..."
		end
		if type(f.kinds) == "string" then
			local list = {}
			for k in f.kinds:gmatch("[^+]+") do
				if not KINDS[k] or k == "random" or k == "status" then
					return nil, "random: unknown kind '" .. k .. "'"
				end
				list[#list + 1] = k
			end
			f.kinds = list
		end
		f.kinds = f.kinds or RANDOM_KINDS
	end
	if f.seconds then
		f.until_time = now + f.seconds
	end
	if f.count == nil then
		f.count = (f.seconds or f.kind == "random") and 0 or 1
	end
	return f
end

-- Parses a --faults spec into validated faults, or nil and why.
function faults.parse(spec, now)
	local list = {}
	for item in spec:gmatch("[^,]+") do
		local fields = {}
		local kind = item:match("^([^:]+)")
		fields.kind = kind
		local rest = item:sub(#(kind or "") + 1)
		for option in rest:gmatch(":([^:]*)") do
			local name, value = option:match("^([%w_]+)=(.*)$")
			if not name then
				return nil, "fault option '" .. option .. "' is not NAME=VALUE"
			end
			fields[name] = value
		end
		local f, why = faults.validate(fields, now)
		if not f then
			return nil, why
		end
		list[#list + 1] = f
	end
	if #list == 0 then
		return nil, "no fault in '" .. spec .. "'"
	end
	return list
end

local Queue = {}
Queue.__index = Queue

function faults.queue()
	return setmetatable({ active = {} }, Queue)
end

function Queue:add(f)
	self.active[#self.active + 1] = f
end

function Queue:clear()
	self.active = {}
end

-- The fault for this request, if any; counts it against its budget.
function Queue:pick(method, now)
	for i, f in ipairs(self.active) do
		local expired = f.until_time and now >= f.until_time
		if expired then
			table.remove(self.active, i)
			return self:pick(method, now)
		end
		if not f.method or f.method == method then
			local kind = f.kind
			if kind == "random" then
				if math.random() >= f.p then
					return nil
				end
				kind = f.kinds[math.random(#f.kinds)]
			end
			if f.count > 0 then
				f.count = f.count - 1
				if f.count == 0 then
					table.remove(self.active, i)
				end
			end
			return setmetatable({ kind = kind }, { __index = f })
		end
	end
	return nil
end

return faults
