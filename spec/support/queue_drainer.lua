-- A drainer process for the queue's specs: drains the journal at arg[2]
-- against the sandbox at arg[1] with PULSE_API_KEY, and prints its report
-- as one JSON line. arg[3]: "reconcile" (look the customer up by email,
-- on the sandbox's lookup) or "none"; arg[4]: workers; arg[5]: "forever"
-- to keep draining what others push, until a signal.
--   pulse-lua spec/support/queue_drainer.lua URL JOURNAL MODE WORKERS [forever]

local pulse = require("pulse")

local url, journal, mode, workers = arg[1], arg[2], arg[3], tonumber(arg[4] or "4")

local function reconcile(entry, client)
	local body, err = client:get("/customers", { query = { email = entry.json.email } })
	if not body then
		return nil, err
	end
	return #body.data > 0
end

local client = pulse.new({ base_url = url })
local q = assert(pulse.queue.open("file:" .. journal))
local report = assert(q:drain(client, {
	workers = workers,
	reconcile = mode == "reconcile" and reconcile or nil,
	backoff = { base = 0.05, cap = 0.5 },
	max_failures = 50,
	until_empty = arg[5] ~= "forever",
}))
q:close()
print(pulse.json.encode(report))
