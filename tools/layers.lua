-- The layer rules of ARCHITECTURE.md, checked by reading includes and
-- requires: each folder uses only what lies below it.
--   lua5.4 tools/layers.lua [ROOT]      (make lint runs it on the tree)
-- Prints each violation as FILE:LINE: RULE and exits 1 when there is one.

local root = arg[1] or "."

-- The folders of src/ each folder may include from (its own included).
-- An include without a folder ("buf.h") is one of the file's own folder.
local MAY_INCLUDE = {
	util = {},
	core = { util = true },
	redis = {},
	limiter = { util = true, core = true, redis = true },
	queue = { util = true, core = true },
	net = { util = true, core = true, limiter = true },
	binding = { util = true, core = true, redis = true, limiter = true, queue = true, net = true },
	embed = {},
	sandbox = { util = true, embed = true },
	runner = { util = true, core = true, binding = true, embed = true, net = true, sandbox = true },
	-- what they fuzz:
	fuzz = { util = true, core = true, redis = true, limiter = true, queue = true, binding = true, sandbox = true },
}

-- System headers only some layers may include: Lua's C API, libcurl and
-- libmicrohttpd.
local LUA_HEADERS = { ["lua.h"] = true, ["lauxlib.h"] = true, ["lualib.h"] = true }
local MAY_USE_LUA = { binding = true, embed = true, runner = true, sandbox = true, fuzz = true }
local MAY_USE_CURL = { net = true }
-- (The runner serves --metrics with it too: runner/metrics_server.c.)
local MAY_USE_MHD = { sandbox = true, runner = true }

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

-- The client's Lua modules by rank, lowest first: a module may require
-- those of its own rank and below, never above. A name ending in ".*"
-- ranks the modules under it; a name given whole overrides it.
local LUA_RANKS = {
	{
		"pulse.core",
		"pulse.errors",
		"pulse.options",
		"pulse.csv",
		"pulse.url",
		"pulse.queue.state",
		"pulse.catalog",
		"pulse.state_home",
	},
	{ "pulse.json", "pulse.secrets", "pulse.stats", "pulse.tasks", "pulse.progress", "pulse.lookup", "pulse.plan",
		"pulse.report_html", "pulse.har" },
	{
		"pulse.request",
		"pulse.response",
		"pulse.redirects",
		"pulse.cache",
		"pulse.collection",
		"pulse.pagination",
		"pulse.observe",
	},
	{ "pulse.stage.*" }, -- the request path's stages
	{ "pulse.send" }, -- the request path
	{ "pulse.batch", "pulse.operation", "pulse.queue", "pulse.queue.*" },
	{ "pulse.api" },
	{ "pulse.client" },
	{ "pulse", "pulse.admin", "pulse.play", "pulse.play.*", "pulse.queue.command", "pulse.repl", "pulse.scrub" },
}

local rank_of, rank_under = {}, {}
for rank, names in ipairs(LUA_RANKS) do
	for _, name in ipairs(names) do
		local prefix = name:match("^(.*)%.%*$")
		if prefix then
			rank_under[prefix .. "."] = rank
		else
			rank_of[name] = rank
		end
	end
end

local function lua_rank(name)
	if rank_of[name] then
		return rank_of[name]
	end
	for prefix, rank in pairs(rank_under) do
		if name:sub(1, #prefix) == prefix then
			return rank
		end
	end
end

local function module_name(path)
	return (path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

-- The sandbox is an oracle independent of the client: neither side
-- requires the other (the sandbox reads and writes JSON with lua-cjson).
local function check_lua(path)
	local in_sandbox = path:find("^lua/pulse/sandbox/") ~= nil
	local name = module_name(path)
	local rank = not in_sandbox and lua_rank(name)
	if not in_sandbox and not rank then
		report(path, 0, name .. " has no rank in tools/layers.lua (see ARCHITECTURE.md)")
	end
	each_line(path, function(line, n)
		line = line:gsub("%-%-.*$", "") -- a comment's example is no require
		for required in line:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do
			local sandbox_module = required == "pulse.sandbox" or required:find("^pulse%.sandbox%.") ~= nil
			local other = rank and required:find("^pulse") and lua_rank(required)
			if in_sandbox and required:find("^pulse") and not sandbox_module then
				report(path, n, "the sandbox may not require the client's " .. required)
			elseif not in_sandbox and sandbox_module then
				report(path, n, "a client module may not require " .. required)
			elseif other and other > rank then
				report(path, n, string.format("%s (rank %d) may not require %s (rank %d)", name, rank, required, other))
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
