-- Export a booking catalogue: every service with the staff who perform it,
-- as CSV on stdout and, given a file name, as JSON Lines too (one service a
-- line, its staff as full records). The lists are walked page by page
-- (client:each); each staff member's record is then fetched in one batch.
--
--   pulse-lua --sandbox examples/export_services.lua [services.jsonl]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/export_services.lua

local pulse = require("pulse")

local client = pulse.new()

local function all(path)
	local records = {}
	for record in client:each(path, { query = { per_page = 100 } }) do
		records[#records + 1] = record
	end
	return records
end

local function csv_field(value)
	local text = tostring(value)
	if text:find('[,"\n]') then
		return '"' .. text:gsub('"', '""') .. '"'
	end
	return text
end

local services = all("/services")

-- The lists give summaries; a batch fetches every staff member's record.
local requests = {}
for i, member in ipairs(all("/staff")) do
	requests[i] = { "GET", "/staff/" .. member.id }
end
local staff_by_service = {}
for _, result in ipairs(client:batch(requests)) do
	local member = (result[1] or error(result[2], 0)).data
	for _, id in ipairs(member.service_ids) do
		staff_by_service[id] = staff_by_service[id] or {}
		table.insert(staff_by_service[id], member)
	end
end

print("id,service,price,duration_minutes,staff")
for _, service in ipairs(services) do
	local names = {}
	for i, member in ipairs(staff_by_service[service.id] or {}) do
		names[i] = member.name
	end
	print(table.concat({
		service.id,
		csv_field(service.name),
		string.format("%.2f", service.price / 100),
		service.duration,
		csv_field(table.concat(names, "; ")),
	}, ","))
end

if arg[1] then
	local out = assert(io.open(arg[1], "w"))
	for _, service in ipairs(services) do
		service.staff = pulse.array(staff_by_service[service.id] or {})
		out:write(pulse.json.encode(service), "\n")
	end
	assert(out:close())
end

local stats = client:stats()
io.stderr:write(string.format("exported %d services in %d requests\n", #services, stats.requests))
client:close()
