-- Starts real pulse-sandbox processes on loopback for the specs, and talks
-- to their control endpoints. Each spec file starts the ones it needs.

local core = require("pulse.core")
local json = require("pulse.json")
local pulse = require("pulse")

local support = {}

support.BIN = os.getenv("PULSE_BUILD") or "build"

local started = 0

-- Every sandbox still running when the spec process closes its Lua state is
-- killed, so that a spec failing before its stop() leaves nothing behind.
local running = {}
support.reaper = setmetatable({}, {
	__gc = function()
		for pid in pairs(running) do
			os.execute("kill " .. pid .. " 2>/dev/null")
		end
	end,
})

local function shell_quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
support.shell_quote = shell_quote

local function read_file(path)
	local f = io.open(path, "rb")
	if not f then
		return nil
	end
	local text = f:read("a")
	f:close()
	return text
end
support.read_file = read_file

-- The first day at least `ahead` days from today (YYYY-MM-DD) on which the
-- sample organization's first therapist works, for book_appointment.lua
-- to book on the day asked: with pulse-sandbox's default seed she is off
-- on Mondays and Thursdays (lua/pulse/sandbox/org.lua: a day off and the
-- third after it), and the example then books on the next day with a
-- free slot, two calls more.
function support.bookable_day(ahead)
	local t = os.time() + ahead * 86400
	while os.date("%w", t) == "1" or os.date("%w", t) == "4" do
		t = t + 86400
	end
	return os.date("%Y-%m-%d", t)
end

-- A path no file has (os.tmpname's, the file it made removed), with
-- suffix ("" by default) after it: for a file or folder a test makes.
function support.temp_path(suffix)
	local path = os.tmpname()
	os.remove(path)
	return path .. (suffix or "")
end

function support.write_file(path, text)
	local f = assert(io.open(path, "wb"))
	f:write(text)
	f:close()
end

-- Whether process pid runs: a zombie does not (our processes are orphans,
-- which init reaps when it gets to it, a second later here).
function support.alive(pid)
	local stat = read_file("/proc/" .. pid .. "/stat")
	return stat ~= nil and stat:match("%) (%a)") ~= "Z"
end

-- Ends process pid and waits until it is gone.
function support.stop_process(pid)
	os.execute("kill " .. pid .. " 2>/dev/null")
	while support.alive(pid) do
		core.sleep(0.01)
	end
end

-- Runs a shell command; returns its stdout, stderr and exit code.
function support.run(command, stdin)
	local base = os.tmpname()
	local input = ""
	if stdin then
		local f = assert(io.open(base .. ".in", "wb"))
		f:write(stdin)
		f:close()
		input = " < " .. base .. ".in"
	end
	local ok, _, code = os.execute(
		string.format("( %s )%s > %s.out 2> %s.err", command, input, base, base)
	)
	local out, err = read_file(base .. ".out"), read_file(base .. ".err")
	os.remove(base)
	os.remove(base .. ".out")
	os.remove(base .. ".err")
	os.remove(base .. ".in")
	return out, err, ok and 0 or code
end

-- Runs the Lua script at path under plain lua5.4 with this build's
-- pulse.core and lua/ (pulse.sandbox then runs the pulse-sandbox program);
-- returns its stdout, stderr and exit code. Under make check-asan pulse.core
-- is instrumented: lua5.4 loads it with the sanitizer's runtime first.
-- The JSON line a background process writes last to the file at path,
-- decoded, once the line has ended (up to timeout seconds, 60 by default);
-- the file goes. Raises with what the process said when it is no JSON.
function support.json_line(path, timeout)
	local deadline = core.now() + (timeout or 60)
	local text
	repeat
		core.sleep(0.05)
		text = read_file(path) or ""
	until text:find("\n$") or core.now() > deadline
	os.remove(path)
	return assert(json.decode(text:match("([^\n]*)\n$") or text), "the process said: " .. text)
end

function support.run_lua54(path)
	local preload = os.getenv("ASAN_OPTIONS") and "LD_PRELOAD=$(gcc -print-file-name=libasan.so) " or ""
	return support.run(string.format(
		"%sPULSE_SANDBOX_BIN=%s/pulse-sandbox LUA_PATH='lua/?.lua;lua/?/init.lua' LUA_CPATH='%s/?.so' lua5.4 %s",
		preload,
		support.BIN,
		support.BIN,
		path
	))
end

-- Starts command in the background, its output going to output_path
-- (default: discarded); returns its pid.
function support.background(command, output_path)
	local pid_path = os.tmpname()
	os.execute(string.format("%s > %s 2>&1 & echo $! > %s", command, output_path or "/dev/null", pid_path))
	local pid = assert(read_file(pid_path)):match("%d+")
	os.remove(pid_path)
	return pid
end

-- Starts command in the background, its output going to output_path, and
-- waits (up to 30 s) for the line "listening on URL" it prints first.
-- Returns its pid and the URL; raises with its output when it failed.
function support.spawn(command, output_path)
	local pid = support.background(command, output_path)
	running[pid] = true
	local deadline = core.now() + 30
	local url
	while core.now() < deadline do
		local out = read_file(output_path) or ""
		url = out:match("listening on (%S+)")
		if url or out:find("pulse%-sandbox:") or out:find("Traceback") then
			break
		end
		core.sleep(0.01)
	end
	if not url then
		os.execute("kill " .. pid .. " 2>/dev/null")
		error(command .. " did not start: " .. (read_file(output_path) or ""))
	end
	return pid, url
end

-- Stops a process support.spawn started.
function support.stop_spawned(pid)
	support.stop_process(pid)
	running[pid] = nil
end

local Sandbox = {}
Sandbox.__index = Sandbox

-- opts: keys (list; {} for none on the command line), rate_limit ("L/W/B"),
-- retry_after, refill, seed, faults, log (true: a temporary file), tls
-- ({cert, key}), args (more options, as one string), env (VAR=value...
-- to run it with).
function support.start(opts)
	opts = opts or {}
	started = started + 1
	local base = os.tmpname()
	local keys = opts.keys or { string.format("spec-key-%d-%d", started, math.random(1, 1e9)) }
	-- PULSE_SANDBOX_WRAPPER runs the sandbox under a tool (make check-valgrind).
	local wrapper = os.getenv("PULSE_SANDBOX_WRAPPER")
	local args = { opts.env or "", wrapper or "", support.BIN .. "/pulse-sandbox", "--port", tostring(opts.port or 0) }
	for _, key in ipairs(keys) do
		args[#args + 1] = "--api-key " .. shell_quote(key)
	end
	args[#args + 1] = "--rate-limit " .. shell_quote(opts.rate_limit or "100000/1/100000")
	if opts.retry_after then
		args[#args + 1] = "--retry-after " .. opts.retry_after
	end
	if opts.refill then
		args[#args + 1] = "--refill " .. opts.refill
	end
	if opts.seed then
		args[#args + 1] = "--seed " .. opts.seed
	end
	if opts.faults then
		args[#args + 1] = "--faults " .. shell_quote(opts.faults)
	end
	local log_path
	if opts.log then
		log_path = base .. ".log"
		args[#args + 1] = "--log " .. log_path
	end
	if opts.tls then
		args[#args + 1] = "--tls " .. opts.tls.cert .. " " .. opts.tls.key
	end
	args[#args + 1] = opts.args
	local pid, url = support.spawn(table.concat(args, " "), base .. ".out")
	os.remove(base)
	return setmetatable({
		url = url,
		port = tonumber(url:match(":(%d+)$")),
		key = keys[1],
		keys = keys,
		seed = opts.seed,
		pid = pid,
		log_path = log_path,
		output_path = base .. ".out",
		control_transport = core.transport({ verify = false }),
	}, Sandbox)
end

-- Stops the sandbox and fails when it reported a sanitizer or memcheck
-- error, a leak included (make check-asan, make check-valgrind), or a
-- handler failure.
function Sandbox:stop()
	support.stop_spawned(self.pid)
	self.control_transport:close()
	local output = read_file(self.output_path) or ""
	os.remove(self.output_path)
	if self.log_path then
		os.remove(self.log_path)
	end
	if
		output:find("Sanitizer", 1, true)
		or output:find("runtime error", 1, true)
		or output:find("handler failed", 1, true)
		or output:find("==%d+== ") -- valgrind --quiet prints only what it found
	then
		error("pulse-sandbox reported a problem:\n" .. output, 2)
	end
end

-- The environment a pulse-lua run against this sandbox takes, as the
-- words before a command: its key and base URL.
function Sandbox:env()
	return string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s", shell_quote(self.key), self.url)
end

-- A client for this sandbox; extra options override the defaults.
function Sandbox:client(extra)
	local opts = { api_key = self.key, base_url = self.url, retry = { base = 0.05, cap = 0.2 } }
	for k, v in pairs(extra or {}) do
		opts[k] = v
	end
	return pulse.new(opts)
end

-- Paths of the API the sandbox emulates, for the specs of the client that
-- need any read, a read of a given item, a missing one, or a write.
support.READ = "/v1/centers" -- a list that is always there
support.MISSING = "/v1/appointments/00000000-0000-4000-8000-000000000000" -- 404
support.GUESTS = "/v1/guests" -- POST creates one (support.guest gives the body)

-- The sample organization's first center's id, and its services' ids in
-- the order listed (12 of them): made from the sandbox's seed as the
-- sandbox makes them, so that no request is spent (nor a fault met) on
-- learning them.
function Sandbox:center()
	if not self.center_id then
		local sample = require("pulse.sandbox.org").new({ seed = self.seed or 1, centers = 1, guests = 1, now = os.time() })
		local center = sample.centers[1]
		self.center_id, self.service_ids = center.id, {}
		for i, service in ipairs(center._services) do
			self.service_ids[i] = service.id
		end
	end
	return self.center_id
end

-- The path of the center's n-th service (1 to 12): an item to read.
function Sandbox:item(n)
	local center = self:center()
	return "/v1/Centers/" .. center .. "/services/" .. self.service_ids[(n - 1) % #self.service_ids + 1]
end

-- The n of a service item's body (sandbox:item(n)'s answer).
function Sandbox:number_of(body)
	self:center()
	for n, id in ipairs(self.service_ids) do
		if id == body.id then
			return n
		end
	end
	error("not one of the first center's services: " .. tostring(body.id), 2)
end

-- The body that creates guest n at the sandbox's first center.
function Sandbox:guest(n, extra)
	local body = {
		center_id = self:center(),
		personal_info = { first_name = "Guest", last_name = "Number " .. n, email = "guest." .. n .. "@example.com" },
	}
	for k, v in pairs(extra or {}) do
		body[k] = v
	end
	return body
end

-- A raw request (no pulse client): status, headers, decoded or raw body.
function Sandbox:raw(method, path, headers, body)
	local status, res_headers, text =
		self.control_transport:perform({ method = method, url = self.url .. path, headers = headers, body = body })
	assert(status, res_headers)
	local value = json.decode(text)
	return status, res_headers, value == nil and text or value
end

function Sandbox:control(method, what, body)
	local status, _, value = self:raw(method, "/_sandbox/" .. what, {}, body and assert(json.encode(body)))
	assert(status == 200, "control " .. what .. " answered " .. tostring(status))
	return value
end

function Sandbox:stats()
	return self:control("GET", "stats")
end

function Sandbox:fault(spec)
	return self:control("POST", "faults", { spec = spec })
end

function Sandbox:clear_faults()
	return self:control("DELETE", "faults")
end

function Sandbox:reset()
	return self:control("POST", "reset")
end

-- The request log, one decoded table per line.
function Sandbox:log_lines()
	local lines = {}
	for line in (read_file(self.log_path) or ""):gmatch("[^\n]+") do
		lines[#lines + 1] = assert(json.decode(line))
	end
	return lines
end

-- Registers busted hooks for a describe block sharing one sandbox: started
-- once, reset before each test, with a fresh client each test that is
-- closed after it. use(sandbox, client) receives them as they change.
function support.shared_sandbox(opts, use)
	local busted = require("busted") -- the hooks live in specs' environments, not in _G
	local setup, teardown, before_each, after_each = busted.setup, busted.teardown, busted.before_each, busted.after_each
	local sandbox, client
	setup(function()
		sandbox = support.start(opts)
		use(sandbox, nil)
	end)
	teardown(function()
		sandbox:stop()
	end)
	before_each(function()
		sandbox:reset()
		client = sandbox:client()
		use(sandbox, client)
	end)
	after_each(function()
		client:close()
	end)
end

-- A fresh self-signed certificate for 127.0.0.1: { dir, cert, key }; the
-- caller removes dir.
function support.self_signed()
	local dir = os.tmpname()
	os.remove(dir)
	os.execute("mkdir -p " .. dir)
	local _, err, code = support.run(string.format(
		"openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
			.. "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem",
		dir,
		dir
	))
	assert(code == 0, "openssl: " .. tostring(err))
	return { dir = dir, cert = dir .. "/cert.pem", key = dir .. "/key.pem" }
end

-- True when needle appears anywhere in value: keys, strings, nested tables.
function support.contains(value, needle, seen)
	seen = seen or {}
	if type(value) == "string" then
		return value:find(needle, 1, true) ~= nil
	end
	if type(value) ~= "table" or seen[value] then
		return false
	end
	seen[value] = true
	for k, v in pairs(value) do
		if support.contains(k, needle, seen) or support.contains(v, needle, seen) then
			return true
		end
	end
	local mt = getmetatable(value)
	if type(mt) == "table" and mt.__tostring then
		return tostring(value):find(needle, 1, true) ~= nil
	end
	return false
end

-- Asserts that res has exactly the fields of expected, each of the same
-- type (integers as integers), and returns how many there are: a res made
-- on the plain path (send.first_outcome) against one made by the retry loop.
function support.assert_same_fields(expected, res)
	local count = 0
	local function kind(v)
		return math.type(v) or type(v)
	end
	for k, v in pairs(expected) do
		count = count + 1
		if kind(v) ~= kind(res[k]) then
			error(string.format("res.%s: %s expected, got %s", k, kind(v), kind(res[k])), 2)
		end
	end
	for k in pairs(res) do
		if expected[k] == nil then
			error("res." .. tostring(k) .. ": a field the other lacks", 2)
		end
	end
	return count
end

return support
