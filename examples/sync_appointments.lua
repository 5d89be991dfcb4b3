-- Copy the appointments of every center for a date range into a JSON
-- Lines file, one appointment a line (with its center_id). The API gives a
-- center's appointments at most 7 days a call, so the range is walked a
-- window at a time; after each window the file's length and the next
-- window are written to a checkpoint (OUT.checkpoint), so that a run
-- stopped anywhere (Ctrl-C, kill -9, a lost network) goes on from there
-- when started again: no window is asked twice, no line is written twice.
--
--   pulse-lua --sandbox examples/sync_appointments.lua OUT.jsonl [START END]
--   PULSE_API_KEY=... PULSE_BASE_URL=... pulse-lua examples/sync_appointments.lua out.jsonl 2026-11-01 2026-11-30
--
-- START and END are dates (YYYY-MM-DD), both included; by default the
-- last 14 days and the next 7.
--
-- Several syncs of one range at once (one per consumer) spend the calls of
-- one when they share the organization's limiter ($PULSE_LIMITER) and a
-- cache directory ($PULSE_SYNC_CACHE): each window is fetched by one of
-- them, and the others read its answer.

local pulse = require("pulse")
local core = require("pulse.core")

local out_path, first, last = arg[1], arg[2], arg[3]
local function is_date(text)
	return type(text) == "string" and text:find("^%d%d%d%d%-%d%d%-%d%d$") ~= nil
end
if not out_path or (first or last) and not (is_date(first) and is_date(last) and first <= last) then
	error("usage: sync_appointments.lua OUT.jsonl [START END] (dates, YYYY-MM-DD)", 0)
end
first = first or os.date("%Y-%m-%d", os.time() - 14 * 86400)
last = last or os.date("%Y-%m-%d", os.time() + 7 * 86400)

local DAYS = 7 -- the API's widest window (core-domain.md 5a)
-- The date n days after date, on the calendar (noon, so that no
-- daylight-saving change moves it); dates so written compare as strings.
local function add_days(date, n)
	local y, m, d = date:match("^(%d+)%-(%d+)%-(%d+)$")
	return os.date("%Y-%m-%d", os.time({ year = tonumber(y), month = tonumber(m), day = tonumber(d) + n, hour = 12 }))
end

-- The checkpoint: which center and window come next, and how long the
-- output was when they were reached. One of another range is not ours.
local checkpoint_path = out_path .. ".checkpoint"
local function read_checkpoint()
	local file = io.open(checkpoint_path, "rb")
	if not file then
		return nil
	end
	local saved = pulse.json.decode(file:read("a"))
	file:close()
	if type(saved) ~= "table" or saved.first ~= first or saved.last ~= last then
		error(checkpoint_path .. " is of another run: remove it, or give that run's dates", 0)
	end
	return saved
end

local function save_checkpoint(state)
	assert(core.write_private(checkpoint_path, pulse.json.encode(state)))
end

-- The output cut back to length bytes: what a run killed mid-window wrote
-- after its last checkpoint goes.
local function cut(path, length)
	local file = io.open(path, "rb")
	local kept = file and file:read(length) or ""
	if file then
		file:close()
	end
	assert(core.write_private(path, kept))
end

local shared_cache = os.getenv("PULSE_SYNC_CACHE")
local client = pulse.new({ cache = shared_cache and { dir = shared_cache, ttl = 300 } or nil })
local api = client:api()
local state = read_checkpoint()
if state then
	cut(out_path, state.bytes)
	io.stderr:write(string.format("resuming at center %d, %s\n", state.center, state.from))
else
	state = { first = first, last = last, center = 1, from = first, bytes = 0, written = 0 }
	cut(out_path, 0)
end
local out = assert(io.open(out_path, "ab"))

local centers = assert(api.centers.list()).centers
while state.center <= #centers do
	local center = centers[state.center]
	local to = add_days(state.from, DAYS - 1)
	to = to < last and to or last
	local list = assert(api.appointments.list({
		center_id = center.id,
		start_date = state.from,
		end_date = to,
		include_no_show_cancel = true,
	}))
	for _, appointment in ipairs(list) do
		appointment.center_id = center.id
		out:write(pulse.json.encode(appointment), "\n")
	end
	assert(out:flush())
	state.written = state.written + #list
	state.bytes = out:seek("end")
	if to >= last then
		state.center, state.from = state.center + 1, first
	else
		state.from = add_days(to, 1)
	end
	save_checkpoint(state)
end
assert(out:close())
os.remove(checkpoint_path)
print(string.format(
	"%d appointments of %d centers, %s to %s, in %s; %d calls",
	state.written,
	#centers,
	first,
	last,
	out_path,
	client:stats().requests
))
client:close()
