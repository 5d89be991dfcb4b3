-- The conventions every /v1 operation of the sandbox follows, as the
-- reference documents them (PULSE_API.md, doc/api/): one call's context,
-- its query and body, its error in the shape its endpoint documents,
-- page/size pagination, and records written without the sandbox's own
-- (underscore) fields.

local json = require("pulse.sandbox.json")
local times = require("pulse.sandbox.times")

local wire = {}

-- The error shapes the reference shows, by operation: most write
-- "error": {code, message}; these write {StatusCode, Message,
-- InternalMessage}, and the slots of a booking a capital "Error".
local ERROR_SHAPES = {
	close_invoice = "status_code",
	list_center_employee_schedules = "status_code",
	list_booking_slots = "capital",
}

wire.MAX_PAGE_SIZE = 100
wire.DEFAULT_PAGE_SIZE = 10

-- The body of an error of operation name: the application code and its
-- message, in the operation's documented shape.
function wire.error_body(name, code, message)
	local shape = ERROR_SHAPES[name]
	if shape == "status_code" then
		return { error = { StatusCode = code, Message = message, InternalMessage = message } }
	elseif shape == "capital" then
		return { Error = { StatusCode = code, Message = message } }
	end
	return { error = { code = code, message = message } }
end

-- ---- a call -------------------------------------------------------------------------

local Call = {}
Call.__index = Call

local function unescape(text)
	text = text:gsub("+", " ")
	return (text:gsub("%%(%x%x)", function(hex)
		return string.char(tonumber(hex, 16))
	end))
end

-- The query's parameters: by lower-case name, the list of values (expand
-- may be repeated).
local function parse_query(raw)
	local params = {}
	for pair in raw:gmatch("[^&]+") do
		local name, value = pair:match("^([^=]*)=?(.*)$")
		name = unescape(name):lower()
		params[name] = params[name] or {}
		table.insert(params[name], unescape(value))
	end
	return params
end

-- A call of operation op (a catalog row) with path parameters params.
function wire.call(op, params, req, org, now, config)
	return setmetatable({
		op = op,
		params = params,
		req = req,
		org = org,
		now = now,
		config = config,
		query = parse_query(req.raw_query or ""),
	}, Call)
end

-- The last value of query parameter name, or nil; "" counts as absent.
function Call:arg(name)
	local values = self.query[name]
	local value = values and values[#values]
	if value == "" then
		return nil
	end
	return value
end

-- Every value of a query parameter that takes a list, each split at commas.
function Call:list_arg(name)
	local list = {}
	for _, value in ipairs(self.query[name] or {}) do
		for item in value:gmatch("[^,]+") do
			list[#list + 1] = item
		end
	end
	return list
end

-- Whether expand names what (case-insensitive).
function Call:expands(what)
	local set = self.expand_set
	if not set then
		set = {}
		for _, item in ipairs(self:list_arg("expand")) do
			set[item:lower()] = true
		end
		self.expand_set = set
	end
	return set[what:lower()] == true
end

-- A date (or date-time) query parameter as seconds: nil when it is
-- absent and not required; nil and the error answer when it is missing
-- or not a date.
function Call:date_arg(name, required)
	local value = self:arg(name)
	if not value then
		return nil, required and self:missing(name) or nil
	end
	local seconds = times.parse(value)
	if not seconds then
		return nil, self:invalid(name .. " is not a date.")
	end
	return seconds
end

-- A boolean query parameter ("true"/"false", any case), or default.
function Call:flag(name, default)
	local value = self:arg(name)
	if value == nil then
		return default
	end
	return value:lower() == "true"
end

-- The error answer: one value, { status, body } (the body in the
-- operation's shape), which an operation returns in place of its status
-- and body, and a helper passes up as its second value.
function Call:fail(status, code, message)
	return { status = status, body = wire.error_body(self.op.name, code, message) }
end

-- "The request is invalid.": the reference's answer to input it cannot read.
function Call:invalid(message)
	return self:fail(400, 400, message or "The request is invalid.")
end

-- A required input missing: code 503.
function Call:missing(name)
	return self:fail(400, 503, name .. " is missing.")
end

-- The JSON object the request carries, or nil and the error answer.
function Call:body()
	local ok, value = pcall(json.decode, self.req.body or "")
	if not ok or type(value) ~= "table" or (self.req.body or ""):find("^%s*%[") then
		return nil, self:invalid()
	end
	return value
end

-- The JSON object of a request whose body may be empty: {} then; or nil
-- and the error answer.
function Call:optional_body()
	if not (self.req.body or ""):find("%S") then
		return {}
	end
	return self:body()
end

-- The record of kind whose id is given, or nil and the error answer
-- (status, code, message) when there is none.
function Call:find(kind, id, status, code, message)
	local record = self.org:get(kind, id)
	if not record then
		return nil, self:fail(status, code, message)
	end
	return record
end

-- The page of list that page and size ask for, and its page_info; or nil
-- and the error answer (size over 100: the documented 422).
function Call:page(list, page_name, size_name)
	local page_text = self:arg(page_name or "page")
	local size_text = self:arg(size_name or "size")
	local page = math.tointeger(tonumber(page_text or 1))
	local size = math.tointeger(tonumber(size_text or wire.DEFAULT_PAGE_SIZE))
	if not page or not size or page < 1 or size < 1 then
		return nil, self:invalid()
	end
	if size > wire.MAX_PAGE_SIZE then
		return nil, self:fail(400, 422, "You cannot request more than 100 items.")
	end
	local items = json.array()
	for i = (page - 1) * size + 1, math.min(#list, page * size) do
		items[#items + 1] = list[i]
	end
	return items, { total = #list, page = page, size = size }
end

-- ---- records --------------------------------------------------------------------------

-- record's wire fields: a shallow copy without the sandbox's own (keys
-- starting with an underscore).
function wire.fields(record)
	local out = {}
	for k, v in pairs(record) do
		if type(k) ~= "string" or k:sub(1, 1) ~= "_" then
			out[k] = v
		end
	end
	return out
end

-- The records of list that keep(record) keeps, in order.
function wire.filter(list, keep)
	local kept = {}
	for _, record in ipairs(list) do
		if keep(record) then
			kept[#kept + 1] = record
		end
	end
	return kept
end

-- A list of records' wire forms (made by each), as a JSON array.
function wire.map(list, each)
	local out = json.array()
	for i, record in ipairs(list) do
		out[i] = each(record)
	end
	return out
end

return wire
