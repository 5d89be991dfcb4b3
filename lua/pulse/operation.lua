--- One documented operation of the Pulse API (an entry of pulse.catalog) as
-- a callable of a client: op(args, opts) returns body, res or nil, err, as
-- client:request does. args fill the path, the query and the body, by the
-- catalog's lists; a missing required one, or one the operation does not
-- document, is refused before anything is sent (opts.extra carries what
-- the catalog omits). Documented defaults are shown by help, never sent.
-- op:help() says how to call it; op:each(args) and op:pages(args) walk a
-- list in its own paging style with the fewest calls.
-- @module pulse.operation

local errors = require("pulse.errors")
local json = require("pulse.json")
local lookup = require("pulse.lookup")
local options = require("pulse.options")
local pagination = require("pulse.pagination")
local plan = require("pulse.plan")
local url = require("pulse.url")

local operation = {}

local usage = errors.usage

--- An operation of a client's `api`: `api.guests.search`, called as
-- `op(args, opts)`.
-- @usage local found, err = api.guests.search({ email = "ada@example.com" })
-- for guest in api.guests.list:each({ center_id = id }) do ... end
-- print(api.guests.search:help())
-- @type Operation
local Operation = {}
Operation.__index = Operation
Operation.__name = "pulse.operation"

local refuse = errors.refuse

local WRITES = { POST = true, PUT = true, PATCH = true }

-- What each argument name is for one entry: "path", "query" or "body".
local function places_of(entry)
	local places, required = {}, {}
	for _, name in ipairs(entry.path_params) do
		places[name] = "path"
		required[#required + 1] = name
	end
	for _, q in ipairs(entry.query) do
		places[q.name] = places[q.name] or "query"
		if q.required then
			required[#required + 1] = q.name
		end
	end
	for _, name in ipairs(entry.body) do
		places[name] = places[name] or "body"
	end
	for _, name in ipairs(entry.whole and entry.whole.required or {}) do
		required[#required + 1] = name
	end
	return places, required
end

local CHECKS = {
	string = function(v)
		return type(v) == "string"
	end,
	boolean = function(v)
		return type(v) == "boolean"
	end,
	integer = function(v)
		return math.type(v) == "integer"
	end,
	array = function(v)
		return type(v) == "table" and (json.is_array(v) or #v > 0 or next(v) == nil)
	end,
	date = function(v)
		return type(v) == "string" and v:find("^%d%d%d%d%-%d%d%-%d%d$") ~= nil
	end,
	datetime = function(v)
		return type(v) == "string" and v:find("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$") ~= nil
	end,
}

local WANTED = {
	date = "a date (YYYY-MM-DD)",
	datetime = "a date and time (YYYY-MM-DDTHH:MM:SS)",
	array = "an array",
	integer = "an integer",
	string = "a string",
	boolean = "a boolean",
}

-- A path parameter's text: a string, or a number as the query writes one.
local function scalar_text(v)
	if type(v) == "string" then
		return v
	elseif type(v) == "number" then
		return url.format_number(v)
	end
end

-- The path, the query and the body of one call, or a refusal.
local function build(self, args, opts)
	local entry, name = self.entry, self.dotted
	if entry.path == "" then
		refuse(name .. ": no documented path: the reference gives this operation none (" .. self:reference() .. ")")
	end
	if opts.extra ~= nil and type(opts.extra) ~= "table" then
		refuse(name .. ": opts.extra must be a table, got " .. type(opts.extra))
	end
	local places = self.places
	local query, body = {}, {}
	local has_body = false
	for key, value in pairs(args) do
		if type(key) ~= "string" then
			refuse(name .. ": args must be named (args." .. tostring(key) .. ")")
		end
		local place = places[key]
		if not place then
			local known = {}
			for known_name in pairs(places) do
				known[#known + 1] = known_name
			end
			local best = lookup.nearest(key, known)
			refuse(
				string.format(
					"%s: unknown parameter '%s'%s (a flag the catalog omits goes in opts.extra)",
					name,
					key,
					best and ("; did you mean '" .. best .. "'?") or ""
				)
			)
		end
		local wanted = entry.types and entry.types[key]
		if wanted and value ~= json.null and not CHECKS[wanted](value) then
			refuse(string.format("%s: %s must be %s, got %s", name, key, WANTED[wanted], tostring(value)))
		end
		if place == "query" then
			query[key] = value
		elseif place == "body" then
			body[key], has_body = value, true
		end
	end
	for _, required in ipairs(self.required) do
		if args[required] == nil then
			local why = entry.whole and places[required] == "body"
					and " (a PUT replaces the whole object: send every field get answers, or use patch)"
				or ""
			refuse(name .. ": missing required parameter '" .. required .. "'" .. why)
		end
	end
	local path = entry.path:gsub("{([^}]+)}", function(param)
		local text = scalar_text(args[param])
		if not text then
			refuse(name .. ": path parameter " .. param .. " must be a string or number, got " .. type(args[param]))
		end
		return url.escape(text)
	end)
	for key, value in pairs(opts.extra or {}) do
		if WRITES[entry.method] then
			body[key], has_body = value, true
		else
			query[key] = value
		end
	end
	local send = {}
	for k, v in pairs(opts) do
		if k ~= "extra" then
			send[k] = v
		end
	end
	if has_body then
		if opts.json ~= nil or opts.body ~= nil then
			refuse(name .. ": give the body's fields in args or the whole body in opts.json, not both")
		end
		send.json = body
	end
	if opts.query ~= nil then
		if type(opts.query) ~= "table" then
			refuse(name .. ": opts.query must be a table, got " .. type(opts.query))
		end
		for k, v in pairs(opts.query) do
			query[k] = v
		end
	end
	send.query = next(query) and query or nil
	return path, send
end

function Operation:__call(args, opts)
	if args ~= nil and type(args) ~= "table" then
		usage(self.dotted .. ": args must be a table, got " .. type(args), 2)
	end
	if opts ~= nil and type(opts) ~= "table" then
		usage(self.dotted .. ": opts must be a table, got " .. type(opts), 2)
	end
	local path, send = errors.built(pcall(build, self, args or {}, opts or {}))
	return self.client:request(self.entry.method, path, send)
end

function Operation:__tostring()
	return string.format("%s (%s %s)", self.dotted, self.entry.method, self.entry.path)
end

--- The operation's reference page.
function Operation:reference()
	return self.reference_base .. self.entry.slug
end

local function join(list)
	return table.concat(list, ", ")
end

--- How to call it: method and path, parameters and their defaults, the
-- answer's keys, paging, and the reference page.
function Operation:help()
	local entry = self.entry
	local lines = {
		string.format("%s  (also %s.%s)", self.dotted, self.group_dotted, entry.name),
		string.format("  %s %s", entry.method, entry.path ~= "" and entry.path or "(no documented path: not callable)"),
	}
	if #entry.path_params > 0 then
		lines[#lines + 1] = "  path: " .. join(entry.path_params)
	end
	if #entry.query > 0 then
		local items = {}
		for _, q in ipairs(entry.query) do
			local text = q.name
			if q.required then
				text = text .. " (required)"
			elseif q.default then
				text = text .. " (documented default " .. q.default .. ", not sent unless given)"
			end
			items[#items + 1] = text
		end
		lines[#lines + 1] = "  query:"
		for _, item in ipairs(items) do
			lines[#lines + 1] = "    " .. item
		end
	end
	if #entry.body > 0 then
		lines[#lines + 1] = "  body: " .. join(entry.body)
	end
	if entry.whole then
		lines[#lines + 1] = "  A PUT replaces the whole object: send every field "
			.. entry.whole.get
			.. " answers"
			.. (#entry.whole.required > 0 and (" (required: " .. join(entry.whole.required) .. ")") or "")
			.. "; to change a few, "
			.. self.group_dotted
			.. "."
			.. (entry.whole.patch_short or entry.whole.patch)
			.. " (2 calls)."
	end
	if entry.types then
		local items = {}
		for k, v in pairs(entry.types) do
			items[#items + 1] = k .. ": " .. v
		end
		table.sort(items)
		lines[#lines + 1] = "  types: " .. join(items)
	end
	if entry.bare_array then
		lines[#lines + 1] = "  answers: a JSON array"
	elseif #entry.returns > 0 then
		lines[#lines + 1] = "  answers: " .. join(entry.returns)
	end
	if entry.paging then
		lines[#lines + 1] = string.format(
			"  pages by %s/%s; :each(args) and :pages(args) walk it %d a page",
			entry.paging.page,
			entry.paging.size,
			entry.paging.max
		)
	elseif entry.window then
		lines[#lines + 1] = string.format(
			"  at most %d days a call; :each(args) and :pages(args) walk any %s..%s range in %d-day windows",
			entry.window.days,
			entry.window.from,
			entry.window.to,
			entry.window.days
		)
	end
	lines[#lines + 1] = "  opts: the client's request options; opts.extra: parameters the catalog omits"
	lines[#lines + 1] = "  reference: " .. self:reference()
	return table.concat(lines, "\n")
end

-- The items of one page: the catalog's list, or else the page's one
-- array; nil and why when there is none.
local function items_of(entry, body)
	if json.is_array(body) then
		return body
	end
	if type(body) ~= "table" then
		return nil, "the page is not a JSON object"
	end
	local key = entry.paging and entry.paging.items
	if key then
		local list = body[key]
		if list == json.null then
			return {}
		end
		if type(list) == "table" then
			return list
		end
		return nil, "the page has no '" .. key .. "' list"
	end
	local found
	for k, v in pairs(body) do
		if type(v) == "table" and json.is_array(v) then
			if found then
				return nil, "the page has more than one list ('" .. found .. "', '" .. k .. "')"
			end
			found = k
		end
	end
	if not found then
		return nil, "the page has no list"
	end
	return body[found]
end

local function total_of(body)
	local info = type(body) == "table" and (body.page_info ~= json.null and body.page_info or body.page_Info)
	local total = type(info) == "table" and info.total
	return math.type(total) == "integer" and total or nil
end

-- A shallow copy of t (nil: an empty table).
local function copy(t)
	return options.merge(t)
end

-- The date n days after date (both YYYY-MM-DD), on the calendar: noon of
-- that local day, which os.time carries past a month's end and no
-- daylight-saving change moves to another day.
local function add_days(date, n)
	local y, m, d = date:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
	return os.date("%Y-%m-%d", os.time({ year = tonumber(y), month = tonumber(m), day = tonumber(d) + n, hour = 12 }))
end

-- The calls of a walk: a function returning the next (args) to call, or
-- nil when there is none; told each answer by after(body, items), or
-- after() for a page a plan has not seen: a full one, as far as a total
-- seen before says.
local function calls_of(self, name, args)
	local entry = self.entry
	if entry.window then
		local from, to = args[entry.window.from], args[entry.window.to]
		if not CHECKS.date(from) or not CHECKS.date(to) then
			usage(
				string.format(
					"%s:%s: args.%s and args.%s must be dates (YYYY-MM-DD)",
					self.dotted,
					name,
					entry.window.from,
					entry.window.to
				),
				4
			)
		end
		local day = from -- dates so written compare as strings
		return function()
			if day > to then
				return nil
			end
			local call = copy(args)
			local last = add_days(day, entry.window.days - 1)
			last = last < to and last or to
			call[entry.window.from], call[entry.window.to] = day, last
			day = add_days(last, 1)
			return call
		end, function() end
	elseif entry.paging then
		local page_param, size_param = entry.paging.page, entry.paging.size
		local size = args[size_param] or entry.paging.max
		local page = args[page_param] or 1
		local done, total = false, nil
		return function()
			if done then
				return nil
			end
			local call = copy(args)
			call[page_param], call[size_param] = page, size
			return call
		end, function(body, items)
			total = total_of(body) or total
			if items and (#items == 0 or #items < size) or (total and page * size >= total) then
				done = true
			elseif not items and not total then
				done = true -- a page not seen, and no total: a plan knows no more
			end
			page = page + 1
		end
	end
	usage(self.dotted .. ":" .. name .. ": the reference documents no paging for this operation; call it", 4)
end

-- An iterator of (body, res) for each call of the walk, or of (item, res)
-- for each item when per_item.
local function walk(self, name, args, opts, per_item)
	if args ~= nil and type(args) ~= "table" then
		usage(self.dotted .. ":" .. name .. ": args must be a table, got " .. type(args), 3)
	end
	local next_call, after = calls_of(self, name, args or {})
	return pagination.iterator(function()
		local call = next_call()
		if not call then
			return nil
		end
		local body, result = self(call, opts)
		if not body then
			error(result, 0)
		end
		local items, why = items_of(self.entry, body)
		if not items then
			error(errors.new({ kind = "decode", message = self.dotted .. ": " .. why, res = result }), 0)
		end
		after(body, items)
		return body, result, items
	end, per_item)
end

--- Each answer of a walk: `for body, res in op:pages(args, opts)`. A list
-- is asked for at its largest page and stops by its page_info.total; a
-- window operation walks its date range a window a call. A failed call
-- raises its err.
function Operation:pages(args, opts)
	return walk(self, "pages", args, opts, false)
end

--- Each item of a walk: `for item, res in op:each(args, opts)`.
function Operation:each(args, opts)
	return walk(self, "each", args, opts, true)
end

--- What the walk of args (op:pages, op:each) would spend, without sending
-- anything: a pulse.plan (`calls, seconds` at the client's bucket and
-- lane, `priority` from opts) with `cached`, the calls its cache answers
-- fresh, and `pages`. A window operation's calls are its windows. A
-- list's pages come from the page_info of its first page when the cache
-- holds that answer (`pages_known`); else the plan counts that first
-- call alone and says the rest is not known.
-- @usage print(require("pulse.plan").describe(api.guests.search:plan({ last_name = "Lee" })))
function Operation:plan(args, opts)
	if args ~= nil and type(args) ~= "table" then
		usage(self.dotted .. ":plan: args must be a table, got " .. type(args), 2)
	end
	if opts ~= nil and type(opts) ~= "table" then
		usage(self.dotted .. ":plan: opts must be a table, got " .. type(opts), 2)
	end
	opts = opts or {}
	if opts.priority ~= nil and not options.LANES[opts.priority] then
		usage(self.dotted .. ':plan: opts.priority must be "interactive", "normal" or "bulk"', 2)
	end
	local client = self.client
	-- The cache's answer to a call of the walk: its body, fresh or not.
	local function peek(call)
		local path, send = errors.built(pcall(build, self, call, opts))
		return client:cached(path, send)
	end
	local next_call, after = calls_of(self, "plan", args or {})
	local calls, cached, pages, total_seen = 0, 0, 0, false
	local known = true
	local call = next_call()
	while call do
		local body, fresh = peek(call)
		pages = pages + 1
		if fresh then
			cached = cached + 1
		else
			calls = calls + 1
		end
		local items = body and items_of(self.entry, body)
		if items then
			total_seen = total_seen or total_of(body) ~= nil
		elseif self.entry.paging and not total_seen then
			known = false -- what follows this page is not known without it
		end
		after(items and body, items)
		call = next_call()
	end
	return plan.make(client, calls, { cached = cached, pages = pages, pages_known = known }, opts.priority)
end

-- An operation of client. entry: pulse.catalog's; group_dotted: its
-- group's name ("api.guests"); reference_base: the reference's URL.
function operation.new(client, entry, group_dotted, reference_base)
	local places, required = places_of(entry)
	return setmetatable({
		client = client,
		entry = entry,
		dotted = group_dotted .. "." .. (entry.short or entry.name),
		group_dotted = group_dotted,
		reference_base = reference_base,
		places = places,
		required = required,
	}, Operation)
end

-- A changes table merged into an object: objects field by field, anything
-- else (arrays, values, pulse.null) replaced.
local function merge(object, changes)
	local out = copy(object)
	for k, v in pairs(changes) do
		local old = out[k]
		if type(v) == "table" and not json.is_array(v) and type(old) == "table" and not json.is_array(old) then
			out[k] = merge(old, v)
		else
			out[k] = v
		end
	end
	return out
end

local Patch = {}
Patch.__index = Patch
Patch.__name = "pulse.operation.patch"

--- `api.guests.patch(guest_id, changes [, opts])`: the object read (a GET),
-- changes merged into it, and the whole of it written back (the PUT):
-- what a whole-object update needs, in 2 calls.
function Patch:__call(...)
	local update = self.update
	local params = update.entry.path_params
	local n = select("#", ...)
	local changes, opts = select(#params + 1, ...)
	if n < #params + 1 or type(changes) ~= "table" then
		usage(string.format("%s: call it as %s(%s, changes [, opts])", self.dotted, self.dotted, join(params)), 2)
	end
	if opts ~= nil and type(opts) ~= "table" then
		usage(self.dotted .. ": opts must be a table, got " .. type(opts), 2)
	end
	local args = {}
	for i, param in ipairs(params) do
		local value = select(i, ...)
		if not scalar_text(value) then
			usage(self.dotted .. ": " .. param .. " must be a string or number, got " .. type(value), 2)
		end
		args[param] = value
	end
	local expand = update.entry.whole.expand
	local current, res = self.get(args, expand and { query = { expand = expand } } or nil)
	if current == nil then
		return nil, res
	end
	if type(current) ~= "table" or json.is_array(current) then
		return nil, errors.new({ kind = "decode", message = self.dotted .. ": the GET did not answer an object", res = res })
	end
	local merged = merge(current, changes)
	local write = copy(args)
	local fields = update.entry.body
	if #fields > 0 then
		for _, field in ipairs(fields) do
			write[field] = merged[field]
		end
		return update(write, opts)
	end
	merged.error, merged.Error = nil, nil
	local send = copy(opts)
	send.json = merged
	return update(write, send)
end

--- How to call a patch, and what it costs.
function Patch:help()
	local params = self.update.entry.path_params
	return table.concat({
		string.format("%s(%s, changes [, opts])", self.dotted, join(params)),
		"  Reads the object (" .. self.get.dotted .. "), merges changes into it (objects field by",
		"  field; arrays and values replaced; pulse.null clears) and writes the whole of it back",
		"  (" .. self.update.dotted .. ", a PUT that replaces the whole object): 2 calls.",
		"  reference: " .. self.update:reference(),
	}, "\n")
end

function Patch:__tostring()
	return self.dotted .. " (GET + PUT " .. self.update.entry.path .. ")"
end

-- The patch of a whole-object update, reading with get.
function operation.patch(update, get, name)
	return setmetatable({ update = update, get = get, dotted = update.group_dotted .. "." .. name }, Patch)
end

return operation
