-- Tables of names that answer a wrong name with the nearest right one:
-- api.guests.serch raises "no endpoint api.guests.serch; did you mean
-- api.guests.search?", and an argument's misspelling is named the same way.

local errors = require("pulse.errors")

local lookup = {}

-- The edit distance of a and b.
local function distance(a, b)
	local previous = {}
	for j = 0, #b do
		previous[j] = j
	end
	for i = 1, #a do
		local current = { [0] = i }
		for j = 1, #b do
			local cost = a:byte(i) == b:byte(j) and 0 or 1
			current[j] = math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
		end
		previous = current
	end
	return previous[#b]
end

--- The name in names (an iterator's keys, or a list) nearest to wrong, or
-- nil when there is none; a tie goes to the first in sorted order.
function lookup.nearest(wrong, candidates)
	local best, best_distance
	for _, name in ipairs(candidates) do
		local d = distance(tostring(wrong), name)
		if not best_distance or d < best_distance or (d == best_distance and name < best) then
			best, best_distance = name, d
		end
	end
	return best
end

--- A table whose missing keys raise, naming the nearest key it has.
-- dotted: the table's own name ("api.guests"); extra: keys it answers
-- without holding them ({ help = fn }).
function lookup.table(dotted, extra)
	return setmetatable({}, {
		__index = function(self, key)
			if extra and extra[key] ~= nil then
				return extra[key]
			end
			local names = {}
			for name in pairs(self) do
				names[#names + 1] = name
			end
			local best = lookup.nearest(key, names)
			local hint = best and ("; did you mean " .. dotted .. "." .. best .. "?") or ""
			errors.usage("no endpoint " .. dotted .. "." .. tostring(key) .. hint, 2)
		end,
	})
end

return lookup
