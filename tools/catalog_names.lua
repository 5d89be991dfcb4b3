-- The SDK's names for the catalog's operations, by the rule doc/api/NAMES.md
-- states; tools/catalog.lua writes them into lua/pulse/catalog.lua.
--   * The group is the catalog's, except service_booking, which is bookings.
--   * The name drops the group's noun (plural or singular, the first
--     place it appears as whole words) and keeps the verb and the rest:
--     search_guests -> search, close_invoice -> close. In bookings the
--     noun may be "booking slot": a reservation acts on a booking's slot.
--   * list_<noun>_<things> becomes <things>: list_center_services ->
--     services; not before a preposition (list_centers_near_base_center
--     -> list_near_base_center).
--   * A short name two operations would share, or one that is a word the
--     API's tables use (help, each, pages), or nothing at all, is not
--     given: those operations keep their full names only.
-- Every operation answers to its full catalog name too.

local names = {}

local GROUP_NAMES = { service_booking = "bookings" }

-- More nouns than the group's own, longest first.
local EXTRA_NOUNS = { service_booking = { "booking_slot" } }

local PREPOSITIONS = { with = true, near = true, by = true, ["for"] = true, from = true, of = true, on = true }

local TAKEN = { help = true, each = true, pages = true }

local KEYWORDS = {}
for word in ([[and break do else elseif end false for function goto if in local nil not or
	repeat return then true until while]]):gmatch("%a+") do
	KEYWORDS[word] = true
end

function names.group_of(catalog_group)
	return GROUP_NAMES[catalog_group] or catalog_group
end

local function singular(word)
	if word:find("ies$") then
		return word:sub(1, -4) .. "y"
	elseif word:find("sses$") then
		return word:sub(1, -3)
	elseif word:find("s$") then
		return word:sub(1, -2)
	end
	return word
end

local function words_of(text)
	local list = {}
	for word in text:gmatch("[^_]+") do
		list[#list + 1] = word
	end
	return list
end

-- Whether the words of noun stand in words from index i on.
local function matches_at(words, i, noun)
	for j = 1, #noun do
		if words[i + j - 1] ~= noun[j] then
			return false
		end
	end
	return true
end

-- The short name of one operation, before collisions are looked at.
local function short_of(catalog_group, name)
	local group = names.group_of(catalog_group)
	local nouns = {}
	for _, noun in ipairs(EXTRA_NOUNS[catalog_group] or {}) do
		nouns[#nouns + 1] = words_of(noun)
	end
	nouns[#nouns + 1] = words_of(group)
	nouns[#nouns + 1] = words_of(singular(group))
	local words = words_of(name)
	local at, length
	for i = 1, #words do
		for _, noun in ipairs(nouns) do
			if matches_at(words, i, noun) then
				at, length = i, #noun
				break
			end
		end
		if at then
			break
		end
	end
	if not at then
		return name
	end
	local kept = {}
	for i, word in ipairs(words) do
		if i < at or i >= at + length then
			kept[#kept + 1] = word
		end
	end
	if kept[1] == "list" and at == 2 and #kept > 1 and not PREPOSITIONS[kept[2]] then
		table.remove(kept, 1)
	end
	return table.concat(kept, "_")
end

--- Names every row: row.api_group, and row.short (nil where the rule
-- gives none).
function names.assign(rows)
	local by_group = {}
	for _, row in ipairs(rows) do
		row.api_group = names.group_of(row.group)
		row.short = short_of(row.group, row.name)
		local list = by_group[row.api_group] or {}
		by_group[row.api_group] = list
		list[#list + 1] = row
	end
	for _, list in pairs(by_group) do
		local count, full = {}, {}
		for _, row in ipairs(list) do
			count[row.short] = (count[row.short] or 0) + 1
			full[row.name] = true
		end
		for _, row in ipairs(list) do
			local s = row.short
			if s == "" or count[s] > 1 or (full[s] and s ~= row.name) or TAKEN[s] or KEYWORDS[s] then
				row.short = nil
			elseif s == row.name then
				row.short = nil -- nothing dropped: the full name is the name
			end
		end
	end
end

--- The patch name of a whole-object update's name: update_x -> patch_x.
function names.patch_of(name)
	return (name:gsub("^update", "patch"))
end

return names
