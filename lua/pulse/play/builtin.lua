-- --collection builtin:pulse: the built-in catalog of the Pulse API as a
-- Postman collection (v2.1), made when asked. A folder per group holds
-- every documented operation (path parameters as :name, the query's
-- documented parameters as {{name}}, for an environment or data rows to
-- fill); the folder read-only holds the GETs pulse-sandbox emulates, in
-- an order where each id comes from a list answered before it: a request's
-- _pulse.capture names the variables its answer sets for the rest of the
-- row (variable = a dotted path in the body). It writes nothing.

local catalog = require("pulse.catalog")

local builtin = {}

local V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

builtin.NAME = "builtin:pulse"

-- A catalog path as a Postman URL: {x} as :x, the required query
-- parameters as {{name}}.
local function url_of(op)
	local query = {}
	for _, q in ipairs(op.query) do
		if q.required then
			query[#query + 1] = q.name .. "={{" .. q.name .. "}}"
		end
	end
	local path = op.path:gsub("{([^}]+)}", ":%1")
	return "{{baseUrl}}" .. path .. (query[1] and ("?" .. table.concat(query, "&")) or "")
end

local function request_of(op)
	local request = { method = op.method, url = url_of(op) }
	if op.method ~= "GET" and #op.body > 0 then
		local fields = {}
		for _, field in ipairs(op.body) do
			fields[#fields + 1] = string.format('"%s": "{{%s}}"', field, field)
		end
		request.header = { { key = "Content-Type", value = "application/json" } }
		request.body = { mode = "raw", raw = "{" .. table.concat(fields, ", ") .. "}" }
	end
	return { name = op.name, request = request }
end

local function get(name, url, capture)
	local item = { name = name, request = { method = "GET", url = "{{baseUrl}}" .. url } }
	item["_pulse"] = capture and { capture = capture } -- pulse-lua's own field: collection.lua
	return item
end

-- The read-only chain: each id from an answer before it. Dates are the
-- week from today, where the sandbox's sample organization has
-- appointments.
local function read_only(today, week)
	local window = "start_date=" .. today .. "&end_date=" .. week
	return {
		get("list_centers", "/v1/centers", { centerId = "centers.1.id" }),
		get("get_center", "/v1/Centers/{{centerId}}"),
		get("list_center_services", "/v1/Centers/{{centerId}}/services", { serviceId = "services.1.id" }),
		get("get_center_service", "/v1/Centers/{{centerId}}/services/{{serviceId}}"),
		get("list_service_therapists_pricing", "/v1/centers/{{centerId}}/services/{{serviceId}}/therapists"),
		get("list_center_employees", "/v1/centers/{{centerId}}/employees"),
		get("list_center_therapists", "/v1/centers/{{centerId}}/therapists"),
		get("list_center_employee_schedules", "/v1/centers/{{centerId}}/employee_schedules?" .. window),
		get("list_guests", "/v1/guests?center_id={{centerId}}", {
			guestId = "guests.1.id",
			guestEmail = "guests.1.personal_info.email",
		}),
		get("search_guests", "/v1/guests/search?center_id={{centerId}}&email={{guestEmail}}"),
		get("get_guest", "/v1/guests/{{guestId}}"),
		get("list_guest_appointments", "/v1/guests/{{guestId}}/appointments"),
		get("list_appointments", "/v1/appointments?center_id={{centerId}}&" .. window, {
			appointmentId = "1.appointment_id",
			invoiceId = "1.invoice_id",
		}),
		get("get_appointment", "/v1/appointments/{{appointmentId}}"),
		get("get_invoice", "/v1/invoices/{{invoiceId}}"),
	}
end

--- The collection (a decoded Postman document).
function builtin.collection()
	local folders, by_group = {}, {}
	for _, op in ipairs(catalog.operations) do
		if op.path ~= "" then
			local folder = by_group[op.group]
			if not folder then
				folder = { name = op.group, item = {} }
				by_group[op.group] = folder
				folders[#folders + 1] = folder
			end
			folder.item[#folder.item + 1] = request_of(op)
		end
	end
	local now = os.time()
	local today, week = os.date("%Y-%m-%d", now), os.date("%Y-%m-%d", now + 6 * 86400)
	table.insert(folders, 1, { name = "read-only", item = read_only(today, week) })
	return {
		info = { name = "Pulse API (built in)", schema = V21 },
		item = folders,
		variable = { { key = "baseUrl", value = "" } },
	}
end

return builtin
