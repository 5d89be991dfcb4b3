-- A nightly sync: reads every booking, compares them with the snapshot the
-- last run left, reports the bookings added, changed and removed since,
-- and leaves this run's snapshot for the next (written whole, then renamed
-- into place, so that a crash never leaves half a file).
--
--   pulse-lua --sandbox examples/nightly_sync.lua [SNAPSHOT]
--   pulse-lua --sandbox examples/nightly_sync.lua --demo [SNAPSHOT]
--
-- SNAPSHOT defaults to bookings.snapshot.json. --demo syncs, then books,
-- moves and cancels a booking as a day at the shop would, and syncs again.

local pulse = require("pulse")

local demo = arg[1] == "--demo"
local snapshot_path = arg[demo and 2 or 1] or "bookings.snapshot.json"
if demo and not (os.getenv("PULSE_BASE_URL") or ""):find("^http://127%.0%.0%.1:") then
	error("--demo changes bookings: run it against the sandbox (pulse-lua --sandbox)", 0)
end
local FIELDS = { "service_id", "staff_id", "customer_id", "start" }

local function read_snapshot(path)
	local file = io.open(path)
	if not file then
		return nil
	end
	local text = file:read("a")
	file:close()
	local ok, snapshot = pcall(pulse.json.decode, text)
	if not ok or type(snapshot) ~= "table" then
		error(path .. " is not a snapshot this script wrote; move it away to start afresh", 0)
	end
	return snapshot
end

local function write_snapshot(path, bookings)
	local partial = path .. ".partial"
	local file = assert(io.open(partial, "w"))
	assert(file:write(pulse.json.encode(bookings)))
	assert(file:close())
	assert(os.rename(partial, path))
end

local function describe(b)
	return string.format("#%s %s staff %s customer %s service %s", b.id, b.start, b.staff_id, b.customer_id, b.service_id)
end

-- One run: the bookings now against the snapshot; leaves the new one.
local function sync(client)
	local now = {} -- id (a string, as JSON object keys are) -> booking
	for booking in client:each("/bookings", { query = { per_page = 100 } }) do
		local kept = { id = booking.id }
		for _, field in ipairs(FIELDS) do
			kept[field] = booking[field]
		end
		now[tostring(booking.id)] = kept
	end

	local before = read_snapshot(snapshot_path)
	local count = 0
	for _ in pairs(now) do
		count = count + 1
	end
	if not before then
		write_snapshot(snapshot_path, now)
		print(string.format("first run: %d bookings; snapshot written to %s", count, snapshot_path))
		return
	end

	local report = { added = {}, changed = {}, removed = {} }
	for id, b in pairs(now) do
		local old = before[id]
		if not old then
			report.added[#report.added + 1] = describe(b)
		else
			local diffs = {}
			for _, field in ipairs(FIELDS) do
				if old[field] ~= b[field] then
					diffs[#diffs + 1] = string.format("%s %s -> %s", field, old[field], b[field])
				end
			end
			if #diffs > 0 then
				report.changed[#report.changed + 1] = "#" .. id .. " " .. table.concat(diffs, ", ")
			end
		end
	end
	for id, b in pairs(before) do
		if not now[id] then
			report.removed[#report.removed + 1] = describe(b)
		end
	end

	print(string.format(
		"%d bookings: %d added, %d changed, %d removed since the last run",
		count,
		#report.added,
		#report.changed,
		#report.removed
	))
	for _, what in ipairs({ "added", "changed", "removed" }) do
		table.sort(report[what])
		for _, line in ipairs(report[what]) do
			print(string.format("  %-8s %s", what, line))
		end
	end
	write_snapshot(snapshot_path, now)
end

local client = pulse.new()
sync(client)
if demo then
	-- A day at the shop: a booking made, one moved an hour on, one cancelled.
	assert(client:post("/bookings", { service_id = 1, staff_id = 1, customer_id = 1, start = "2026-12-31T09:00:00Z" }))
	local moved = assert(client:get("/bookings/2")).data
	local hour = tonumber(moved.start:sub(12, 13))
	local later = moved.start:sub(1, 11) .. string.format("%02d", hour < 17 and hour + 1 or 8) .. moved.start:sub(14)
	assert(client:patch("/bookings/2", { start = later }))
	assert(client:delete("/bookings/3"))
	print("-- a day later --")
	sync(client)
end
client:close()
