--- JSON for pulse, on the C codec of pulse.core: integral numbers decode as
-- Lua integers, integers up to 2^63 encode exactly, arrays keep their kind.
-- @module pulse.json

local core = require("pulse.core")

local json = {
	null = core.null, -- JSON null, distinct from a missing field
	array_mt = core.array_mt,
}

--- Marks t (default: a new table) as a JSON array, so that it encodes as
-- [] even when empty. Decoded arrays carry this mark already.
-- @tparam[opt] table t
-- @treturn table t
function json.array(t)
	return setmetatable(t or {}, core.array_mt)
end

--- Whether t is marked as a JSON array.
-- @tparam table t
-- @treturn boolean
function json.is_array(t)
	return getmetatable(t) == core.array_mt
end

--- The value at a dotted path into a decoded document ("meta.next",
-- "items.1.id": a step that is a number indexes an array), or nil when a
-- step is missing; JSON null as `null`.
-- @param value a decoded document
-- @tparam string path
function json.at_path(value, path)
	for key in path:gmatch("[^.]+") do
		if type(value) ~= "table" then
			return nil
		end
		local found = value[key]
		if found == nil and tonumber(key) then
			found = value[tonumber(key)]
		end
		value = found
	end
	return value
end

--- Encodes a Lua value as JSON text.
-- @function encode
-- @param value a table, string, number, boolean or `null`
-- @treturn string the text; or nil and the reason
json.encode = core.json_encode

--- Decodes JSON text.
-- @function decode
-- @tparam string text
-- @return the value; or nil and the reason (with the byte offset)
json.decode = core.json_decode

return json
