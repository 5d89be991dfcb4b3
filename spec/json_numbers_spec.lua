-- pulse.json's numbers, over many random doubles: each encodes as the
-- shortest decimal that reads back bit exact (no decimal of a digit fewer
-- does; of the shortest, the nearest), in the form %g gives at precision
-- max(15, its digits), which is the text of the first of %.15g, %.16g and
-- %.17g that reads back wherever one of those is shortest (every normal
-- double but the powers of two); and decimal texts decode to the double
-- strtod reads (Lua's tonumber), bit for bit, whether the fast path or
-- strtod takes them. $PULSE_JSON_NUMBERS cases each (1,000,000 by
-- default, 50,000 under ASan, where each costs ten times as much).

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

local SMALLEST_NORMAL = 2.2250738585072014e-308

-- Where a shorter decimal than %.15g's reads back (a subnormal's interval
-- is wide), or a decimal of the fewest digits reads back beside a nearer
-- one that does not (a power of two's interval is lopsided).
local function beyond_the_three(x)
	local size = math.abs(x)
	return size < SMALLEST_NORMAL or string.unpack("<i8", string.pack("<d", size)) & 0x000fffffffffffff == 0
end

-- The significant digits of an encoded number (no leading or trailing
-- zero) and the power of ten of the first.
local function digits_of(text)
	local mantissa, power = text:match("^%-?([%d%.]+)e([-+]%d+)$")
	mantissa = mantissa or text:match("^%-?([%d%.]+)$")
	local whole, fraction = mantissa:match("^(%d*)%.?(%d*)$")
	local all = whole .. fraction
	local zeros = #all:match("^0*")
	return (all:sub(zeros + 1):gsub("0+$", "")), (tonumber(power) or 0) + #whole - 1 - zeros
end

-- %g's form of digits * 10^(power - #digits + 1) at precision P: an
-- exponent (two digits at least) below 10^-4 and from 10^P, else none.
local function g_form(negative, digits, power)
	local n, precision = #digits, math.max(15, #digits)
	local text
	if power < -4 or power >= precision then
		text = digits:sub(1, 1) .. (n > 1 and "." .. digits:sub(2) or "")
			.. string.format("e%s%02d", power < 0 and "-" or "+", math.abs(power))
	elseif power >= n - 1 then
		text = digits .. string.rep("0", power - n + 1)
	elseif power >= 0 then
		text = digits:sub(1, power + 1) .. "." .. digits:sub(power + 2)
	else
		text = "0." .. string.rep("0", -power - 1) .. digits
	end
	return (negative and "-" or "") .. text
end

-- text (what pulse.json wrote for x) reads back as x (a zero as "0" or
-- "-0"); no decimal of a digit fewer does (the three nearest x of that
-- length: whichever reads back as x lies between them); of its length it
-- is the nearest when the nearest reads back; and it is in %g's form.
local function assert_shortest(x, text)
	if x == 0 then
		return assert.are.equal(1 / x < 0 and "-0" or "0", text)
	end
	local back = tonumber(text)
	if string.pack("<d", back) ~= string.pack("<d", x) then
		error(string.format("%a encoded as %s, which reads back as %a", x, text, back))
	end
	local size, digits, power = math.abs(x), digits_of(text)
	local n = #digits
	if n > 1 then
		local near = string.format("%." .. (n - 2) .. "e", size)
		local lead, rest, exponent = near:match("^(%d)%.?(%d*)e([-+]%d+)$")
		local m = math.tointeger(tonumber(lead .. rest))
		for _, candidate in ipairs({ m - 1, m, m + 1 }) do
			local shorter = string.format("%de%d", candidate, tonumber(exponent) - (n - 2))
			if candidate > 0 and tonumber(shorter) == size then
				error(string.format("%a encoded as %s, but %s reads back too", x, text, shorter))
			end
		end
	end
	local nearest = string.format("%." .. (n - 1) .. "e", size)
	if tonumber(nearest) == size and digits_of(nearest) ~= digits then
		error(string.format("%a encoded as %s, but %s is nearer and reads back", x, text, nearest))
	end
	local form = g_form(x < 0, digits, power)
	if text ~= form then
		error(string.format("%a encoded as %s, not in %%g's form %s", x, text, form))
	end
end

-- A double of random bits, so that every exponent comes up, not only
-- [0, 1): NaN and the infinities among them.
local function random_double()
	return (string.unpack("<d", string.pack("<i4i4", math.random(-2 ^ 31, 2 ^ 31 - 1), math.random(-2 ^ 31, 2 ^ 31 - 1))))
end

-- A random decimal text of JSON's grammar, near the fast path's edges
-- (significands to 2^53 and past, powers of ten to 22 and past, leading
-- and trailing zeros), or a random double's %.17g.
local function random_text()
	local kind = math.random(1, 4)
	if kind == 1 then
		local x = random_double()
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
-- cases, zeros, and integer parts whose digits summed in 64 bits wrap to
-- 0 (2^64, 10^64 and up).
local EDGES = {
	"0.0", "-0.0", "0e5", "-0e-5", "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.2250738585072011e-308",
	"2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623159e308", "1e22", "1e23", "1e-22", "1e-23",
	"9007199254740992.0", "9007199254740993.0", "9007199254740994.0", "9007199254740992e-22", "9007199254740993e-22",
	"0.1", "0.2", "0.3", "2.0000000000000001", "1.00000000000000011102230246251565", "123456789012345678901234567890e-20",
	"8.98846567431158e307", "0.000000000000000000000000000000001", "1.5e-3", "97.2", "-12.5E+2", "3.0e0",
	"18446744073709551616.5", "1" .. string.rep("0", 64) .. ".25", "-1" .. string.rep("0", 70) .. "e-60",
	"1" .. string.rep("0", 64) .. ".000000000000000000001",
}

describe("pulse.json numbers", function()
	-- A quarter of COUNT: each case formats three times in Lua to compare.
	it("encode what decimal texts read as as the first of %.15g, %.16g and %.17g that reads back, over " .. COUNT // 4 .. " of them", function()
		math.randomseed(tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time())
		local checked, texts = 0, { table.unpack(EDGES) }
		while checked < COUNT // 4 do
			for _, text in ipairs(texts) do
				local x = tonumber(text)
				if math.type(x) == "float" and x == x and x ~= math.huge and x ~= -math.huge then
					local want, got = shortest(x), json.encode(x)
					if beyond_the_three(x) then
						assert_shortest(x, got)
					elseif got ~= want then
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


	it("encode every power of two, the smallest subnormals and their negatives as the shortest decimals", function()
		local cases = { 0.0, -0.0 }
		for e = -1074, 1023 do
			cases[#cases + 1] = 2.0 ^ e
		end
		for i = 1, 2000 do
			cases[#cases + 1] = string.unpack("<d", string.pack("<i8", i))
			cases[#cases + 1] = string.unpack("<d", string.pack("<i8", 0x0010000000000000 - i))
		end
		for _, x in ipairs(cases) do
			for _, signed in ipairs({ x, -x }) do
				local text = json.encode(signed)
				assert_shortest(signed, text)
			end
		end
		assert.are.equal("5e-324", json.encode(2.0 ^ -1074))
		assert.are.equal("1e-323", json.encode(2.0 ^ -1073))
	end)

	it("encode as the shortest decimal that reads back, the nearest, in %g's form, over " .. COUNT .. " random doubles", function()
		math.randomseed(tonumber(os.getenv("PULSE_PROPERTY_SEED") or "") or os.time())
		local checked = 0
		while checked < COUNT do
			local x = random_double()
			if x == x and x ~= math.huge and x ~= -math.huge and math.type(x) == "float" then
				local text = json.encode(x)
				assert_shortest(x, text)
				checked = checked + 1
			end
		end
		assert.are.equal(COUNT, checked)
	end)
end)
