-- /v1 appointments: a center's by date range (a bare JSON array, at most
-- seven days), one appointment, a guest's (as appointment groups), and
-- the status changes check in, undo check in and no show, keyed by the
-- appointment group. core-domain.md section 5.

local json = require("pulse.sandbox.json")
local centers = require("pulse.sandbox.v1.centers")
local guests = require("pulse.sandbox.v1.guests")
local org = require("pulse.sandbox.org")
local times = require("pulse.sandbox.times")
local wire = require("pulse.sandbox.wire")

local appointments = {}

local MAX_WINDOW_DAYS = 7

local function gender_of(person)
	return person.personal_info.gender
end

-- The wire form of an appointment, as the center's list and get write it.
function appointments.fields(a)
	local group, service, therapist = a._group, a._service, a._therapist
	local center, guest = group._center, group._guest
	local finish = a._start + service.duration * 60
	local info = guest.personal_info
	local mobile = info.mobile_phone ~= json.null and info.mobile_phone or nil
	return {
		appointment_id = a.id,
		appointment_segment_id = json.null,
		appointment_group_id = group.id,
		invoice_id = group._invoice.id,
		service = {
			id = service.id,
			name = service.name,
			is_addon = false,
			has_addons = false,
			parent_appointment_id = json.null,
			category = { id = service._category.id, name = service._category.name },
			sub_category = json.null,
		},
		start_time = times.format(a._start),
		start_time_utc = times.format(org.utc_time(center, a._start)),
		end_time = times.format(finish),
		end_time_utc = times.format(org.utc_time(center, finish)),
		status = a._status,
		source = 0,
		progress = 0,
		locked = false,
		invoice_locked = group._invoice.is_closed,
		has_active_membership_for_auto_pay = false,
		guest = {
			id = guest.id,
			first_name = info.first_name,
			last_name = info.last_name,
			gender = gender_of(guest),
			mobile = {
				country_id = mobile and mobile.country_code or 0,
				number = mobile and mobile.number or json.null,
				display_number = mobile and "+1 " .. mobile.number or json.null,
			},
			email = info.email,
		},
		therapist = {
			id = therapist.id,
			first_name = therapist.personal_info.first_name,
			last_name = therapist.personal_info.last_name,
			nick_name = json.null,
			display_name = json.null,
			email = therapist.email,
			gender = gender_of(therapist),
			vanity_image_url = "",
		},
		room = json.null,
		equipment = json.null,
		notes = group._notes,
		price = json.null,
		actual_start_time = json.null,
		actual_completed_time = json.null,
		checkin_time = json.null,
		therapist_preference_type = 0,
		blockout = json.null,
		creation_date = times.format(group._created),
		creation_date_utc = times.format(org.utc_time(center, group._created)),
		created_by_id = json.null,
		closed_by_id = json.null,
		group_invoice_id = json.null,
		error = json.null,
	}
end

-- The wire form of an appointment group, as a guest's list writes it.
local function group_fields(group)
	local invoice = group._invoice
	local services = json.array()
	local total = { currency_id = 0, sales = 0, tax = 0, final = 0 }
	for i, a in ipairs(group._appointments) do
		local service, item = a._service, a._item
		services[i] = {
			appointment_id = a.id,
			invoice_item_id = item.invoice_item_id,
			cart_item_id = a._cart_item,
			service = {
				id = service.id,
				name = service.name,
				display_name = json.null,
				price = {
					currency_id = item.price.currency_id,
					sales = item.price.sales,
					tax = item.price.tax,
					final = item.price.final,
				},
				duration = service.duration,
				category_id = service._category.id,
				is_addon = false,
				has_addons = json.null,
				addons = json.null,
				is_variant = json.null,
				has_variant = json.null,
				parent_service_id = json.null,
			},
			requested_therapist_gender = 0,
			start_time = times.format(a._start),
			end_time = times.format(a._start + service.duration * 60),
			room = json.null,
			equipment = json.null,
			appointment_status = a._status,
			requested_therapist_id = a._therapist.id,
			quantity = 1,
			actual_start_time = json.null,
			completed_time = json.null,
			progress = 0,
			is_addon = false,
			has_segments = false,
			segments = json.null,
		}
		total.currency_id = item.price.currency_id
		total.sales = org.round_money(total.sales + item.price.sales)
		total.tax = org.round_money(total.tax + item.price.tax)
		total.final = org.round_money(total.final + item.price.final)
	end
	return {
		appointment_group_id = group.id,
		no_of_guests = 1,
		invoice_id = invoice.id,
		invoice_status = invoice._status,
		is_rebooking = false,
		notes = group._notes,
		center_id = group._center.id,
		appointment_services = services,
		appointment_packages = json.array(),
		price = total,
		group_invoice_id = json.null,
		is_feedback_submitted = false,
	}
end

function appointments.list_appointments(call)
	local center, bad = centers.find(call, call:arg("center_id"))
	if not center then
		return bad
	end
	local first, why = call:date_arg("start_date", true)
	if not first then
		return why
	end
	local last, no_last = call:date_arg("end_date", true)
	if not last then
		return no_last
	end
	first, last = times.day_of(first), times.day_of(last)
	if last < first then
		return call:invalid("end_date is before start_date.")
	elseif (last - first) // times.DAY > MAX_WINDOW_DAYS then
		return call:invalid("The date range cannot be more than " .. MAX_WINDOW_DAYS .. " days.")
	end
	local therapist = call:arg("therapist_id")
	local all = call:flag("include_no_show_cancel", false)
	local list = wire.filter(call.org.appointments, function(a)
		local hidden = a._status == org.STATUS.no_show or a._status == org.STATUS.cancelled
		return a._group._center == center
			and a._start >= first
			and a._start < last + times.DAY
			and (all or not hidden)
			and (not therapist or a._therapist.id == therapist:lower())
	end)
	table.sort(list, function(x, y)
		return x._start < y._start or (x._start == y._start and x.id < y.id)
	end)
	return 200, wire.map(list, appointments.fields)
end

function appointments.get_appointment(call)
	local a, missing = call:find("appointments", call.params.appointment_id, 404, 410, "Appointment could not be found.")
	if not a then
		return missing
	end
	return 200, appointments.fields(a)
end

function appointments.list_guest_appointments(call)
	local guest, bad = guests.find(call, call.params.guest_id)
	if not guest then
		return bad
	end
	local first, bad_first = call:date_arg("start_date")
	local last, bad_last = call:date_arg("end_date")
	if bad_first or bad_last then
		return bad_first or bad_last
	end
	local list = wire.filter(guest._groups or {}, function(group)
		local start = group._appointments[1]._start
		return (not first or start >= times.day_of(first)) and (not last or start < times.day_of(last) + times.DAY)
	end)
	table.sort(list, function(x, y)
		return x._appointments[1]._start > y._appointments[1]._start
	end)
	local page, info = call:page(list)
	if not page then
		return info
	end
	return 200, { appointments = wire.map(page, group_fields), page_info = info }
end

-- ---- status changes -----------------------------------------------------------------

-- The group of the call's appointment_group_id, or nil and the error.
local function find_group(call)
	return call:find("groups", call.params.appointment_group_id, 404, 410, "Appointment could not be found.")
end

local function set_status(group, status)
	for _, a in ipairs(group._appointments) do
		a._status = status
	end
end

-- Whether the group's day is after today, the center's.
local function future_dated(call, group)
	local center = group._center
	return times.day_of(group._appointments[1]._start) > times.day_of(org.local_time(center, call.now))
end

function appointments.check_in_appointment(call)
	local group, bad = find_group(call)
	if not group then
		return bad
	end
	if group._invoice.is_closed then
		return call:fail(400, 734, "Cannot check in an appointment whose invoice is closed.")
	elseif future_dated(call, group) then
		return call:fail(400, 727, "Cannot check in a future-dated appointment.")
	end
	set_status(group, org.STATUS.checkin)
	return 200, { success = true, error = json.null }
end

function appointments.undo_check_in_appointment(call)
	local group, bad = find_group(call)
	if not group then
		return bad
	end
	if group._invoice.is_closed then
		return call:fail(400, 735, "Cannot undo the check in of an appointment whose invoice is closed.")
	elseif future_dated(call, group) then
		return call:fail(400, 736, "Cannot undo the check in of a future-dated appointment.")
	end
	set_status(group, org.STATUS.new)
	return 200, { success = true, error = json.null }
end

function appointments.mark_appointment_no_show(call)
	local group, bad = find_group(call)
	if not group then
		return bad
	end
	if group._appointments[1]._status == org.STATUS.no_show then
		return 200, { success = true, is_charge_applied = false }
	end
	if group._invoice.is_closed or #group._invoice._transactions > 0 then
		return call:fail(400, 400, "The invoice has payments or is closed: the appointment cannot be marked no show.")
	end
	local input, invalid = call:optional_body()
	if not input then
		return invalid
	end
	if type(input.comments) == "string" then
		group._notes = input.comments
	end
	set_status(group, org.STATUS.no_show)
	return 200, { success = true, is_charge_applied = false }
end

return appointments
