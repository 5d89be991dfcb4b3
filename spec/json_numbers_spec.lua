-- pulse.json's numbers, over many random doubles: each reads back bit
-- exact, and is never longer than the shortest of %.15g, %.16g and %.17g
-- that reads back. $PULSE_JSON_NUMBERS doubles (1,000,000 by default,
-- 50,000 under ASan, where each costs ten times as much).

local json = require("pulse.json")

local COUNT = tonumber(os.getenv("PULSE_JSON_NUMBERS") or "") or (os.getenv("ASAN_OPTIONS") and 50000 or 1000000)

-- The shortest of the three forms that reads back as x.
local function shortest(x)
	for precision = 15, 17 do
		local text = string.format("%." .. precision .. "g", x)
		if tonumber(text) == x then
			return text
		end
	end
end

describe("pulse.json numbers", function()
	it("round-trip bit exact, in the shortest form, over " .. COUNT .. " random doubles", function()
		math.randomseed(tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time())
		local checked = 0
		while checked < COUNT do
			-- Random bits, so that every exponent comes up, not only [0, 1).
			local bits = string.pack("<i4i4", math.random(-2 ^ 31, 2 ^ 31 - 1), math.random(-2 ^ 31, 2 ^ 31 - 1))
			local x = string.unpack("<d", bits)
			if x == x and x ~= math.huge and x ~= -math.huge and math.type(x) == "float" then
				local text = json.encode(x)
				local back = tonumber(text)
				if string.pack("<d", back) ~= string.pack("<d", x) and not (x == 0 and back == 0) then
					error(string.format("%q read back as %q from %s", string.format("%a", x), string.format("%a", back), text))
				end
				local best = shortest(x)
				if #text > #best then
					error(string.format("%s is longer than %s for %a", text, best, x))
				end
				checked = checked + 1
			end
		end
		assert.are.equal(COUNT, checked)
	end)
end)
