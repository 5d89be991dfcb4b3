-- The catalog's operations as routes: which documented operation a method
-- and path name, and its path parameters. Paths match case-insensitively,
-- as the API's do (the reference writes both /v1/Centers and /v1/centers);
-- a literal segment beats a parameter (/v1/guests/search is not a guest's
-- id). Operations that share a method and path (the reference documents
-- some routes twice, as variants) are one route: its first operation
-- names it, unless the sandbox implements another of them.

local catalog = require("pulse.sandbox.catalog")

local routes = {}

local function segments(path)
	local list = {}
	for segment in path:gmatch("[^/]+") do
		list[#list + 1] = segment
	end
	return list
end

local Routes = {}
Routes.__index = Routes

-- The routes of the catalog; implemented: the set of operation names the
-- sandbox answers, which a route prefers among its variants.
-- Routes are kept by their shape: method, number of segments and second
-- segment (the resource, after /v1), "*" when that is a parameter. A
-- request looks in its shape's list and the "*" one, a few routes each.
local function shape(method, count, second)
	return method .. " " .. count .. " " .. second
end

function routes.new(implemented)
	local by_key, by_method, by_shape, first_segments = {}, {}, {}, {}
	for _, op in ipairs(catalog) do
		if op.path ~= "" then
			local key = op.method .. " " .. op.path:lower()
			local route = by_key[key]
			if not route then
				local pattern = {}
				for i, segment in ipairs(segments(op.path)) do
					local param = segment:match("^{(.+)}$")
					pattern[i] = param and { param = param } or { literal = segment:lower() }
				end
				route = { op = op, variants = {}, pattern = pattern }
				by_key[key] = route
				by_method[op.method] = by_method[op.method] or {}
				table.insert(by_method[op.method], route)
				local second = pattern[2] and (pattern[2].literal or "*") or ""
				local where = shape(op.method, #pattern, second)
				by_shape[where] = by_shape[where] or {}
				table.insert(by_shape[where], route)
				first_segments[pattern[1].literal or "*"] = true
			elseif implemented[op.name] and not implemented[route.op.name] then
				route.op = op
			end
			table.insert(route.variants, op)
		end
	end
	return setmetatable({
		by_method = by_method,
		by_shape = by_shape,
		first_segments = first_segments,
		known = {},
		known_count = 0,
	}, Routes)
end

-- How well route's pattern fits the path's segments: the number of its
-- literal segments, or nil when it does not fit.
local function fit(pattern, parts)
	if #pattern ~= #parts then
		return nil
	end
	local literals = 0
	for i, part in ipairs(parts) do
		local want = pattern[i]
		if want.literal then
			if want.literal ~= part:lower() then
				return nil
			end
			literals = literals + 1
		end
	end
	return literals
end

local function unescape(text)
	return (text:gsub("%%(%x%x)", function(hex)
		return string.char(tonumber(hex, 16))
	end))
end

-- Whether some route's path starts as path does (its first segment): a
-- cheap test that most paths outside the API fail.
function Routes:may_match(path)
	local first = path:match("^/([^/]+)")
	return first ~= nil and (self.first_segments[first:lower()] or self.first_segments["*"]) == true
end

-- How many paths' matches are remembered (then forgotten all at once):
-- a client pages through the same few.
local REMEMBERED = 1024

-- The route of method and path: its operation and path parameters (by
-- the catalog's names, unescaped, not to be changed); else nil, and
-- whether another method has a route there.
function Routes:match(method, path)
	local key = method .. " " .. path
	local known = self.known[key]
	if not known then
		if self.known_count == REMEMBERED then
			self.known, self.known_count = {}, 0
		end
		known = table.pack(self:find(method, path))
		self.known[key], self.known_count = known, self.known_count + 1
	end
	return known[1], known[2]
end

function Routes:find(method, path)
	local parts = segments(path)
	local best, best_fit
	local second = parts[2] and parts[2]:lower() or ""
	for _, key in ipairs({ shape(method, #parts, second), shape(method, #parts, "*") }) do
		for _, route in ipairs(self.by_shape[key] or {}) do
			local literals = fit(route.pattern, parts)
			if literals and (not best_fit or literals > best_fit) then
				best, best_fit = route, literals
			end
		end
	end
	if not best then
		for other, list in pairs(self.by_method) do
			for _, route in ipairs(other ~= method and list or {}) do
				if fit(route.pattern, parts) then
					return nil, true
				end
			end
		end
		return nil, false
	end
	local params = {}
	for i, want in ipairs(best.pattern) do
		if want.param then
			params[want.param] = unescape(parts[i])
		end
	end
	return best.op, params
end

return routes
