-- Export every guest of every center to CSV, with the fewest calls: the
-- guest list is walked at its largest page (100, where its default is 10)
-- and stops by page_info.total, so 200 guests of a center cost 2 calls,
-- not the 21 of a loop at the default size that stops on an empty page.
--
--   pulse-lua --sandbox examples/export_guests.lua [guests.csv]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/export_guests.lua guests.csv

local pulse = require("pulse")

local client = pulse.new()
local api = client:api()

local out = arg[1] and assert(io.open(arg[1], "w")) or io.stdout
out:write(pulse.csv.line("guest_id", "center", "first_name", "last_name", "email", "mobile"))
local centers = assert(api.centers.list()).centers
local count = 0
for _, center in ipairs(centers) do
	for guest in api.guests.list:each({ center_id = center.id }) do
		local info = guest.personal_info or {}
		local mobile = type(info.mobile_phone) == "table" and info.mobile_phone.number or nil
		out:write(pulse.csv.line(guest.id, center.name, info.first_name, info.last_name, info.email, mobile))
		count = count + 1
	end
end
if out ~= io.stdout then
	assert(out:close())
end
local calls = client:stats().requests
io.stderr:write(string.format("exported %d guests of %d centers in %d calls\n", count, #centers, calls))
client:close()
