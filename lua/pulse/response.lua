-- What a call returns, built in one place: res for a response, the body
-- as the caller gets it, and the error of a failure.

local errors = require("pulse.errors")
local json = require("pulse.json")
local secrets = require("pulse.secrets")

local response = {}

-- The documented res of a final response.
function response.new(status, headers, attempts, waited, elapsed, rate)
	return {
		status = status,
		headers = headers,
		attempts = attempts,
		waited = waited,
		elapsed = elapsed,
		from_cache = false,
		shared = false,
		rate = rate,
	}
end

local function is_json_type(content_type)
	return content_type == nil or content_type:lower():find("json", 1, true) ~= nil
end

-- The body as a decoding call returns it: the decoded JSON, or the text
-- when the response says it is not JSON; nil and why when it should be
-- JSON and is not.
function response.body(raw, headers)
	if raw == "" or not is_json_type(headers["content-type"]) then
		return raw
	end
	return json.decode(raw)
end

--- The error object an answer carries, its "error" (or "Error"), or nil
-- when that is null or absent: a non-null one is a failure whatever the
-- status.
function response.error_object(body)
	if type(body) ~= "table" then
		return nil
	end
	local e = rawget(body, "error")
	if e == nil or e == json.null then
		e = rawget(body, "Error")
	end
	if e == nil or e == json.null or e == false then
		return nil
	end
	return e
end

local function text_of(v)
	if type(v) == "string" or type(v) == "number" then
		return v
	end
end

-- The application code and message of an error object, in whichever of
-- the documented shapes it came: {code, message}, {StatusCode, Message,
-- InternalMessage}, a string code ("GE502"), or a bare string.
local function code_and_message(e)
	if type(e) ~= "table" then
		return nil, text_of(e) and tostring(e)
	end
	local code = text_of(rawget(e, "code")) or text_of(rawget(e, "StatusCode")) or text_of(rawget(e, "Code"))
	local message = text_of(rawget(e, "message")) or text_of(rawget(e, "Message"))
		or text_of(rawget(e, "InternalMessage")) or text_of(rawget(e, "detail"))
	return code, message and tostring(message) or (code and ("code " .. tostring(code)))
end

-- The error made of fields, the key redacted from everything in it.
local function failed(client, fields)
	return nil, errors.new(secrets.redact_fields(client, fields))
end

-- Shapes the final response to req (its last hop: a redirect's target, or
-- req itself) into body, res or nil, err. server_wait: a wait the server
-- asked for that the call's budget did not allow, reported, not slept;
-- retry_after: the response's Retry-After in seconds (a date counted from
-- the response's Date), as pulse.core read it.
function response.finish(client, req, status, headers, raw, res, server_wait, retry_after)
	local kind = errors.kind_of_status(status)
	local body, decode_error = raw, nil
	if req.decode then
		local value, why = response.body(raw, headers)
		if value == nil then
			decode_error = why
		else
			body = value
		end
	end
	local carried = not decode_error and response.error_object(body)
	if not kind and not decode_error and not carried then
		return body, res
	end
	local fields = {
		kind = kind or "decode",
		status = status,
		method = req.method,
		url = req.url,
		attempts = res.attempts,
		res = res,
	}
	-- A write whose outcome the server did not make clear: a success status
	-- with an unreadable body, or a server error other than 503 (which means
	-- the request was turned away) that may have come after the write.
	if not req.idempotent and ((decode_error and not kind) or (status >= 500 and status ~= 503)) then
		fields.uncertain = true
	end
	if decode_error then
		fields.body = raw
		fields.message = "response body is not valid JSON (" .. decode_error .. ")"
		if kind then
			fields.message = "HTTP " .. status .. ", and the body is not JSON"
		end
	else
		local code, message = code_and_message(carried)
		fields.code, fields.message, fields.error = code, message or ("HTTP " .. status), carried or nil
		if not kind then -- an error inside a success: the code says what it is
			fields.kind = errors.kind_of_code(code)
		end
		if type(body) == "string" then
			fields.body = body -- not JSON: an HTML page from a proxy, say
		end
	end
	if status == 429 or status == 503 then
		fields.retry_after = server_wait or retry_after
		if server_wait then
			local why = " (the wait asked for, %.1f s, passes the call's budget)"
			fields.message = fields.message .. string.format(why, server_wait)
		end
	end
	return failed(client, fields)
end

-- The failures after which nothing was sent: no write can have been applied.
local NEVER_SENT =
	{ no_connection = true, tls = true, certificate = true, limiter = true, over_budget = true, cancelled = true }

-- The error of a request to which no response came (failure: the
-- transport's name for it), after attempts transmissions; reason: why the
-- retries stopped.
function response.failure(client, req, failure, message, reason, attempts)
	return failed(client, {
		kind = errors.kind_of_failure(failure),
		method = req.method,
		url = req.url,
		message = message .. (reason and (" (" .. reason .. ")") or ""),
		attempts = attempts,
		uncertain = not NEVER_SENT[failure] and failure ~= "too_large" and not req.idempotent or nil,
	})
end

-- The error of a call whose wait for the rate limit (wait seconds) would
-- pass its budget: nothing was sent, nothing waited.
function response.over_budget(client, req, message, wait, attempts)
	return failed(client, {
		kind = "rate_limited",
		method = req.method,
		url = req.url,
		message = message,
		retry_after = wait,
		attempts = attempts,
	})
end

-- The error of a redirect not followed (why says which rule), with the
-- response that asked for it.
function response.redirect_error(client, req, status, headers, why, res)
	return failed(client, {
		kind = "redirect",
		status = status,
		location = headers.location,
		method = req.method,
		url = req.url,
		message = "redirect to " .. tostring(headers.location) .. " not followed: " .. why,
		attempts = res.attempts,
		res = res,
	})
end

return response
