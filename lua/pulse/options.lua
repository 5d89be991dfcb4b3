-- Checking option tables: unknown names and wrong types are refused, with
-- the valid names listed, so that a typo like `timout` is never ignored.

local options = {}

-- A call's lane on the limiter (core/lanes.h): when tokens are short,
-- interactive calls take them before normal ones, normal before bulk.
options.LANES = { interactive = 0, normal = 1, bulk = 2 }

options.CLIENT = {
	api_key = "string",
	api_key_file = "string",
	auth_scheme = "string",
	base_url = "string",
	timeout = "positive",
	connect_timeout = "positive",
	rate_limit = "rate_limit",
	limiter = "string",
	bucket = "string",
	limiter_fallback = "limiter_fallback",
	retry = "retry|false",
	cache = "cache|boolean",
	verify = "boolean",
	ca_file = "string",
	proxy = "string",
	user_agent = "string",
	verbose = "boolean",
	max_body = "count",
	priority = "lane",
	on = "hooks",
	trace = "string",
	dry_run = "boolean",
	record = "string",
	replay = "string|replay",
}

options.REQUEST = {
	query = "table",
	json = "any",
	body = "string",
	headers = "table",
	timeout = "positive",
	retry = "retry|false",
	cache = "call_cache|false",
	decode = "boolean",
	idempotent = "boolean",
	max_body = "count",
	follow_redirects = "boolean",
	before_send = "function",
	priority = "lane",
	on = "hooks",
}

local NESTED = {
	retry = {
		max_attempts = "count",
		max_elapsed = "non-negative",
		base = "positive",
		cap = "positive",
		on_retry = "function",
	},
	-- pulse.core's limiter keeps its numbers below 1e9.
	rate_limit = { limit = "rate", window = "rate", burst = "rate" },
	cache = {
		ttl = "non-negative",
		max_entries = "count",
		max_bytes = "count",
		dir = "string",
		rules = "table",
		stale_if_error = "non-negative",
		stale_while_revalidate = "non-negative",
	},
	call_cache = { ttl = "non-negative" },
	hooks = { request = "function", response = "function", retry = "function", wait = "function", cache = "function" },
	limiter_fallback = { share = "share" },
	replay = { file = "string", miss = "replay_miss", ignore = "replay_ignore" },
	replay_ignore = { query = "table", body = "table" },
}

local function sorted_names(spec)
	local names = {}
	for name in pairs(spec) do
		names[#names + 1] = name
	end
	table.sort(names)
	return table.concat(names, ", ")
end

local check

-- Each kind string ("retry|false") is split once, here, not per call.
local alternatives_of = setmetatable({}, {
	__index = function(cache, kind)
		local list = {}
		for alternative in kind:gmatch("[^|]+") do
			list[#list + 1] = alternative
		end
		cache[kind] = list
		return list
	end,
})

local function accepts(where, name, value, alternative)
	if alternative == "any" or alternative == type(value) then
		return true
	end
	if alternative == "false" then
		return value == false
	end
	if alternative == "lane" then
		return options.LANES[value] ~= nil
	end
	if alternative == "replay_miss" then
		return value == "fail" or value == "live"
	end
	if NESTED[alternative] and type(value) == "table" then
		return check(where .. "." .. name, value, NESTED[alternative])
	end
	if type(value) ~= "number" or value ~= value then
		return false
	end
	if alternative == "positive" then
		return value > 0 and value < math.huge
	elseif alternative == "non-negative" then
		return value >= 0 and value < math.huge
	elseif alternative == "rate" then
		return value > 0 and value < 1e9
	elseif alternative == "share" then
		return value > 0 and value <= 1
	elseif alternative == "count" then
		return math.type(value) == "integer" and value >= 1
	end
	return false
end

local function check_value(where, name, value, kind)
	for _, alternative in ipairs(alternatives_of[kind]) do
		local ok, why = accepts(where, name, value, alternative)
		if ok then
			return true
		elseif why then
			return nil, why -- a nested table's own complaint
		end
	end
	local wanted = kind:gsub("|", " or "):gsub("rate_limit", "table"):gsub("retry", "table"):gsub("call_cache", "table")
	wanted = wanted:gsub("cache", "table")
	wanted = wanted:gsub("limiter_fallback", "table"):gsub("hooks", "table"):gsub("^replay$", "table")
	wanted = wanted:gsub("or replay$", "or table")
	wanted = wanted == "rate" and "above 0 and below 1e9"
		or wanted == "share" and "above 0 and at most 1"
		or wanted == "lane" and '"interactive", "normal" or "bulk"'
		or wanted == "replay_miss" and '"fail" or "live"'
		or wanted == "replay_ignore" and "a table { query = {names}, body = {fields} }"
		or wanted
	return nil, string.format("%s: option '%s' must be %s, got %s", where, name, wanted, tostring(value))
end

-- Returns true, or nil and a message naming the option and the valid ones.
function check(where, opts, spec)
	for name, value in pairs(opts) do
		local kind = spec[name]
		if kind == nil then
			return nil,
				string.format("%s: unknown option '%s' (valid: %s)", where, tostring(name), sorted_names(spec))
		end
		if kind ~= type(value) then -- else a plain type, and the right one
			local ok, why = check_value(where, name, value, kind)
			if not ok then
				return nil, why
			end
		end
	end
	return true
end

options.check = check

-- A new table with defaults overlaid by overrides (either may be nil).
function options.merge(defaults, overrides)
	local merged = {}
	for k, v in pairs(defaults or {}) do
		merged[k] = v
	end
	for k, v in pairs(overrides or {}) do
		merged[k] = v
	end
	return merged
end

return options
