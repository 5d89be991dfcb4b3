-- The sample organization the sandbox's /v1 API serves: centers with
-- working hours and a time zone, their services, employees (most of them
-- therapists, with schedules and the services each performs), guests, and
-- appointments over the past and coming two weeks with their invoices.
-- Sample data, made up from the seed with names and values of our own:
-- the same seed and options make the same organization, ids included.
--
-- Records hold their wire fields (the API's spellings) and, under keys
-- starting with an underscore, what the sandbox keeps beside them (times
-- as seconds, links to other records); wire.lua writes only the former.

local json = require("pulse.sandbox.json")
local times = require("pulse.sandbox.times")

local org = {}

-- ---- a seeded generator (splitmix64) ----------------------------------------

local function generator(seed)
	local state = seed
	local function next_value()
		state = state + 0x9E3779B97F4A7C15
		local z = state
		z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ~ (z >> 27)) * 0x94D049BB133111EB
		return z ~ (z >> 31)
	end
	local random = {}
	-- A whole number from 1 to n.
	function random.int(n)
		return next_value() % n + 1
	end
	function random.pick(list)
		return list[random.int(#list)]
	end
	function random.chance(p)
		return random.int(1000) <= p * 1000
	end
	-- A lower-case UUID (version 4 layout).
	function random.uuid()
		local a, b = next_value(), next_value()
		local hex = string.format("%016x%016x", a, b)
		return string.format(
			"%s-%s-4%s-%s%s-%s",
			hex:sub(1, 8),
			hex:sub(9, 12),
			hex:sub(14, 16),
			string.format("%x", 8 + (b >> 60 & 3)),
			hex:sub(18, 20),
			hex:sub(21, 32)
		)
	end
	return random
end
org.generator = generator

-- ---- what the organization is made of ---------------------------------------

local CENTERS = {
	{ name = "Harbor Street", offset = -300, zone = 1 },
	{ name = "Maple Court", offset = -480, zone = 2 },
	{ name = "Riverside", offset = 60, zone = 3 },
	{ name = "Northgate", offset = -360, zone = 4 },
	{ name = "Elm Park", offset = 330, zone = 5 },
	{ name = "Lakeview", offset = 0, zone = 6 },
}

-- name, code, category, duration, recovery time (minutes), price
local SERVICES = {
	{ "Swedish Massage 60", "MSW60", "Massage", 60, 10, 95 },
	{ "Deep Tissue 90", "MDT90", "Massage", 90, 15, 140 },
	{ "Hot Stone 75", "MHS75", "Massage", 75, 15, 120 },
	{ "Back and Neck 30", "MBN30", "Massage", 30, 5, 55 },
	{ "Classic Facial", "SCF60", "Skin", 60, 10, 85 },
	{ "Hydrating Facial", "SHF45", "Skin", 45, 10, 75 },
	{ "Express Peel", "SEP30", "Skin", 30, 5, 60 },
	{ "Cut and Style", "HCS45", "Hair", 45, 0, 50 },
	{ "Colour Refresh", "HCR90", "Hair", 90, 15, 110 },
	{ "Blow-dry", "HBD30", "Hair", 30, 0, 35 },
	{ "Manicure", "NMA30", "Nails", 30, 5, 30 },
	{ "Pedicure", "NPE45", "Nails", 45, 5, 45 },
}
local CATEGORIES = { "Massage", "Skin", "Hair", "Nails" }

local FIRST = {
	"Alba", "Bruno", "Cleo", "Dario", "Elif", "Femi", "Greta", "Hamza", "Ines", "Jonas", "Kaia",
	"Luca", "Mira", "Nils", "Odile", "Pavel", "Rosa", "Sami", "Tove", "Umar", "Vera", "Wim", "Yara",
	"Zeno"
}
local LAST = {
	"Ashdown", "Brightwater", "Calloway", "Dunmore", "Eastwood", "Fairbanks", "Glenholm", "Hartley",
	"Ivesdale", "Kingsley", "Larkspur", "Merriweather", "Northcott", "Oakhurst", "Pennington",
	"Redfern", "Stanwick", "Thornbury", "Underhill", "Westbrook"
}
local STREETS = { "Quarry Lane", "Beacon Road", "Willow Row", "Copper Street", "Sable Avenue", "Tern Close" }
local CITIES = { "Port Alder", "Westmere", "Hollin Bay", "Cranfield" }
local TAGS = { "VIP", "New Guest", "Prefers Mornings", "Sensitive Skin" }

-- The vendor's id of the country of the sample phones and addresses (its
-- ids come from GET /v1/countries; this one stands for +1).
local COUNTRY_ID = 225
local CURRENCY_ID = 1 -- the sandbox's own
local TAX_RATE = 0.08

-- Appointment and invoice states (the reference's enums).
org.STATUS = { no_show = -2, cancelled = -1, new = 0, closed = 1, checkin = 2, confirm = 4 }
org.INVOICE_STATUS = { open = 0, closed = 4, voided = 99 }

local function round_money(x)
	return math.floor(x * 100 + 0.5) / 100
end
org.round_money = round_money

-- ---- the store -----------------------------------------------------------------

local Org = {}
Org.__index = Org

-- Adds record to the kind's list and index, by its id.
function Org:add(kind, record)
	local list = self[kind]
	list[#list + 1] = record
	self.by_id[kind][record.id] = record
	return record
end

-- How many records of each kind the organization holds now.
function Org:counts()
	local counts = {}
	for kind in pairs(self.by_id) do
		counts[kind] = #self[kind]
	end
	return counts
end

function Org:get(kind, id)
	return type(id) == "string" and self.by_id[kind][id:lower()] or nil
end

-- The center's local time of a moment (UTC seconds), and back.
function org.local_time(center, utc)
	return utc + center._offset * 60
end
function org.utc_time(center, local_seconds)
	return local_seconds - center._offset * 60
end

-- The working hours of center on weekday (0 Sunday), as minutes after
-- midnight: open, close; nil when closed.
function org.hours(center, weekday)
	local day = center._hours[weekday]
	if day then
		return day[1], day[2]
	end
end

-- ---- making it --------------------------------------------------------------------

local function make_center(self, random, i, spec)
	local center = {
		id = random.uuid(),
		code = string.format("SB%02d", i),
		name = spec.name,
		display_name = spec.name .. " (sample)",
		phone = string.format("555%07d", random.int(9999999)),
		email = string.format("frontdesk%d@sample.invalid", i),
		time_zone_id = spec.zone,
		currency_id = CURRENCY_ID,
		_offset = spec.offset,
		_hours = {},
	}
	for weekday = 1, 6 do
		center._hours[weekday] = { 9 * 60, 19 * 60 }
	end
	if i % 2 == 1 then
		center._hours[0] = { 10 * 60, 16 * 60 }
	end
	self:add("centers", center)
	center._categories = {}
	for _, name in ipairs(CATEGORIES) do
		center._categories[name] = { id = random.uuid(), name = name }
	end
	center._services, center._employees, center._guests = {}, {}, {}
	return center
end

local function make_services(self, random, center)
	local tax_id = random.uuid()
	for _, s in ipairs(SERVICES) do
		local price = s[6] + (random.int(5) - 3) * 5
		local tax = round_money(price * TAX_RATE)
		local service = self:add("services", {
			id = random.uuid(),
			code = s[2],
			name = s[1],
			description = "Sample service: " .. s[1] .. ".",
			duration = s[4],
			recovery_time = s[5],
			is_couple_service = false,
			price_info = {
				currency_id = CURRENCY_ID,
				sale_price = price,
				tax_id = tax_id,
				ssg = 0,
				include_tax = false,
				demand_group_id = "",
				tax = tax,
				price_without_tax = price,
				final_price = round_money(price + tax),
			},
			_center = center,
			_category = center._categories[s[3]],
			_therapists = {},
		})
		table.insert(center._services, service)
	end
end

local function person_name(random)
	return random.pick(FIRST), random.pick(LAST)
end

-- Six therapists, each performing the services of two categories (every
-- category has three), on five days a week, in a morning or a late shift;
-- a front desk and a manager, who perform none.
local function make_employees(self, random, center)
	local jobs = {
		{ id = random.uuid(), name = "Senior Therapist" },
		{ id = random.uuid(), name = "Therapist" },
		{ id = random.uuid(), name = "Front Desk" },
		{ id = random.uuid(), name = "Center Manager" },
	}
	for i = 1, 8 do
		local first, last = person_name(random)
		local job = jobs[i <= 2 and 1 or i <= 6 and 2 or i - 4]
		local employee = self:add("employees", {
			id = random.uuid(),
			code = string.format("E%s%02d", center.code:sub(3), i),
			personal_info = {
				first_name = first,
				last_name = last,
				name = first .. " " .. last,
				nick_name = "",
				gender = random.pick({ 0, 1, 3, -1 }),
			},
			job_info = job,
			email = string.format("%s.%s@sample.invalid", first:lower(), last:lower()),
			_center = center,
			_therapist = i <= 6,
			_services = {},
			_shifts = {},
		})
		table.insert(center._employees, employee)
		if employee._therapist then
			-- Therapist i takes categories i and i+1 (mod 4): three each.
			for k = 0, 1 do
				local category = CATEGORIES[(i + k - 1) % #CATEGORIES + 1]
				for _, service in ipairs(center._services) do
					if service._category.name == category then
						employee._services[service.id] = true
						table.insert(service._therapists, employee)
					end
				end
			end
			local off = random.int(7) - 1
			local late = i % 2 == 0
			for weekday = 0, 6 do
				local open, close = org.hours(center, weekday)
				if open and weekday ~= off and weekday ~= (off + 3) % 7 then
					employee._shifts[weekday] = late and { math.max(open, close - 8 * 60), close }
						or { open, math.min(close, open + 8 * 60) }
				end
			end
		end
	end
end

local function phone(random)
	return { country_code = COUNTRY_ID, number = string.format("555%07d", random.int(9999999)) }
end

local function make_guest(self, random, center, n, now)
	local first, last = person_name(random)
	local user = string.format("%s.%s%d", first:lower(), last:lower(), n)
	local born = times.parse_date(string.format("%d-%02d-%02d", 1950 + random.int(55), random.int(12), random.int(28)))
	local created = now - random.int(700) * times.DAY
	local tags = json.array(random.chance(0.3) and { random.pick(TAGS) } or {})
	local therapist = center._employees[random.int(6)]
	return self:add("guests", {
		id = random.uuid(),
		code = string.format("G%s%04d", center.code:sub(3), n),
		center_id = center.id,
		center_name = center.name,
		created_date = times.format(org.local_time(center, created)),
		personal_info = {
			user_name = user,
			first_name = first,
			last_name = last,
			middle_name = "",
			email = user .. "@sample.invalid",
			mobile_phone = phone(random),
			work_phone = random.chance(0.2) and phone(random) or json.null,
			home_phone = random.chance(0.2) and phone(random) or json.null,
			gender = random.pick({ 0, 1, 3, -1 }),
			date_of_birth = random.chance(0.7) and times.format(born) or times.NONE,
			is_minor = false,
			nationality_id = COUNTRY_ID,
			anniversary_date = times.NONE,
			lock_guest_custom_data = false,
			pan = "",
		},
		address_info = {
			address_1 = string.format("%d %s", random.int(400), random.pick(STREETS)),
			address_2 = "",
			city = random.pick(CITIES),
			country_id = COUNTRY_ID,
			state_id = -1,
			state_other = "",
			zip_code = string.format("%05d", random.int(99999)),
		},
		preferences = {
			receive_transactional_email = true,
			receive_transactional_sms = random.chance(0.8),
			receive_marketing_email = random.chance(0.5),
			receive_marketing_sms = random.chance(0.3),
			recieve_lp_stmt = random.chance(0.5),
			preferred_therapist = random.chance(0.3)
					and { id = therapist.id, name = therapist.personal_info.name }
				or json.null,
		},
		tags = tags,
		referral = json.null,
		primary_employee = json.null,
		_center = center,
		_updated = created + random.int(600) * times.DAY // 2,
	})
end

-- ---- appointments and invoices ----------------------------------------------------

-- Whether therapist is free from start to finish (local seconds) in the
-- appointments made so far, recovery time included.
function org.therapist_free(therapist, start, finish, ignore_group)
	for _, a in ipairs(therapist._appointments or {}) do
		if
			a._status ~= org.STATUS.cancelled
			and a._group ~= ignore_group
			and start < a._finish
			and a._start < finish
		then
			return false
		end
	end
	return true
end

-- A new open invoice for a guest at center (no items yet).
function Org:new_invoice(random, center, guest, at)
	self.invoice_count = self.invoice_count + 1
	return self:add("invoices", {
		id = random.uuid(),
		invoice_number = tostring(100000 + self.invoice_count),
		invoice_number_prefix = "SB",
		receipt_number = "",
		group_invoice_id = json.null,
		lock = false,
		is_closed = false,
		is_refund = false,
		invoice_date = times.format(at),
		has_redemptions = false,
		center_id = center.id,
		gstin = "",
		gst_sequence = { prefix = "", number = "" },
		_center = center,
		_guest = guest,
		_items = {},
		_transactions = {},
		_status = org.INVOICE_STATUS.open,
	})
end

-- Adds an appointment group of guest's services at center, in order from
-- start (local seconds), each with its therapist: { {service, therapist}, ... },
-- on invoice (an open one without items: a reservation's), or a new one.
-- Returns the group.
function Org:book(random, center, guest, start, lines, status, created, invoice)
	invoice = invoice or self:new_invoice(random, center, guest, start)
	local group = self:add("groups", {
		id = random.uuid(),
		_center = center,
		_guest = guest,
		_invoice = invoice,
		_appointments = {},
		_created = created,
		_notes = json.null,
	})
	invoice._group = group
	local at = start
	for _, line in ipairs(lines) do
		local service, therapist = line[1], line[2]
		local item = {
			invoice_item_id = random.uuid(),
			id = service.id,
			name = service.name,
			type = 0,
			is_giftcard = json.null,
			code = service.code,
			price = {
				currency_id = CURRENCY_ID,
				sales = service.price_info.sale_price,
				tax = service.price_info.tax,
				final = service.price_info.final_price,
				discount = 0,
			},
			quantity = 1,
			sale_by_id = therapist.id,
			therapist_name = therapist.personal_info.name,
			sac = "",
		}
		table.insert(invoice._items, item)
		local appointment = self:add("appointments", {
			id = random.uuid(),
			_group = group,
			_service = service,
			_therapist = therapist,
			_item = item,
			_start = at,
			_finish = at + (service.duration + service.recovery_time) * 60,
			_status = status,
			_cart_item = random.uuid(),
		})
		therapist._appointments = therapist._appointments or {}
		table.insert(therapist._appointments, appointment)
		table.insert(group._appointments, appointment)
		at = at + (service.duration + service.recovery_time) * 60
	end
	guest._groups = guest._groups or {}
	table.insert(guest._groups, group)
	return group
end

-- Moves an appointment to start (local seconds) with therapist: a
-- reschedule's confirmation.
function org.move(appointment, therapist, start)
	local old = appointment._therapist._appointments
	for i, a in ipairs(old) do
		if a == appointment then
			table.remove(old, i)
			break
		end
	end
	local service = appointment._service
	appointment._therapist, appointment._start = therapist, start
	appointment._finish = start + (service.duration + service.recovery_time) * 60
	appointment._item.sale_by_id = therapist.id
	appointment._item.therapist_name = therapist.personal_info.name
	therapist._appointments = therapist._appointments or {}
	table.insert(therapist._appointments, appointment)
end

-- What the invoice's guest owes and has paid.
function org.dues(invoice)
	local total, paid = 0, 0
	for _, item in ipairs(invoice._items) do
		total = total + item.price.final * item.quantity
	end
	for _, t in ipairs(invoice._transactions) do
		paid = paid + t.amount_paid
	end
	return round_money(total), round_money(paid)
end

function org.pay(random, invoice, amount, tip, when, name)
	local transaction = {
		payment_option = {
			id = random.uuid(),
			payment_mode = 0,
			payment_name = name or "CASH",
			card_number = "",
			additional_data = json.null,
		},
		total_amount_paid = round_money(amount + tip),
		amount_paid = round_money(amount),
		tip_amount = round_money(tip),
		ssg_amount = 0,
		donation_amount = 0,
		fee_amount = 0,
		cash_back_amount = 0,
		transaction_id = random.uuid(),
		payment_date = times.format(when),
		cash_regester_id = json.null,
		gst_sequences = json.array({}),
	}
	table.insert(invoice._transactions, transaction)
	return transaction
end

function org.close_invoice(invoice)
	invoice.is_closed = true
	invoice._status = org.INVOICE_STATUS.closed
	invoice.receipt_number = "SBR" .. invoice.invoice_number
end

-- A past appointment was kept, missed or cancelled; a coming one is new
-- or confirmed. Of each day's past ones the fourth is missed and the
-- seventh cancelled, so that every week has some of each.
local function sample_status(random, day, n)
	if day >= 0 then
		return random.chance(0.5) and org.STATUS.confirm or org.STATUS.new
	elseif n % 7 == 4 then
		return org.STATUS.no_show
	elseif n % 7 == 0 then
		return org.STATUS.cancelled
	end
	return org.STATUS.closed
end

-- Past and coming appointments: on each working day from two weeks ago to
-- two weeks ahead, each therapist has up to three, at quarter hours of
-- the shift, with the center's guests. The past ones were kept (and their
-- invoices paid and closed), missed or cancelled; the coming ones are new
-- or confirmed.
local function make_appointments(self, random, center, today)
	local guests = center._guests
	for day = -14, 14 do
		local midnight = today + day * times.DAY
		local weekday = times.weekday(midnight)
		local made = 0
		for t = 1, 6 do
			local therapist = center._employees[t]
			local shift = therapist._shifts[weekday]
			local services = {}
			for _, service in ipairs(center._services) do
				if therapist._services[service.id] then
					services[#services + 1] = service
				end
			end
			for _ = 1, shift and random.int(4) - 1 or 0 do
				local service = random.pick(services)
				local length = (service.duration + service.recovery_time) * 60
				local quarters = (shift[2] - shift[1]) // 15 - (service.duration + service.recovery_time + 14) // 15
				local start = midnight + (shift[1] + 15 * (random.int(quarters + 1) - 1)) * 60
				if org.therapist_free(therapist, start, start + length) then
					made = made + 1
					local status = sample_status(random, day, made)
					local lines = { { service, therapist } }
					local group = self:book(random, center, random.pick(guests), start, lines, status, start - 3 * times.DAY)
					if status == org.STATUS.closed then
						local total = org.dues(group._invoice)
						org.pay(random, group._invoice, total, 0, start + length)
						org.close_invoice(group._invoice)
					elseif status == org.STATUS.cancelled then
						group._invoice._status = org.INVOICE_STATUS.voided
					end
				end
			end
		end
	end
end

-- opts: seed, centers (1 to 6), guests (per center), now (UTC seconds).
function org.new(opts)
	local random = generator(opts.seed or 1)
	local self = setmetatable({
		random = random,
		by_id = {},
		centers = {},
		services = {},
		employees = {},
		guests = {},
		appointments = {},
		groups = {},
		invoices = {},
		bookings = {},
		invoice_count = 0,
	}, Org)
	for kind in pairs(self) do
		if type(self[kind]) == "table" and kind ~= "by_id" and kind ~= "random" then
			self.by_id[kind] = {}
		end
	end
	for i = 1, opts.centers or 3 do
		local center = make_center(self, random, i, CENTERS[i])
		make_services(self, random, center)
		make_employees(self, random, center)
		for n = 1, opts.guests or 200 do
			table.insert(center._guests, make_guest(self, random, center, n, opts.now))
		end
		make_appointments(self, random, center, times.day_of(org.local_time(center, opts.now)))
	end
	return self
end

return org
