-- The sandbox's sample data: services (with price in cents and duration in
-- minutes), the staff who perform them, customers, and bookings. It is
-- sample data, made up from --seed, and labelled so wherever it is shown.

local json = require("pulse.sandbox.json")

local data = {}

local FIRST = { "Ada", "Ben", "Chloe", "Dev", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai", "Lea" }
local LAST = { "Moreau", "Okafor", "Silva", "Tanaka", "Novak", "Berg", "Haddad", "Quinn", "Rossi", "Walsh" }
local SERVICES = {
	"Haircut",
	"Colour",
	"Beard trim",
	"Massage 30",
	"Massage 60",
	"Manicure",
	"Pedicure",
	"Facial",
	"Physio check",
	"Yoga class",
	"Consultation",
	"Follow-up",
}

-- Field rules per resource: type, whether required, and extra checks.
local SCHEMAS = {
	services = {
		name = { type = "string", required = true, max = 100 },
		price = { type = "integer", required = true, min = 0 },
		duration = { type = "integer", required = true, min = 5, max = 480 },
	},
	staff = {
		name = { type = "string", required = true, max = 100 },
		service_ids = { type = "ids", of = "services" },
	},
	customers = {
		name = { type = "string", required = true, max = 100 },
		email = { type = "email", required = true },
		phone = { type = "string", max = 30 },
	},
	bookings = {
		service_id = { type = "id", of = "services", required = true },
		staff_id = { type = "id", of = "staff", required = true },
		customer_id = { type = "id", of = "customers", required = true },
		start = { type = "time", required = true },
	},
}

data.RESOURCES = { "services", "staff", "customers", "bookings" }

local Store = {}
Store.__index = Store

local function pick(list)
	return list[math.random(#list)]
end

function data.new(seed)
	math.randomseed(seed)
	local store = setmetatable({ tables = {}, next_id = {} }, Store)
	for _, name in ipairs(data.RESOURCES) do
		store.tables[name] = {}
		store.next_id[name] = 1
	end
	for _, name in ipairs(SERVICES) do
		store:insert("services", {
			name = name,
			price = math.random(10, 120) * 100,
			duration = math.random(1, 12) * 10,
		})
	end
	for _ = 1, 8 do
		local ids = {}
		for id = 1, #SERVICES do
			if math.random() < 0.4 then
				ids[#ids + 1] = id
			end
		end
		store:insert("staff", { name = pick(FIRST) .. " " .. pick(LAST), service_ids = json.array(ids) })
	end
	for i = 1, 45 do
		local first, last = pick(FIRST), pick(LAST)
		store:insert("customers", {
			name = first .. " " .. last,
			email = string.format("%s.%s%d@example.com", first:lower(), last:lower(), i),
		})
	end
	for _ = 1, 30 do
		local start = string.format("2026-12-%02dT%02d:00:00Z", math.random(1, 28), math.random(8, 17))
		local staff_id = math.random(1, 8)
		if not store:conflict(staff_id, start) then
			store:insert("bookings", {
				service_id = math.random(1, #SERVICES),
				staff_id = staff_id,
				customer_id = math.random(1, 45),
				start = start,
			})
		end
	end
	return store
end

function Store:insert(resource, record)
	local id = self.next_id[resource]
	self.next_id[resource] = id + 1
	record.id = id
	self.tables[resource][id] = record
	return record
end

function Store:get(resource, id)
	return self.tables[resource][id]
end

function Store:delete(resource, id)
	local record = self.tables[resource][id]
	self.tables[resource][id] = nil
	return record
end

function Store:conflict(staff_id, start, except_id)
	for id, b in pairs(self.tables.bookings) do
		if b.staff_id == staff_id and b.start == start and id ~= except_id then
			return b
		end
	end
end

-- One page of a resource, by id: { items, total }; only the records
-- keep(record) is true of, when given.
function Store:page(resource, page, per_page, keep)
	local ids = {}
	for id, record in pairs(self.tables[resource]) do
		if not keep or keep(record) then
			ids[#ids + 1] = id
		end
	end
	table.sort(ids)
	local items = json.array()
	for i = (page - 1) * per_page + 1, math.min(#ids, page * per_page) do
		items[#items + 1] = self.tables[resource][ids[i]]
	end
	return items, #ids
end

local function as_integer(v)
	return type(v) == "number" and math.tointeger(v) or nil
end

local function check_field(store, rule, value)
	local t = rule.type
	if t == "string" then
		if type(value) ~= "string" or value == "" then
			return nil, "must be a non-empty string"
		end
		if rule.max and #value > rule.max then
			return nil, "must be at most " .. rule.max .. " characters"
		end
		return value
	elseif t == "integer" then
		local n = as_integer(value)
		if not n then
			return nil, "must be an integer"
		end
		if (rule.min and n < rule.min) or (rule.max and n > rule.max) then
			return nil, string.format("must be between %d and %d", rule.min or 0, rule.max or math.maxinteger)
		end
		return n
	elseif t == "email" then
		if type(value) ~= "string" or not value:find("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
			return nil, "must be an email address"
		end
		return value
	elseif t == "id" then
		local n = as_integer(value)
		if not n or not store:get(rule.of, n) then
			return nil, "must be the id of an existing " .. rule.of .. " record"
		end
		return n
	elseif t == "ids" then
		if type(value) ~= "table" then
			return nil, "must be an array of " .. rule.of .. " ids"
		end
		local ids = json.array()
		for i, v in ipairs(value) do
			local n = as_integer(v)
			if not n or not store:get(rule.of, n) then
				return nil, "item " .. i .. " is not the id of an existing " .. rule.of .. " record"
			end
			ids[i] = n
		end
		return ids
	elseif t == "time" then
		if type(value) ~= "string" or not value:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") then
			return nil, "must be a UTC time like 2026-12-01T09:00:00Z"
		end
		return value
	end
end

-- Validates input for a resource: the clean record, or nil and a table of
-- field errors. partial: only the fields given (PATCH).
function Store:validate(resource, input, partial)
	local schema = SCHEMAS[resource]
	local clean, problems = {}, {}
	for name in pairs(input) do
		if not schema[name] and name ~= "id" then
			problems[tostring(name)] = "is not a field of " .. resource
		end
	end
	for name, rule in pairs(schema) do
		local value = input[name]
		if value == nil or value == json.null then
			if rule.required and not partial then
				problems[name] = "is required"
			end
		else
			local ok, why = check_field(self, rule, value)
			if ok == nil then
				problems[name] = why
			else
				clean[name] = ok
			end
		end
	end
	if next(problems) then
		return nil, problems
	end
	return clean
end

return data
