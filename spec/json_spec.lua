local json = require("pulse.json")
local pulse = require("pulse")

describe("pulse.json", function()
	describe("decode", function()
		it("gives integral numbers as Lua integers", function()
			local v = json.decode('{"id": 12, "neg": -7, "zero": 0}')
			assert.are.equal("integer", math.type(v.id))
			assert.are.equal("/services/12", "/services/" .. v.id)
			assert.are.equal(-7, v.neg)
			assert.are.equal("integer", math.type(v.zero))
		end)

		it("keeps integers up to 2^53 and beyond exact", function()
			local v = json.decode("[9007199254740992, 9007199254740993, 9223372036854775807, -9223372036854775808]")
			assert.are.equal(9007199254740992, v[1])
			assert.are.equal(9007199254740993, v[2])
			assert.are.equal(math.maxinteger, v[3])
			assert.are.equal(math.mininteger, v[4])
		end)

		it("gives fractions, exponents and integers past 64 bits as floats", function()
			local v = json.decode("[1.5, 1e3, 2E-2, 123456789012345678901234]")
			assert.are.equal("float", math.type(v[1]))
			assert.are.equal(1000.0, v[2])
			assert.are.equal("float", math.type(v[2]))
			assert.are.equal(0.02, v[3])
			assert.are.equal("float", math.type(v[4]))
		end)

		it("keeps empty arrays as arrays and empty objects as objects", function()
			local v = json.decode('{"a": [], "o": {}}')
			assert.is_true(json.is_array(v.a))
			assert.is_false(json.is_array(v.o))
			assert.are.equal('{"a":[]}', json.encode({ a = v.a }))
			assert.are.equal('{"o":{}}', json.encode({ o = v.o }))
		end)

		it("gives null as pulse.null, distinct from a missing field", function()
			local v = json.decode('{"x": null, "list": [1, null, 3]}')
			assert.are.equal(pulse.null, v.x)
			assert.are.equal(pulse.null, v.list[2])
			assert.are.equal(3, #v.list)
		end)

		it("decodes escapes and unicode, surrogate pairs included", function()
			local v = json.decode('"a\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00"')
			assert.are.equal('a"b\\c/d\n\té€😀', v)
			assert.are.equal("\xef\xbf\xbd", json.decode('"\\ud800"'), "a lone surrogate becomes U+FFFD")
			assert.are.equal("héllo", json.decode('"héllo"'))
		end)

		local bad = {
			["[1, 2"] = "expected ',' or ']'",
			['{"a" 1}'] = "expected ':'",
			["{'a': 1}"] = "expected a string key",
			["[1,]"] = "unexpected character",
			["01"] = "trailing characters",
			["1."] = "bad number fraction",
			["-"] = "bad number",
			["nul"] = "unexpected character",
			['"tab\there"'] = "control character",
			['"\\x"'] = "bad escape",
			['"\\u12"'] = "bad \\u escape",
			['"open'] = "unterminated string",
			[""] = "unexpected end of input",
			['{"a":1} {"b":2}'] = "trailing characters",
		}
		for text, reason in pairs(bad) do
			it("refuses " .. string.format("%q", text) .. " with a reason and an offset", function()
				local v, err = json.decode(text)
				assert.is_nil(v)
				assert.truthy(err:find(reason, 1, true), err)
				assert.truthy(err:find("at byte %d+"), err)
			end)
		end

		it("finds a string's end, escapes and control characters at every offset", function()
			-- The parser reads plain text 8 bytes at a time: each special
			-- byte is tried at each place in and around such a block.
			for at = 0, 19 do
				local before, after = ("a"):rep(at), ("\195\169b"):rep(5) -- é: bytes past 0x7f
				assert.are.equal(before, json.decode('"' .. before .. '"'))
				assert.are.equal(before .. after, json.decode('"' .. before .. after .. '"'))
				assert.are.equal(before .. '"' .. after, json.decode('"' .. before .. '\\"' .. after .. '"'))
				assert.are.equal(before .. "\\" .. after, json.decode('"' .. before .. "\\\\" .. after .. '"'))
				assert.are.same({ [before] = before .. "\127 ~" }, json.decode('{"' .. before .. '":"' .. before .. '\127 ~"}'))
				for _, control in ipairs({ "\0", "\1", "\n", "\31" }) do
					local v, why = json.decode('"' .. before .. control .. after .. '"')
					assert.is_nil(v)
					assert.are.equal("control character in string at byte " .. (at + 2), why)
				end
				local v, why = json.decode('"' .. before .. after)
				assert.is_nil(v, before)
				assert.truthy(why:find("unterminated string", 1, true), why)
			end
		end)

		it("refuses nesting deeper than 512 instead of overflowing", function()
			local v, err = json.decode(string.rep("[", 600) .. string.rep("]", 600))
			assert.is_nil(v)
			assert.truthy(err:find("nested too deeply"), err)
			assert.is_table(json.decode(string.rep("[", 500) .. string.rep("]", 500)))
		end)

		-- Decoding sizes a document's first containers as the last
		-- document's were: the values must not depend on what came before.
		it("decodes each document alike whatever shapes the one before had", function()
			local texts = {
				'{"a":{"b":[1,2,3],"c":{"d":1,"e":2,"f":3}},"g":[[1],[2,3]]}',
				'[[{"x":1}],{"y":[true,false]},[]]',
				'{"a":[{"b":1,"c":2},{"d":3}],"e":{}}',
				"[1,[2,[3,[4,[5]]]]]",
				'{"only":null}',
			}
			local cjson = require("cjson")
			local want = {}
			for i, text in ipairs(texts) do
				want[i] = cjson.decode(text)
			end
			for round = 1, 3 do
				for i = round, round + #texts - 1 do
					local k = (i - 1) % #texts + 1
					assert.are.same(want[k], json.decode(texts[k]))
				end
			end
		end)

		it("does not size the next document's tables by one large document", function()
			local fields = {}
			for i = 1, 5000 do
				fields[i] = string.format('"k%d":%d', i, i)
			end
			assert.is_table(json.decode("{" .. table.concat(fields, ",") .. "}"))
			collectgarbage()
			collectgarbage("stop")
			local before = collectgarbage("count")
			local small = json.decode('{"a":1}')
			local grew = collectgarbage("count") - before
			collectgarbage("restart")
			assert.are.equal(1, small.a)
			-- A table of 5000 keys' size would take over 128 KB.
			assert.is_true(grew < 8, grew .. " KB for a one-field object")
		end)
	end)

	describe("encode", function()
		it("writes integers exactly, large ones included", function()
			assert.are.equal("[9007199254740993,-9223372036854775808,12]", json.encode({ 9007199254740993, math.mininteger, 12 }))
		end)

		it("escapes a string's quotes, backslashes and control bytes at every offset, and no other byte", function()
			local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
			local function expected(text)
				return '"' .. text:gsub('[%z\1-\31"\\]', function(c)
					return ESCAPES[c] or string.format("\\u%04x", c:byte())
				end) .. '"'
			end
			-- Plain bytes around each special one (words of 8 are looked at
			-- together): ASCII, UTF-8's high bytes, and the neighbours of
			-- the bytes escaped.
			local plain = "ab\x21\x23\x5b\x5d\x7f\x80\xc3\xa9\xff "
			for _, special in ipairs({ '"', "\\", "\n", "\0", "\1", "\31", "\t" }) do
				for len = 1, 24 do
					for at = 1, len do
						local chars = {}
						for k = 1, len do
							chars[k] = k == at and special or plain:sub((k * 7) % #plain + 1, (k * 7) % #plain + 1)
						end
						local text = table.concat(chars)
						assert.are.equal(expected(text), json.encode(text))
					end
				end
			end
			local long = string.rep("x\xe2\x82\xac", 40)
			assert.are.equal('"' .. long .. '"', json.encode(long))
		end)

		it("writes floats in the shortest form that reads back exactly", function()
			assert.are.equal("[0.1,0.3333333333333333,1e+300,2.5]", json.encode({ 0.1, 1 / 3, 1e300, 2.5 }))
			for _, x in ipairs({ 0.1, 1 / 3, math.pi, 1e-310, 2 ^ 60 + 0.0 }) do
				assert.are.equal(x, json.decode(json.encode({ x }))[1])
			end
		end)

		it("round-trips a document with every kind of value", function()
			local doc = {
				int = 42,
				big = 2 ^ 53 + 1 | 0,
				float = 1.25,
				text = "quote \" backslash \\ newline \n tab \t bell \a é 😀",
				yes = true,
				no = false,
				none = pulse.null,
				list = { 1, "two", { three = 3 } },
				empty = pulse.array(),
				object = {},
			}
			local back = json.decode(assert(json.encode(doc)))
			assert.are.same(doc.text, back.text)
			assert.are.equal(doc.big, back.big)
			assert.are.equal("integer", math.type(back.int))
			assert.are.equal(pulse.null, back.none)
			assert.is_true(json.is_array(back.empty))
			assert.are.equal("two", back.list[2])
			assert.are.equal(3, back.list[3].three)
			assert.are.equal(false, back.no)
		end)

		it("writes a list by index whatever order its keys are stored in", function()
			-- Keys given in a constructor go to the table's hash part, where
			-- pairs meets them out of order: 3 before 2 (and 1 in the array
			-- part before both), 4 3 2 1 in some order.
			assert.are.equal('[{"a":1},{"b":2},{"c":3}]', json.encode({ { a = 1 }, [3] = { c = 3 }, [2] = { b = 2 } }))
			assert.are.equal("[1,2,3,4]", json.encode({ [4] = 4, [3] = 3, [2] = 2, [1] = 1 }))
			local built = {}
			for i = 20, 1, -1 do
				built[i] = i
			end
			assert.are.equal("[" .. table.concat(built, ",") .. "]", json.encode(built))
		end)

		it("escapes control characters as \\u00XX", function()
			assert.are.equal('"\\u0001\\u001f"', json.encode("\1\31"))
		end)

		local refused = {
			{ "a function", { f = print }, "cannot encode a function" },
			{ "a coroutine", { coroutine.create(print) }, "cannot encode a thread" },
			{ "NaN", { 0 / 0 }, "no NaN or infinity" },
			{ "infinity", { math.huge }, "no NaN or infinity" },
			{ "a sparse array", { [1] = 1, [3] = 3 }, "sparse array" },
			{ "a list with a hole past its end", { 1, 2, [4] = 4 }, "sparse array" },
			{ "mixed keys", { 1, x = 2 }, "mixes string and integer keys" },
			{ "a float key", { [1.5] = true }, "key of type number" },
		}
		for _, case in ipairs(refused) do
			it("refuses " .. case[1] .. " with a reason", function()
				local text, err = json.encode(case[2])
				assert.is_nil(text)
				assert.truthy(err:find(case[3], 1, true), err)
			end)
		end

		it("writes a response's headers and rate objects as the tables pairs gives", function()
			local core = require("pulse.core")
			local limiter = core.ratelimit(60, 60, 60, 0)
			limiter:take(0)
			local _, rate = limiter:observe(200, core.headers("RateLimit-Remaining: 5"), 0)
			local text = assert(json.encode({ headers = core.headers("A: b\nA: c\nX-Y: 1"), rate = rate }))
			local back = assert(json.decode(text))
			assert.are.same({ a = "b, c", ["x-y"] = "1" }, back.headers)
			assert.are.same(limiter:view(0), back.rate)
			assert.are.same({ nil, "cannot encode a userdata" }, { json.encode({ io.stdout }) })
		end)

		it("refuses a cyclic table", function()
			local t = {}
			t.self = t
			local text, err = json.encode(t)
			assert.is_nil(text)
			assert.truthy(err:find("cyclic"), err)
		end)

		it("writes a table seen twice (not a cycle) twice", function()
			local shared = { 1 }
			assert.are.equal('[[1],[1]]', json.encode({ shared, shared }))
		end)
	end)
end)
