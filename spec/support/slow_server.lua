-- A server slower than its client, for the queue's specs: the proxy of
-- spec/support/slow_apply.py in front of a sandbox, holding each POST
-- before the sandbox applies it, and applying it even after the client
-- has gone.

local support = require("support.sandbox")

local slow_server = {}

local Server = {}
Server.__index = Server

-- Starts the proxy in front of sandbox, holding POSTs hold_ms. Its url,
-- and key (the sandbox's), are what the drainer helper needs of a server.
function slow_server.start(sandbox, hold_ms)
	local output = support.temp_path(".out")
	local pid, url =
		support.spawn(string.format("/usr/bin/python3 spec/support/slow_apply.py %s %d", sandbox.url, hold_ms), output)
	return setmetatable({ url = url, key = sandbox.key, pid = pid, output = output, sandbox = sandbox }, Server)
end

-- A client of the sandbox's (its defaults) that reaches it through the
-- proxy; extra options override the defaults.
function Server:client(extra)
	local opts = { base_url = self.url }
	for k, v in pairs(extra or {}) do
		opts[k] = v
	end
	return self.sandbox:client(opts)
end

function Server:stop()
	support.stop_spawned(self.pid)
	os.remove(self.output)
end

return slow_server
