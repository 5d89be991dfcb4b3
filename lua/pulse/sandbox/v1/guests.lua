-- /v1 guests: create, search (with the documented scope rule), get with
-- expand, update (a PUT that replaces the whole guest: what it leaves out
-- is reset), and a center's list by last update. core-domain.md section 4.

local json = require("pulse.sandbox.json")
local centers = require("pulse.sandbox.v1.centers")
local org = require("pulse.sandbox.org")
local times = require("pulse.sandbox.times")
local wire = require("pulse.sandbox.wire")

local guests = {}

-- What get returns only when expand names it.
local EXPANDABLE = { "address_info", "preferences", "tags", "referral", "primary_employee", "login_info" }

-- The wire form of guest; expanded: whether every expandable part is
-- written (search and list write none).
function guests.fields(guest, call)
	local out = wire.fields(guest)
	for _, part in ipairs(EXPANDABLE) do
		local wanted = call and (call:expands(part) or (part == "referral" and call:expands("referrals")))
		if not wanted then
			out[part] = nil
		end
	end
	out.login_info = call and call:expands("login_info") and { user_name = guest.personal_info.user_name } or nil
	return out
end

function guests.find(call, id)
	return call:find("guests", id, 400, 502, "Invalid guest_id.")
end

-- The answer of a list of guests: the page of list, its info under
-- info_key (the reference spells it two ways).
local function guests_page(call, list, info_key)
	local page, info = call:page(list)
	if not page then
		return info
	end
	return 200, {
		guests = wire.map(page, function(guest)
			return guests.fields(guest, nil)
		end),
		[info_key] = info,
	}
end

-- ---- a guest's fields from a request body -----------------------------------------

local function phone_of(value)
	if value == nil or value == json.null then
		return json.null
	elseif type(value) ~= "table" then
		return nil
	end
	-- lua-cjson reads every number as a float: a whole one is an id.
	local country, number = value.country_code, value.number
	if country ~= nil then
		country = math.tointeger(country)
		if not country then
			return nil
		end
	end
	if number ~= nil and type(number) ~= "string" then
		return nil
	end
	return { country_code = country or -1, number = number or "" }
end

-- A field of a guest's input: default when it is absent or null, else
-- what convert makes of it (nil when it is of the wrong type).
local function given(value, default, convert)
	if value == nil or value == json.null then
		return default
	end
	return convert(value)
end

local function text(value, default)
	return given(value, default, function(v)
		return type(v) == "string" and v or nil
	end)
end

local function boolean(value, default)
	return given(value, default, function(v)
		if type(v) == "boolean" then
			return v
		end
	end)
end

local function date_time(value)
	return given(value ~= "" and value or nil, times.NONE, function(v)
		local seconds = type(v) == "string" and times.parse(v)
		return seconds and times.format(seconds) or nil
	end)
end

-- The personal_info of input, every field given or reset; or nil and the
-- name of the field that is wrong.
local function personal_info(input)
	if type(input) ~= "table" then
		return nil, "personal_info"
	end
	local out = {
		user_name = text(input.user_name, ""),
		first_name = text(input.first_name, ""),
		last_name = text(input.last_name, ""),
		middle_name = text(input.middle_name, ""),
		email = text(input.email, ""),
		mobile_phone = phone_of(input.mobile_phone),
		work_phone = phone_of(input.work_phone),
		home_phone = phone_of(input.home_phone),
		gender = given(input.gender, -1, math.tointeger),
		date_of_birth = date_time(input.date_of_birth),
		is_minor = boolean(input.is_minor, false),
		nationality_id = given(input.nationality_id, -1, math.tointeger),
		anniversary_date = date_time(input.anniversary_date),
		lock_guest_custom_data = boolean(input.lock_guest_custom_data, false),
		pan = text(input.pan, ""),
	}
	for _, name in ipairs({
		"user_name",
		"first_name",
		"last_name",
		"middle_name",
		"email",
		"mobile_phone",
		"work_phone",
		"home_phone",
		"gender",
		"date_of_birth",
		"is_minor",
		"nationality_id",
		"anniversary_date",
		"lock_guest_custom_data",
		"pan",
	}) do
		if out[name] == nil then
			return nil, "personal_info." .. name
		end
	end
	if out.email ~= "" and not out.email:find("^[^@%s]+@[^@%s]+$") then
		return nil, "personal_info.email"
	end
	return out
end

local function object_or_null(value, copy)
	if value == nil or value == json.null then
		return json.null
	end
	return type(value) == "table" and copy(value) or nil
end

-- The guest input describes, every documented field given or reset (an
-- update replaces the whole guest); or nil and the error answer. The
-- organization's mandatory fields, here: center_id (on create),
-- personal_info's first_name and last_name.
local function from_input(call, input, existing)
	local center = existing and existing._center
	if not existing then
		local bad
		center, bad = centers.find(call, input.center_id ~= json.null and input.center_id or nil)
		if not center then
			return nil, bad
		end
	end
	local info, wrong = personal_info(input.personal_info)
	if not info then
		if input.personal_info == nil then
			return nil, call:missing("personal_info")
		end
		return nil, call:invalid("The request is invalid: " .. wrong .. ".")
	end
	if info.first_name == "" then
		return nil, call:missing("first_name")
	elseif info.last_name == "" then
		return nil, call:missing("last_name")
	end
	local fields = {
		code = text(input.code, ""),
		personal_info = info,
		address_info = object_or_null(input.address_info, wire.fields),
		preferences = object_or_null(input.preferences, wire.fields),
		tags = object_or_null(input.tags, json.array),
		referral = object_or_null(input.referral, wire.fields),
		primary_employee = object_or_null(input.primary_employee, wire.fields),
	}
	for name, value in pairs(fields) do
		if value == nil then
			return nil, call:invalid("The request is invalid: " .. name .. ".")
		end
	end
	for _, tag in ipairs(fields.tags ~= json.null and fields.tags or {}) do
		if type(tag) ~= "string" then
			return nil, call:invalid("The request is invalid: tags.")
		end
	end
	return fields, center
end

-- ---- the operations --------------------------------------------------------------

-- Makes a new guest of fields (from_input's) at center, and says so.
local function add_guest(call, fields, center)
	local guest = fields
	guest.id = call.org.random.uuid()
	guest.center_id, guest.center_name = center.id, center.name
	guest.created_date = times.format(org.local_time(center, call.now))
	guest._center, guest._updated = center, call.now
	call.org:add("guests", guest)
	table.insert(center._guests, guest)
	call.events:emit("Guest", "Guest.Created", wire.fields(guest))
	return guest
end

function guests.create_guest(call)
	local input, bad = call:body()
	if not input then
		return bad
	end
	local fields, center = from_input(call, input, nil)
	if not fields then
		return center
	end
	return 200, wire.fields(add_guest(call, fields, center))
end

function guests.get_guest(call)
	local guest, bad = guests.find(call, call.params.guest_id)
	if not guest then
		return bad
	end
	return 200, guests.fields(guest, call)
end

function guests.update_guest(call)
	local guest, bad = guests.find(call, call.params.guest_id)
	if not guest then
		return bad
	end
	local input, wrong = call:body()
	if not input then
		return wrong
	end
	local fields, why = from_input(call, input, guest)
	if not fields then
		return why
	end
	for name, value in pairs(fields) do
		guest[name] = value
	end
	guest._updated = call.now
	call.events:emit("Guest", "Guest.Updated", wire.fields(guest))
	return 200, wire.fields(guest)
end

-- Whether guest matches every filter the search gives.
local function matches(guest, call)
	local info = guest.personal_info
	local function starts(value, with)
		return with == nil or (value or ""):lower():sub(1, #with) == with:lower()
	end
	local function same(value, want)
		return want == nil or (value or ""):lower() == want:lower()
	end
	local phone = call:arg("phone")
	if phone then
		local digits = phone:gsub("%D", "")
		local found = false
		for _, p in ipairs({ info.mobile_phone, info.work_phone, info.home_phone }) do
			found = found or (p ~= json.null and digits ~= "" and p.number:find(digits, 1, true) ~= nil)
		end
		if not found then
			return false
		end
	end
	local tag = call:arg("tags")
	if tag then
		local found = false
		for _, t in ipairs(guest.tags ~= json.null and guest.tags or {}) do
			found = found or t:lower() == tag:lower()
		end
		if not found then
			return false
		end
	end
	local zip = guest.address_info ~= json.null and guest.address_info.zip_code or ""
	return starts(info.first_name, call:arg("first_name"))
		and starts(info.last_name, call:arg("last_name"))
		and same(zip, call:arg("zip_code"))
		and same(info.user_name, call:arg("user_name"))
		and same(guest.code, call:arg("user_code"))
		and same(info.email, call:arg("email"))
end

-- The scope rule: with the organization's "Search Guest Across Centers"
-- on (--guest-search org, the default), no center_id searches the whole
-- organization; off (--guest-search center), a center_id is required.
-- Either way a center_id searches that center.
function guests.search_guests(call)
	local center_id = call:arg("center_id")
	local scope
	if center_id then
		local center, bad = centers.find(call, center_id)
		if not center then
			return bad
		end
		scope = center._guests
	elseif call.config.guest_search == "center" then
		return call:missing("center_id")
	else
		scope = call.org.guests
	end
	return guests_page(
		call,
		wire.filter(scope, function(guest)
			return matches(guest, call)
		end),
		"page_info"
	)
end

local function online_error(code, message)
	return { online_guest_id = json.null, guest_id = json.null, error = { code = code, message = message } }
end

-- A guest who checks out online: email, center_id, first_name, last_name,
-- the guest found by email at the center or made. Its error's code is a
-- string, as the reference types it here.
function guests.create_online_guest(call)
	local input, invalid = call:body()
	if not input then
		return invalid
	end
	for _, name in ipairs({ "email", "center_id", "first_name", "last_name" }) do
		if type(input[name]) ~= "string" or input[name] == "" then
			return 400, online_error("503", name .. " is missing.")
		end
	end
	local center = call.org:get("centers", input.center_id)
	if not center then
		return 400, online_error("502", "Invalid center_id.")
	end
	local found
	for _, guest in ipairs(center._guests) do
		if guest.personal_info.email:lower() == input.email:lower() then
			found = guest
		end
	end
	if not found then
		local fields = from_input(call, {
			center_id = center.id,
			personal_info = { first_name = input.first_name, last_name = input.last_name, email = input.email },
		}, nil)
		if not fields then
			return 400, online_error("400", "The request is invalid.")
		end
		found = add_guest(call, fields, center)
	end
	return 200, { online_guest_id = call.org.random.uuid(), guest_id = found.id, error = json.null }
end

-- A center's guests, those updated on or after last_updated (a date, the
-- center's) when it is given; the page's info is spelt page_Info here, as
-- the reference writes it.
function guests.list_guests(call)
	local center, bad = centers.find(call, call:arg("center_id"))
	if not center then
		return bad
	end
	local since, bad_date = call:date_arg("last_updated")
	if bad_date then
		return bad_date
	end
	local list = not since and center._guests
		or wire.filter(center._guests, function(guest)
			return org.local_time(center, guest._updated) >= since
		end)
	return guests_page(call, list, "page_Info")
end

return guests
