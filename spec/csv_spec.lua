-- pulse.csv: RFC 4180's records and rows, and the errors of text that is
-- not CSV.

local pulse = require("pulse")

describe("pulse.csv", function()
	it("splits fields at commas and records at LF or CRLF, quoted fields holding both", function()
		local text = 'name,note\r\n"Ada, the first","two\r\nlines, a ""quote"""\nplain,\n\n,last\n'
		assert.are.same({
			{ "name", "note" },
			{ "Ada, the first", 'two\r\nlines, a "quote"' },
			{ "plain", "" },
			{ "", "last" },
		}, pulse.csv.records(text))
		assert.are.same({ { "a" } }, pulse.csv.records("a"))
		assert.are.same({}, pulse.csv.records(""))
	end)

	it("maps each row to the header's names", function()
		local rows = assert(pulse.csv.rows("id,email\n1,a@example.org\n2\n3,c@example.org,extra\n"))
		assert.are.same({ { id = "1", email = "a@example.org" }, { id = "2" }, { id = "3", email = "c@example.org" } }, rows)
	end)

	it("says where text is not CSV, and refuses what is not text", function()
		local none, why = pulse.csv.records('a,b\n"open,c\n')
		assert.is_nil(none)
		assert.are.equal("a quoted field is not closed (record 2)", why)
		none, why = pulse.csv.rows('"x"y,z\n')
		assert.is_nil(none)
		assert.matches("text after a quoted field", why)
		assert.has_error(function()
			pulse.csv.records(nil)
		end, "pulse.csv: bad argument #1 to 'records' (string expected, got nil)")
	end)

	it("writes a record that reads back as its fields, quoting only what needs it", function()
		assert.are.equal('a,"b,c","say ""hi""",,1.5,true,,"x\ny"\n',
			pulse.csv.line("a", "b,c", 'say "hi"', nil, 1.5, true, pulse.null, "x\ny"))
		assert.are.equal("\n", pulse.csv.line())
		assert.are.equal(",\n", pulse.csv.line(nil, nil))
		local fields = { "plain", "comma, here", 'quote " here', "line\r\nbreak", "", "trailing " }
		local text = pulse.csv.line(table.unpack(fields)) .. pulse.csv.line(table.unpack(fields))
		assert.are.same({ fields, fields }, pulse.csv.records(text))
	end)
end)
