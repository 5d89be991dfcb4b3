-- The sandbox's /v1 API: the sample organization (org.lua), and every
-- operation of the catalog routed (routes.lua) to its emulation in v1/,
-- or answered 501, naming its reference page, when there is none yet.

local catalog = require("pulse.sandbox.catalog")
local json = require("pulse.sandbox.json")
local events = require("pulse.sandbox.events")
local org = require("pulse.sandbox.org")
local routes = require("pulse.sandbox.routes")
local wire = require("pulse.sandbox.wire")

local api = {}

-- (The last in parentheses: require's second value, the file's name,
-- would follow it into the list.)
local MODULES = {
	require("pulse.sandbox.v1.centers"),
	require("pulse.sandbox.v1.guests"),
	require("pulse.sandbox.v1.appointments"),
	require("pulse.sandbox.v1.bookings"),
	(require("pulse.sandbox.v1.invoices")),
}

-- The operations emulated: by catalog name, the function that answers.
local EMULATED = {}
for _, op in ipairs(catalog) do
	for _, module in ipairs(MODULES) do
		if module[op.name] then
			EMULATED[op.name] = module[op.name]
		end
	end
end

local REFERENCE = "https://docs.zenoti.com/reference/"

-- The body of a 401, in the reference's words.
function api.unauthorized()
	return wire.error_body(nil, 401, "Authorization has been denied for this request.")
end

-- The body of operation op's error (nil: the common shape).
function api.error_body(op, code, message)
	return wire.error_body(op and op.name, code, message)
end

-- What /_sandbox says of the API: the operations emulated and the rest.
function api.describe()
	local emulated = json.array()
	for _, op in ipairs(catalog) do
		if EMULATED[op.name] then
			emulated[#emulated + 1] = op.method .. " " .. op.path .. " (" .. op.name .. ")"
		end
	end
	return {
		operations = #catalog,
		emulated = emulated,
		others = "501, with the error envelope naming the reference page",
	}
end

-- The table of the operations emulated, for --help and the docs.
function api.endpoints()
	local lines, count = {}, 0
	for _, op in ipairs(catalog) do
		if EMULATED[op.name] then
			count = count + 1
			lines[#lines + 1] = string.format("  %-6s %-57s %s", op.method, op.path, op.name)
		end
	end
	table.insert(
		lines,
		1,
		string.format(
			"The Pulse API's operations it emulates, over sample data (the other %d of the\n"
				.. "reference's %d answer 501, naming their reference page):",
			#catalog - count,
			#catalog
		)
	)
	return table.concat(lines, "\n") .. "\n"
end

local Api = {}
Api.__index = Api

-- config: the sandbox's (seed, centers, guests, reservation_hold,
-- guest_search); clock: a function, the wall clock's UTC seconds;
-- deliver: nil, or a function that queues an event's text for the
-- webhooks.
function api.new(config, clock, deliver)
	return setmetatable({
		config = config,
		routes = routes.new(EMULATED),
		org = org.new({ seed = config.seed or 1, centers = config.centers, guests = config.guests, now = clock() }),
		events = events.new(clock, deliver),
	}, Api)
end

--- The sample organization's counts by kind (centers, guests, ...), for
-- /_sandbox/stats.
function Api:counts()
	return self.org:counts()
end

-- Whether a request for method and path is the API's: under /v1/ or /v2/,
-- or on a documented route (the reference lists a few legacy ones
-- elsewhere).
function Api:owns(method, path)
	if not self.routes:may_match(path) then
		return false
	elseif path:lower():find("^/v[12]/") then
		return true
	end
	local op, elsewhere = self.routes:match(method == "HEAD" and "GET" or method, path)
	return op ~= nil or elsewhere
end

-- Answers req (the API's): HTTP status, the body's value, and the
-- operation's catalog row (nil when no operation matched).
function Api:handle(req, now)
	local method = req.method == "HEAD" and "GET" or req.method
	local op, params = self.routes:match(method, req.path)
	if not op then
		if params then
			return 405, wire.error_body(nil, 405, "The requested resource does not support http method '" .. method .. "'.")
		end
		return 404, wire.error_body(nil, 404, "No HTTP resource was found that matches the request URI.")
	end
	local answer = EMULATED[op.name]
	if not answer then
		return 501,
			wire.error_body(
				op.name,
				501,
				string.format(
					"pulse-sandbox does not emulate %s (%s %s): see %s%s",
					op.name,
					op.method,
					op.path,
					REFERENCE,
					op.slug
				)
			),
			op
	end
	local call = wire.call(op, params, req, self.org, now, self.config)
	call.events = self.events
	local status, value = answer(call)
	if type(status) == "table" then -- a call:fail answer
		status, value = status.status, status.body
	end
	return status, value, op
end

return api
