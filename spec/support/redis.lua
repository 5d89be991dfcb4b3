-- Starts real redis-server processes on free loopback ports for the specs
-- and stops them: each Redis spec its own, as with sandboxes, so that
-- make test needs only the redis-server that make deps installs.

local core = require("pulse.core")
local support = require("support.sandbox")

local redis = {}

local Redis = {}
Redis.__index = Redis

-- Runs redis-server on self.port; true once it accepts connections, false
-- when the port was taken. Raises on any other failure.
function Redis:launch()
	local args = {
		"redis-server",
		"--bind 127.0.0.1",
		"--port " .. self.port,
		"--save ''",
		-- appendfsync always: a kill -9 of the server loses no write it answered.
		self.appendonly and "--appendonly yes --appendfsync always" or "--appendonly no",
		"--dir " .. self.dir,
	}
	if self.password then
		args[#args + 1] = "--requirepass " .. support.shell_quote(self.password)
	end
	local pid_path = self.dir .. "/pid"
	os.execute(string.format("%s > %s 2>&1 & echo $! > %s", table.concat(args, " "), self.log, pid_path))
	self.pid = assert(support.read_file(pid_path)):match("%d+")
	local deadline = core.now() + 30
	while core.now() < deadline do
		local log = support.read_file(self.log) or ""
		if log:find("Ready to accept connections", 1, true) then
			return true
		end
		if log:find("Address already in use", 1, true) then
			support.stop_process(self.pid)
			return false
		end
		if not support.alive(self.pid) then
			break
		end
		core.sleep(0.01)
	end
	error("redis-server did not start:\n" .. (support.read_file(self.log) or ""))
end

-- opts: password (then the server requires it), appendonly (then its
-- data outlives a restart).
function redis.start(opts)
	opts = opts or {}
	local dir = os.tmpname()
	os.remove(dir)
	os.execute("mkdir -p " .. dir)
	local self =
		setmetatable({ dir = dir, log = dir .. "/log", password = opts.password, appendonly = opts.appendonly }, Redis)
	for _ = 1, 50 do
		-- Below the kernel's ephemeral range (32768 and up), so that no outgoing
		-- connection takes the port while restart needs it back.
		self.port = math.random(20000, 32000)
		if self:launch() then
			local auth = self.password and (":" .. self.password .. "@") or ""
			self.url = string.format("redis://%s127.0.0.1:%d", auth, self.port)
			return self
		end
	end
	error("no free port for redis-server")
end

-- Runs one redis-cli command (a string of words); returns its output.
function Redis:cli(command)
	local auth = self.password and ("-a " .. support.shell_quote(self.password) .. " --no-auth-warning ") or ""
	local out, err, code = support.run(string.format("redis-cli -p %d %s%s", self.port, auth, command))
	assert(code == 0, "redis-cli " .. command .. ": " .. tostring(err))
	return out
end

-- Kills the server (SIGKILL: its data goes, as in a crash).
function Redis:kill()
	os.execute("kill -9 " .. self.pid .. " 2>/dev/null")
	while support.alive(self.pid) do
		core.sleep(0.01)
	end
end

-- Kills the server and starts a new one on the same port: empty, or,
-- with appendonly, with every write it answered.
function Redis:restart()
	self:kill()
	for _ = 1, 100 do -- the port may linger a moment
		if self:launch() then
			return
		end
		core.sleep(0.05)
	end
	error("redis-server did not come back on port " .. self.port)
end

function Redis:stop()
	self:kill()
	os.execute("rm -rf " .. self.dir)
end

return redis
