-- Book an appointment, the documented way, end to end: find the guest (or
-- create them), pick a service and a therapist who performs it, create a
-- booking, read its slots, reserve one, confirm it, pay the invoice and
-- close it. A slot taken meanwhile, or a reservation that expired before
-- the confirmation, is handled by trying the next slot.
--
--   pulse-lua --sandbox examples/book_appointment.lua [--date YYYY-MM-DD] [EMAIL]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/book_appointment.lua --date 2026-12-09 ada@example.com
--
-- The API closes an invoice only on its appointment's day: a booking for a
-- later day is paid and left open (code 1113 says why).

local pulse = require("pulse")

local date, email
local i = 1
while arg[i] do
	if arg[i] == "--date" then
		date, i = arg[i + 1], i + 2
	else
		email, i = arg[i], i + 1
	end
end
email = email or "ada.lovelace@example.com"
if date and not date:find("^%d%d%d%d%-%d%d%-%d%d$") then
	error("usage: book_appointment.lua [--date YYYY-MM-DD] [EMAIL]", 0)
end

local client = pulse.new()
local api = client:api()
local function say(fmt, ...)
	print(string.format(fmt, ...))
end

-- 1. The center, and the guest: found by e-mail, or created there.
local center = assert(api.centers.list()).centers[1]
date = date or os.date("%Y-%m-%d")
local found = assert(api.guests.search({ email = email, center_id = center.id }))
local guest = found.guests[1]
if guest then
	say("guest     %s %s (found by e-mail)", guest.personal_info.first_name, guest.personal_info.last_name)
else
	guest = assert(api.guests.create({
		center_id = center.id,
		personal_info = { first_name = "Ada", last_name = "Lovelace", email = email },
	}))
	say("guest     %s %s (created)", guest.personal_info.first_name, guest.personal_info.last_name)
end

-- 2. A service, and a therapist who performs it.
local service = assert(api.centers.services({ center_id = center.id, size = 1 })).services[1]
local therapist = assert(api.centers.list_service_therapists_pricing({
	center_id = center.id,
	service_id = service.id,
})).therapists[1]
say("service   %s, %d min, with %s at %s", service.name, service.duration, therapist.personal_info.name, center.name)

-- 3. The booking (a cart), its slots, and a slot reserved then confirmed.
local function book(day)
	local booking = assert(api.bookings.create({
		center_id = center.id,
		date = day,
		guests = { { id = guest.id, items = { { item = { id = service.id }, therapist = { id = therapist.id } } } } },
	})).id
	local slots = assert(api.bookings.slots({ booking_id = booking }))
	local times = {}
	for _, slot in ipairs(slots.slots) do
		if slot.Available ~= false then
			times[#times + 1] = slot.Time
		end
	end
	return booking, times, slots.next_available_day
end
local booking, times, next_day = book(date)
if #times == 0 and next_day ~= pulse.null then -- none that day: a booking on the API's next day with one
	local asked = date
	date = next_day:sub(1, 10)
	say("date      %s has no free slot; booking on %s", asked, date)
	booking, times = book(date)
end
local confirmed, chosen
for _, time in ipairs(times) do
	local reserved, err = api.bookings.reserve({ booking_id = booking, slot_time = time })
	if reserved and reserved.is_reserved then
		local done, why = api.bookings.confirm({ booking_id = booking, notes = "booked by book_appointment.lua" })
		if done and done.is_confirmed then
			confirmed, chosen = done, time
			break
		end
		say("slot      %s: not confirmed (%s); trying the next", time, tostring(why and why.message))
	else
		say("slot      %s: taken (%s); trying the next", time, tostring(err and err.message))
	end
end
if not confirmed then
	error("no slot could be booked on " .. date, 0)
end
local invoice_id = confirmed.invoice.invoice_id
say("booked    %s", chosen)

-- 4. The invoice paid (a payment taken at the desk) and closed.
local invoice = assert(api.invoices.get({ invoice_id = invoice_id })).invoice
local balance = invoice.invoice_dues.balance
assert(api.invoices.add_custom_payment({ invoice_id = invoice_id }, { extra = { amount = balance } }))
say("paid      %.2f on invoice %s", balance, invoice.invoice_number)
local closed, err = api.invoices.close({ invoice_id = invoice_id })
if closed then
	say("closed    invoice %s", invoice.invoice_number)
elseif err.code == 1113 then
	say("open      invoice %s stays open until the appointment's day (code 1113)", invoice.invoice_number)
else
	error(err, 0)
end
say("%d calls", client:stats().requests)
client:close()
