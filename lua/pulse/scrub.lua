-- pulse-lua --scrub FILE.har [--scrub-field NAME]...: a HAR file (ours, a
-- browser's) cleaned in place of credentials and of the fields named,
-- before it is shared or checked in. The key to find is the
-- environment's ($PULSE_API_KEY, or the first line of $PULSE_API_KEY_FILE),
-- wherever it appears.

local har = require("pulse.har")

local function environment_keys()
	local keys = {}
	local key = os.getenv("PULSE_API_KEY")
	if key and key ~= "" then
		keys[#keys + 1] = key
	end
	local path = os.getenv("PULSE_API_KEY_FILE")
	local file = path and path ~= "" and io.open(path)
	if file then
		local line = (file:read("l") or ""):match("^%s*(.-)%s*$")
		file:close()
		if line ~= "" then
			keys[#keys + 1] = line
		end
	end
	return keys
end

--- Scrubs path: true and what was done, or nil and why.
return function(path, fields)
	local count, why = har.scrub(path, environment_keys(), fields)
	if not count then
		return nil, "--scrub: " .. why
	end
	local named = #fields > 0 and (" and the fields " .. table.concat(fields, ", ")) or ""
	return true, string.format("scrubbed %s: %d entries, credentials%s removed", path, count, named)
end
