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

-- A client of the server, key given in opts (and any other option): no
-- retries, and a policy that never binds, since these servers send no
-- rate-limit headers.
function Server:client(opts)
	local all = { base_url = self.url, retry = false, rate_limit = { limit = 100000, window = 1 } }
	for k, v in pairs(opts) do
		all[k] = v
	end
	return require("pulse").new(all)
end

function Server:stop()
	support.stop_spawned(self.pid)
	os.remove(self.output)
end

-- The requests it read, in order: { method, path, key, body }.
function Server:log()
	local transport = require("pulse.core").transport({})
	local status, _, body = transport:perform({ method = "GET", url = self.url .. "/_log" })
	transport:close()
	assert(status == 200, "hostile server log: " .. tostring(body))
	return assert(json.decode(body))
end

return hostile
