-- Which redirects a request follows, and to where. libcurl follows none:
-- this is where the rules live, so that a write is never sent again behind
-- the caller's back and the key never goes to another origin.
--
-- GET, HEAD and OPTIONS follow every redirect, to another origin without
-- the key. A 303 ("see other") ends a write: its answer is read with a
-- GET. PUT and DELETE follow 307 and 308 to the same origin, body and
-- all. Anything else of a write follows only with follow_redirects = true,
-- and then one hop to the same origin. At most MAX_HOPS in a call.

local url = require("pulse.url")

local redirects = {}

redirects.MAX_HOPS = 5

local READS = { GET = true, HEAD = true, OPTIONS = true }
local FOLLOWABLE = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }
local KEEPS_BODY = { [307] = true, [308] = true }

-- The hop after hop (req, or where a redirect led) answered status with a
-- Location: a request table as request.prepare makes them, with foreign =
-- true for another origin; or nil and why it is not followed. done: the
-- hops followed so far (nil: none).
function redirects.next_hop(client, req, hop, status, headers, done)
	local hops = done and #done or 0
	if not FOLLOWABLE[status] then
		return nil, "a " .. status .. " is no redirect to follow"
	end
	local target = url.resolve(hop.url, headers.location)
	if not target then
		return nil, "the Location is not an http(s) URL"
	end
	if hops >= redirects.MAX_HOPS then
		return nil, "more than " .. redirects.MAX_HOPS .. " redirects"
	end
	local foreign = url.origin(target) ~= client.origin
	local next_hop = {
		method = hop.method,
		url = target,
		headers = hop.headers,
		body = hop.body,
		json_body = hop.json_body,
		decode = req.decode,
		idempotent = hop.idempotent,
		retry = req.retry,
		foreign = foreign,
	}
	if READS[hop.method] then
		return next_hop
	end
	if status == 303 then
		next_hop.method, next_hop.body, next_hop.json_body, next_hop.idempotent = "GET", nil, nil, true
		return next_hop
	end
	if foreign then
		return nil, "a " .. hop.method .. " is not sent to another origin"
	end
	if (hop.method == "PUT" or hop.method == "DELETE") and KEEPS_BODY[status] then
		return next_hop
	end
	if req.follow_redirects and hops == 0 then
		return next_hop
	end
	return nil, hop.method .. " does not follow a " .. status .. " (follow_redirects = true allows one hop)"
end

return redirects
