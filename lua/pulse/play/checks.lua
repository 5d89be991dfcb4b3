-- pulse-lua --collection ... --checks FILE.lua: checks in Lua, in the
-- place of a collection's pm.test scripts (which are never run). The file
-- returns rules by request name or pattern:
--
--   return {
--     ["api.guests.*"] = function(res, body, check)
--       check("has an id", body.id ~= nil)
--     end,
--     ["Get center"] = { status = 200, json = { ["center.id"] = true }, max_ms = 800 },
--     reconcile = { ["api.create_guest"] = function(request) ... end },
--   }
--
-- A name is matched against the request's dotted name (api.folder.name),
-- its name in the collection, and its folder path ("Folder/Name"); * in
-- a pattern stands for any text. Every rule that matches runs, the exact
-- names first. A function rule calls check(name, ok [, message]) for
-- each assertion; one that raises fails a check named after it. The
-- one-line forms: status (a code, or a list of them), json (field paths
-- to true: present, false: absent, or the value expected), header (name
-- to value), max_ms (the response time). reconcile: for an uncertain write
-- of a resumed run, whether the server applied it (as a queue's).

local json = require("pulse.json")

local checks = {}

local Checks = {}
Checks.__index = Checks

local function refuse(message, status)
	error({ refused = message, status = status }, 0)
end

-- A pattern of Lua's for a name with * in it.
local function pattern_of(name)
	return "^" .. name:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
end

--- The rules of the checks file at path; refused (status 3) when it cannot
-- be read or run, (status 2) when what it returns is not rules.
function checks.load(path)
	local chunk, why = loadfile(path, "t")
	if not chunk then
		refuse("--checks: " .. tostring(why), 3)
	end
	local ok, rules = pcall(chunk)
	if not ok then
		refuse("--checks: " .. path .. " raised: " .. tostring(rules), 3)
	end
	if type(rules) ~= "table" then
		refuse("--checks: " .. path .. " returns " .. type(rules) .. ", not a table of rules", 2)
	end
	local self = setmetatable({ rules = {}, reconcilers = {} }, Checks)
	for name, rule in pairs(rules) do
		if name == "reconcile" then
			if type(rule) ~= "table" then
				refuse("--checks: reconcile must be a table of functions by request name", 2)
			end
			for key, fn in pairs(rule) do
				if type(key) ~= "string" or type(fn) ~= "function" then
					refuse("--checks: reconcile." .. tostring(key) .. " must be a function", 2)
				end
				self.reconcilers[#self.reconcilers + 1] = { name = key, pattern = pattern_of(key), fn = fn }
			end
		elseif type(name) ~= "string" or (type(rule) ~= "function" and type(rule) ~= "table") then
			refuse("--checks: rule " .. tostring(name) .. " must be a function or a table (status, json, header, max_ms)", 2)
		else
			local exact = not name:find("*", 1, true)
			self.rules[#self.rules + 1] = { name = name, pattern = pattern_of(name), rule = rule, exact = exact }
		end
	end
	table.sort(self.rules, function(a, b)
		if a.exact ~= b.exact then
			return a.exact
		end
		return a.name < b.name
	end)
	return self
end

local function names_match(entry, names)
	for _, name in ipairs(names) do
		if name:find(entry.pattern) then
			return true
		end
	end
	return false
end

--- The rules for a request known by names (its dotted name, its name,
-- its folder path).
function Checks:for_request(names)
	local out = {}
	for _, entry in ipairs(self.rules) do
		if names_match(entry, names) then
			out[#out + 1] = entry
		end
	end
	return out
end

--- The reconcile function for a request known by names, or nil.
function Checks:reconciler(names)
	for _, entry in ipairs(self.reconcilers) do
		if names_match(entry, names) then
			return entry.fn
		end
	end
	return nil
end

local function shown(v)
	if type(v) == "table" then
		return json.encode(v) or "a table"
	end
	return tostring(v)
end

-- The checks of a one-line rule, through check.
local function table_rule(rule, res, body, elapsed_ms, check)
	if rule.status ~= nil then
		local wanted = type(rule.status) == "table" and rule.status or { rule.status }
		local status = res and res.status
		local ok = false
		for _, code in ipairs(wanted) do
			ok = ok or status == code
		end
		check("status is " .. table.concat(wanted, " or "), ok, "got " .. tostring(status))
	end
	for path, expected in pairs(rule.json or {}) do
		local value = json.at_path(body, path)
		if expected == true then
			check(path .. " is present", value ~= nil and value ~= json.null)
		elseif expected == false then
			check(path .. " is absent", value == nil or value == json.null, "got " .. shown(value))
		else
			check(path .. " is " .. shown(expected), value == expected, "got " .. shown(value))
		end
	end
	for name, expected in pairs(rule.header or {}) do
		local value = res and res.headers and res.headers[name]
		check("header " .. name .. " is " .. tostring(expected), value == expected, "got " .. tostring(value))
	end
	if rule.max_ms ~= nil then
		local took = string.format("took %.0f ms", elapsed_ms)
		check("response time under " .. rule.max_ms .. " ms", elapsed_ms < rule.max_ms, took)
	end
end

--- Runs rules (for_request's) on a request's outcome: res (the answer's,
-- or the error's res; nil when none came), body (decoded, or nil), and
-- the response time. Returns the checks: { name, passed, message }.
function checks.run(rules, res, body, elapsed_ms)
	local out = {}
	local function check(name, ok, message)
		out[#out + 1] = { name = tostring(name), passed = ok and true or false, message = not ok and message or nil }
	end
	for _, entry in ipairs(rules) do
		if type(entry.rule) == "function" then
			local ok, why = pcall(entry.rule, res, body, check)
			if not ok then
				check(entry.name .. " raised", false, tostring(why))
			end
		else
			table_rule(entry.rule, res, body, elapsed_ms, check)
		end
	end
	return out
end

return checks
