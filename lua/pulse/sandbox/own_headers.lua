-- The response headers the sandbox sets itself (the body's length, the
-- connection, the date, the bucket's rate-limit headers), or that a served
-- answer's text no longer matches (its encoding): never taken from what
-- it serves in place of the sample resources, a collection's examples
-- (mock.lua) or a recording's exchanges (recording.lua). Lower case.
return {
	["content-length"] = true,
	["content-encoding"] = true,
	["transfer-encoding"] = true,
	["connection"] = true,
	["date"] = true,
	["organization-ratelimit-limit"] = true,
	["ratelimit-remaining"] = true,
	["ratelimit-reset"] = true,
	["ratelimit-limit"] = true,
	["ratelimit-policy"] = true,
	["retry-after"] = true,
}
