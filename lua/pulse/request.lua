-- Building a request from a call: its options checked, its URL (base_url
-- joined with the path, the query encoded), header lines and body. What
-- comes out is what send.lua sends; nothing here touches the network.

local json = require("pulse.json")
local options = require("pulse.options")
local url = require("pulse.url")

local request = {}

request.IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }

-- The methods that change what the server holds (the stages' writes: a
-- dry run holds them back, the cache drops what they change).
request.WRITES = { POST = true, PUT = true, PATCH = true, DELETE = true }

local REQUEST_OPTIONS = options.REQUEST
local HEADER_NAME = "^[!#$%%&'*+%-.^_`|~%w]+$"
local NO_OPTIONS = {}

-- Joined URLs by path, for requests without a query: most scripts call a
-- handful of paths many times. Emptied when it grows past this.
local URL_CACHE_SIZE = 512

-- Validating a request returns nil and this; the public entry point raises
-- it at the caller's line.
local function invalid(message)
	return nil, "pulse: " .. message
end

-- The request's own header lines, or nil and why they are refused.
local function header_lines(headers)
	local lines = {}
	for name, value in pairs(headers) do
		if type(name) ~= "string" or not name:find(HEADER_NAME) then
			return invalid("request: header name " .. tostring(name) .. " is not a valid HTTP token")
		end
		if name:lower() == "authorization" then
			return invalid("request: the Authorization header is the client's; use set_api_key")
		end
		if type(value) ~= "string" and type(value) ~= "number" then
			return invalid("request: header '" .. name .. "' must be a string or number")
		end
		value = tostring(value)
		if value:find("[\r\n%z]") then
			return invalid("request: header '" .. name .. "' contains a line break")
		end
		lines[#lines + 1] = name .. ": " .. value
	end
	return lines
end

-- The absolute URL for path and query (or nil and why not), refusing any
-- origin but the client's: the key goes with every request.
local function build_url(client, path, query)
	local target
	if path:find("^%a[%w+.-]*://") then
		if url.origin(path) ~= client.origin then
			return invalid("request: path '" .. path .. "' is on another origin than base_url")
		end
		target = path
	else
		target = url.join(client.base_url, path)
	end
	if query ~= nil then
		local encoded, why = url.encode_query(query)
		if not encoded then
			return invalid("request: " .. why)
		end
		if encoded ~= "" then
			target = target .. (target:find("?", 1, true) and "&" or "?") .. encoded
		end
	end
	return target
end

-- The place of a path without a query, remembered in line.urls: its URL,
-- and by method the plain hops (send.plain's) to it.
local function place_of(line, path)
	local places = line.urls
	local place = places and places[path]
	if place then
		return place
	end
	local target, why = build_url(line.client, path, nil)
	if not target then
		return nil, why
	end
	if not places or line.urls_count == URL_CACHE_SIZE then
		places, line.urls_count = {}, 0
		line.urls = places
	end
	place = { url = target }
	places[path], line.urls_count = place, line.urls_count + 1
	return place
end

-- The hop of a plain request (an idempotent method, no options) to a
-- place (line.urls[path], which send.plain reads): { method, url,
-- idempotent = true, plain = true }, made once, kept in the place by
-- method. plain tells the binding there is nothing else to read
-- (binding/transport.c).
function request.plain_hop(place, method)
	local hop = { method = method, url = place.url, idempotent = true, plain = true }
	place[method] = hop
	return hop
end

-- opts checked (nil or a table whose options are known and of their
-- types), or nil and why not.
local function check_options(name, opts)
	if opts == nil then
		return NO_OPTIONS
	elseif type(opts) ~= "table" then
		return invalid("bad argument to '" .. name .. "' (options must be a table, got " .. type(opts) .. ")")
	end
	-- The full check only when an option is not of its plain type: most
	-- calls pass none, or a flag or two.
	for option, value in next, opts do
		if REQUEST_OPTIONS[option] ~= type(value) then
			local valid, why = options.check(name, opts, REQUEST_OPTIONS)
			if not valid then
				return invalid(why)
			end
			break
		end
	end
	return opts
end

-- The body to send (nil: none) and whether it is JSON; false and why
-- when it cannot be sent.
local function encode_body(opts)
	if opts.json == nil then
		return opts.body, nil
	end
	if opts.body ~= nil then
		return false, "pulse: request: give opts.json or opts.body, not both"
	end
	local body, why = json.encode(opts.json)
	if not body then
		return false, "pulse: request: cannot encode the JSON body: " .. why
	end
	return body, true
end

-- The retry rules of a call: the client's, merged with or turned off by
-- the call's own.
local function retry_rules(client, opts)
	local retry = client.retry
	if opts.retry == false then
		return false
	elseif retry and opts.retry ~= nil then
		return options.merge(retry, opts.retry)
	end
	return retry
end

-- The request to send for a call on line (send.lua's: name: the method
-- the caller used, for messages): { method, url, decode, idempotent, retry
-- [, headers, body, json_body, timeout, max_body, follow_redirects, cache,
-- before_send] }, or nil and a message naming what is wrong.
function request.prepare(line, name, method, path, opts)
	if type(path) ~= "string" then
		return invalid("bad argument #1 to '" .. name .. "' (path must be a string, got " .. type(path) .. ")")
	end
	local why
	opts, why = check_options(name, opts)
	if not opts then
		return nil, why
	end
	local body, json_body = encode_body(opts)
	if body == false then
		return nil, json_body
	end
	local target
	if opts.query == nil then
		local place
		place, why = place_of(line, path)
		target = place and place.url
	else
		target, why = build_url(line.client, path, opts.query)
	end
	if not target then
		return nil, why
	end
	local req = {
		method = method,
		url = target,
		decode = opts.decode ~= false,
		idempotent = opts.idempotent or request.IDEMPOTENT[method] or false,
		retry = retry_rules(line.client, opts),
	}
	-- Set only when given: a table costs by the fields it has room for.
	if opts.headers ~= nil then
		req.headers, why = header_lines(opts.headers)
		if not req.headers then
			return nil, why
		end
	end
	if body ~= nil then
		req.body, req.json_body = body, json_body
	end
	if opts.timeout ~= nil then
		req.timeout = opts.timeout
	end
	if opts.max_body ~= nil then
		req.max_body = opts.max_body
	end
	if opts.follow_redirects then
		req.follow_redirects = true
	end
	if opts.cache ~= nil then
		req.cache = opts.cache
	end
	if opts.before_send ~= nil then
		req.before_send = opts.before_send
	end
	if opts.priority ~= nil then
		req.lane = options.LANES[opts.priority]
	end
	if opts.on ~= nil then
		req.on = opts.on
	end
	return req
end

return request
