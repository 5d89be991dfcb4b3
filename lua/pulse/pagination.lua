-- client:pages and client:each: a list endpoint walked page by page,
-- lazily (a page is fetched when the loop asks for it), each page a GET
-- on the client's one request path, so the limiter, retries and tasks
-- apply as to any call.
--
-- Where the next page is, by strategy: the Link header's rel="next" (same
-- origin only), else the body's meta.next_page (the default); a page
-- number (page = { param, start }); a cursor from the body (cursor = {
-- param, from }); or the caller's next(body, res).

local errors = require("pulse.errors")
local json = require("pulse.json")
local secrets = require("pulse.secrets")
local url = require("pulse.url")

local pagination = {}

local DEFAULT_MAX_PAGES = 10000

-- The options that are pagination's; the rest go to each page's request.
local OWN = { page = true, cursor = true, next = true, items = true, start = true, max_pages = true }

-- Raises a misuse as the call's error: level 4 is the caller of pages or
-- each (usage, check, walk: pages tail-calls walk), 5 the for loop's.
local usage = errors.usage

-- The value at a dotted path into body ("meta.next"), or nil when a step
-- is missing or the value is JSON null.
local function at_path(body, path)
	local value = json.at_path(body, path)
	if value == json.null then
		return nil
	end
	return value
end

local function copy(t)
	local out = {}
	for k, v in pairs(t or {}) do
		out[k] = v
	end
	return out
end

-- The checked options: the strategy, and the request's own options apart.
local function check(name, path, opts)
	if type(path) ~= "string" then
		usage(string.format("bad argument #1 to '%s' (path must be a string, got %s)", name, type(path)), 3)
	end
	if opts ~= nil and type(opts) ~= "table" then
		usage(string.format("bad argument #2 to '%s' (options must be a table, got %s)", name, type(opts)), 3)
	end
	opts = opts or {}
	local spec = { request = {}, max_pages = opts.max_pages or DEFAULT_MAX_PAGES }
	for k, v in pairs(opts) do
		if not OWN[k] then
			spec.request[k] = v
		end
	end
	local strategies = 0
	if opts.page ~= nil then
		local p = opts.page
		if type(p) ~= "table" or (p.param ~= nil and type(p.param) ~= "string")
			or (p.start ~= nil and math.type(p.start) ~= "integer")
			or (p.size ~= nil and (math.type(p.size) ~= "integer" or p.size < 1)) then
			usage(name .. ": page must be { param = string, start = integer, size = integer }", 3)
		end
		spec.page = { param = p.param or "page", start = p.start or 1, size = p.size }
		strategies = strategies + 1
	end
	if opts.cursor ~= nil then
		local c = opts.cursor
		if type(c) ~= "table" or type(c.param) ~= "string" or type(c.from) ~= "string" then
			usage(name .. ": cursor must be { param = string, from = \"dotted.path\" }", 3)
		end
		spec.cursor = c
		strategies = strategies + 1
	end
	if opts.next ~= nil then
		if type(opts.next) ~= "function" then
			usage(name .. ": next must be a function(body, res) returning a query, a URL or nil", 3)
		end
		spec.next = opts.next
		strategies = strategies + 1
	end
	if strategies > 1 then
		usage(name .. ": page, cursor and next are strategies: give one", 3)
	end
	spec.items_default = opts.items == nil
	local items = opts.items or "data"
	if type(items) ~= "string" and type(items) ~= "function" then
		usage(name .. ": items must be the list's field (\"data\") or a function(body)", 3)
	end
	spec.items = items
	if math.type(spec.max_pages) ~= "integer" or spec.max_pages < 1 then
		usage(name .. ": max_pages must be a positive integer", 3)
	end
	if opts.start ~= nil and type(opts.start) ~= "string" then
		usage(name .. ": start must be a res.next this client gave", 3)
	end
	if spec.request.query ~= nil and type(spec.request.query) ~= "table" then
		usage(name .. ": query must be a table", 3)
	end
	return spec, opts.start
end

-- The page's items, or nil and why not.
local function items_of(spec, body)
	local list
	if type(spec.items) == "function" then
		list = spec.items(body)
	elseif spec.items_default and json.is_array(body) then
		list = body -- a page that is a bare JSON array is its own list
	else
		list = at_path(body, spec.items)
	end
	if type(list) ~= "table" then
		return nil, "the page has no list at '" .. tostring(spec.items) .. "' (set the items option)"
	end
	return list
end

-- The next page's URL from a Link header (RFC 8288): rel="next", read
-- against the URL of the page that said it. nil when there is none.
local function link_next(link, base)
	if type(link) ~= "string" then
		return nil
	end
	for target, params in link:gmatch("<([^>]*)>([^<]*)") do
		local rel = params:match('[Rr][Ee][Ll]%s*=%s*"([^"]*)"') or params:match("[Rr][Ee][Ll]%s*=%s*([^;,%s]+)")
		for word in (rel or ""):gmatch("%S+") do
			if word:lower() == "next" then
				return url.resolve(base, target) or target
			end
		end
	end
	return nil
end

-- Where a walk stands: the next request (path, or an absolute URL, and
-- query), the paging keys a next() set, and the page number.
local function position_text(position)
	return json.encode({
		v = 1,
		path = position.path,
		query = position.query or json.null,
		keys = position.keys,
		size = position.size or json.null,
	})
end

local function position_of(text)
	local ok, p = pcall(json.decode, text)
	if not ok or type(p) ~= "table" or p.v ~= 1 or type(p.path) ~= "string" then
		return nil
	end
	return {
		path = p.path,
		query = p.query ~= json.null and p.query or nil,
		keys = type(p.keys) == "table" and p.keys or {},
		size = math.type(p.size) == "integer" and p.size or nil,
	}
end

-- The URL a request for position goes to, to read a Link header against.
local function url_of(client, position)
	local base = position.path:find("^%a[%w+.-]*://") and position.path or url.join(client.base_url, position.path)
	local query = position.query and url.encode_query(position.query)
	if query and query ~= "" then
		base = base .. (base:find("?", 1, true) and "&" or "?") .. query
	end
	return base
end

-- The position after the page (body, res) fetched at position, or nil
-- when it was the last one; nil and an error when the next page is
-- somewhere the client will not go.
local function following(client, spec, position, body, res, list)
	local query = copy(position.query)
	if spec.page then
		local size = spec.page.size or position.size or #list
		if #list == 0 or #list < size then
			return nil
		end
		query[spec.page.param] = (tonumber(query[spec.page.param]) or spec.page.start) + 1
		return { path = position.path, query = query, keys = {}, size = size }
	elseif spec.cursor then
		local cursor = at_path(body, spec.cursor.from)
		if cursor == nil or cursor == "" or cursor == false then
			return nil
		end
		query[spec.cursor.param] = cursor
		return { path = position.path, query = query, keys = {} }
	elseif spec.next then
		local next_page = spec.next(body, res)
		if next_page == nil then
			return nil
		elseif type(next_page) == "string" then
			return { path = next_page, keys = {} }
		elseif type(next_page) ~= "table" then
			usage("pages: next returned a " .. type(next_page) .. " (want a query table, a URL or nil)", 4)
		end
		for _, key in ipairs(position.keys) do
			query[key] = nil
		end
		local keys = {}
		for key, value in pairs(next_page) do
			query[key] = value
			keys[#keys + 1] = key
		end
		table.sort(keys)
		return { path = position.path, query = query, keys = keys }
	end
	local link = link_next(res.headers.link, url_of(client, position))
	if link then
		if url.origin(link) ~= client.origin then
			return nil,
				errors.new({
					kind = "redirect",
					message = "the next page's link is on another origin than base_url; not followed",
					location = secrets.redact(client, link),
				})
		end
		return { path = link, keys = {} }
	end
	local page = type(body) == "table" and at_path(body, "meta.next_page")
	if page == nil then
		return nil
	end
	query.page = page
	return { path = position.path, query = query, keys = {} }
end

-- An iterator of (body, res) for each page; when items is true, of (item,
-- res) for each item.
local function walk(client, name, path, opts, per_item)
	local spec, start = check(name, path, opts)
	local position
	if start then
		position = position_of(start)
		if not position then
			usage(name .. ": start is not a res.next that pages or each gave", 2)
		end
	else
		local query = spec.request.query and copy(spec.request.query)
		if spec.page and (query == nil or query[spec.page.param] == nil) then
			query = query or {}
			query[spec.page.param] = spec.page.start
		end
		position = { path = path, query = query, keys = {} }
	end
	local fetched = 0
	-- The pages requested so far, by URL (query sorted): a server whose
	-- next page leads back to one of them would be walked to max_pages,
	-- each page a call of the organization's.
	local seen = {}

	local function fetch()
		if not position or fetched >= spec.max_pages then
			return nil
		end
		local target = url_of(client, position)
		if seen[target] then
			error(
				errors.new({
					kind = "loop",
					message = string.format(
						"page %d is page %d again (%s): the pages lead in a circle; stopped",
						fetched + 1,
						seen[target],
						secrets.redact(client, target)
					),
					page = fetched + 1,
				}),
				0
			)
		end
		seen[target] = fetched + 1
		local request = copy(spec.request)
		request.query = position.query
		local body, result = client:get(position.path, request)
		fetched = fetched + 1
		if not body then
			result.page = fetched
			error(result, 0)
		end
		local items, why
		if spec.page or per_item then
			items, why = items_of(spec, body)
			if not items then
				error(errors.new({ kind = "decode", message = why, page = fetched, res = result }), 0)
			end
		end
		local after, err = following(client, spec, position, body, result, items)
		if err then
			err.page = fetched
			error(err, 0)
		end
		position = after
		result.next = after and position_text(after) or nil
		return body, result, items
	end

	return pagination.iterator(fetch, per_item)
end

--- The iterator of a walk, from fetch (which returns the next page's body,
-- res and items, or nil at the end): of (body, res) for each page, or,
-- when per_item, of (item, res) for each item of each page.
function pagination.iterator(fetch, per_item)
	if not per_item then
		return function()
			local body, result = fetch()
			return body, result
		end
	end
	local list, index, res
	return function()
		while true do
			if list and index < #list then
				index = index + 1
				return list[index], res
			end
			local body
			body, res, list = fetch()
			if not body then
				return nil
			end
			index = 0
		end
	end
end

function pagination.pages(client, path, opts)
	return walk(client, "pages", path, opts, false)
end

function pagination.each(client, path, opts)
	return walk(client, "each", path, opts, true)
end

return pagination
