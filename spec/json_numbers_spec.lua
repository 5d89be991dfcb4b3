-- pulse.json's numbers, over many random doubles: each reads back bit
-- exact, and is never longer than the shortest of %.15g, %.16g and %.17g
-- that reads back; and decimal texts decode to the double strtod reads
-- (Lua's tonumber), bit for bit, whether the fast path or strtod takes
-- them, and encode in the form the three precisions give. $PULSE_JSON_NUMBERS cases each (1,000,000 by default, 50,000
-- under ASan, where each costs ten times as much).

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

-- A random decimal text of JSON's grammar, near the fast path's edges
-- (significands to 2^53 and past, powers of ten to 22 and past, leading
-- and trailing zeros), or a random double's %.17g.
local function random_text()
	local kind = math.random(1, 4)
	if kind == 1 then
		local x = string.unpack("<d", string.pack("<i4i4", math.random(-2 ^ 31, 2 ^ 31 - 1), math.random(-2 ^ 31, 2 ^ 31 - 1)))
		if x ~= x or x == math.huge or x == -math.huge then
			return "0.5"
		end
		return (string.format("%.17g", x):gsub("^(%-?%d+)$", "%1.0"))
	end
	local digits = {}
	for i = 1, math.random(1, kind == 2 and 17 or 21) do
		digits[i] = tostring(math.random(i == 1 and 1 or 0, 9))
	end
	local text = table.concat(digits)
	local point = math.random(0, #text)
	if point > 0 and point < #text then
		text = text:sub(1, point) .. "." .. text:sub(point + 1)
	elseif math.random() < 0.5 then
		text = "0." .. string.rep("0", math.random(0, 6)) .. text
	end
	if kind >= 3 then
		text = text .. (math.random() < 0.5 and "e" or "E") .. ({ "", "+", "-" })[math.random(1, 3)]
			.. tostring(math.random(0, kind == 3 and 25 or 330))
	end
	return (math.random() < 0.3 and "-" or "") .. text
end

-- Texts at the edges: subnormals, the largest and smallest doubles,
-- powers of ten either side of 10^22, 2^53 and its neighbours, halfway
-- cases, zeros.
local EDGES = {
	"0.0", "-0.0", "0e5", "-0e-5", "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.2250738585072011e-308",
	"2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623159e308", "1e22", "1e23", "1e-22", "1e-23",
	"9007199254740992.0", "9007199254740993.0", "9007199254740994.0", "9007199254740992e-22", "9007199254740993e-22",
	"0.1", "0.2", "0.3", "2.0000000000000001", "1.00000000000000011102230246251565", "123456789012345678901234567890e-20",
	"8.98846567431158e307", "0.000000000000000000000000000000001", "1.5e-3", "97.2", "-12.5E+2", "3.0e0",
}

describe("pulse.json numbers", function()
	-- A quarter of COUNT: each case formats three times in Lua to compare.
	it("encode what decimal texts read as in the form %.15g, %.16g or %.17g gives, over " .. COUNT // 4 .. " of them", function()
		math.randomseed(tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time())
		local checked, texts = 0, { table.unpack(EDGES) }
		while checked < COUNT // 4 do
			for _, text in ipairs(texts) do
				local x = tonumber(text)
				if math.type(x) == "float" and x == x and x ~= math.huge and x ~= -math.huge then
					local want, got = shortest(x), json.encode(x)
					if got ~= want then
						error(string.format("%s (from %s) encoded as %s, not %s", string.format("%a", x), text, got, want))
					end
				end
				checked = checked + 1
			end
			texts = {}
			for i = 1, 10000 do
				texts[i] = random_text()
			end
		end
	end)

	it("decode as strtod does, bit for bit, over " .. COUNT .. " decimal texts and the edge cases", function()
		math.randomseed(tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time())
		local checked = 0
		local function check(texts)
			local values = assert(json.decode("[" .. table.concat(texts, ",") .. "]"))
			for i, text in ipairs(texts) do
				local want = tonumber(text)
				if string.pack("<d", values[i]) ~= string.pack("<d", want) then
					error(string.format("%s decoded as %a, strtod reads %a", text, values[i], want))
				end
			end
			checked = checked + #texts
		end
		check(EDGES)
		while checked < COUNT do
			local texts = {}
			for i = 1, 10000 do
				texts[i] = random_text()
			end
			check(texts)
		end
		assert.is_true(checked >= COUNT)
	end)


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
