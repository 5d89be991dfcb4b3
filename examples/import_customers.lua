-- Bulk import customers from a CSV file (name,email,phone) through a
-- durable write queue: stopped by Ctrl-C, kill -9 or a crash, and run
-- again, it creates every customer exactly once. Rows the API refuses (a
-- bad email) become dead letters, reported and not retried.
--
--   PULSE_BASE_URL=... PULSE_API_KEY=... pulse-lua examples/import_customers.lua [CSV [JOURNAL]]
--   pulse-lua --sandbox examples/import_customers.lua     (a demo: the sandbox ends with the run)
--
-- CSV defaults to examples/data/customers.csv, JOURNAL to
-- import_customers.journal; a redis:// URL there (with ?stream=NAME) puts
-- the queue in Redis, and several runs of this script on several machines
-- then share the work. Each row is pushed with its row number as its
-- id, so a second run queues nothing twice. A write whose answer was lost
-- (the process killed while it was out, or a dropped connection) may have
-- been applied: the queue asks reconcile, which looks the customer up by
-- email, before it sends that row again. (GET /customers?email= is the
-- sandbox's lookup; against the real API, use a lookup it offers.) It asks
-- only once the server has had the write's timeout and a margin to finish
-- it (a slow server applies a write after its client has gone): after a
-- crash, a run waits up to IMPORT_TIMEOUT + IMPORT_SETTLE seconds (default
-- 20 + 30) for the rows that were out.

local pulse = require("pulse")

local csv_path = arg[1] or "examples/data/customers.csv"
local journal_path = arg[2] or "import_customers.journal"

-- The rows of the CSV file (name,email,phone), read as RFC 4180 has it.
local function read_rows(path)
	local file = assert(io.open(path, "rb"))
	local text = file:read("a")
	file:close()
	local records = assert(pulse.csv.records(text))
	assert(table.concat(records[1] or {}, ",") == "name,email,phone", path .. ": the header should be name,email,phone")
	local rows = {}
	for r = 2, #records do
		local f = records[r]
		rows[#rows + 1] = { name = f[1], email = f[2], phone = f[3] ~= "" and f[3] or nil }
	end
	return rows
end

-- Whether the customer an uncertain write would create exists already.
local function reconcile(entry, client)
	local body, err = client:get("/customers", { query = { email = entry.json.email } })
	if not body then
		return nil, err -- cannot tell now: the queue asks again later
	end
	return #body.data > 0
end

local rows = read_rows(csv_path)
local queue = assert(pulse.queue.open(journal_path:find("^redis://") and journal_path or "file:" .. journal_path))
for i, row in ipairs(rows) do
	-- The key: rows of different customers need no order among them.
	assert(queue:push({ method = "POST", path = "/customers", json = row, id = "row-" .. i, key = row.email }))
end
local before = queue:stats()
if before.done + before.dead > 0 then
	print(string.format("resuming: %d of %d rows were settled in an earlier run", before.done + before.dead, #rows))
end

local client = pulse.new({ timeout = tonumber(os.getenv("IMPORT_TIMEOUT") or "20") })
local report = assert(queue:drain(client, {
	workers = 4,
	reconcile = reconcile,
	settle = tonumber(os.getenv("IMPORT_SETTLE") or "30"),
}))
print(string.format(
	"%d created, %d refused, %d left; %d requests",
	report.done,
	report.dead,
	report.pending,
	client:stats().requests
))
for _, entry in ipairs(queue:dead()) do
	print(string.format("  refused %s (%s): %s", entry.id, entry.json.email, entry.reason))
end
queue:close()
client:close()
if report.stopped then
	print("stopped by " .. report.stopped .. ": run it again to go on")
	os.exit(report.stopped == "SIGINT" and 130 or 143)
end
