-- A server of the specs' own that misbehaves on request
-- (spec/support/hostile.py: huge headers, gzip bombs, redirect loops, an
-- echo of the key...), for the client's defences.

local json = require("pulse.json")
local support = require("support.sandbox")

local hostile = {}

local Server = {}
Server.__index = Server

-- script: another server of the specs' (spec/support/pages.py, echo.py).
function hostile.start(script)
	local output = os.tmpname()
	local pid, url = support.spawn("/usr/bin/python3 " .. (script or "spec/support/hostile.py"), output)
	return setmetatable({ url = url, port = tonumber(url:match(":(%d+)$")), pid = pid, output = output }, Server)
end

function Server:stop()
	support.stop_spawned(self.pid)
	os.remove(self.output)
end

-- The requests it read, in order: { method, path, key, body }.
function Server:log()
	local transport = require("pulse.core").transport({})
	local status, _, body = transport:perform("GET", self.url .. "/_log")
	transport:close()
	assert(status == 200, "hostile server log: " .. tostring(body))
	return assert(json.decode(body))
end

return hostile
