-- pulse-sandbox's /v1 API, the real Pulse API's core endpoints
-- (../doc/api/, core-domain.md's shapes), over HTTP with raw requests for
-- the wire shapes, and with the pulse client for the workflows.

local json = require("pulse.json")
local support = require("support.sandbox")

local function is_uuid(text)
	return type(text) == "string" and text:find("^%x+%-%x+%-%x+%-%x+%-%x+$") ~= nil and #text == 36 and text == text:lower()
end

local function is_local_time(text)
	return type(text) == "string" and text:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$") ~= nil
end

-- Calls of one sandbox with its key: status and decoded body.
local function caller(sandbox, scheme)
	local headers = { "Authorization: " .. (scheme or "apikey") .. " " .. sandbox.key, "Content-Type: application/json" }
	return function(method, path, body)
		local status, _, value = sandbox:raw(method, path, headers, body and assert(json.encode(body)))
		return status, value
	end
end

local function date_after(days)
	return os.date("!%Y-%m-%d", os.time() + days * 86400)
end

describe("pulse-sandbox /v1", function()
	local sandbox, call, center

	setup(function()
		sandbox = support.start({ args = "--reservation-hold 1" })
		call = caller(sandbox)
		local _, body = call("GET", "/v1/centers")
		center = body.centers[1]
	end)

	teardown(function()
		sandbox:stop()
	end)

	describe("conventions", function()
		it("takes the key as 'apikey' and as 'Api-key', and answers the documented 401 otherwise", function()
			assert.are.equal(200, (caller(sandbox, "Api-key")("GET", "/v1/centers")))
			assert.are.equal(200, (caller(sandbox, "APIKEY")("GET", "/v1/centers")))
			local status, _, body = sandbox:raw("GET", "/v1/centers", { "Authorization: apikey wrong" })
			assert.are.equal(401, status)
			assert.are.same({ code = 401, message = "Authorization has been denied for this request." }, body.error)
		end)

		it("matches paths case-insensitively, as the reference writes them both ways", function()
			local a, body_a = call("GET", "/v1/Centers/" .. center.id .. "/services")
			local b, body_b = call("GET", "/V1/CENTERS/" .. center.id:upper() .. "/SERVICES")
			assert.are.equal(200, a)
			assert.are.equal(200, b)
			assert.are.same(body_a, body_b)
		end)

		it("answers 501 naming the reference page for an operation it does not emulate", function()
			local status, body = call("GET", "/v1/centers/" .. center.id .. "/rooms")
			assert.are.equal(501, status)
			assert.are.equal(501, body.error.code)
			assert.truthy(body.error.message:find("list_center_rooms", 1, true), body.error.message)
			assert.truthy(body.error.message:find("reference/list-all-rooms-of-a-center", 1, true), body.error.message)
			-- Token auth is out of scope; a legacy route outside /v1 is the catalog's too.
			assert.are.equal(501, (call("POST", "/v1/tokens", {})))
			assert.are.equal(501, (call("GET", "/Guests/" .. center.id .. "/CreditCardsOnFile")))
			assert.are.equal(404, (call("GET", "/v1/no_such_thing")))
			assert.are.equal(405, (call("DELETE", "/v1/centers")))
		end)

		it("pages with page and size: 10 by default, at most 100, the documented 422 past it", function()
			local status, body = call("GET", "/v1/Centers/" .. center.id .. "/services")
			assert.are.equal(200, status)
			assert.are.equal(10, #body.services)
			assert.are.same({ total = 12, page = 1, size = 10 }, body.page_info)
			local _, second = call("GET", "/v1/Centers/" .. center.id .. "/services?page=2&size=10")
			assert.are.equal(2, #second.services)
			local over, err = call("GET", "/v1/Centers/" .. center.id .. "/services?size=101")
			assert.are.equal(400, over)
			assert.are.same({ code = 422, message = "You cannot request more than 100 items." }, err.error)
			assert.are.equal(400, (call("GET", "/v1/Centers/" .. center.id .. "/services?page=0")))
		end)

		it("walks every guest of a center with size=100, matching page_Info.total", function()
			local seen, page, body = {}, 0
			repeat
				page = page + 1
				local status
				status, body = call("GET", "/v1/guests?center_id=" .. center.id .. "&size=100&page=" .. page)
				assert.are.equal(200, status)
				for _, guest in ipairs(body.guests) do
					assert.is_nil(seen[guest.id])
					seen[guest.id] = true
				end
			until #body.guests < 100
			local total = body.page_Info.total
			local count = 0
			for _ in pairs(seen) do
				count = count + 1
			end
			assert.are.equal(200, total)
			assert.are.equal(total, count)
		end)

		it("answers an invalid id with code 502 and a missing input with code 503", function()
			local status, body = call("GET", "/v1/Centers/not-a-center")
			assert.are.equal(400, status)
			assert.are.same({ code = 502, message = "Invalid center_id." }, body.error)
			status, body = call("GET", "/v1/appointments?start_date=" .. date_after(0) .. "&end_date=" .. date_after(1))
			assert.are.equal(400, status)
			assert.are.same({ code = 503, message = "center_id is missing." }, body.error)
		end)
	end)

	describe("centers, services, employees", function()
		it("lists centers with ids, a time zone and working hours, and gets one", function()
			local _, body = call("GET", "/v1/centers")
			assert.are.equal(3, #body.centers)
			for _, c in ipairs(body.centers) do
				assert.is_true(is_uuid(c.id), c.id)
				assert.are.equal("number", type(c.time_zone_id))
				assert.is_true(#c.working_hours >= 6)
			end
			local status, one = call("GET", "/v1/Centers/" .. center.id)
			assert.are.equal(200, status)
			assert.are.equal(center.id, one.center.id)
			assert.are.equal(json.null, one.error)
		end)

		it("writes services with duration, recovery_time and price_info, and expands on request", function()
			local _, body = call("GET", "/v1/Centers/" .. center.id .. "/services?size=100&expand=additional_info")
			for _, s in ipairs(body.services) do
				assert.are.equal("integer", math.type(s.duration))
				assert.are.equal("integer", math.type(s.recovery_time))
				local p = s.price_info
				assert.are.equal(p.final_price, math.floor((p.price_without_tax + p.tax) * 100 + 0.5) / 100)
				assert.are.equal("string", type(s.additional_info.category.name))
				assert.are.equal(json.null, s.catalog_info)
			end
			local category = body.services[1].additional_info.category.id
			local _, filtered = call("GET", "/v1/Centers/" .. center.id .. "/services?size=100&category_id=" .. category)
			assert.is_true(#filtered.services >= 1 and #filtered.services < #body.services)
			local status, one = call("GET", "/v1/Centers/" .. center.id .. "/services/" .. body.services[1].id)
			assert.are.equal(200, status)
			assert.are.equal(body.services[1].code, one.code)
			local missing, err = call("GET", "/v1/Centers/" .. center.id .. "/services/" .. center.id)
			assert.are.equal(400, missing)
			assert.are.same({ code = 502, message = "Service with not found." }, err.error)
		end)

		it("lists employees, therapists (gender as a string) and who performs a service", function()
			local _, employees = call("GET", "/v1/centers/" .. center.id .. "/employees?size=100")
			assert.are.equal(8, #employees.employees)
			assert.are.equal("number", type(employees.employees[1].personal_info.gender))
			local _, therapists = call("GET", "/v1/centers/" .. center.id .. "/therapists")
			assert.is_true(#therapists.therapists >= 5)
			assert.are.equal("string", type(therapists.therapists[1].personal_info.gender))
			local _, services = call("GET", "/v1/Centers/" .. center.id .. "/services")
			local _, performers =
				call("GET", "/v1/centers/" .. center.id .. "/services/" .. services.services[1].id .. "/therapists")
			assert.is_true(#performers.therapists >= 2)
		end)

		it("gives schedules for a date range, both dates required, its errors as StatusCode", function()
			local _, body = call(
				"GET",
				"/v1/centers/" .. center.id .. "/employee_schedules?start_date=" .. date_after(0) .. "&end_date=" .. date_after(6)
			)
			assert.is_true(#body.employee_schedules >= 5)
			local days = 0
			for _, e in ipairs(body.employee_schedules) do
				for _, day in ipairs(e.schedules) do
					days = days + 1
					assert.is_true(is_local_time(day.shifts[1].start_time))
				end
			end
			assert.is_true(days >= 20)
			local status, err = call("GET", "/v1/centers/" .. center.id .. "/employee_schedules?start_date=" .. date_after(0))
			assert.are.equal(400, status)
			assert.are.same(
				{ StatusCode = 503, Message = "end_date is missing.", InternalMessage = "end_date is missing." },
				err.error
			)
		end)
	end)

	describe("guests", function()
		local function new_guest(extra)
			local body = {
				center_id = center.id,
				personal_info = { first_name = "Noor", last_name = "Quillfeather", email = "noor.q@sample.invalid" },
				address_info = { address_1 = "9 Test Row", city = "Westmere", zip_code = "01234" },
				tags = { "VIP" },
			}
			for k, v in pairs(extra or {}) do
				body[k] = v
			end
			return call("POST", "/v1/guests", body)
		end

		it("creates a guest (no wrapper), gets it with expand, and an update resets what it leaves out", function()
			local status, guest = new_guest()
			assert.are.equal(200, status)
			assert.is_true(is_uuid(guest.id))
			assert.are.equal("0001-01-01T00:00:00", guest.personal_info.date_of_birth)
			local _, plain = call("GET", "/v1/guests/" .. guest.id)
			assert.is_nil(plain.address_info)
			local _, full = call("GET", "/v1/guests/" .. guest.id .. "?expand=address_info&expand=tags")
			assert.are.equal("9 Test Row", full.address_info.address_1)
			assert.are.same({ "VIP" }, full.tags)
			-- The PUT the reference warns about: only personal_info sent.
			local put_status, updated = call("PUT", "/v1/guests/" .. guest.id, {
				personal_info = { first_name = "Noor", last_name = "Quill", email = "noor.q@sample.invalid" },
			})
			assert.are.equal(200, put_status)
			assert.are.equal("Quill", updated.personal_info.last_name)
			local _, after = call("GET", "/v1/guests/" .. guest.id .. "?expand=address_info,tags")
			assert.are.equal(json.null, after.address_info)
			assert.are.equal(json.null, after.tags)
		end)

		it("takes false and null for a guest's fields, and keeps them", function()
			local status, guest = new_guest({
				personal_info = { first_name = "Ida", last_name = "Falsefield", is_minor = false, gender = json.null },
				preferences = { receive_marketing_sms = false },
			})
			assert.are.equal(200, status, json.encode(guest))
			assert.are.equal(false, guest.personal_info.is_minor)
			assert.are.equal(-1, guest.personal_info.gender)
			assert.are.equal(false, guest.preferences.receive_marketing_sms)
		end)

		it("refuses a guest without a last name or with a wrong center", function()
			local status, body = new_guest({ personal_info = { first_name = "Solo" } })
			assert.are.equal(400, status)
			assert.are.same({ code = 503, message = "last_name is missing." }, body.error)
			status, body = new_guest({ center_id = "nowhere" })
			assert.are.equal(400, status)
			assert.are.equal(502, body.error.code)
		end)

		it("searches by email, name and phone, across centers without center_id", function()
			local _, guest = new_guest({
				personal_info = {
					first_name = "Orla",
					last_name = "Penhallow",
					email = "orla.p@sample.invalid",
					mobile_phone = { country_code = 225, number = "5550001122" },
				},
			})
			local _, by_email = call("GET", "/v1/guests/search?email=ORLA.P@sample.invalid")
			assert.are.equal(1, by_email.page_info.total)
			assert.are.equal(guest.id, by_email.guests[1].id)
			local _, by_name = call("GET", "/v1/guests/search?center_id=" .. center.id .. "&last_name=penhal")
			assert.are.equal(guest.id, by_name.guests[1].id)
			local _, by_phone = call("GET", "/v1/guests/search?phone=555-000-1122")
			assert.are.equal(guest.id, by_phone.guests[1].id)
			local _, everyone = call("GET", "/v1/guests/search?size=1")
			assert.is_true(everyone.page_info.total > 600)
		end)

		it("needs center_id in a search when the organization does not search across centers", function()
			local strict = support.start({ args = "--guest-search center --centers 1 --guests 5" })
			local status, body = caller(strict)("GET", "/v1/guests/search?first_name=a")
			strict:stop()
			assert.are.equal(400, status)
			assert.are.same({ code = 503, message = "center_id is missing." }, body.error)
		end)

		it("lists a center's guests updated since a date", function()
			local _, all = call("GET", "/v1/guests?center_id=" .. center.id .. "&size=1")
			local _, recent = call("GET", "/v1/guests?center_id=" .. center.id .. "&size=1&last_updated=" .. date_after(-30))
			assert.is_true(recent.page_Info.total >= 1 and recent.page_Info.total < all.page_Info.total)
		end)

		it("answers an online guest's error with a string code", function()
			local status, body = call("POST", "/v1/guests/online_guests", { center_id = center.id, first_name = "A" })
			assert.are.equal(400, status)
			assert.are.same({ code = "503", message = "email is missing." }, body.error)
		end)
	end)

	describe("appointments", function()
		it("lists a center's as a bare array, within at most seven days, with _utc twins", function()
			local path = "/v1/appointments?center_id=" .. center.id .. "&start_date=" .. date_after(-7) .. "&end_date="
			local status, list = call("GET", path .. date_after(0))
			assert.are.equal(200, status)
			assert.is_true(#list > 0)
			for _, a in ipairs(list) do
				assert.is_true(is_uuid(a.appointment_id))
				assert.is_true(is_local_time(a.start_time) and is_local_time(a.start_time_utc))
				assert.are_not.equal(-1, a.status)
			end
			local too_long, err = call("GET", path .. date_after(1))
			assert.are.equal(400, too_long)
			assert.truthy(err.error.message:find("7 days", 1, true))
			local _, one = call("GET", "/v1/appointments/" .. list[1].appointment_id)
			assert.are.equal(list[1].appointment_group_id, one.appointment_group_id)
			local missing, gone = call("GET", "/v1/appointments/" .. center.id)
			assert.are.equal(404, missing)
			assert.are.equal(410, gone.error.code)
		end)

		it("checks in today's appointment and undoes it, by its group", function()
			-- The center's today: UTC now moved by its offset, which an
			-- appointment's local and _utc times tell.
			local _, week = call(
				"GET",
				"/v1/appointments?center_id=" .. center.id .. "&start_date=" .. date_after(-3) .. "&end_date=" .. date_after(3)
			)
			local function seconds(text)
				local y, m, d, h, mi = text:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+)")
				return os.time({ year = y, month = m, day = d, hour = h, min = mi })
			end
			local offset = seconds(week[1].start_time) - seconds(week[1].start_time_utc)
			local local_today = os.date("!%Y-%m-%d", os.time() + offset)
			local _, today = call(
				"GET",
				"/v1/appointments?center_id=" .. center.id .. "&start_date=" .. local_today .. "&end_date=" .. local_today
			)
			local open
			for _, a in ipairs(today) do
				if (a.status == 0 or a.status == 4) and not a.invoice_locked then
					open = open or a
				end
			end
			assert.truthy(open, "an open appointment today")
			local group = open.appointment_group_id
			assert.are.same({ success = true, error = json.null }, select(2, call("PUT", "/v1/appointments/" .. group .. "/check_in")))
			assert.are.equal(2, select(2, call("GET", "/v1/appointments/" .. open.appointment_id)).status)
			local status, undone = call("PUT", "/v1/appointments/" .. group .. "/undo_check_in")
			assert.are.equal(200, status)
			assert.is_true(undone.success)
			assert.are.equal(0, select(2, call("GET", "/v1/appointments/" .. open.appointment_id)).status)
			local missing, err = call("PUT", "/v1/appointments/" .. center.id .. "/undo_check_in")
			assert.are.equal(404, missing)
			assert.are.same({ code = 410, message = "Appointment could not be found." }, err.error)
		end)

		it("lists a guest's as appointment groups, and refuses to check in a future one", function()
			local _, list = call(
				"GET",
				"/v1/appointments?center_id=" .. center.id .. "&start_date=" .. date_after(1) .. "&end_date=" .. date_after(7)
			)
			local future = list[1]
			local _, groups = call("GET", "/v1/guests/" .. future.guest.id .. "/appointments?size=100")
			local found = false
			for _, g in ipairs(groups.appointments) do
				found = found or g.appointment_group_id == future.appointment_group_id
			end
			assert.is_true(found)
			local status, err = call("PUT", "/v1/appointments/" .. future.appointment_group_id .. "/check_in")
			assert.are.equal(400, status)
			assert.are.equal(727, err.error.code)
			local ok, shown = call("PUT", "/v1/appointments/" .. future.appointment_group_id .. "/no_show", { comments = "away" })
			assert.are.equal(200, ok)
			assert.are.same({ success = true, is_charge_applied = false }, shown)
		end)
	end)

	describe("the booking workflow", function()
		-- A therapist, one of their services and a day ahead they work.
		local function bookable()
			local _, services = call("GET", "/v1/Centers/" .. center.id .. "/services")
			local service = services.services[1]
			local _, performers = call("GET", "/v1/centers/" .. center.id .. "/services/" .. service.id .. "/therapists")
			local _, guests = call("GET", "/v1/guests?center_id=" .. center.id .. "&size=3")
			return service, performers.therapists[1], guests.guests
		end

		local function book(service, therapist, guest, date)
			local status, body = call("POST", "/v1/bookings", {
				center_id = center.id,
				date = date,
				guests = { { id = guest.id, items = { { item = { id = service.id }, therapist = { id = therapist.id } } } } },
			})
			assert.are.equal(200, status)
			return body.id
		end

		-- A date ahead with slots for the booking, and its first slot.
		local function first_slot(booking)
			local _, body = call("GET", "/v1/bookings/" .. booking .. "/slots")
			if #body.slots > 0 then
				return body.slots[1].Time
			end
			return body.next_available_day
		end

		it("books end to end: create, slots, reserve, confirm, invoice, a custom payment", function()
			local service, therapist, guests = bookable()
			local booking = book(service, therapist, guests[1], date_after(2))
			local status, slots = call("GET", "/v1/bookings/" .. booking .. "/slots")
			assert.are.equal(200, status)
			assert.are.equal(json.null, slots.Error)
			local slot = slots.slots[1] or { Time = slots.next_available_day }
			assert.is_true(is_local_time(slot.Time))
			local _, reserved = call("POST", "/v1/bookings/" .. booking .. "/slots/reserve", { slot_time = slot.Time })
			assert.is_true(reserved.is_reserved)
			assert.is_true(is_uuid(reserved.reservation_id))
			assert.is_true(is_local_time(reserved.expiry_time))
			assert.are.equal(json.null, reserved.invoices)
			local _, confirmed = call("POST", "/v1/bookings/" .. booking .. "/slots/confirm", { notes = "first visit" })
			assert.is_true(confirmed.is_confirmed)
			local invoice_id = confirmed.invoice.invoice_id
			local _, got = call("GET", "/v1/invoices/" .. invoice_id .. "?expand=InvoiceItems&expand=Appointments")
			local invoice = got.invoice
			assert.are.equal(service.price_info.final_price, invoice.invoice_dues.balance)
			assert.are.equal(slot.Time, invoice.appointments[1].start_time)
			assert.are.equal(service.duration, invoice.appointments[1].serviceduration_in_miutes)
			assert.are.equal(therapist.id, invoice.appointments[1].TherapistId)
			assert.are.equal(json.null, invoice.transactions)
			local paid, payment = call(
				"POST",
				"/v1/invoices/" .. invoice_id .. "/payment/custom",
				{ amount = invoice.invoice_dues.balance, tip_amount = 5 }
			)
			assert.are.equal(200, paid)
			assert.are.equal(invoice.invoice_dues.balance, payment.transaction.amount_paid)
			-- The appointment is ahead: the documented 1113, in the close page's error shape.
			local closing, refused = call("POST", "/v1/invoices/" .. invoice_id .. "/close")
			assert.are.equal(400, closing)
			assert.are.equal(1113, refused.error.StatusCode)
			local _, _, events = sandbox:raw("GET", "/_sandbox/events")
			local last = events.data[#events.data]
			assert.are.equal("AppointmentGroup.Created", last.event_type)
			assert.truthy(last.event_timestamp:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%d%dZ$"))
		end)

		it("lets exactly one of two clients racing for a therapist's slot reserve it", function()
			local service, therapist, guests = bookable()
			local date = date_after(3)
			local one, two = book(service, therapist, guests[1], date), book(service, therapist, guests[2], date)
			local slot = first_slot(one)
			local clients = { sandbox:client(), sandbox:client() }
			local answers = {}
			local pulse = require("pulse")
			pulse.run(function()
				local tasks = {}
				for i, booking in ipairs({ one, two }) do
					tasks[i] = pulse.spawn(function()
						local path = "/v1/bookings/" .. booking .. "/slots/reserve"
						local value, err = clients[i]:post(path, { slot_time = slot })
						answers[i] = value and value.is_reserved or (err and err.status)
					end)
				end
				for _, task in ipairs(tasks) do
					task:join()
				end
			end)
			for _, client in ipairs(clients) do
				client:close()
			end
			table.sort(answers, function(a, b)
				return tostring(a) < tostring(b)
			end)
			assert.are.same({ 400, true }, answers)
		end)

		it("refuses a confirm after expiry with 4072, and the slot frees", function()
			local service, therapist, guests = bookable()
			local date = date_after(4)
			local one, two = book(service, therapist, guests[1], date), book(service, therapist, guests[2], date)
			local slot = first_slot(one)
			assert.is_true(select(2, call("POST", "/v1/bookings/" .. one .. "/slots/reserve", { slot_time = slot })).is_reserved)
			assert.are.equal(400, (call("POST", "/v1/bookings/" .. two .. "/slots/reserve", { slot_time = slot })))
			require("pulse.core").sleep(1.2)
			local status, body = call("POST", "/v1/bookings/" .. one .. "/slots/confirm", {})
			assert.are.equal(400, status)
			assert.are.equal(4072, body.error.code)
			local _, freed = call("POST", "/v1/bookings/" .. two .. "/slots/reserve", { slot_time = slot })
			assert.is_true(freed.is_reserved)
		end)

		it("writes the slots' errors under a capital Error", function()
			local status, body = call("GET", "/v1/bookings/" .. center.id .. "/slots")
			assert.are.equal(400, status)
			assert.are.same({ StatusCode = 502, Message = "Invalid booking id." }, body.Error)
		end)

		it("reschedules by booking again with the invoice: the confirmation moves the appointment", function()
			local service, therapist, guests = bookable()
			local booking = book(service, therapist, guests[3], date_after(5))
			call("POST", "/v1/bookings/" .. booking .. "/slots/reserve", { slot_time = first_slot(booking) })
			local _, confirmed = call("POST", "/v1/bookings/" .. booking .. "/slots/confirm", {})
			local invoice_id = confirmed.invoice.invoice_id
			local item = confirmed.invoice.items[1].invoice_item_id
			local status, again = call("POST", "/v1/bookings", {
				center_id = center.id,
				date = date_after(6),
				guests = {
					{
						id = guests[3].id,
						invoice_id = invoice_id,
						items = { { item = { id = service.id }, therapist = { id = therapist.id }, invoice_item_id = item } },
					},
				},
			})
			assert.are.equal(200, status)
			local new_slot = first_slot(again.id)
			call("POST", "/v1/bookings/" .. again.id .. "/slots/reserve", { slot_time = new_slot })
			call("POST", "/v1/bookings/" .. again.id .. "/slots/confirm", {})
			local _, got = call("GET", "/v1/invoices/" .. invoice_id .. "?expand=Appointments")
			assert.are.equal(1, #got.invoice.appointments)
			assert.are.equal(new_slot, got.invoice.appointments[1].start_time)
		end)

		it("closes only at a zero balance (419 before), and cancels an unpaid booking", function()
			-- A past no-show's invoice: open, unpaid, its appointment behind.
			local _, past = call(
				"GET",
				"/v1/appointments?include_no_show_cancel=true&center_id="
					.. center.id
					.. "&start_date="
					.. date_after(-7)
					.. "&end_date="
					.. date_after(-1)
			)
			local open
			for _, a in ipairs(past) do
				if a.status == -2 then
					open = open or a
				end
			end
			assert.truthy(open, "a past no-show")
			local status, body = call("POST", "/v1/invoices/" .. open.invoice_id .. "/close")
			assert.are.equal(400, status)
			assert.are.same(
				{ StatusCode = 419, Message = "Full payment is not made.", InternalMessage = "Full payment is not made." },
				body.error
			)
			local _, got = call("GET", "/v1/invoices/" .. open.invoice_id)
			call("POST", "/v1/invoices/" .. open.invoice_id .. "/payment/custom", { amount = got.invoice.invoice_dues.balance })
			local closed, answer = call("POST", "/v1/invoices/" .. open.invoice_id .. "/close")
			assert.are.equal(200, closed)
			assert.are.same({ is_invoice_closed = true, error = json.null }, answer)
			local _, _, events = sandbox:raw("GET", "/_sandbox/events")
			assert.are.equal("Invoice.Closed", events.data[#events.data].event_type)

			local service, therapist, guests = bookable()
			local booking = book(service, therapist, guests[1], date_after(5))
			call("POST", "/v1/bookings/" .. booking .. "/slots/reserve", { slot_time = first_slot(booking) })
			local _, confirmed = call("POST", "/v1/bookings/" .. booking .. "/slots/confirm", {})
			local cancelled, result = call("PUT", "/v1/invoices/" .. confirmed.invoice.invoice_id .. "/cancel", { comments = "x" })
			assert.are.equal(200, cancelled)
			assert.is_true(result.success)
			local _, gone = call("GET", "/v1/invoices/nope")
			assert.are.same({ code = 418, message = "Invoice not found." }, gone.error)
		end)
	end)

	it("answers malformed bodies and queries with a 4xx error object, never a failure of its own", function()
		local _, guests = call("GET", "/v1/guests?center_id=" .. center.id)
		local guest = guests.guests[1].id
		local bodies = {
			"x",
			"[1,2]",
			"null",
			'"s"',
			"{}",
			'{"center_id": 5}',
			'{"center_id": "' .. center.id .. '", "guests": "x"}',
			'{"center_id": "' .. center.id .. '", "date": "2026-13-40", "guests": [1]}',
			'{"center_id": "' .. center.id .. '", "personal_info": {"first_name": 1, "gender": "x"}}',
			'{"personal_info": {"first_name": "a", "last_name": "b", "mobile_phone": "y"}, "tags": [1]}',
			'{"slot_time": "2026-12-20T25:00:00"}',
			'{"amount": -1}',
			'{"amount": "5"}',
		}
		local writes = {
			{ "POST", "/v1/guests" },
			{ "PUT", "/v1/guests/" .. guest },
			{ "POST", "/v1/bookings" },
			{ "POST", "/v1/bookings/" .. guest .. "/slots/reserve" },
			{ "POST", "/v1/guests/online_guests" },
			{ "POST", "/v1/invoices/" .. guest .. "/payment/custom" },
		}
		local headers = { "Authorization: apikey " .. sandbox.key, "Content-Type: application/json" }
		for _, write in ipairs(writes) do
			for _, body in ipairs(bodies) do
				local status, _, value = sandbox:raw(write[1], write[2], headers, body)
				local what = write[1] .. " " .. write[2] .. " " .. body
				assert.is_true(status >= 400 and status < 500, what .. ": " .. status)
				assert.are.equal("table", type(value.error or value.Error), what)
			end
		end
		for _, query in ipairs({ "?page=x", "?size=-1", "?size=100.5", "?start_date=2026-02-30", "?date=abc" }) do
			local status = call("GET", "/v1/centers/" .. center.id .. "/employee_schedules" .. query)
			assert.are.equal(400, status, query)
		end
	end)

	it("answers an operation's documented error with status 200 under the error_200 fault", function()
		sandbox:fault("error_200")
		local status, body = call("GET", "/v1/Centers/" .. center.id .. "/services")
		assert.are.equal(200, status)
		assert.are.same({ code = 400, message = "The request is invalid." }, body.error)
		sandbox:fault("error_200")
		local _, slots = call("GET", "/v1/bookings/" .. center.id .. "/slots")
		assert.are.same({ StatusCode = 400, Message = "The request is invalid." }, slots.Error)
	end)

	it("lists the operations it emulates in --help, doc/sandbox.md and the man page alike", function()
		local help = support.run(support.BIN .. "/pulse-sandbox --help")
		local readme = assert(support.read_file("doc/sandbox.md"))
		local man = assert(support.read_file("doc/man/pulse-sandbox.1"))
		local rows = 0
		for method, path, name in help:gmatch("\n  (%u+) +(%S+) +([%w_]+)") do
			rows = rows + 1
			local row = string.format("| `%s` | `%s` | `%s` |", method, path, name)
			assert.truthy(readme:find(row, 1, true), "doc/sandbox.md lacks " .. row)
			local man_row = string.format("\n%s\t%s\t%s\temulated\n", method, path, name)
			assert.truthy(man:find(man_row, 1, true), "the man page lacks " .. name)
		end
		assert.are.equal(28, rows)
		local _, table_rows = readme:gsub("\n| `%u+` | `/v1/[^`]*` | `[%w_]+` |", "")
		assert.are.equal(rows, table_rows)
		for option in help:gmatch("\n  (%-%-[%w-]+)") do
			local escaped = option:gsub("%-", "\\-")
			assert.truthy(readme:find(option, 1, true), "doc/sandbox.md lacks " .. option)
			assert.truthy(man:find(escaped, 1, true) or option == "--help", "the man page lacks " .. option)
		end
	end)

	it("takes reservation_hold in pulse.sandbox.start, in pulse-lua's process and as a program", function()
		local path = support.temp_path(".lua")
		support.write_file(
			path,
			[[
			local sb = require("pulse.sandbox").start({ reservation_hold = 0.5 })
			local client = require("pulse").new({ base_url = sb.url, api_key = sb.key })
			local center = assert(client:get("/v1/centers")).centers[1].id
			local service = assert(client:get("/v1/Centers/" .. center .. "/services")).services[1].id
			local guest = assert(client:get("/v1/guests?center_id=" .. center)).guests[1].id
			local booking = assert(client:post("/v1/bookings", {
				center_id = center,
				date = os.date("!%Y-%m-%d", os.time() + 3 * 86400),
				guests = { { id = guest, items = { { item = { id = service } } } } },
			})).id
			local slots = assert(client:get("/v1/bookings/" .. booking .. "/slots"))
			local slot = slots.slots[1] and slots.slots[1].Time or slots.next_available_day
			assert(client:post("/v1/bookings/" .. booking .. "/slots/reserve", { slot_time = slot }))
			require("pulse.core").sleep(0.8)
			local _, err = client:post("/v1/bookings/" .. booking .. "/slots/confirm", {})
			print(err.status, err.error.code)
			sb:stop()
		]]
		)
		local out, err = support.run(support.BIN .. "/pulse-lua " .. path)
		assert.are.equal("400\t4072\n", out, err)
		out, err = support.run_lua54(path)
		assert.are.equal("400\t4072\n", out, err)
		os.remove(path)
		local _, refused = pcall(require("pulse.sandbox").start, { reservation_hold = 0 })
		assert.truthy(tostring(refused):find("reservation_hold takes seconds", 1, true), tostring(refused))
	end)

	it("makes the same organization from the same seed", function()
		local other = support.start({ args = "--centers 2 --guests 7" })
		local _, centers = caller(other)("GET", "/v1/centers")
		local _, guests = caller(other)("GET", "/v1/guests/search?size=100")
		other:stop()
		assert.are.equal(2, #centers.centers)
		assert.are.equal(center.id, centers.centers[1].id)
		assert.are.equal(14, guests.page_info.total)
	end)
end)

describe("pulse-sandbox webhooks", function()
	-- Waits (up to 10 s) until the receiver's file has n lines; returns them.
	local function received(path, n)
		for _ = 1, 200 do
			local lines = {}
			for line in (support.read_file(path) or ""):gmatch("[^\n]+") do
				lines[#lines + 1] = assert(json.decode(line))
			end
			if #lines >= n then
				return lines
			end
			require("pulse.core").sleep(0.05)
		end
		error("the receiver did not get " .. n .. " requests")
	end

	it("delivers the documented envelope by the verb chosen, retrying a failed delivery", function()
		local out = support.temp_path(".jsonl")
		local receiver, url =
			support.spawn("/usr/bin/python3 spec/support/webhook_receiver.py " .. out .. " 2", support.temp_path(".out"))
		local sandbox = support.start({
			args = "--webhook " .. url .. "/hooks?from=sandbox --webhook-verb PUT --webhook-backoff 0.05:0.2",
		})
		local call = caller(sandbox)
		local _, centers = call("GET", "/v1/centers")
		local status, guest = call("POST", "/v1/guests", {
			center_id = centers.centers[1].id,
			personal_info = { first_name = "Wren", last_name = "Hookway" },
		})
		assert.are.equal(200, status)
		-- Two failed attempts (500), then the third is taken.
		local lines = received(out, 3)
		local stats = sandbox:stats()
		sandbox:stop()
		support.stop_spawned(receiver)
		os.remove(out)
		assert.are.same({ 500, 500, 204 }, { lines[1].status, lines[2].status, lines[3].status })
		for _, line in ipairs(lines) do
			assert.are.equal("PUT", line.method)
			assert.are.equal("/hooks?from=sandbox", line.path)
			assert.are.equal("application/json", line.content_type)
		end
		local envelope = assert(json.decode(lines[3].body))
		assert.are.equal("Guest.Created", envelope.event_type)
		assert.are.equal("Guest", envelope.event_resource)
		assert.are.equal("v1", envelope.event_schema)
		assert.truthy(envelope.id:find("^%x+$") and #envelope.id == 24, envelope.id)
		assert.truthy(envelope.event_id:find("^%x+$") and #envelope.event_id == 24, envelope.event_id)
		assert.are.equal(guest.id, envelope.data.id)
		assert.are.equal(1, stats.webhooks.delivered)
		assert.are.equal(2, stats.webhooks.failed_attempts)
	end)

	it("gives up after five retries, and refuses a URL that is not http://", function()
		-- Nothing listens on the port: every attempt fails to connect.
		local sandbox = support.start({ args = "--webhook http://127.0.0.1:9/ --webhook-backoff 0.01:0.02" })
		local call = caller(sandbox)
		local _, centers = call("GET", "/v1/centers")
		call("POST", "/v1/guests", { center_id = centers.centers[1].id, personal_info = { first_name = "A", last_name = "B" } })
		local stats
		for _ = 1, 100 do
			stats = sandbox:stats()
			if stats.webhooks.given_up == 1 then
				break
			end
			require("pulse.core").sleep(0.05)
		end
		sandbox:stop()
		assert.are.same(
			{ delivered = 0, failed_attempts = 6, given_up = 1, pending = 0, deactivated = 0 },
			stats.webhooks
		)
		local _, err, code = support.run(support.BIN .. "/pulse-sandbox --webhook https://example.invalid/")
		assert.are.equal(2, code)
		assert.truthy(err:find("--webhook takes an http:// URL", 1, true), err)
	end)
end)
