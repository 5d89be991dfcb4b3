-- Import guests from a CSV file (first_name,last_name,email,mobile) into
-- a center through a durable write queue: stopped by Ctrl-C, kill -9 or a
-- crash, and run again, it creates every guest exactly once. Rows the API
-- refuses (here: no last name, which the organization requires) become
-- dead letters, reported and not retried.
--
--   PULSE_BASE_URL=... PULSE_API_KEY=... pulse-lua examples/import_guests.lua [CSV [JOURNAL]]
--   pulse-lua --sandbox examples/import_guests.lua     (a demo: the sandbox ends with the run)
--   pulse-lua --dry-run examples/import_guests.lua     (what it would write, nothing sent)
--
-- CSV defaults to examples/data/guests.csv, JOURNAL to import_guests.journal;
-- a redis:// URL there (with ?stream=NAME) puts the queue in Redis, and
-- several runs of this script on several machines then share the work.
-- The guests go to the first center, or to $PULSE_CENTER_ID. Each row is
-- pushed with its row number as its id, so a second run queues nothing
-- twice. A write whose answer was lost (the process killed while it was
-- out, or a dropped connection) may have been applied: the queue asks
-- reconcile, which searches the guests by e-mail, before it sends that
-- row again. It asks only once the server has had the write's timeout and
-- a margin to finish it (a slow server applies a write after its client
-- has gone): after a crash, a run waits up to IMPORT_TIMEOUT +
-- IMPORT_SETTLE seconds (default 20 + 30) for the rows that were out.

local pulse = require("pulse")

local csv_path = arg[1] or "examples/data/guests.csv"
local journal_path = arg[2] or "import_guests.journal"
local HEADER = "first_name,last_name,email,mobile"

-- The rows of the CSV file, read as RFC 4180 has it.
local function read_rows(path)
	local file = assert(io.open(path, "rb"))
	local text = file:read("a")
	file:close()
	local records = assert(pulse.csv.records(text))
	assert(table.concat(records[1] or {}, ",") == HEADER, path .. ": the header should be " .. HEADER)
	local rows = {}
	for r = 2, #records do
		local f = records[r]
		rows[#rows + 1] = { first_name = f[1], last_name = f[2], email = f[3], mobile = f[4] }
	end
	return rows
end

local client = pulse.new({ timeout = tonumber(os.getenv("IMPORT_TIMEOUT") or "20") })
local api = client:api()
local center_id = os.getenv("PULSE_CENTER_ID") or assert(api.centers.list()).centers[1].id

-- Whether the guest an uncertain write would create exists already.
local function reconcile(entry)
	local email = entry.json.personal_info.email
	local found, err = api.guests.search({ email = email, center_id = center_id })
	if not found then
		return nil, err -- cannot tell now: the queue asks again later
	end
	return #found.guests > 0
end

local rows = read_rows(csv_path)
local queue = assert(pulse.queue.open(journal_path:find("^redis://") and journal_path or "file:" .. journal_path))
for i, row in ipairs(rows) do
	local guest = {
		center_id = center_id,
		personal_info = {
			first_name = row.first_name,
			last_name = row.last_name,
			email = row.email,
			mobile_phone = row.mobile ~= "" and { country_code = 225, number = row.mobile } or nil,
		},
	}
	-- The key: rows of different guests need no order among them.
	local entry = { method = "POST", path = api.guests.create.entry.path, json = guest, id = "row-" .. i, key = row.email }
	assert(queue:push(entry))
end
local before = queue:stats()
if before.done + before.dead > 0 then
	print(string.format("resuming: %d of %d rows were settled in an earlier run", before.done + before.dead, #rows))
end

local report = assert(queue:drain(client, {
	workers = 4,
	reconcile = reconcile,
	settle = tonumber(os.getenv("IMPORT_SETTLE") or "30"),
}))
if report.would_write then -- pulse-lua --dry-run: each is on stderr
	print(string.format("dry run: %d guests to create, nothing sent; the queue keeps them", #report.would_write))
	for _, w in ipairs(report.would_write) do
		if w.refused then
			print(string.format("  %s would be refused: %s", w.id, w.refused))
		end
	end
	queue:close()
	return
end
print(string.format(
	"%d created, %d refused, %d left; %d calls",
	report.done,
	report.dead,
	report.pending,
	client:stats().requests
))
for _, entry in ipairs(queue:dead()) do
	print(string.format("  refused %s (%s): %s", entry.id, entry.json.personal_info.email, entry.reason))
end
queue:close()
client:close()
if report.stopped then
	print("stopped by " .. report.stopped .. ": run it again to go on")
	os.exit(report.stopped == "SIGINT" and 130 or 143)
end
