-- /v1 centers, and what each center has: its services (and the therapists
-- who perform one), its employees and therapists, and their schedules.
-- core-domain.md sections 1 to 3.

local json = require("pulse.sandbox.json")
local org = require("pulse.sandbox.org")
local times = require("pulse.sandbox.times")
local wire = require("pulse.sandbox.wire")

local centers = {}

-- The longest span of schedules one call may ask for: the reference names
-- none; a month keeps an answer small.
local MAX_SCHEDULE_DAYS = 31

local function working_hours(center)
	local days = json.array()
	for weekday = 0, 6 do
		local open, close = org.hours(center, weekday)
		if open then
			days[#days + 1] = { day_of_week = weekday, start_time = times.clock(open), end_time = times.clock(close) }
		end
	end
	return days
end

local function center_fields(center, hours)
	local out = wire.fields(center)
	out.working_hours = hours and working_hours(center) or nil
	return out
end

-- The center of the call's center_id, or nil and the error answer (code
-- 502, with message, or the reference's "Invalid center_id.").
function centers.find(call, id, message)
	local center = call.org:get("centers", id)
	if not center then
		if id == nil then
			return nil, call:missing("center_id")
		end
		return nil, call:fail(400, 502, message or "Invalid center_id.")
	end
	return center
end

function centers.list_centers(call)
	-- expand's documented default is working_hours.
	local hours = call:arg("expand") == nil or call:expands("working_hours")
	return 200, {
		centers = wire.map(call.org.centers, function(center)
			return center_fields(center, hours)
		end),
	}
end

function centers.get_center(call)
	local center, bad = centers.find(call, call.params.center_id)
	if not center then
		return bad
	end
	return 200, { center = center_fields(center, call:expands("working_hours")), error = json.null }
end

-- ---- services -------------------------------------------------------------------------

local function service_fields(service, call, one)
	local out = wire.fields(service)
	local category = service._category
	out.additional_info = call:expands("additional_info")
			and {
				html_description = "<p>" .. service.description .. "</p>",
				category = { id = category.id, name = category.name },
				sub_category = json.null,
				bussiness_unit = json.null,
			}
		or json.null
	out.catalog_info = call:expands("catalog_info")
			and {
				show_in_catalog = true,
				can_book = true,
				show_price = true,
				display_name = service.name,
				display_price = service.price_info.final_price,
				display_order = 0,
				video_url = "",
			}
		or json.null
	out.variants_info = call:expands("variants_info") and { is_variant = false, has_variant = false } or json.null
	out.add_ons_info = call:expands("add_ons_info")
			and { is_add_on = false, has_add_ons = false, add_ons_list = json.array() }
		or json.null
	out.image_paths = call:expands("image_paths") and json.array() or json.null
	out.parallel_groups, out.parallel_service_groups = json.null, json.null
	out.prerequisites_info, out.finishing_services_info = json.null, json.null
	if one then
		out.tags = call:expands("tags") and json.array() or json.null
		out.error = json.null
	end
	return out
end

-- The expansions a list of services writes.
local SERVICE_EXPANSIONS = { "additional_info", "catalog_info", "variants_info", "add_ons_info", "image_paths" }

-- A service's wire form for the call's expansions, encoded once: the
-- sample services never change (no operation emulated writes them), and
-- encoding them was most of a list's time (bench/sandbox.lua).
local function service_json(service, call)
	local key = call.service_expansions
	if not key then
		key = ""
		for _, part in ipairs(SERVICE_EXPANSIONS) do
			key = key .. (call:expands(part) and "1" or "0")
		end
		call.service_expansions = key
	end
	service._encoded = service._encoded or {}
	local text = service._encoded[key]
	if not text then
		text = json.encode(service_fields(service, call, false))
		service._encoded[key] = text
	end
	return text
end

function centers.list_center_services(call)
	local center, bad = centers.find(call, call.params.center_id, "Invalid center_id is passed.")
	if not center then
		return bad
	end
	local category_id = call:arg("category_id")
	local list = not category_id and center._services
		or wire.filter(center._services, function(service)
			return service._category.id == category_id:lower()
		end)
	local page, info = call:page(list)
	if not page then
		return info
	end
	local parts = { '{"services":[' }
	for i, service in ipairs(page) do
		parts[#parts + 1] = i > 1 and "," or nil
		parts[#parts + 1] = service_json(service, call)
	end
	parts[#parts + 1] = string.format('],"page_info":{"total":%d,"page":%d,"size":%d}}', info.total, info.page, info.size)
	return 200, json.text(table.concat(parts))
end

-- The service of the call's service_id at its center, or nil and the error.
local function find_service(call)
	local center, bad = centers.find(call, call.params.center_id, "Invalid center_id is passed.")
	if not center then
		return nil, bad
	end
	local service = call.org:get("services", call.params.service_id)
	if not service or service._center ~= center then
		return nil, call:fail(400, 502, "Service with not found.")
	end
	return service
end

function centers.get_center_service(call)
	local service, bad = find_service(call)
	if not service then
		return bad
	end
	return 200, service_fields(service, call, true)
end

local function therapist_fields(employee)
	local info = employee.personal_info
	return {
		id = employee.id,
		code = employee.code,
		personal_info = {
			first_name = info.first_name,
			last_name = info.last_name,
			name = info.name,
			nick_name = info.nick_name,
			gender = tostring(info.gender), -- a string here, as documented
		},
		job_info = employee.job_info,
	}
end

-- The therapists who perform a service, with its price (the same for each:
-- the sample organization scales no price). The answer's shape is ours:
-- the reference documents none.
function centers.list_service_therapists_pricing(call)
	local service, bad = find_service(call)
	if not service then
		return bad
	end
	return 200, {
		therapists = wire.map(service._therapists, function(employee)
			local out = therapist_fields(employee)
			out.price_info = {
				sale_price = service.price_info.sale_price,
				final_price = service.price_info.final_price,
			}
			return out
		end),
		error = json.null,
	}
end

-- ---- employees and therapists -------------------------------------------------

function centers.list_center_employees(call)
	local center, bad = centers.find(call, call.params.center_id)
	if not center then
		return bad
	end
	local page, info = call:page(center._employees)
	if not page then
		return info
	end
	return 200, {
		employees = wire.map(page, function(employee)
			local info_out = wire.fields(employee.personal_info)
			info_out.nick_name = nil
			return { id = employee.id, code = employee.code, personal_info = info_out, job_info = employee.job_info }
		end),
		error = json.null,
	}
end

-- Therapists active on date (every one when none is given), whose name
-- holds search_text.
function centers.list_center_therapists(call)
	local center, bad = centers.find(call, call.params.center_id)
	if not center then
		return bad
	end
	local day, bad_date = call:date_arg("date")
	if bad_date then
		return bad_date
	end
	local search = call:arg("search_text")
	local list = {}
	for _, employee in ipairs(center._employees) do
		local on_shift = not day or employee._shifts[times.weekday(day)] ~= nil
		local named = not search or employee.personal_info.name:lower():find(search:lower(), 1, true)
		if employee._therapist and on_shift and named then
			list[#list + 1] = employee
		end
	end
	return 200, {
		therapists = wire.map(list, therapist_fields),
		employees = json.null,
		account_status = json.null,
		account_last_four = json.null,
	}
end

-- A stable id for a shift: the same employee and day give the same one.
local function schedule_id(employee, day)
	local seed = 0
	for c in (employee.id .. day):gmatch(".") do
		seed = seed * 31 + c:byte()
	end
	return org.generator(seed).uuid()
end

function centers.list_center_employee_schedules(call)
	local center, bad = centers.find(call, call.params.center_id)
	if not center then
		return bad
	end
	local first, no_first = call:date_arg("start_date", true)
	if not first then
		return no_first
	end
	local last, no_last = call:date_arg("end_date", true)
	if not last then
		return no_last
	elseif last < first then
		return call:invalid("end_date is before start_date.")
	end
	first, last = times.day_of(first), times.day_of(last)
	if (last - first) // times.DAY >= MAX_SCHEDULE_DAYS then
		return call:invalid("The date range cannot be more than " .. MAX_SCHEDULE_DAYS .. " days.")
	end
	local only = call:arg("employee_id")
	local out = json.array()
	for _, employee in ipairs(center._employees) do
		if employee._therapist and (not only or only:lower() == employee.id) then
			local schedules = json.array()
			for day = first, last, times.DAY do
				local shift = employee._shifts[times.weekday(day)]
				if shift then
					schedules[#schedules + 1] = {
						date = times.format_date(day),
						shifts = json.array({
							{
								schedule_id = schedule_id(employee, day),
								start_time = times.format(day + shift[1] * 60),
								end_time = times.format(day + shift[2] * 60),
								status = 1,
								room_id = json.null,
							},
						}),
					}
				end
			end
			out[#out + 1] = {
				employee_id = employee.id,
				employee_name = employee.personal_info.name,
				schedules = schedules,
			}
		end
	end
	return 200, { employee_schedules = out, error = json.null }
end

return centers
