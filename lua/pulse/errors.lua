-- The error object every failed call returns: one readable line through
-- tostring, and fields for code to branch on.

local errors = {}

local Error = {}
Error.__index = Error
Error.__name = "pulse.error"

errors.KINDS = {
	auth = "the API key was refused",
	forbidden = "the key may not do this",
	not_found = "no such resource",
	client = "the request was not valid",
	rate_limited = "over the rate limit",
	unavailable = "the service is unavailable",
	server = "the server failed",
	network = "the network failed",
	timeout = "the request timed out",
	decode = "the response could not be decoded",
	usage = "the call was not valid",
	cancelled = "not sent: stopped first (a batch's fail_fast, a drain's stop)",
	redirect = "a redirect was not followed",
	interrupted = "interrupted (Ctrl-C or SIGTERM under pulse-lua)",
	too_large = "the response body is larger than max_body",
	loop = "the next page is one this walk fetched already",
	conflict = "the resource's state does not allow it",
	replay_miss = "no answer recorded for the request (a replay)",
	dry_run = "a write of a dry run the catalog refuses: not sent",
}

-- The kind of an application code (the error object's code, which is
-- not the HTTP status) where the reference says what the code means. It
-- names the kind of an error inside a success status; a failed status's
-- kind comes from the status. Unlisted codes are "client".
errors.APPLICATION_KINDS = {
	[401] = "auth",
	[405] = "not_found", -- UserNotFound
	[410] = "not_found", -- appointment not found
	[418] = "not_found", -- InvoiceNotFound
	[428] = "not_found", -- invoice does not exist
	[438] = "forbidden", -- UserNotAuthorized
	[602] = "forbidden", -- cannot access
	[4051] = "forbidden", -- user cannot access
	[400] = "client",
	[422] = "client", -- more than 100 items asked for
	[502] = "client", -- an invalid id or input
	[503] = "client", -- a missing input (not the HTTP 503 of a busy server)
	[419] = "conflict", -- the invoice is not fully paid
	[459] = "conflict", -- overpaid
	[460] = "conflict", -- PaymentIsAlreadyMade
	[492] = "conflict", -- a group invoice
	[727] = "conflict", -- a future-dated appointment
	[728] = "conflict", -- a payment on a closed invoice
	[734] = "conflict", -- a closed invoice
	[735] = "conflict",
	[736] = "conflict",
	[928] = "conflict", -- InvoiceinGroup
	[1113] = "conflict", -- a future appointment's invoice
	[4072] = "conflict", -- pick the date and time again
	[5001] = "conflict", -- cannot be rescheduled
	[5002] = "conflict", -- an in-time discount prevents it
}

-- The kind of an application code: a number, or a string such as
-- "GE502" whose trailing digits are the number.
function errors.kind_of_code(code)
	local number = math.tointeger(tonumber(code) or tonumber(tostring(code):match("%d+$") or ""))
	return errors.APPLICATION_KINDS[number] or "client"
end

function Error:__tostring()
	local parts = { "pulse: ", self.kind }
	if self.status then
		parts[#parts + 1] = " (HTTP " .. self.status .. ")"
	end
	if self.method and self.url then
		parts[#parts + 1] = " on " .. self.method .. " " .. self.url
	end
	parts[#parts + 1] = ": " .. tostring(self.message or errors.KINDS[self.kind])
	if self.attempts and self.attempts > 1 then
		parts[#parts + 1] = " (after " .. self.attempts .. " attempts)"
	end
	return table.concat(parts)
end

function errors.new(fields)
	assert(errors.KINDS[fields.kind], "unknown error kind")
	return setmetatable(fields, Error)
end

function errors.is_error(v)
	return getmetatable(v) == Error
end

-- Whether status (a number, or nil when no response came) is a success.
function errors.is_success(status)
	return status ~= nil and status >= 200 and status <= 299
end

-- The kind an HTTP status stands for, or nil for a success.
function errors.kind_of_status(status)
	if errors.is_success(status) then
		return nil
	elseif status == 401 then
		return "auth"
	elseif status == 403 then
		return "forbidden"
	elseif status == 404 then
		return "not_found"
	elseif status == 429 then
		return "rate_limited"
	elseif status == 503 then
		return "unavailable"
	elseif status >= 500 then
		return "server"
	end
	return "client" -- other 4xx, and 1xx/3xx that libcurl did not resolve
end

-- The kind of a failure with no response: the transport's (pulse.core's
-- names), or the request path's own over_budget.
function errors.kind_of_failure(failure)
	if failure == "timeout" or failure == "interrupted" then
		return "timeout" -- an interrupt cuts the wait short, as a timeout would
	elseif failure == "usage" or failure == "too_large" or failure == "cancelled" then
		return failure
	elseif failure == "over_budget" then
		return "rate_limited"
	end
	return "network" -- no_connection, tls, certificate, network, limiter
end

--- A raiser of misuse (wrong types, unknown options), as lauxlib's
-- luaL_argerror is for C: usage(message [, level]) raises "PREFIX: message"
-- blamed on the function level levels above the one calling usage (1, the
-- default: the function that called usage; 2: its caller). One convention
-- for every module; a raiser of its own per prefix, so that no wrapper's
-- frame shifts the level.
function errors.usage_for(prefix)
	return function(message, level)
		error(prefix .. ": " .. message, (level or 1) + 1)
	end
end

--- The raiser of misuse for pulse's own functions ("pulse: ...").
errors.usage = errors.usage_for("pulse")

--- A misuse found deep inside the building of a call: raised as a table,
-- so that `errors.built` turns it into a usage error at the caller.
function errors.refuse(message)
	error({ refused = message }, 0)
end

--- What `pcall(build, ...)` returned: the build's results, or its refusal
-- raised as a usage error blamed on the caller of the function that called
-- `built` (any other error raised again as it was).
function errors.built(ok, ...)
	if ok then
		return ...
	end
	local e = ...
	if type(e) == "table" and e.refused then
		errors.usage(e.refused, 3)
	end
	error(e, 0)
end

return errors
