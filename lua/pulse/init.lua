-- pulse: the module users require. A facade: the client (client.lua) and
-- the request path under it live in their own files.

-- Read by any Lua: the modules below need 5.4 (integers, <close>), and an
-- older Lua would only say "unexpected symbol".
if _VERSION ~= "Lua 5.4" then
	error("pulse needs Lua 5.4 (this is " .. tostring(_VERSION) .. ")", 2)
end

local core = require("pulse.core")
local client = require("pulse.client")
local errors = require("pulse.errors")
local json = require("pulse.json")
local tasks = require("pulse.tasks")

return {
	_VERSION = "pulse-lua " .. core.version,
	VERSION = core.version,
	new = client.new,
	null = json.null,
	array = json.array,
	json = json,
	is_error = errors.is_error,
	run = tasks.run,
	spawn = tasks.spawn,
	-- Sleeps: inside a task only that task waits, others go on.
	sleep = tasks.sleep,
}
