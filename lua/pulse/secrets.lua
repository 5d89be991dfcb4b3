-- The secrets of each client (its API keys, a Redis password): every form
-- they may come back in (verbatim, percent-encoded, JSON-escaped), kept
-- here, not in the client table, so that no pairs() or dump of a client
-- shows them; and redaction, which replaces each with [REDACTED] in what
-- the client prints or returns.

local core = require("pulse.core")
local url = require("pulse.url")

local secrets = {}

-- By owner (a client), weakly: the forms of every secret it has held.
local forms_of = setmetatable({}, { __mode = "k" })

--- Adds secret's forms to those of owner.
function secrets.remember(owner, secret)
	local forms = forms_of[owner] or {}
	local escaped = url.escape(secret)
	local lowered = escaped:gsub("%%%x%x", string.lower)
	for _, form in ipairs({ secret, escaped, lowered, core.json_encode(secret):sub(2, -2) }) do
		local known = false
		for _, seen in ipairs(forms) do
			known = known or seen == form
		end
		if not known then
			forms[#forms + 1] = form
		end
	end
	forms_of[owner] = forms
end

--- text with every secret of owner, in any of its forms, as [REDACTED];
-- anything but a string as it is.
function secrets.redact(owner, text)
	if type(text) ~= "string" then
		return text
	end
	for _, form in ipairs(forms_of[owner] or {}) do
		if text:find(form, 1, true) then
			local parts, from = {}, 1
			while true do
				local i, j = text:find(form, from, true)
				if not i then
					break
				end
				parts[#parts + 1] = text:sub(from, i - 1)
				from = j + 1
			end
			parts[#parts + 1] = text:sub(from)
			text = table.concat(parts, "[REDACTED]")
		end
	end
	return text
end

--- Whether text holds a secret of any owner, in any of its forms.
function secrets.held(text)
	for _, forms in pairs(forms_of) do
		for _, form in ipairs(forms) do
			if text:find(form, 1, true) then
				return true
			end
		end
	end
	return false
end

--- value with owner's secrets redacted: strings, and tables (a copy) all
-- through.
function secrets.redact_value(owner, value, seen)
	if type(value) == "string" then
		return secrets.redact(owner, value)
	elseif type(value) ~= "table" then
		return value
	end
	seen = seen or {}
	if seen[value] then
		return seen[value]
	end
	local copy = setmetatable({}, getmetatable(value))
	seen[value] = copy
	for k, v in pairs(value) do
		copy[secrets.redact_value(owner, k, seen)] = secrets.redact_value(owner, v, seen)
	end
	return copy
end

--- An error's fields with owner's secrets redacted wherever a server could
-- have echoed them: message, body, the error object, the Location, and the
-- response headers.
function secrets.redact_fields(owner, fields)
	fields.message = secrets.redact(owner, fields.message)
	fields.body = secrets.redact(owner, fields.body)
	fields.location = secrets.redact(owner, fields.location)
	fields.error = secrets.redact_value(owner, fields.error)
	local res = fields.res
	if res and res.headers then
		local block = tostring(res.headers)
		local clean = secrets.redact(owner, block)
		if clean ~= block then
			res.headers = core.headers(clean)
		end
	end
	return fields
end

return secrets
