-- JSON for the sandbox, on lua-cjson alone: an oracle independent of the
-- client's codec (pulse.json), so that a bug in either cannot hide on both
-- ends of a test.
--
-- Debian's lua-cjson (2.1.0) writes every empty table as {}: the sandbox
-- marks its arrays (json.array), and an empty one goes to cjson as a
-- marker string, swapped for [] in the text.

local cjson = require("cjson")

local json = {
	null = cjson.null,
	decode = cjson.decode, -- raises on malformed text: callers pcall it
}

local array_mt = { __name = "pulse.sandbox.json.array" }
local text_mt = { __name = "pulse.sandbox.json.text" }

-- Marks t (default: a new table) as an array, so that it is written [] when empty.
function json.array(t)
	return setmetatable(t or {}, array_mt)
end

-- A new array of list's items (a record's list, written without it
-- being the record's own).
function json.copy_array(list)
	return json.array(table.move(list, 1, #list, 1, {}))
end

-- A whole answer already encoded (text: JSON), which json.encode writes
-- as it is: a list whose items' encodings are kept (v1/centers.lua).
function json.text(text)
	return setmetatable({ text = text }, text_mt)
end

-- A string no value of the sandbox holds (letters, digits and _, so that
-- it is also its own pattern).
local MARKER = string.format("pulse_sandbox_empty_array_%08x%08x", math.random(0, 0x7fffffff), os.time() % 0x7fffffff)
local QUOTED_MARKER = '"' .. MARKER .. '"'

-- value with each empty marked array replaced by the marker: value itself
-- when it holds none, else a copy of the tables on the way to one.
local function prepare(value)
	if type(value) ~= "table" then
		return value
	end
	if next(value) == nil then
		return getmetatable(value) == array_mt and MARKER or value
	end
	local copy
	for k, v in pairs(value) do
		local prepared = prepare(v)
		if prepared ~= v then
			copy = copy or table.move(value, 1, #value, 1, {})
			copy[k] = prepared
		end
	end
	if copy then
		for k, v in pairs(value) do
			if copy[k] == nil then
				copy[k] = v
			end
		end
	end
	return copy or value
end

-- The text of value; raises what cjson raises (a value JSON cannot hold).
function json.encode(value)
	if getmetatable(value) == text_mt then
		return value.text
	end
	local text = cjson.encode(prepare(value))
	if text:find(QUOTED_MARKER, 1, true) then
		text = text:gsub(QUOTED_MARKER, "[]")
	end
	return text
end

return json
