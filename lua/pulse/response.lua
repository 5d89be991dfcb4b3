-- What a call returns, built in one place: res for a response, the body
-- as the caller gets it, and the error of a failure.

local core = require("pulse.core")
local errors = require("pulse.errors")
local json = require("pulse.json")

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

local function error_message(decoded, status)
	local e = type(decoded) == "table" and decoded.error
	if type(e) == "table" then
		return e.message or e.detail or e.code, e
	elseif type(e) == "string" then
		return e, e
	end
	return "HTTP " .. status, nil
end

-- Shapes a final response to req into body, res or nil, err.
function response.finish(client, req, status, headers, raw, res)
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
	if not kind and not decode_error then
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
		fields.body = client:_redact(raw)
		fields.message = "response body is not valid JSON (" .. decode_error .. ")"
		if kind then
			fields.message = "HTTP " .. status .. ", and the body is not JSON"
		end
	else
		local message, e = error_message(body, status)
		fields.message = client:_redact(message)
		fields.error = e
		if type(body) == "string" then
			fields.body = client:_redact(body) -- not JSON: an HTML page from a proxy, say
		end
	end
	if status == 429 or status == 503 then
		fields.retry_after = core.parse_retry_after(headers["retry-after"] or "")
	end
	return nil, errors.new(fields)
end

-- The error of a request to which no response came (failure: the
-- transport's name for it), after attempt attempts.
function response.failure(client, req, failure, message, reason, attempt)
	return nil,
		errors.new({
			kind = errors.kind_of_failure(failure),
			method = req.method,
			url = req.url,
			message = client:_redact(message) .. (reason and (" (" .. reason .. ")") or ""),
			attempts = attempt,
			uncertain = failure ~= "no_connection" and not req.idempotent or nil,
		})
end

return response
