-- The recording stage (record = FILE, pulse-lua --record FILE.har): each
-- call that went out is written to the line's HAR recording as it ends,
-- its last exchange with what the client knew of it (_pulse: attempts,
-- token wait, rate-limit view, cache status). The key is scrubbed from
-- every field: the Authorization header is written as the scheme and
-- [REDACTED], and every other string through the client's redaction.

local core = require("pulse.core")
local har = require("pulse.har")
local observe = require("pulse.observe")
local secrets = require("pulse.secrets")

local stage = { name = "record" }

function stage.applies(line)
	return line.recorder ~= nil
end

local function cache_status(res)
	if type(res) ~= "table" then
		return nil
	end
	return res.stale and "stale" or res.revalidated and "revalidated" or nil
end

-- The request's header block as it went out, the key's place marked.
local function request_headers(call)
	local req, client = call.req, call.line.client
	local lines = { "Authorization: " .. client.auth_scheme .. " [REDACTED]" }
	if req.body and req.json_body ~= nil then
		lines[#lines + 1] = "Content-Type: application/json"
	end
	for _, header in ipairs(req.headers or {}) do
		lines[#lines + 1] = header
	end
	return table.concat(lines, "\r\n")
end

function stage.close(call, a, b)
	local recorder = call.line.recorder
	if not recorder or call.sent == 0 or not call.status then -- closed, or nothing came back
		return a, b
	end
	local client, hop = call.line.client, call.hop
	local redact = function(text)
		return secrets.redact(client, text)
	end
	local elapsed = core.now() - call.started
	recorder:add(har.entry({
		started = core.epoch() - elapsed,
		method = hop.method,
		url = redact(hop.url),
		request_headers = redact(request_headers(call)),
		body = redact(call.req.body),
		status = call.status,
		response_headers = redact(tostring(call.headers)),
		response_body = redact(call.body or ""),
		elapsed = elapsed,
		pulse = {
			attempt = call.sent,
			token_wait = call.waited,
			rate = observe.plain_rate(call.rate),
			cache = cache_status(b),
		},
	}))
	return a, b
end

return stage
