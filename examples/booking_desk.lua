-- A booking desk: two clerks book customers into the first free slots of
-- one day, at once (tasks), each from a copy of the calendar read when the
-- desk opened, as two desks in two shops would. Both see the same slots
-- free, so they collide: the API answers the loser 409 (the staff member
-- is already booked then), and that clerk moves on to the next slot.
--
--   pulse-lua --sandbox examples/booking_desk.lua [DAY [SERVICE_ID]]
--
-- DAY defaults to 2026-12-15, SERVICE_ID to 1. Each clerk books three
-- customers; slots are on the hour, 08:00 to 17:00 UTC.

local pulse = require("pulse")

local day = arg[1] or "2026-12-15"
local service_id = math.tointeger(tonumber(arg[2] or "1")) or error("SERVICE_ID must be an integer", 0)
assert(day:find("^%d%d%d%d%-%d%d%-%d%d$"), "DAY must look like 2026-12-15")

local client = pulse.new()

local function all(path)
	local records = {}
	for record in client:each(path, { query = { per_page = 100 } }) do
		records[#records + 1] = record
	end
	return records
end

local service = assert(client:get("/services/" .. service_id)).data
local performers = {}
for _, member in ipairs(all("/staff")) do
	for _, id in ipairs(member.service_ids) do
		if id == service_id then
			performers[#performers + 1] = member
		end
	end
end
-- Who is busy when, as the calendar stood when the desk opened.
local busy = {}
for _, booking in ipairs(all("/bookings")) do
	busy[booking.staff_id .. " " .. booking.start] = true
end

local conflicts = 0

-- Books customer_id into the first slot the clerk's calendar shows free;
-- on a 409 (the other clerk was first) marks it taken and tries the next.
local function book(clerk, calendar, customer_id)
	for hour = 8, 17 do
		for _, member in ipairs(performers) do
			local start = string.format("%sT%02d:00:00Z", day, hour)
			local slot = member.id .. " " .. start
			if not calendar[slot] then
				calendar[slot] = true
				local created, err = client:post("/bookings", {
					service_id = service_id,
					staff_id = member.id,
					customer_id = customer_id,
					start = start,
				})
				if created then
					return string.format("customer %d with %s at %02d:00", customer_id, member.name, hour)
				elseif err.status ~= 409 then
					error(err, 0)
				end
				conflicts = conflicts + 1
				print(string.format("clerk %d: %s at %02d:00 was just taken; next slot", clerk, member.name, hour))
			end
		end
	end
	return nil
end

-- A clerk's customers: clerk 1 has 1-3, clerk 2 has 4-6.
local function clerk(n)
	local calendar = {}
	for slot in pairs(busy) do
		calendar[slot] = true
	end
	local booked = {}
	for customer_id = 3 * n - 2, 3 * n do
		booked[#booked + 1] = book(n, calendar, customer_id) or ("customer " .. customer_id .. ": no free slot")
	end
	return booked
end

print(string.format("%s on %s: %d staff perform it", service.name, day, #performers))
pulse.run(function()
	local first, second = pulse.spawn(clerk, 1), pulse.spawn(clerk, 2)
	for n, booked in ipairs({ first:join(), second:join() }) do
		for _, line in ipairs(booked) do
			print(string.format("clerk %d booked %s", n, line))
		end
	end
end)
print(string.format("%d conflicts answered 409 and resolved", conflicts))
client:close()
