-- client:api() with no file: the reference's 225 operations as wrappers
-- (lua/pulse/catalog.lua, from doc/api/endpoints.tsv), their names, checks,
-- help, patch and walkers; against an echo server for what goes on the
-- wire, and against pulse-sandbox for every operation it emulates.

local hostile = require("support.hostile")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

local function split(text, separator)
	local parts = {}
	if text == "" then
		return parts
	end
	for part in (text .. separator):gmatch("(.-)" .. separator) do
		parts[#parts + 1] = part
	end
	return parts
end

-- The catalog's rows as the TSV has them.
local function tsv_rows()
	local rows = {}
	local first = true
	for line in io.lines("doc/api/endpoints.tsv") do
		if first then
			first = false
		else
			local cells = split(line, "\t")
			rows[#rows + 1] = {
				group = cells[1],
				name = cells[2],
				method = cells[3],
				path = cells[4],
				path_params = split(cells[5], ","),
				query = split(cells[6], ","),
				body = split(cells[7], ","),
			}
		end
	end
	return rows
end

local function refusal(fn)
	local ok, err = pcall(fn)
	assert.is_false(ok, "not refused")
	return tostring(err)
end

local function date_after(days)
	return os.date("!%Y-%m-%d", os.time() + days * 86400)
end

describe("client:api() without a collection", function()
	local server, client, api

	setup(function()
		server = hostile.start("spec/support/echo.py")
		client = server:client({ api_key = "k-operations", auth_scheme = "apikey" })
		api = client:api()
	end)

	teardown(function()
		client:close()
		server:stop()
	end)

	it("has a wrapper for every row of doc/api/endpoints.tsv, with its method, path and parameters", function()
		local rows = tsv_rows()
		assert.are.equal(225, #rows)
		for _, row in ipairs(rows) do
			local group = row.group == "service_booking" and "bookings" or row.group
			local op = api[group][row.name]
			local entry = op.entry
			assert.are.equal(row.method, entry.method, row.name)
			assert.are.equal(row.path, entry.path, row.name)
			assert.are.same(row.path_params, entry.path_params, row.name)
			assert.are.same(row.body, entry.body, row.name)
			local names = {}
			for i, q in ipairs(entry.query) do
				names[i] = q.name .. (q.required and "!" or "") .. (q.default and ("=" .. q.default) or "")
			end
			assert.are.same(row.query, names, row.name)
			assert.truthy(op:help():find(entry.slug, 1, true), row.name)
		end
	end)

	it("names operations by the rule, the full catalog name always an alias", function()
		local expected = {
			{ "guests", "search", "search_guests" },
			{ "centers", "list", "list_centers" },
			{ "centers", "services", "list_center_services" },
			{ "bookings", "create", "create_booking" },
			{ "bookings", "reserve", "reserve_booking_slot" },
			{ "bookings", "confirm", "confirm_booking" },
			{ "bookings", "slots", "list_booking_slots" },
			{ "invoices", "close", "close_invoice" },
			{ "appointments", "list", "list_appointments" },
			{ "guests", "update", "update_guest" },
		}
		for _, e in ipairs(expected) do
			local group, short, full = e[1], e[2], e[3]
			assert.are.equal(full, api[group][short].entry.name)
			assert.are.equal(api[group][short], api[group][full])
		end
		local names = assert(support.read_file("doc/api/NAMES.md"))
		assert.truthy(names:find("| `api.bookings.reserve` | `reserve_booking_slot` | POST |", 1, true))
		assert.truthy(names:find("| `api.guests.patch` | `patch_guest` | GET + PUT |", 1, true))
		local err = refusal(function()
			return api.guests.serch
		end)
		assert.truthy(err:find("no endpoint api.guests.serch; did you mean api.guests.search?", 1, true), err)
		err = refusal(function()
			return api.guestz
		end)
		assert.truthy(err:find("did you mean api.guests?", 1, true), err)
	end)

	it("fills and escapes the path, sends only the arguments given, and the scheme asked for", function()
		local body = assert(api.guests.search({ email = "a+b@example.com", center_id = "c 1" }))
		assert.are.equal("GET", body.method)
		assert.are.equal("/v1/guests/search", body.path)
		-- page and size have documented defaults: not sent unless given
		assert.are.equal("center_id=c%201&email=a%2Bb%40example.com", body.query)
		assert.are.equal("apikey k-operations", body.headers.authorization)
		body = assert(api.centers.get_service({ center_id = "a/b", service_id = 7 }))
		assert.are.equal("/v1/Centers/a%2Fb/services/7", body.path)
		body = assert(api.bookings.reserve({ booking_id = "b1", slot_time = "2026-12-08T10:00:00" }))
		assert.are.equal("POST", body.method)
		assert.are.equal("/v1/bookings/b1/slots/reserve", body.path)
		assert.are.same({ slot_time = "2026-12-08T10:00:00" }, json.decode(body.body))
		-- create_booking's documented example adds is_double_booking_enabled=true: never sent
		body = assert(api.bookings.create({ center_id = "c", date = "2026-12-08", guests = {} }))
		assert.are.equal("", body.query)
	end)

	it("refuses, before sending, a missing or unknown parameter and a documented type broken", function()
		local before = client:stats().requests
		local err = refusal(function()
			return api.appointments.list({ center_id = "c", start_date = "2026-01-01" })
		end)
		assert.truthy(err:find("api.appointments.list: missing required parameter 'end_date'", 1, true), err)
		err = refusal(function()
			local none = api.guests.search({ emial = "a@b" }) -- not a tail call: the caller's line is kept
			return none
		end)
		assert.truthy(err:find("unknown parameter 'emial'; did you mean 'email'?", 1, true), err)
		assert.truthy(err:find("operations_spec.lua", 1, true), "blamed on the caller: " .. err)
		err = refusal(function()
			return api.bookings.reserve({ booking_id = "b", slot_time = "tomorrow" })
		end)
		assert.truthy(err:find("slot_time must be a date and time (YYYY-MM-DDTHH:MM:SS), got tomorrow", 1, true), err)
		err = refusal(function()
			return api.bookings.get({ booking_id = "b" })
		end)
		assert.truthy(err:find("no endpoint api.bookings.get", 1, true), err)
		err = refusal(function()
			return api.guests.get_loyalty_points({})
		end)
		assert.truthy(err:find("api.guests.get_loyalty_points: no documented path", 1, true), err)
		err = refusal(function()
			return api.guests.update({ guest_id = "g", personal_info = {} })
		end)
		assert.truthy(err:find("missing required parameter 'center_id' (a PUT replaces the whole object", 1, true), err)
		err = refusal(function()
			return api.guests.search("a@b")
		end)
		assert.truthy(err:find("args must be a table, got string", 1, true), err)
		assert.are.equal(before, client:stats().requests)
	end)

	it("sends opts.extra unchecked: in the body of a write, the query of a read", function()
		local body = assert(api.bookings.create(
			{ center_id = "c", date = "2026-12-08", guests = {} },
			{ extra = { is_couple_booking = true }, query = { is_double_booking_enabled = false } }
		))
		assert.are.equal("is_double_booking_enabled=false", body.query)
		assert.is_true(json.decode(body.body).is_couple_booking)
		body = assert(api.centers.list(nil, { extra = { zone = "west" } }))
		assert.are.equal("zone=west", body.query)
	end)

	it("prints help for the whole API, a group and an operation", function()
		local all = api:help()
		assert.truthy(all:find("225 documented operations", 1, true), all)
		assert.truthy(all:find("api.bookings%s+7 operations"), all)
		local group = api.bookings:help()
		assert.truthy(group:find("reserve%s+POST%s+/v1/bookings/{booking_id}/slots/reserve"), group)
		local one = api.guests.search:help()
		for _, needle in ipairs({
			"GET /v1/guests/search",
			"size (documented default 10, not sent unless given)",
			"answers: guests, page_info",
			"https://docs.zenoti.com/reference/search-for-a-guest",
			"also api.guests.search_guests",
		}) do
			assert.truthy(one:find(needle, 1, true), needle .. " in:\n" .. one)
		end
		local update = api.guests.update:help()
		assert.truthy(update:find("A PUT replaces the whole object", 1, true), update)
		assert.truthy(update:find("api.guests.patch (2 calls)", 1, true), update)
		assert.truthy(api.guests.patch:help():find("2 calls", 1, true))
	end)

	it("lets a collection extend a group and override one of its operations", function()
		local coll = {
			info = { name = "mine", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
			item = {
				{
					name = "guests",
					item = { { name = "search", request = { method = "GET", url = "{{baseUrl}}/mine/search" } } },
				},
				{ name = "ping", request = { method = "GET", url = "{{baseUrl}}/ping" } },
			},
			variable = { { key = "baseUrl", value = server.url } },
		}
		local mine = client:api(coll)
		assert.are.equal("/mine/search", assert(mine.guests.search()).path)
		assert.are.equal("/v1/guests", assert(mine.guests.create({ center_id = "c" })).path)
		assert.are.equal("/ping", assert(mine.ping()).path)
		assert.truthy(mine:help():find("225 documented operations", 1, true))
	end)
end)

describe("client:api() against pulse-sandbox", function()
	local sandbox, client, api, center

	setup(function()
		sandbox = support.start({ args = "--reservation-hold 1" })
		client = sandbox:client()
		api = client:api()
		center = assert(api.centers.list()).centers[1]
	end)

	teardown(function()
		client:close()
		sandbox:stop()
	end)

	it("calls every operation the sandbox emulates through its wrapper", function()
		local called = { list_centers = true }
		local function call(group, name, args, opts)
			local op = api[group][name]
			called[op.entry.name] = true
			local body, res = op(args, opts)
			assert(body, tostring(res))
			return body, res
		end
		local id = center.id
		assert.are.equal(id, call("centers", "get", { center_id = id }).center.id)
		assert.is_true(#call("centers", "employees", { center_id = id }).employees > 0)
		assert.is_true(#call("centers", "therapists", { center_id = id }).therapists > 0)
		local schedules =
			call("centers", "employee_schedules", { center_id = id, start_date = date_after(0), end_date = date_after(2) })
		assert.is_true(#schedules.employee_schedules > 0)
		local service = call("centers", "services", { center_id = id, size = 5 }).services[1]
		assert.are.equal(service.id, call("centers", "get_service", { center_id = id, service_id = service.id }).id)
		local performers =
			call("centers", "list_service_therapists_pricing", { center_id = id, service_id = service.id }).therapists
		local email = "ops." .. os.time() .. "@example.com"
		local created = call("guests", "create", {
			center_id = id,
			personal_info = { first_name = "Ada", last_name = "Ops", email = email },
		})
		assert.are.equal(created.id, call("guests", "get", { guest_id = created.id }).id)
		assert.are.equal(created.id, call("guests", "search", { email = email }).guests[1].id)
		local online = call("guests", "create_online", {
			email = "online." .. email,
			center_id = id,
			first_name = "On",
			last_name = "Line",
		})
		assert.truthy(online.guest_id)
		local whole = call("guests", "get", { guest_id = created.id }, { query = { expand = api.guests.update.entry.body } })
		whole.personal_info.first_name = "Ada B."
		local allowed = {}
		for _, f in ipairs(api.guests.update.entry.body) do
			allowed[f] = whole[f]
		end
		allowed.guest_id = created.id
		assert.are.equal("Ada B.", call("guests", "update", allowed).personal_info.first_name)
		assert.is_true(#call("guests", "list", { center_id = id }).guests > 0)
		-- the booking workflow
		local booking = call("bookings", "create", {
			center_id = id,
			date = date_after(3),
			guests = { { id = created.id, items = { { item = { id = service.id }, therapist = { id = performers[1].id } } } } },
		}).id
		local slots = call("bookings", "slots", { booking_id = booking })
		local slot = slots.slots[1] and slots.slots[1].Time or slots.next_available_day
		assert.is_true(call("bookings", "reserve", { booking_id = booking, slot_time = slot }).is_reserved)
		local invoice_id = call("bookings", "confirm", { booking_id = booking, notes = "spec" }).invoice.invoice_id
		local invoice = call("invoices", "get", { invoice_id = invoice_id }, { query = { expand = "InvoiceItems" } })
		assert.is_true(#call("guests", "appointments", { guest_id = created.id }).appointments >= 1)
		local balance = invoice.invoice.invoice_dues.balance
		call("invoices", "add_custom_payment", { invoice_id = invoice_id }, { extra = { amount = balance } })
		-- closing an invoice of a future appointment: its documented error inside the answer
		local closed, refused = api.invoices.close({ invoice_id = invoice_id })
		called.close_invoice = true
		assert.is_nil(closed)
		assert.are.equal(1113, refused.code)
		-- appointments
		local week = call("appointments", "list", { center_id = id, start_date = date_after(-3), end_date = date_after(3) })
		assert.is_true(#week > 0)
		assert.are.equal(week[1].appointment_id, call("appointments", "get", { appointment_id = week[1].appointment_id }).appointment_id)
		local today = date_after(0)
		local checkable
		for _, a in ipairs(week) do
			if a.start_time:sub(1, 10) <= today and (a.status == 0 or a.status == 4) and not a.invoice_locked then
				checkable = checkable or a
			end
		end
		local in_ok, in_err = api.appointments.check_in({ appointment_group_id = checkable.appointment_group_id })
		called.check_in_appointment = true
		if in_ok then
			call("appointments", "undo_check_in", { appointment_group_id = checkable.appointment_group_id })
		else
			assert.are.equal("conflict", in_err.kind, tostring(in_err)) -- a past day's invoice may be closed
			called.undo_check_in_appointment = true
		end
		call("appointments", "mark_no_show", { appointment_group_id = checkable.appointment_group_id, comments = "spec" })
		-- cancel an unpaid booking
		local other = call("bookings", "create", {
			center_id = id,
			date = date_after(4),
			guests = { { id = created.id, items = { { item = { id = service.id } } } } },
		}).id
		local other_slots = call("bookings", "slots", { booking_id = other })
		call("bookings", "reserve", {
			booking_id = other,
			slot_time = other_slots.slots[1] and other_slots.slots[1].Time or other_slots.next_available_day,
		})
		local other_invoice = call("bookings", "confirm", { booking_id = other }).invoice.invoice_id
		assert.is_true(call("invoices", "cancel_booking", { invoice_id = other_invoice, comments = "spec" }).success)
		-- every operation of the sandbox's --help was called
		local help = support.run(support.BIN .. "/pulse-sandbox --help")
		local emulated = 0
		for name in help:gmatch("\n  %u+ +%S+ +([%w_]+)") do
			emulated = emulated + 1
			assert.truthy(called[name], name .. " was not called through its wrapper")
		end
		assert.are.equal(28, emulated)
	end)

	it("walks a center's guests with the largest pages and no empty page", function()
		local before = client:stats().requests
		local seen, count = {}, 0
		for guest in api.guests.list:each({ center_id = center.id }) do
			assert.is_nil(seen[guest.id])
			seen[guest.id], count = true, count + 1
		end
		assert.is_true(count >= 200)
		assert.are.equal(math.ceil(count / 100), client:stats().requests - before)
		local pages = 0
		for page in api.guests.list:pages({ center_id = center.id, size = 50 }) do
			pages = pages + 1
			assert.are.equal(50, page.page_Info.size)
		end
		assert.are.equal(math.ceil(count / 50), pages)
	end)

	it("walks a center's appointments over any date range in 7-day windows", function()
		local before = client:stats().requests
		local first, last = date_after(-14), date_after(5)
		local count = 0
		for a in api.appointments.list:each({ center_id = center.id, start_date = first, end_date = last }) do
			count = count + 1
			assert.is_true(a.start_time:sub(1, 10) >= first and a.start_time:sub(1, 10) <= last, a.start_time)
		end
		assert.are.equal(3, client:stats().requests - before) -- 20 days: 7 + 7 + 6
		assert.is_true(count > 0)
		local err = refusal(function()
			return api.appointments.list:each({ center_id = center.id, start_date = "soon", end_date = last })
		end)
		assert.truthy(err:find("start_date and args.end_date must be dates", 1, true), err)
		err = refusal(function()
			return api.guests.get:each({ guest_id = "x" })
		end)
		assert.truthy(err:find("documents no paging", 1, true), err)
	end)

	it("walks the dates asked for, in any time zone", function()
		-- Far east of UTC, a day's noon is the day before in UTC: a window
		-- counted in UTC days would ask for the wrong one.
		local day = os.date("%Y-%m-%d", os.time() + 2 * 86400)
		local script = support.temp_path(".lua")
		support.write_file(script, string.format(
			[[
			local api = require("pulse").new():api()
			local center = assert(api.centers.list()).centers[1].id
			local days, n = {}, 0
			for a in api.appointments.list:each({ center_id = center, start_date = %q, end_date = %q }) do
				days[a.start_time:sub(1, 10)], n = true, n + 1
			end
			print(n > 0, next(days), next(days, next(days)))
			]],
			day,
			day
		))
		for _, zone in ipairs({ "Pacific/Kiritimati", "Pacific/Pago_Pago" }) do
			local out, err, code = support.run(
				string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s TZ=%s %s/pulse-lua %s", sandbox.key, sandbox.url, zone, support.BIN, script)
			)
			assert.are.equal(0, code, err)
			assert.are.equal("true\t" .. day .. "\tnil\n", out, zone)
		end
		os.remove(script)
	end)

	it("patches a guest in 2 calls, keeping every field it does not change", function()
		local guest = assert(api.guests.list({ center_id = center.id, size = 1 })).guests[1]
		local before = assert(api.guests.get({ guest_id = guest.id }, { query = { expand = "address_info" } }))
		assert.truthy(before.address_info)
		local calls = client:stats().requests
		local after = assert(api.guests.patch(guest.id, { personal_info = { last_name = "Patched" } }))
		assert.are.equal(2, client:stats().requests - calls)
		assert.are.equal("Patched", after.personal_info.last_name)
		assert.are.equal(before.personal_info.first_name, after.personal_info.first_name)
		assert.are.equal(before.personal_info.email, after.personal_info.email)
		assert.are.same(before.address_info, after.address_info)
		local missing, err = api.guests.patch(center.id, { code = "x" })
		assert.is_nil(missing)
		assert.are.equal(502, err.code)
		local refused = refusal(function()
			return api.guests.patch({ code = "x" })
		end)
		assert.truthy(refused:find("call it as api.guests.patch(guest_id, changes [, opts])", 1, true), refused)
	end)

	it("fails an error inside a 200 in one shape, uncached and not retried", function()
		local cached = pulse.new({ api_key = sandbox.key, base_url = sandbox.url, cache = true })
		local cached_api = cached:api()
		sandbox:fault("error_200")
		local none, err = cached_api.centers.services({ center_id = center.id })
		assert.is_nil(none)
		assert.are.equal(200, err.status)
		assert.are.equal(400, err.code)
		assert.are.equal("client", err.kind)
		assert.are.equal(1, err.attempts)
		assert.are.equal("The request is invalid.", err.message)
		assert.truthy(tostring(err):find("client (HTTP 200) on GET ", 1, true), tostring(err))
		local body, res = cached_api.centers.services({ center_id = center.id })
		assert.truthy(body, tostring(res))
		assert.is_false(res.from_cache)
		sandbox:fault("error_200")
		local _, slots_err = cached_api.bookings.slots({ booking_id = center.id })
		assert.are.equal(400, slots_err.code) -- the capital Error's StatusCode
		assert.are.equal("The request is invalid.", slots_err.message)
		cached:close()
	end)
end)
