--- pulse.sandbox: a sandbox for users' own test suites.
--
--   local sb = require("pulse.sandbox").start{ rate_limit = "20/5/20", faults = "503:count=2", seed = 3 }
--   local client = require("pulse").new{ base_url = sb.url, api_key = sb.key }
--   ...
--   sb:stop()
--
-- Under pulse-lua the sandbox runs inside the process (pulse-lua carries
-- it); under another Lua 5.4 it is the pulse-sandbox program, found as
-- $PULSE_SANDBOX_BIN or on the PATH, run with a fresh key it is given
-- through the environment, not the command line.
-- @module pulse.sandbox

local sandbox = {}

local Sandbox = {}
Sandbox.__index = Sandbox
Sandbox.__name = "pulse.sandbox"

local OPTIONS = { rate_limit = "string", faults = "string", seed = "number", reservation_hold = "number" }

local function check(opts)
	if opts ~= nil and type(opts) ~= "table" then
		error("pulse.sandbox.start: options must be a table, got " .. type(opts), 3)
	end
	for name, value in pairs(opts or {}) do
		if not OPTIONS[name] then
			error(
				"pulse.sandbox.start: unknown option '"
					.. tostring(name)
					.. "' (valid: faults, rate_limit, reservation_hold, seed)",
				3
			)
		end
		if type(value) ~= OPTIONS[name] or (name == "seed" and math.type(value) ~= "integer") then
			local want = name == "seed" and "an integer" or OPTIONS[name] == "number" and "a number" or "a string"
			error("pulse.sandbox.start: " .. name .. " must be " .. want, 3)
		end
		if name == "reservation_hold" and not (value >= 0.1 and value <= 86400) then
			error("pulse.sandbox.start: reservation_hold takes seconds from 0.1 to 86400", 3)
		end
	end
	return opts or {}
end

local function shell_quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function random_key()
	local f = assert(io.open("/dev/urandom", "rb"))
	local bytes = f:read(16)
	f:close()
	return (bytes:gsub(".", function(c)
		return string.format("%02x", c:byte())
	end))
end

-- The pulse-sandbox program, started with opts: pid, url and key.
local function spawn(opts)
	local key = random_key()
	local args = { "--port 0" }
	for _, name in ipairs({ "rate_limit", "faults", "seed", "reservation_hold" }) do
		if opts[name] ~= nil then
			args[#args + 1] = "--" .. name:gsub("_", "-") .. "=" .. shell_quote(opts[name])
		end
	end
	local bin = os.getenv("PULSE_SANDBOX_BIN") or "pulse-sandbox"
	-- exec: the shell's pid, printed first, is then the sandbox's.
	local command = string.format(
		"echo $$; PULSE_SANDBOX_API_KEY=%s exec %s %s 2>&1",
		key,
		shell_quote(bin),
		table.concat(args, " ")
	)
	local pipe = assert(io.popen(command, "r"))
	local pid, line = pipe:read("l"), pipe:read("l")
	local url = line and line:match("^listening on (%S+)")
	if not url then
		local rest = pipe:read("a") or ""
		pipe:close()
		error("pulse.sandbox.start: " .. bin .. " did not start: " .. tostring(line) .. rest, 3)
	end
	return pipe, pid, url, key
end

--- Starts a sandbox on a free loopback port, with a fresh key.
-- @tparam[opt] table opts `rate_limit` ("L/W/B"), `faults` (a spec), `seed`,
-- `reservation_hold` (seconds a reserved booking slot is held)
-- @treturn Sandbox with `url` and `key`
function sandbox.start(opts)
	opts = check(opts)
	local runner = package.loaded["pulse.runner"]
	local self = setmetatable({}, Sandbox)
	if runner and runner.start_sandbox then
		self.handle, self.url, self.key = runner.start_sandbox(opts)
	else
		self.pipe, self.pid, self.url, self.key = spawn(opts)
	end
	return self
end

--- A running sandbox: `sb.url`, `sb.key`.
-- @type Sandbox

--- Stops the sandbox; safe to call twice.
function Sandbox:stop()
	if self.handle then
		self.handle:stop()
	elseif self.pipe then
		os.execute("kill " .. self.pid .. " 2>/dev/null")
		self.pipe:close() -- waits for it to exit
		self.pipe = nil
	end
end
Sandbox.__close = Sandbox.stop

return sandbox
