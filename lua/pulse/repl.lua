-- The prompt of pulse-lua -i (src/runner/repl.c reads the lines): what
-- it shows of a value, what Tab completes, what help(x) says, and which
-- lines its history may keep. The C side reads and runs; the choices are
-- here, where a user may read and change them.

local errors = require("pulse.errors")
local json = require("pulse.json")
local secrets = require("pulse.secrets")
local state_home = require("pulse.state_home")

local repl = {}

-- How much of a table the prompt shows: deeper tables and further items
-- are counted, not printed; a string longer than LONG_STRING is cut.
local MAX_DEPTH, MAX_ITEMS, LONG_STRING = 4, 25, 200

local KEYWORDS = {
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

local function is_identifier(key)
	return type(key) == "string" and key:find("^[%a_][%w_]*$") ~= nil
end

-- A res (response.lua's) by its shape: it has no class of its own.
-- Raw fields: a table whose __index raises (api's groups) is no res.
local function is_res(v)
	return type(v) == "table"
		and math.type(rawget(v, "status")) == "integer"
		and type(rawget(v, "attempts")) == "number"
		and type(rawget(v, "elapsed")) == "number"
		and rawget(v, "rate") ~= nil
		and rawget(v, "headers") ~= nil
end

local function res_line(res)
	local flags = {}
	for _, flag in ipairs({ "from_cache", "stale", "revalidated", "shared", "dry_run", "replayed" }) do
		if res[flag] then
			flags[#flags + 1] = flag
		end
	end
	local rate = res.rate
	return string.format(
		"<res %d in %.3f s, %d attempt%s, waited %.3f s, rate %s/%s%s>",
		res.status,
		res.elapsed,
		res.attempts,
		res.attempts == 1 and "" or "s",
		res.waited or 0,
		tostring(rate.remaining or "?"),
		tostring(rate.limit or "?"),
		#flags > 0 and (", " .. table.concat(flags, ", ")) or ""
	)
end

local function scalar(v)
	if type(v) == "string" then
		if #v > LONG_STRING then
			return string.format("%q", v:sub(1, LONG_STRING)):gsub("\\\n", "\\n") .. "… (" .. #v .. " bytes)"
		end
		return (string.format("%q", v):gsub("\\\n", "\\n"))
	elseif v == json.null then
		return "null"
	end
	return tostring(v)
end

local function sorted_keys(t)
	local keys, rest = {}, {}
	for k in pairs(t) do
		if math.type(k) == "integer" and k >= 1 and k <= #t then
			keys[#keys + 1] = k
		else
			rest[#rest + 1] = k
		end
	end
	table.sort(keys)
	table.sort(rest, function(a, b)
		if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then
			return a < b
		end
		return type(a) < type(b)
	end)
	table.move(rest, 1, #rest, #keys + 1, keys)
	return keys
end

local show

-- A table, indented at depth; open: the tables being shown around it.
local function show_table(t, depth, open)
	local mt = getmetatable(t)
	if mt and mt ~= json.array_mt and mt.__tostring then
		return tostring(t)
	elseif is_res(t) then
		return res_line(t)
	elseif open[t] then
		return "<cycle>"
	elseif next(t) == nil then
		return mt == json.array_mt and "[]" or "{}"
	elseif depth >= MAX_DEPTH then
		return mt == json.array_mt and "[…]" or "{…}"
	end
	open[t] = true
	local array = mt == json.array_mt
	local pad = string.rep("  ", depth + 1)
	local lines, keys = {}, sorted_keys(t)
	for i, k in ipairs(keys) do
		if i > MAX_ITEMS then
			lines[#lines + 1] = pad .. "… " .. (#keys - MAX_ITEMS) .. " more"
			break
		end
		local value = show(t[k], depth + 1, open)
		if array or (math.type(k) == "integer" and k == i) then
			lines[#lines + 1] = pad .. value
		elseif is_identifier(k) then
			lines[#lines + 1] = pad .. k .. " = " .. value
		else
			lines[#lines + 1] = pad .. "[" .. scalar(k) .. "] = " .. value
		end
	end
	open[t] = nil
	local close = string.rep("  ", depth)
	if array then
		return "[\n" .. table.concat(lines, ",\n") .. "\n" .. close .. "]"
	end
	return "{\n" .. table.concat(lines, ",\n") .. "\n" .. close .. "}"
end

function show(v, depth, open)
	if errors.is_error(v) then
		return tostring(v)
	elseif type(v) == "table" then
		return show_table(v, depth, open)
	end
	return scalar(v)
end

--- The prompt's text of the values a line returned, one per line: tables
-- indented (JSON arrays as [ ], pulse.null as null, cycles marked), a res
-- in one line, an err as its one-line message.
function repl.show(...)
	local out = {}
	for i = 1, select("#", ...) do
		out[i] = show((select(i, ...)), 0, {})
	end
	return table.concat(out, "\n")
end

-- The names t answers to: its own string keys, and those of the tables
-- its metatable's __index leads to (a class's methods).
local function names_of(t, methods_only)
	local names, seen = {}, {}
	local hops = 0
	while (type(t) == "table" or type(t) == "userdata") and hops < 8 do
		if type(t) == "table" then
			for k, v in pairs(t) do
				if is_identifier(k) and not seen[k] and (not methods_only or type(v) == "function" or type(v) == "table") then
					seen[k], names[#names + 1] = true, k
				end
			end
		end
		local mt = getmetatable(t)
		t = type(mt) == "table" and rawget(mt, "__index") or nil
		hops = hops + 1
	end
	return names
end

--- What Tab offers for word (the expression before the cursor, as
-- api.gue or client:ge): the whole words it may become, sorted.
-- @tparam string word
-- @tparam[opt] table env where names are looked up (default: _G)
function repl.complete(word, env)
	env = env or _G
	local path, sep, stem = word:match("^(.-)([.:]?)([%w_]*)$")
	local candidates = {}
	if sep == "" then
		for _, k in ipairs(KEYWORDS) do
			candidates[#candidates + 1] = k
		end
		for _, k in ipairs(names_of(env)) do
			candidates[#candidates + 1] = k
		end
	else
		local t = env
		for part in path:gmatch("[^.:]+") do
			if not is_identifier(part) then
				return {}
			end
			local ok, value = pcall(function()
				return t[part]
			end)
			if not ok or (type(value) ~= "table" and type(value) ~= "userdata") then
				return {}
			end
			t = value
		end
		candidates = names_of(t, sep == ":")
	end
	local out = {}
	for _, name in ipairs(candidates) do
		if name:sub(1, #stem) == stem and not name:find("^_") then
			out[#out + 1] = path .. sep .. name
		end
	end
	table.sort(out)
	local unique = {}
	for _, name in ipairs(out) do
		if unique[#unique] ~= name then
			unique[#unique + 1] = name
		end
	end
	return unique
end

-- ---- help -------------------------------------------------------------------

-- The text of a Lua source by its chunk name ("@lua/pulse/client.lua"):
-- the runner's embedded copy, else the file.
local function source_text(chunkname)
	local ok, runner = pcall(require, "pulse.runner")
	if ok and type(runner) == "table" and runner.source then
		local text = runner.source(chunkname)
		if text then
			return text
		end
	end
	local path = chunkname:match("^@(.+)$")
	local file = path and io.open(path)
	if not file then
		local module = path and path:match("lua/(.+)%.lua$")
		local found = module and package.searchpath(module:gsub("/", "."), package.path)
		file = found and io.open(found)
	end
	if not file then
		return nil
	end
	local text = file:read("a")
	file:close()
	return text
end

-- A function's doc comment (the -- lines above it) and its first line.
local function function_doc(fn)
	local info = debug.getinfo(fn, "S")
	if info.what == "C" then
		return nil
	end
	local text = source_text(info.source)
	if not text then
		return nil
	end
	local lines = {}
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		lines[#lines + 1] = line
	end
	local doc, n = {}, info.linedefined - 1
	while n >= 1 and lines[n]:find("^%s*%-%-") do
		table.insert(doc, 1, (lines[n]:gsub("^%s*%-%-%-?%s?", "")))
		n = n - 1
	end
	local signature = (lines[info.linedefined] or ""):gsub("^%s+", "")
	return signature, table.concat(doc, "\n")
end

local GENERAL = [[
pulse-lua's prompt: a Lua 5.4 prompt with pulse loaded.
  pulse                 the module (pulse.new, pulse.null, pulse.json, ...)
  client, api           a client of $PULSE_API_KEY at $PULSE_BASE_URL (or --sandbox), in the
                        interactive lane, and its built-in operations: api.<group>.<name>(args)
  help(x)               what x is: an operation (help(api.guests.search)), a group (help(api.guests)),
                        a function (help(client.get)) or a module (help(pulse))
  Tab completes names, fields and methods; a line's values are shown readably; Ctrl-C
  stops the running call; history is kept in $XDG_STATE_HOME/pulse/history.]]

--- help(x), as the prompt has it: an operation's or a group's own help,
-- a function's doc comment, a module's functions with their first lines.
-- @return the text
function repl.help_text(x)
	if x == nil then
		return GENERAL
	end
	if type(x) == "table" then
		local ok, help = pcall(function()
			return x.help
		end)
		if ok and type(help) == "function" then
			local done, text = pcall(help, x)
			if done and type(text) == "string" then
				return text
			end
		end
		local lines = {}
		for _, name in ipairs(names_of(x)) do
			local value = x[name]
			if type(value) == "function" and not name:find("^_") then
				local signature, doc = function_doc(value)
				local first = doc and doc:match("^[^\n]*") or ""
				first = first ~= "" and first or signature or "(written in C)"
				lines[#lines + 1] = string.format("  %-24s %s", name, first)
			end
		end
		table.sort(lines)
		if #lines == 0 then
			return "a table with no functions; its fields: " .. table.concat(names_of(x), ", ")
		end
		return "functions:\n" .. table.concat(lines, "\n")
	elseif type(x) == "function" then
		local signature, doc = function_doc(x)
		if not signature then
			return "a function written in C: no help of its own"
		end
		return signature .. (doc ~= "" and ("\n" .. doc) or "")
	end
	return type(x) .. ": " .. show(x, 0, {})
end

--- Whether the history may keep line: not when it holds a secret a client
-- knows, or the key of the environment, or names one being set.
function repl.keep(line)
	if line:find("api_key%s*=") or line:find("set_api_key") or secrets.held(line) then
		return false
	end
	local key = os.getenv("PULSE_API_KEY")
	return not (key and key ~= "" and line:find(key, 1, true))
end

--- The history's file: $XDG_STATE_HOME/pulse/history, or
-- ~/.local/state/pulse/history; nil without either variable.
function repl.history_path()
	local state = state_home()
	return state and (state .. "/pulse/history")
end

--- Sets up the prompt's globals in env (default: _G): pulse and help, and
-- when a key and a base URL are known, client (interactive lane) and api.
-- @return a line saying what is there
function repl.start(env)
	env = env or _G
	local pulse = require("pulse")
	env.pulse = pulse
	env.help = function(x)
		print(repl.help_text(x))
	end
	local ok, client = pcall(pulse.new, { priority = "interactive" })
	if not ok then
		return "pulse, help(); no client: " .. tostring(client):gsub("^[^:]*:%d+: ", "")
	end
	env.client, env.api = client, client:api()
	return "pulse, client (" .. client.base_url .. "), api, help()"
end

return repl
