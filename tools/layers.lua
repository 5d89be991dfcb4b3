-- The layer rules of ARCHITECTURE.md, checked by reading includes and
-- requires: each folder uses only what lies below it.
--   lua5.4 tools/layers.lua [ROOT]      (make lint runs it on the tree)
-- Prints each violation as FILE:LINE: RULE and exits 1 when there is one.

local root = arg[1] or "."

-- The folders of src/ each folder may include from (its own included).
-- An include without a folder ("buf.h") is one of the file's own folder.
local MAY_INCLUDE = {
	core = {},
	redis = {},
	limiter = { core = true, redis = true },
	queue = { core = true },
	net = { core = true, limiter = true },
	binding = { core = true, redis = true, limiter = true, queue = true, net = true },
	embed = {},
	sandbox = { core = true, embed = true },
	runner = { core = true, binding = true, embed = true, net = true, sandbox = true },
	fuzz = { core = true, redis = true, limiter = true, queue = true, binding = true }, -- what they fuzz
}

-- System headers only some layers may include: Lua's C API, libcurl and
-- libmicrohttpd.
local LUA_HEADERS = { ["lua.h"] = true, ["lauxlib.h"] = true, ["lualib.h"] = true }
local MAY_USE_LUA = { binding = true, embed = true, runner = true, sandbox = true, fuzz = true }
local MAY_USE_CURL = { net = true }
local MAY_USE_MHD = { sandbox = true }

local violations = 0

local function report(file, line, rule)
	violations = violations + 1
	print(string.format("%s:%d: %s", file, line, rule))
end

local function list(command)
	local pipe = assert(io.popen(command))
	local files = {}
	for file in pipe:lines() do
		files[#files + 1] = file
	end
	pipe:close()
	return files
end

local function each_line(path, fn)
	local n = 0
	for line in io.lines(root .. "/" .. path) do
		n = n + 1
		fn(line, n)
	end
end

local function check_c(path)
	local folder = path:match("^src/([^/]+)/")
	local allowed = folder and MAY_INCLUDE[folder]
	if not allowed then
		report(path, 0, "a C file outside the layers of src/ (see ARCHITECTURE.md)")
		return
	end
	each_line(path, function(line, n)
		local quoted = line:match('^%s*#%s*include%s+"([^"]+)"')
		local system = line:match("^%s*#%s*include%s+<([^>]+)>")
		if quoted then
			local other = quoted:match("^([^/]+)/")
			if other and other ~= folder and not allowed[other] then
				report(path, n, string.format("src/%s may not include from src/%s (%s)", folder, other, quoted))
			end
		elseif system then
			if LUA_HEADERS[system] and not MAY_USE_LUA[folder] then
				report(path, n, string.format("src/%s may not include Lua's <%s>", folder, system))
			elseif system:find("^curl/") and not MAY_USE_CURL[folder] then
				report(path, n, string.format("src/%s may not include libcurl's <%s>", folder, system))
			elseif system == "microhttpd.h" and not MAY_USE_MHD[folder] then
				report(path, n, string.format("src/%s may not include <%s>", folder, system))
			end
		end
	end)
end

-- The sandbox is an oracle independent of the client: neither side
-- requires the other (the sandbox reads and writes JSON with lua-cjson).
local function check_lua(path)
	local in_sandbox = path:find("^lua/pulse/sandbox/") ~= nil
	each_line(path, function(line, n)
		line = line:gsub("%-%-.*$", "") -- a comment's example is no require
		for name in line:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
			local sandbox_module = name == "pulse.sandbox" or name:find("^pulse%.sandbox%.") ~= nil
			if in_sandbox and name:find("^pulse") and not sandbox_module then
				report(path, n, "the sandbox may not require the client's " .. name)
			elseif not in_sandbox and sandbox_module then
				report(path, n, "a client module may not require " .. name)
			end
		end
	end)
end

for _, path in ipairs(list("cd " .. root .. " && find src -name '*.[ch]' | sort")) do
	check_c(path)
end
for _, path in ipairs(list("cd " .. root .. " && find lua -name '*.lua' | sort")) do
	check_lua(path)
end
if violations > 0 then
	print(violations .. " layer rule violation(s); the rules are in ARCHITECTURE.md")
	os.exit(1)
end
