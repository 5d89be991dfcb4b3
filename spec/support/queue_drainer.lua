-- A drainer process for the queue's specs: drains the queue at arg[2] (a
-- journal's path, or a redis:// URL) against the sandbox at arg[1] with
-- PULSE_API_KEY, and prints its report as one JSON line, with
-- `reconciled`: how many times reconcile was asked. arg[3]:
-- "reconcile" (look the guest up by e-mail, on the API's search) or
-- "none"; arg[4]: workers; arg[5]: "forever" to keep draining what others
-- push, until a signal. QUEUE_LIMITER: the client's limiter (a shared
-- one); QUEUE_LEASE, QUEUE_SETTLE, QUEUE_STOP_TIMEOUT: drain's lease,
-- settle and stop_timeout, in seconds; QUEUE_TIMEOUT: the client's.
--   pulse-lua spec/support/queue_drainer.lua URL QUEUE MODE WORKERS [forever]

local pulse = require("pulse")

local url, target, mode, workers = arg[1], arg[2], arg[3], tonumber(arg[4] or "4")

local reconciled = 0

local function reconcile(entry, client)
	local body, err = client:get("/v1/guests/search", { query = { email = entry.json.personal_info.email } })
	if not body then
		return nil, err
	end
	reconciled = reconciled + 1
	return #body.guests > 0
end

local function seconds(name)
	return tonumber(os.getenv(name) or "")
end

local client = pulse.new({ base_url = url, limiter = os.getenv("QUEUE_LIMITER"), timeout = seconds("QUEUE_TIMEOUT") })
local q = assert(pulse.queue.open(target:find("^redis://") and target or "file:" .. target))
local report = assert(q:drain(client, {
	workers = workers,
	reconcile = mode == "reconcile" and reconcile or nil,
	backoff = { base = 0.05, cap = 0.5 },
	max_failures = 50,
	until_empty = arg[5] ~= "forever",
	lease = seconds("QUEUE_LEASE") or 60,
	settle = seconds("QUEUE_SETTLE"),
	stop_timeout = seconds("QUEUE_STOP_TIMEOUT"),
}))
q:close()
report.reconciled = reconciled
print(pulse.json.encode(report))
