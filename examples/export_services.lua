-- Export a booking catalogue: every service with the staff who perform it,
-- as CSV on stdout. Walks the paginated lists once each (the vendor's advice:
-- services, staff and prices rarely change, so fetch them once and reuse).
--
--   pulse-lua --sandbox examples/export_services.lua            (sample data)
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/export_services.lua

local pulse = require("pulse")

local client = pulse.new()

-- Every record of a paginated list endpoint.
local function fetch_all(path)
	local records, page = {}, 1
	repeat
		local body, err = client:get(path, { query = { page = page, per_page = 100 } })
		if not body then
			error(err, 0)
		end
		for _, record in ipairs(body.data) do
			records[#records + 1] = record
		end
		page = body.meta.next_page
	until page == pulse.null or page == nil
	return records
end

local function csv_field(value)
	local text = tostring(value)
	if text:find('[,"\n]') then
		return '"' .. text:gsub('"', '""') .. '"'
	end
	return text
end

local services = fetch_all("/services")
local staff_by_service = {}
for _, member in ipairs(fetch_all("/staff")) do
	for _, id in ipairs(member.service_ids) do
		staff_by_service[id] = staff_by_service[id] or {}
		table.insert(staff_by_service[id], member.name)
	end
end

print("id,service,price,duration_minutes,staff")
for _, service in ipairs(services) do
	print(table.concat({
		service.id,
		csv_field(service.name),
		string.format("%.2f", service.price / 100),
		service.duration,
		csv_field(table.concat(staff_by_service[service.id] or {}, "; ")),
	}, ","))
end

local stats = client:stats()
io.stderr:write(string.format("exported %d services in %d requests\n", #services, stats.requests))
client:close()
