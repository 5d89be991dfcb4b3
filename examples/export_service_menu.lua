-- Export every center's service menu to CSV: each service with its price,
-- its duration and the therapists who perform it. The vendor's own
-- example of data to cache: it changes rarely, and a booking flow reads
-- it all the time. So the answers are kept in a cache directory for an
-- hour (PULSE_MENU_CACHE, else pulse-menu-cache in the system's temporary
-- directory): a second run within the hour, against the same server and
-- with the same key, costs 0 calls.
--
--   pulse-lua --sandbox examples/export_service_menu.lua [menu.csv]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/export_service_menu.lua menu.csv

local pulse = require("pulse")

local dir = os.getenv("PULSE_MENU_CACHE") or ((os.getenv("TMPDIR") or "/tmp") .. "/pulse-menu-cache")
local client = pulse.new({ cache = { dir = dir, ttl = 3600 } })
local api = client:api()

local out = arg[1] and assert(io.open(arg[1], "w")) or io.stdout
out:write(pulse.csv.line("center", "service", "code", "price", "duration_minutes", "therapists"))
local services = 0
for _, center in ipairs(assert(api.centers.list()).centers) do
	for service in api.centers.services:each({ center_id = center.id }) do
		local performers = assert(api.centers.list_service_therapists_pricing({
			center_id = center.id,
			service_id = service.id,
		}))
		local names = {}
		for i, therapist in ipairs(performers.therapists) do
			names[i] = therapist.personal_info.name
		end
		local price = service.price_info ~= pulse.null and service.price_info.final_price or nil
		local shown = price and string.format("%.2f", price)
		out:write(pulse.csv.line(center.name, service.name, service.code, shown, service.duration, table.concat(names, "; ")))
		services = services + 1
	end
end
if out ~= io.stdout then
	assert(out:close())
end
local stats = client:stats()
io.stderr:write(string.format(
	"exported %d services in %d calls (%d answered from the cache in %s)\n",
	services,
	stats.requests,
	stats.cache_hits,
	dir
))
client:close()
