-- JSON encode and decode against lua-cjson, on a 2 KB document (a page of
-- services, as the API answers) and a ~1 MB one (500 such pages' records),
-- best of ROUNDS interleaved rounds, wall and CPU time. Ratios above 1 mean
-- pulse.json is faster.
--   build/pulse-lua bench/json.lua [rounds]      (make bench runs it)

local cjson = require("cjson")
local core = require("pulse.core")
local json = require("pulse.json")

local ROUNDS = tonumber(arg[1]) or 7

local function record(i)
	return {
		id = i,
		name = "Service " .. i,
		price = 1000 + (i * 37) % 9000,
		duration = 15 * (i % 8 + 1),
		rating = 3.5 + (i % 15) / 10,
		active = i % 3 ~= 0,
		staff_ids = { i % 7 + 1, i % 5 + 2, i % 3 + 3 },
		description = "A service of the sample data, number " .. i .. ", with some text to it.",
	}
end

local function document(records)
	local data = {}
	for i = 1, records do
		data[i] = record(i)
	end
	return { data = data, meta = { page = 1, per_page = records, total = records, next_page = json.null } }
end

local small, large = document(8), document(4000)
local small_text, large_text = cjson.encode(small), cjson.encode(large)
assert(json.decode(small_text) and json.decode(large_text))

-- A number-heavy document: 5,000 points of five decimals each (map
-- coordinates, prices, ratings, weights), as cjson writes them.
local points = {}
for i = 1, 5000 do
	points[i] = {
		lat = 48.8566 + i * 0.000137,
		lng = 2.3522 - i * 0.000071,
		price = 19.99 + i % 100,
		rating = 3.5 + (i % 15) / 10,
		weight = 0.125 * i,
	}
end
local numbers = { points = points }
local numbers_text = cjson.encode(numbers)

-- Seconds (wall, cpu) per call of fn, the best of the rounds for each.
local function timed(fn, n)
	local wall, cpu = core.now(), os.clock()
	for _ = 1, n do
		fn()
	end
	return (core.now() - wall) / n, (os.clock() - cpu) / n
end

-- name, pulse's call, cjson's call, calls per round.
local function case(name, ours, theirs, input, n)
	return {
		name,
		function()
			return ours(input)
		end,
		function()
			return theirs(input)
		end,
		n,
	}
end
local cases = {
	case("decode 2 KB", json.decode, cjson.decode, small_text, 20000),
	case("decode ~1 MB", json.decode, cjson.decode, large_text, 20),
	case("decode numbers", json.decode, cjson.decode, numbers_text, 20),
	case("encode 2 KB", json.encode, cjson.encode, small, 20000),
	case("encode ~1 MB", json.encode, cjson.encode, large, 20),
	case("encode numbers", json.encode, cjson.encode, numbers, 20),
}
print(string.format("JSON: pulse.json against lua-cjson, %d B and %d B documents, best of %d rounds",
	#small_text, #large_text, ROUNDS))
print(string.format("%-14s %12s %12s %8s %8s", "case", "pulse us", "cjson us", "wall", "cpu"))
for _, this in ipairs(cases) do
	local name, ours, theirs, n = this[1], this[2], this[3], this[4]
	local best = { math.huge, math.huge, math.huge, math.huge }
	for _ = 1, ROUNDS do
		collectgarbage()
		local w, c = timed(ours, n)
		best[1], best[2] = math.min(best[1], w), math.min(best[2], c)
		collectgarbage()
		w, c = timed(theirs, n)
		best[3], best[4] = math.min(best[3], w), math.min(best[4], c)
	end
	print(string.format("%-14s %12.2f %12.2f %7.2fx %7.2fx", name, best[1] * 1e6, best[3] * 1e6,
		best[3] / best[1], best[4] / best[2]))
end
