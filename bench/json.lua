-- JSON encode and decode against lua-cjson and thin bindings of rapidjson
-- and simdjson (bench/rapidjson_lua.cpp, bench/simdjson_lua.cpp, built by
-- make bench; simdjson decodes only), each into and from the same Lua
-- tables: a 2 KB document (a page of services, as the API answers, one
-- decimal field a record), a ~1 MB one (500 such pages' records) and a
-- number-heavy one; best of ROUNDS interleaved rounds of CPU time, the
-- ratios theirs over ours (above 1: pulse.json is faster).
--   taskset -c 0 build/pulse-lua bench/json.lua [rounds]      (make bench runs it)

local cjson = require("cjson")
local core = require("pulse.core")
local json = require("pulse.json")

package.cpath = (os.getenv("PULSE_BUILD") or "build") .. "/bench/?.so;" .. package.cpath
local has_rapidjson, rapidjson = pcall(require, "rapidjson_bench")
local has_simdjson, simdjson = pcall(require, "simdjson_bench")

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

-- The peers beside pulse.json: name, decode, encode (nil: it cannot).
local peers = { { "cjson", cjson.decode, cjson.encode } }
if has_rapidjson then
	peers[#peers + 1] = { "rapidjson", rapidjson.decode, rapidjson.encode }
end
if has_simdjson then
	peers[#peers + 1] = { "simdjson", simdjson.decode }
end

-- name, which way (2 decode, 3 encode), input, calls per round.
local cases = {
	{ "decode 2 KB", 2, small_text, 20000 },
	{ "decode ~1 MB", 2, large_text, 20 },
	{ "decode numbers", 2, numbers_text, 20 },
	{ "encode 2 KB", 3, small, 20000 },
	{ "encode ~1 MB", 3, large, 20 },
	{ "encode numbers", 3, numbers, 20 },
}
print(string.format("JSON: pulse.json against its peers, %d B, %d B and %d B (numbers) documents, best of %d rounds",
	#small_text, #large_text, #numbers_text, ROUNDS))
if not (has_rapidjson and has_simdjson) then
	print("  (rapidjson or simdjson not built: make bench builds them, with rapidjson-dev and libsimdjson-dev)")
end
local header = { string.format("%-15s %10s", "case", "pulse us") }
for _, peer in ipairs(peers) do
	header[#header + 1] = string.format("%12s %7s", peer[1] .. " us", "ratio")
end
print(table.concat(header, " "))
for _, this in ipairs(cases) do
	local name, way, input, n = this[1], this[2], this[3], this[4]
	local ours = way == 2 and json.decode or json.encode
	local best = {}
	local function measure(key, fn)
		collectgarbage()
		local _, c = timed(function()
			return fn(input)
		end, n)
		best[key] = math.min(best[key] or math.huge, c)
	end
	for _ = 1, ROUNDS do
		measure(0, ours)
		for i, peer in ipairs(peers) do
			if peer[way] then
				measure(i, peer[way])
			end
		end
	end
	local line = { string.format("%-15s %10.2f", name, best[0] * 1e6) }
	for i in ipairs(peers) do
		line[#line + 1] = best[i] and string.format("%12.2f %6.2fx", best[i] * 1e6, best[i] / best[0])
			or string.format("%12s %7s", "-", "-")
	end
	print(table.concat(line, " "))
end
