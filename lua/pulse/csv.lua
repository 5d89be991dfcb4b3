--- CSV as RFC 4180 has it, for the data a job reads (rows to import,
-- `pulse-lua --collection --data`) and writes (an export): fields split at
-- commas, records at line breaks (LF or CRLF); a quoted field may hold
-- commas, line breaks and quotes (doubled). Empty lines are skipped.
--
--    local rows = assert(pulse.csv.rows(io.open("guests.csv"):read("a")))
--    for _, row in ipairs(rows) do print(row.first_name, row.email) end
--    io.write(pulse.csv.line("Ada", "a@example.com"))
--
-- @module pulse.csv

local csv = {}

-- The field at pos of text: its value and where it ends; or nil and why.
local function field(text, pos)
	if text:sub(pos, pos) ~= '"' then
		local stop = text:find("[,\r\n]", pos) or #text + 1
		return text:sub(pos, stop - 1), stop
	end
	local parts, from = {}, pos + 1
	while true do
		local quote = text:find('"', from, true)
		if not quote then
			return nil, "a quoted field is not closed"
		end
		parts[#parts + 1] = text:sub(from, quote - 1)
		if text:sub(quote + 1, quote + 1) ~= '"' then
			return table.concat(parts), quote + 1
		end
		parts[#parts + 1], from = '"', quote + 2
	end
end

--- The records of CSV text.
-- @tparam string text
-- @return a list of records, each a list of its fields (strings); or nil
-- and why the text is not CSV
function csv.records(text)
	if type(text) ~= "string" then
		error("pulse.csv: bad argument #1 to 'records' (string expected, got " .. type(text) .. ")", 2)
	end
	local records, fields, pos = {}, {}, 1
	local function close_record()
		if not (#fields == 1 and fields[1] == "") then
			records[#records + 1] = fields
		end
		fields = {}
	end
	while pos <= #text do
		local value, stop = field(text, pos)
		if not value then
			return nil, string.format("%s (record %d)", stop, #records + 1)
		end
		fields[#fields + 1], pos = value, stop
		local sep = text:sub(pos, pos)
		if sep == "," then
			pos = pos + 1
			if pos > #text then -- a last comma: one empty field more
				fields[#fields + 1] = ""
			end
		elseif sep == "\r" or sep == "\n" then
			pos = pos + ((sep == "\r" and text:sub(pos + 1, pos + 1) == "\n") and 2 or 1)
			close_record()
		elseif sep ~= "" then
			return nil, string.format("text after a quoted field, before a comma or a line break (record %d)", #records + 1)
		end
	end
	if #fields > 0 then
		close_record()
	end
	return records
end

--- The rows of CSV text whose first record names the fields.
-- @tparam string text
-- @return a list of rows, each a table from the header's names to the
-- row's fields (a field past the header's is left out, a missing one is
-- nil); or nil and why the text is not CSV
function csv.rows(text)
	if type(text) ~= "string" then
		error("pulse.csv: bad argument #1 to 'rows' (string expected, got " .. type(text) .. ")", 2)
	end
	local records, why = csv.records(text)
	if not records then
		return nil, why
	end
	local header, rows = records[1] or {}, {}
	for r = 2, #records do
		local row = {}
		for i, name in ipairs(header) do
			row[name] = records[r][i]
		end
		rows[#rows + 1] = row
	end
	return rows
end

local WRITTEN = { string = true, number = true, boolean = true }

--- One record of CSV text, for a job's exports: each field written as it
-- is, quoted (quotes doubled) when it holds a comma, a quote or a line
-- break; nil, `pulse.null` or any other value an empty field. It ends with
-- a line feed (RFC 4180 writes CR LF; its readers, `records` included,
-- take either).
-- @usage out:write(pulse.csv.line(guest.id, info.first_name, info.email))
-- @param ... the fields
-- @treturn string the record and its line feed
function csv.line(...)
	local n = select("#", ...)
	local fields = { ... }
	for i = 1, n do
		local v = fields[i]
		local text = WRITTEN[type(v)] and tostring(v) or ""
		if text:find('[,"\r\n]') then
			text = '"' .. text:gsub('"', '""') .. '"'
		end
		fields[i] = text
	end
	return table.concat(fields, ",", 1, n) .. "\n"
end

return csv
