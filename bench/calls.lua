-- Calls per job: each example against a plain script doing the same job
-- the way one would write it on the bare client (default page sizes, no
-- cache, a loop that stops on a short page), both against one pulse-sandbox
-- started once, on loopback, with a loose limit. At 60 calls a minute the
-- calls are the cost; the seconds and CPU seconds (the child's user + sys)
-- are beside them.
--   build/pulse-lua bench/calls.lua      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local support = require("support.sandbox")

local sandbox = support.start({ rate_limit = "100000/1/100000" })
local env = string.format("PULSE_API_KEY=%s ", support.shell_quote(sandbox.key))
local cache_dir = support.temp_path(".cache")

local function temp_script(text)
	local path = support.temp_path(".lua")
	support.write_file(path, text)
	return path
end

-- The plain scripts: the bare client, the API's defaults.
local PLAIN_GUESTS = temp_script([[
local client = require("pulse").new()
local n = 0
for _, center in ipairs(assert(client:get("/v1/centers")).centers) do
	local page = 1
	repeat
		local body = assert(client:get("/v1/guests", { query = { center_id = center.id, page = page } }))
		n, page = n + #body.guests, page + 1
	until #body.guests < 10
end
print(n)
]])

local PLAIN_MENU = temp_script([[
local client = require("pulse").new()
local n = 0
for _, center in ipairs(assert(client:get("/v1/centers")).centers) do
	local page = 1
	repeat
		local body = assert(client:get("/v1/Centers/" .. center.id .. "/services", { query = { page = page } }))
		for _, service in ipairs(body.services) do
			assert(client:get("/v1/centers/" .. center.id .. "/services/" .. service.id .. "/therapists"))
			n = n + 1
		end
		page = page + 1
	until #body.services < 10
end
print(n)
]])

local PLAIN_SYNC = temp_script([[
local client = require("pulse").new()
local first = os.time() - 14 * 86400
local n = 0
for _, center in ipairs(assert(client:get("/v1/centers")).centers) do
	for day = 0, 21, 7 do
		local from = os.date("%Y-%m-%d", first + day * 86400)
		local to = os.date("%Y-%m-%d", first + math.min(day + 6, 21) * 86400)
		local list = assert(client:get("/v1/appointments", { query = { center_id = center.id,
			start_date = from, end_date = to, include_no_show_cancel = true } }))
		n = n + #list
	end
end
print(n)
]])

-- Runs a command with the sandbox's env: calls it made, wall and CPU seconds.
local function measure(command)
	local before = sandbox:stats().requests
	local started = core.now()
	local shell = env .. command .. " > /dev/null; times"
	local out, err, code = support.run("bash -c " .. support.shell_quote(shell))
	assert(code == 0, command .. ": " .. err)
	local wall = core.now() - started
	local um, us, sm, ss = out:match("\n(%d+)m([%d.]+)s (%d+)m([%d.]+)s%s*$")
	return sandbox:stats().requests - before, wall, um * 60 + us + sm * 60 + ss
end

-- Every client on one core, the same for both.
local RUN = "taskset -c 1 " .. support.BIN .. "/pulse-lua --base-url " .. sandbox.url .. " "
local jobs = {
	{ "export all guests (3 centers x 200)", "examples/export_guests.lua /dev/null", PLAIN_GUESTS },
	{
		"service menu, first run",
		"PULSE_MENU_CACHE=" .. cache_dir .. " " .. RUN .. "examples/export_service_menu.lua /dev/null",
		PLAIN_MENU,
	},
	{
		"service menu, second run",
		"PULSE_MENU_CACHE=" .. cache_dir .. " " .. RUN .. "examples/export_service_menu.lua /dev/null",
		PLAIN_MENU,
	},
	{ "appointments of 22 days", "examples/sync_appointments.lua " .. support.temp_path(".jsonl"), PLAIN_SYNC },
	{ "book an appointment", "examples/book_appointment.lua --date " .. support.bookable_day(2) },
}

print("calls per job, one pulse-sandbox (loopback); the example against a plain script on the bare client")
local HEADER = { "job", "example", "plain", "ex. s", "plain s", "ex. cpu", "plain cpu" }
print(string.format("%-36s %8s %8s %9s %9s %9s %9s", table.unpack(HEADER)))
for _, job in ipairs(jobs) do
	local name, example, plain = job[1], job[2], job[3]
	if not example:find("PULSE_MENU_CACHE", 1, true) then
		example = RUN .. example
	end
	local calls, wall, cpu = measure(example)
	if plain then
		local p_calls, p_wall, p_cpu = measure(RUN .. plain)
		print(string.format("%-36s %8d %8d %9.3f %9.3f %9.3f %9.3f", name, calls, p_calls, wall, p_wall, cpu, p_cpu))
	else
		print(string.format("%-36s %8d %8s %9.3f %9s %9.3f %9s", name, calls, "-", wall, "-", cpu, "-"))
	end
end
sandbox:stop()
os.execute("rm -rf " .. support.shell_quote(cache_dir))
