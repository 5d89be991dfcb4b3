-- The dry-run stage (dry_run = true, pulse-lua --dry-run): reads go out as
-- usual (or come from a replay); a write is not sent. It is checked as
-- far as the client can (a documented operation for its method and path,
-- its path parameters filled, its JSON body's fields among those the
-- catalog documents), printed on stderr as the request it would have been
-- (the key redacted), written to the trace, and answered with its own
-- body and a res marked dry_run; a write the catalog refuses fails with
-- kind dry_run, naming why.

local catalog = require("pulse.catalog")
local core = require("pulse.core")
local errors = require("pulse.errors")
local json = require("pulse.json")
local response = require("pulse.response")
local secrets = require("pulse.secrets")
local url = require("pulse.url")

local stage = { name = "dry_run" }

local WRITES = require("pulse.request").WRITES

function stage.applies(line)
	return line.dry_run == true
end

-- The catalog's operations of each method, with their paths as patterns
-- (segments compared without case: the reference spells some paths two
-- ways), best first: the most literal path, then one whose body the
-- reference documents, then the catalog's order. Made at a dry run's
-- first write, not when every client's process loads the stage.
local by_method

local function operations_by_method()
	by_method = {}
	for index, op in ipairs(catalog.operations) do
		if op.path ~= "" then
			local pattern = "^" .. op.path:lower():gsub("%p", "%%%0"):gsub("%%{[^}]+%%}", "([^/]+)") .. "$"
			local list = by_method[op.method] or {}
			list[#list + 1] = { op = op, pattern = pattern, params = #op.path_params, index = index }
			by_method[op.method] = list
		end
	end
	for _, list in pairs(by_method) do
		table.sort(list, function(a, b)
			if a.params ~= b.params then
				return a.params < b.params
			end
			local a_body, b_body = #a.op.body > 0, #b.op.body > 0
			if a_body ~= b_body then
				return a_body
			end
			return a.index < b.index
		end)
	end
	return by_method
end

-- The operations documented for method at path (a URL's path), best first.
local function operations_at(method, path)
	local found = {}
	for _, candidate in ipairs((by_method or operations_by_method())[method] or {}) do
		local values = { path:lower():match(candidate.pattern) }
		if values[1] then
			found[#found + 1] = { op = candidate.op, values = values }
		end
	end
	return found
end

-- Why the write would be refused, or nil, and the operation it is, and
-- notes: the checks the catalog allows. A body field no operation of the
-- path documents is refused when each of them documents its body, and
-- noted when one does not (the reference lists no body for it).
local function problems_of(req)
	local _, path = url.split(req.url)
	local found = operations_at(req.method, path)
	if not found[1] then
		return { string.format("no documented operation is %s %s", req.method, path) }, nil, {}
	end
	local best, problems = found[1], {}
	for i, value in ipairs(best.values) do
		local decoded = url.unescape(value)
		if decoded == "nil" or decoded:find("^[{:]") or decoded:find("}$") then
			problems[#problems + 1] = string.format("path parameter %s is '%s'", best.op.path_params[i], decoded)
		end
	end
	local documented, complete = {}, true
	for _, candidate in ipairs(found) do
		complete = complete and #candidate.op.body > 0
		for _, field in ipairs(candidate.op.body) do
			documented[field] = true
		end
	end
	local notes = {}
	local body = req.json_body and json.decode(req.body)
	if next(documented) and type(body) == "table" and not json.is_array(body) then
		local unknown = {}
		for field in pairs(body) do
			if not documented[field] then
				unknown[#unknown + 1] = tostring(field)
			end
		end
		table.sort(unknown)
		if unknown[1] then
			local list = complete and problems or notes
			list[#list + 1] = string.format(
				"body field%s %s not documented for %s (documented: %s)",
				#unknown == 1 and "" or "s",
				table.concat(unknown, ", "),
				best.op.name,
				table.concat(best.op.body, ", ")
			)
		end
	end
	return problems[1] and problems or nil, best.op, notes
end

-- The request as it would have gone: its line, the operation, the body.
local function printed(call, op, problems, notes)
	local req = call.req
	local named = op and (" (" .. op.group .. "." .. (op.short or op.name) .. ")") or ""
	local lines = { string.format("pulse: dry run: %s %s%s", req.method, req.url, named) }
	for _, header in ipairs(req.headers or {}) do
		lines[#lines + 1] = "  " .. header
	end
	if req.body then
		lines[#lines + 1] = "  " .. req.body
	end
	for _, problem in ipairs(problems or {}) do
		lines[#lines + 1] = "  refused: " .. problem
	end
	for _, note in ipairs(notes) do
		lines[#lines + 1] = "  note: " .. note
	end
	return secrets.redact(call.line.client, table.concat(lines, "\n")) .. "\n"
end

function stage.open(call)
	local req = call.req
	if not WRITES[req.method] then
		return false
	end
	local problems, op, notes = problems_of(req)
	io.stderr:write(printed(call, op, problems, notes))
	if call.observer then
		call.observer:dry_run(call, op and op.name, problems)
	end
	local line = call.line
	line.stats:record_dry_run()
	local res = response.new(200, core.headers(""), 0, 0, core.now() - call.started, line.limiter:view())
	res.dry_run = true
	if problems then
		return true, nil, errors.new({
			kind = "dry_run",
			method = req.method,
			url = secrets.redact(line.client, req.url),
			message = table.concat(problems, "; "),
			attempts = 0,
			res = res,
		})
	end
	local body = req.json_body and json.decode(req.body) or req.body or ""
	res.operation = op and op.name
	return true, body, res
end

return stage
