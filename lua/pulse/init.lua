--- pulse: the module users require. A facade: the client (client.lua) and
-- the request path under it live in their own files.
-- @module pulse

-- Read by any Lua: the modules below need 5.4 (integers, <close>), and an
-- older Lua would only say "unexpected symbol".
if _VERSION ~= "Lua 5.4" then
	-- Debian's busted command runs Lua 5.1: specs of a user's own are the
	-- likeliest way here.
	local under_busted = package.loaded.busted or (arg and tostring(arg[0]):find("busted", 1, true))
	error(
		"pulse needs Lua 5.4 (this is "
			.. tostring(_VERSION)
			.. ")"
			.. (under_busted and ": run the specs as lua5.4 /usr/bin/busted" or ""),
		2
	)
end

local core = require("pulse.core")
local client = require("pulse.client")
local collection = require("pulse.collection")
local csv = require("pulse.csv")
local errors = require("pulse.errors")
local json = require("pulse.json")
local queue = require("pulse.queue")
local tasks = require("pulse.tasks")

--- A client of the Pulse API.
-- @function new
-- @tparam[opt] table opts `api_key, api_key_file, base_url, timeout,
-- connect_timeout, rate_limit, retry, verify, ca_file, proxy, user_agent,
-- verbose, max_body, limiter, bucket, limiter_fallback` (README.md, doc/client.md)
-- @treturn pulse.client.Client

--- JSON null, as decoded bodies hold it and encode writes it.
-- @field null

--- Marks t as a JSON array, so that an empty one encodes as `[]`.
-- @function array
-- @tparam[opt] table t
-- @treturn table t

--- Whether v is an error a call returned.
-- @function is_error
-- @param v
-- @treturn boolean

--- Runs fn as a task on the multi engine: calls inside tasks yield rather
-- than block, so tasks started with `spawn` go at once.
-- @function run
-- @tparam function fn
-- @param ... its arguments
-- @return fn's results

--- Starts a task inside `run`.
-- @function spawn
-- @tparam function fn
-- @param ... its arguments
-- @treturn pulse.tasks.Task

--- Sleeps: inside a task only that task waits, others go on.
-- @function sleep
-- @tparam number seconds

--- The JSON codec (`pulse.json`).
-- @field json

--- The Postman collection loader (`pulse.collection`).
-- @field collection

--- The durable write queue (`pulse.queue`).
-- @field queue

--- CSV as RFC 4180 has it (`pulse.csv`): `records(text)`, `rows(text)`.
-- @field csv

--- The version, "0.1.0"; `_VERSION` is "pulse-lua 0.1.0".
-- @field VERSION

-- The module. (A plain comment here: LDoc would take the doc comment just
-- before a statement as that statement's, and drop it.)
local pulse = {
	_VERSION = "pulse-lua " .. core.version,
	VERSION = core.version,
	new = client.new,
	null = json.null,
	array = json.array,
	json = json,
	collection = collection,
	csv = csv,
	queue = queue,
	is_error = errors.is_error,
	run = tasks.run,
	spawn = tasks.spawn,
	sleep = tasks.sleep,
}

return pulse
