-- Shows that the layer check (tools/layers.lua) catches each of its rules:
-- in a scratch copy of src/ and lua/, plants one violation at a time and
-- expects the check to fail naming it; the untouched copy must pass.
--   lua5.4 tools/layers_selftest.lua      (make lint-selftest)

local PLANTS = {
	{ "src/util/buf.c", "#include <lua.h>", "src/util may not include Lua's <lua.h>" },
	{ "src/util/clock.c", "#include <curl/curl.h>", "src/util may not include libcurl's <curl/curl.h>" },
	{ "src/util/fd_io.c", '#include "core/retry.h"', "src/util may not include from src/core" },
	{ "src/core/retry.c", '#include "limiter/limiter.h"', "src/core may not include from src/limiter" },
	{ "src/limiter/local.c", "#include <lauxlib.h>", "src/limiter may not include Lua's <lauxlib.h>" },
	{ "src/net/engine.c", "#include <lua.h>", "src/net may not include Lua's <lua.h>" },
	{ "src/net/exchange.c", '#include "binding/binding.h"', "src/net may not include from src/binding" },
	{ "src/sandbox/server.c", '#include "net/transport.h"', "src/sandbox may not include from src/net" },
	{ "src/sandbox/server.c", '#include "core/ratelimit.h"', "src/sandbox may not include from src/core" },
	{ "src/sandbox/timer.c", '#include "binding/binding.h"', "src/sandbox may not include from src/binding" },
	{ "src/sandbox/main.c", "#include <curl/curl.h>", "src/sandbox may not include libcurl's" },
	{ "src/helper.c", "int helper;", "a C file outside the layers of src/" },
	{ "lua/pulse/client.lua", 'local _ = require("pulse.sandbox")', "a client module may not require pulse.sandbox" },
	{ "lua/pulse/sandbox/faults.lua", 'local _ = require("pulse.json")', "the sandbox may not require the client's" },
	{ "lua/pulse/request.lua", 'local _ = require("pulse.send")', "pulse.request (rank 3) may not require pulse.send" },
	{ "lua/pulse/helper.lua", "return {}", "pulse.helper has no rank" },
}

local function run(command)
	local pipe = assert(io.popen(command .. " 2>&1"))
	local out = pipe:read("a")
	local ok = pipe:close()
	return ok, out
end

local function read(path)
	local f = io.open(path, "rb")
	if not f then
		return nil
	end
	local text = f:read("a")
	f:close()
	return text
end

local function write(path, text)
	local f = assert(io.open(path, "wb"))
	f:write(text)
	f:close()
end

local _, made = run("mktemp -d")
local scratch = made:gsub("%s+$", "")
assert(run(string.format("cp -r src lua %s/", scratch)), "cannot copy the tree")
local check = "lua5.4 tools/layers.lua " .. scratch
local failures = 0

local ok, out = run(check)
if not ok then
	print("FAIL: the untouched tree does not pass:\n" .. out)
	failures = failures + 1
end
for _, plant in ipairs(PLANTS) do
	local path, line, expected = scratch .. "/" .. plant[1], plant[2], plant[3]
	local original = read(path)
	write(path, (original or "") .. line .. "\n")
	ok, out = run(check)
	if ok or not out:find(expected, 1, true) then
		print(string.format("FAIL: %s in %s was not caught as '%s':\n%s", line, plant[1], expected, out))
		failures = failures + 1
	else
		print(string.format("caught: %s in %s", line, plant[1]))
	end
	if original then
		write(path, original)
	else
		os.remove(path)
	end
end
run("rm -rf " .. scratch)
if failures > 0 then
	os.exit(1)
end
print(#PLANTS .. " planted violations, each caught; the tree itself passes")
