-- What a user of the installed rock reaches (make rock runs it under the
-- fresh tree's LUA_PATH, LUA_CPATH and PATH): require "pulse", a request
-- to pulse.sandbox.start's sandbox (the pulse-sandbox program from the
-- tree's bin/), and pulse-lua.

local pulse = require("pulse")
assert(package.searchpath("pulse", package.path):find("/fresh/", 1, true), "pulse is not the rock's")
local sandbox = require("pulse.sandbox").start()
local client = pulse.new({ base_url = sandbox.url, api_key = sandbox.key })
local body = assert(client:api().centers.list())
assert(#body.centers == 3, "the sandbox answered another list")
client:close()
sandbox:stop()
local runner = assert(io.popen("pulse-lua -e 'print(require(\"pulse\").VERSION)'"))
local version = runner:read("l")
runner:close()
assert(version == pulse.VERSION, "pulse-lua says " .. tostring(version))
print("rock ok", pulse.VERSION)
