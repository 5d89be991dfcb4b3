-- The booking workflow (core-domain.md section 6): create a booking (a
-- cart of guests and the services each wants) -> its available slots ->
-- reserve one (held against other bookings until its expiry_time) ->
-- confirm (before expiry), which makes the appointment group and its
-- invoice. A booking that names a guest's open invoice and its items
-- reschedules them: its confirmation moves those appointments.
--
-- Slots come from the therapists' shifts, the services' durations plus
-- recovery, the appointments there are and the live reservations of
-- other bookings, at a granularity of 15 minutes. The sandbox answers one
-- request at a time, so of two reservations racing for one therapist's
-- time exactly one wins.

local json = require("pulse.sandbox.json")
local centers = require("pulse.sandbox.v1.centers")
local org = require("pulse.sandbox.org")
local times = require("pulse.sandbox.times")
local wire = require("pulse.sandbox.wire")

local bookings = {}

local GRANULARITY = 15 * 60
-- How many days after the booking's date the slots look for the next
-- available day (the reference: a later day of the current week).
local LOOK_AHEAD_DAYS = 6

-- ---- creating a booking -------------------------------------------------------------

-- One guest's part of a booking, from the request's guests[i]; or nil and
-- the error answer.
local function booking_guest(call, center, input)
	if type(input) ~= "table" or type(input.items) ~= "table" or #input.items == 0 then
		return nil, call:missing("items")
	end
	local guest = call.org:get("guests", input.id)
	if not guest then
		return nil, call:fail(400, 502, "Invalid guest id.")
	end
	local part = { guest = guest, items = {} }
	if input.invoice_id ~= nil and input.invoice_id ~= json.null then
		local invoice = call.org:get("invoices", input.invoice_id)
		if not invoice or invoice._guest ~= guest or not invoice._group then
			return nil, call:fail(400, 428, "Request invoices are Invalid.")
		elseif invoice.is_closed or invoice._status ~= org.INVOICE_STATUS.open then
			return nil, call:fail(400, 5001, "Appointment cannot be rescheduled.")
		end
		part.invoice = invoice
	end
	for _, entry in ipairs(input.items) do
		local item = type(entry) == "table" and entry.item
		local service = type(item) == "table" and call.org:get("services", item.id)
		if not service or service._center ~= center then
			return nil, call:fail(400, 502, "Service with not found.")
		end
		local line = { service = service }
		local wanted = type(entry.therapist) == "table" and entry.therapist.id
		if wanted and wanted ~= "" and wanted ~= json.null then
			local therapist = call.org:get("employees", wanted)
			if not therapist or therapist._center ~= center or not therapist._services[service.id] then
				return nil, call:fail(400, 502, "Invalid therapist id.")
			end
			line.therapist = therapist
		end
		if part.invoice then
			for _, a in ipairs(part.invoice._group._appointments) do
				if a._item.invoice_item_id == entry.invoice_item_id then
					line.moves = a
				end
			end
			if not line.moves then
				return nil, call:fail(400, 502, "Invalid invoice_item_id.")
			end
		end
		table.insert(part.items, line)
	end
	return part
end

function bookings.create_booking(call)
	local input, invalid = call:body()
	if not input then
		return invalid
	end
	local center, bad = centers.find(call, input.center_id ~= json.null and input.center_id or nil)
	if not center then
		return bad
	end
	if input.date == nil then
		return call:missing("date")
	end
	local date = type(input.date) == "string" and times.parse(input.date)
	if not date then
		return call:invalid("date is not a date.")
	end
	if type(input.guests) ~= "table" or #input.guests == 0 then
		return call:missing("guests")
	end
	local booking = { id = call.org.random.uuid(), _center = center, _date = times.day_of(date), _guests = {} }
	for i, entry in ipairs(input.guests) do
		local part, why = booking_guest(call, center, entry)
		if not part then
			return why
		end
		booking._guests[i] = part
	end
	call.org:add("bookings", booking)
	return 200, { id = booking.id, error = json.null }
end

-- ---- slots ----------------------------------------------------------------------------------

local function live(reservation, now)
	return reservation and not reservation.confirmed and now < reservation.expiry
end

-- Whether therapist is held from start to finish by another booking's live
-- reservation, or by the plan being made.
local function held(call, booking, plan, therapist, start, finish)
	local function busy(steps)
		for _, step in ipairs(steps) do
			if step.therapist == therapist and start < step.finish and step.start < finish then
				return true
			end
		end
		return false
	end
	if busy(plan) then
		return true
	end
	for _, other in ipairs(call.org.bookings) do
		if other ~= booking and live(other._reservation, call.now) and busy(other._reservation.plan) then
			return true
		end
	end
	return false
end

-- Who can give line's service from start (local seconds): a therapist on
-- shift for the service's whole duration, free for it and its recovery.
local function therapist_for(call, booking, plan, line, start)
	local service = line.service
	local finish = start + service.duration * 60
	local through = finish + service.recovery_time * 60
	local weekday = times.weekday(start)
	local day = times.day_of(start)
	local ignore = line.moves and line.moves._group
	local candidates = line.therapist and { line.therapist } or service._therapists
	for _, therapist in ipairs(candidates) do
		local shift = therapist._shifts[weekday]
		if
			shift
			and start >= day + shift[1] * 60
			and finish <= day + shift[2] * 60
			and org.therapist_free(therapist, start, through, ignore)
			and not held(call, booking, plan, therapist, start, through)
		then
			return therapist, through
		end
	end
end

-- The plan of booking at start (local seconds): every guest from start,
-- each guest's services one after another; a list of steps { line, guest,
-- therapist, start, finish }, or nil when some service has no therapist.
local function plan_at(call, booking, start)
	local plan = {}
	for _, part in ipairs(booking._guests) do
		local at = start
		for _, line in ipairs(part.items) do
			local therapist, through = therapist_for(call, booking, plan, line, at)
			if not therapist then
				return nil
			end
			plan[#plan + 1] = { line = line, part = part, therapist = therapist, start = at, finish = through }
			at = through
		end
	end
	return plan
end

local function sale_price(booking)
	local price = 0
	for _, part in ipairs(booking._guests) do
		for _, line in ipairs(part.items) do
			price = price + line.service.price_info.sale_price
		end
	end
	return price
end

-- The slots of booking on day (the center's midnight): start times from
-- the center's opening, after now.
local function slots_on(call, booking, day)
	local center = booking._center
	local open, close = org.hours(center, times.weekday(day))
	local slots = json.array()
	if not open then
		return slots
	end
	local now = org.local_time(center, call.now)
	for start = day + open * 60, day + close * 60 - GRANULARITY, GRANULARITY do
		if start > now and plan_at(call, booking, start) then
			slots[#slots + 1] = {
				Time = times.format(start),
				Warnings = json.array(),
				Priority = 0,
				Available = true,
				SalePrice = sale_price(booking),
			}
		end
	end
	return slots
end

local function find_booking(call)
	return call:find("bookings", call.params.booking_id, 400, 502, "Invalid booking id.")
end

-- The slots of the booking's date; when it has none, next_available_day
-- is the first slot of the next day of the week that has one.
function bookings.list_booking_slots(call)
	local booking, bad = find_booking(call)
	if not booking then
		return bad
	end
	local slots = slots_on(call, booking, booking._date)
	local next_day = json.null
	local future_days = json.array()
	local look_ahead = call:flag("check_future_day_availability", false)
	if #slots == 0 or look_ahead then
		for k = 1, LOOK_AHEAD_DAYS do
			local day = booking._date + k * times.DAY
			local later = slots_on(call, booking, day)
			if #later > 0 then
				if next_day == json.null and #slots == 0 then
					next_day = later[1].Time
				end
				if look_ahead then
					future_days[#future_days + 1] = times.format_date(day)
				end
			end
		end
	end
	return 200, { slots = slots, future_days = future_days, next_available_day = next_day, Error = json.null }
end

-- ---- reserve and confirm ---------------------------------------------------------

local function invoice_of(invoice, part)
	local info = part.guest.personal_info
	return {
		invoice_id = invoice.id,
		guest = { id = part.guest.id, first_name = info.first_name, last_name = info.last_name },
		items = json.copy_array(invoice._items),
	}
end

function bookings.reserve_booking_slot(call)
	local booking, bad = find_booking(call)
	if not booking then
		return bad
	end
	local input, invalid = call:body()
	if not input then
		return invalid
	end
	if input.slot_time == nil then
		return call:missing("slot_time")
	end
	local start = type(input.slot_time) == "string" and times.parse(input.slot_time)
	if not start then
		return call:invalid("slot_time is not a date-time.")
	end
	local center = booking._center
	if booking._reservation and booking._reservation.confirmed then
		return call:fail(400, 400, "The booking is already confirmed.")
	end
	local plan = start > org.local_time(center, call.now) and plan_at(call, booking, start)
	if not plan then
		return 400, {
			is_reserved = false,
			error = { code = 400, message = "The slot is not available: pick another date/time." },
		}
	end
	local hold = call.config.reservation_hold or 600
	local reservation = {
		id = call.org.random.uuid(),
		start = start,
		plan = plan,
		expiry = call.now + hold,
	}
	local invoices = json.null
	if input.create_invoice == true then
		-- A temporary invoice, voided if the reservation is not confirmed.
		local part = booking._guests[1]
		reservation.invoice = call.org:new_invoice(call.org.random, center, part.guest, start)
		invoices = invoice_of(reservation.invoice, part)
	end
	booking._reservation = reservation
	return 200, {
		is_reserved = true,
		reservation_id = reservation.id,
		expiry_time = times.format(org.local_time(center, reservation.expiry)),
		blocking_time = math.ceil(hold / 60), -- minutes (ours: the reference gives no unit)
		invoices = invoices,
		error = json.null,
	}
end

-- Makes the reservation's plan appointments: new groups (one per guest),
-- or the rescheduled appointments moved. Returns the first guest's invoice.
local function book_plan(call, booking, reservation, notes)
	local center = booking._center
	local created = org.local_time(center, call.now)
	local first_invoice
	for i, part in ipairs(booking._guests) do
		local lines, start = {}, nil
		for _, step in ipairs(reservation.plan) do
			if step.part == part then
				start = start or step.start
				if step.line.moves then
					org.move(step.line.moves, step.therapist, step.start)
				else
					lines[#lines + 1] = { step.line.service, step.therapist }
				end
			end
		end
		local invoice = part.invoice
		if #lines > 0 then
			local reuse = i == 1 and reservation.invoice or nil
			local group = call.org:book(call.org.random, center, part.guest, start, lines, org.STATUS.new, created, reuse)
			group._notes = notes or json.null
			invoice = group._invoice
			call.events:emit("AppointmentGroup", "AppointmentGroup.Created", bookings.group_event(group))
		end
		first_invoice = first_invoice or invoice_of(invoice, part)
	end
	return first_invoice
end

-- The data of an AppointmentGroup.Created event.
function bookings.group_event(group)
	local invoice, guest, center = group._invoice, group._guest, group._center
	return {
		invoice_id = invoice.id,
		invoice_number = invoice.invoice_number,
		invoice_number_prefix = invoice.invoice_number_prefix,
		utm_source = json.null,
		utm_medium = json.null,
		appointment_group_id = group.id,
		organization_id = json.null,
		center_id = center.id,
		center_Name = center.name,
		guest = {
			id = guest.id,
			first_name = guest.personal_info.first_name,
			last_name = guest.personal_info.last_name,
			email = guest.personal_info.email,
		},
		appointments = wire.map(group._appointments, function(a)
			return {
				id = a.id,
				service_id = a._service.id,
				service_name = a._service.name,
				therapist_id = a._therapist.id,
				start_time = times.format(a._start),
			}
		end),
	}
end

-- Confirms the booking's reservation, before it expires: 4072 after (an
-- assumption of ours: the reference lists 4072 as "pick date/time again").
function bookings.confirm_booking(call)
	local booking, bad = find_booking(call)
	if not booking then
		return bad
	end
	local input, invalid = call:optional_body()
	if not input then
		return invalid
	end
	local reservation = booking._reservation
	if not reservation then
		return call:fail(400, 4072, "The booking has no reserved slot: pick date/time again.")
	elseif reservation.confirmed then
		return call:fail(400, 400, "The booking is already confirmed.")
	elseif not live(reservation, call.now) then
		return call:fail(400, 4072, "The reservation expired: pick date/time again.")
	end
	reservation.confirmed = true
	local notes = type(input.notes) == "string" and input.notes or nil
	return 200, { is_confirmed = true, invoice = book_plan(call, booking, reservation, notes), error = json.null }
end

return bookings
