-- Writes lua/pulse/sandbox/catalog.lua, the documented operations of the Pulse
-- API as a Lua table, from doc/api/endpoints.tsv (make catalog). The
-- sandbox routes by it, so nothing the build or the specs use reads the
-- catalog outside the repository.
--   lua5.4 tools/catalog.lua doc/api/endpoints.tsv lua/pulse/sandbox/catalog.lua

local source, target = arg[1], arg[2]
if not source or not target then
	io.stderr:write("usage: lua5.4 tools/catalog.lua ENDPOINTS.tsv OUT.lua\n")
	os.exit(2)
end

local COLUMNS = {
	"group",
	"name",
	"method",
	"path",
	"path_params",
	"query_params",
	"body_fields",
	"returns",
	"doc_slug",
	"evidence",
	"aliases",
	"notes",
}

local function split(text, separator)
	local parts = {}
	if text == "" then
		return parts
	end
	for part in (text .. separator):gmatch("(.-)" .. separator) do
		parts[#parts + 1] = part
	end
	return parts
end

-- A query parameter as the catalog writes it: name, name! (required) or
-- name=default.
local function query_param(text)
	local name, default = text:match("^([^=]+)=(.*)$")
	if name then
		return { name = name, default = default }
	end
	local required = text:match("^(.-)!$")
	if required then
		return { name = required, required = true }
	end
	return { name = text }
end

local function read_rows(path)
	local file = assert(io.open(path, "r"))
	local header = file:read("l")
	assert(header == table.concat(COLUMNS, "\t"), path .. ": the columns are not the ones this tool reads")
	local rows, line_number = {}, 1
	for line in file:lines() do
		line_number = line_number + 1
		local cells = split(line, "\t")
		assert(#cells == #COLUMNS, string.format("%s:%d: %d cells, not %d", path, line_number, #cells, #COLUMNS))
		local row = {}
		for i, column in ipairs(COLUMNS) do
			row[column] = cells[i]
		end
		rows[#rows + 1] = row
	end
	file:close()
	return rows
end

local function quote(s)
	return string.format("%q", s)
end

local function string_list(list)
	local quoted = {}
	for i, s in ipairs(list) do
		quoted[i] = quote(s)
	end
	return "{ " .. table.concat(quoted, ", ") .. (#quoted > 0 and " }" or "}")
end

local function query_list(list)
	local items = {}
	for i, text in ipairs(list) do
		local p = query_param(text)
		local fields = { "name = " .. quote(p.name) }
		if p.default then
			fields[#fields + 1] = "default = " .. quote(p.default)
		end
		if p.required then
			fields[#fields + 1] = "required = true"
		end
		items[i] = "{ " .. table.concat(fields, ", ") .. " }"
	end
	return "{ " .. table.concat(items, ", ") .. (#items > 0 and " }" or "}")
end

local out = {
	"-- The documented operations of the Pulse API, one table each, in the",
	"-- order of doc/api/endpoints.tsv, which this is generated from by",
	"-- tools/catalog.lua (make catalog): edit that, not this. Facts from the",
	"-- vendor's public reference; see doc/api/README.md.",
	"--   group, name, method, path (\"\" where the reference gives none),",
	"--   path_params, query ({ name, default?, required? }), body (field",
	"--   names), returns (top-level keys of the answer), slug (the",
	"--   reference page: https://docs.zenoti.com/reference/<slug>)",
	"-- luacheck: ignore 631",
	"return {",
}
for _, row in ipairs(read_rows(source)) do
	out[#out + 1] = string.format(
		"\t{ group = %s, name = %s, method = %s, path = %s, path_params = %s, query = %s, body = %s, returns = %s, "
			.. "slug = %s },",
		quote(row.group),
		quote(row.name),
		quote(row.method),
		quote(row.path),
		string_list(split(row.path_params, ",")),
		query_list(split(row.query_params, ",")),
		string_list(split(row.body_fields, ",")),
		string_list(split(row.returns, ",")),
		quote(row.doc_slug)
	)
end
out[#out + 1] = "}"

local file = assert(io.open(target, "w"))
file:write(table.concat(out, "\n"), "\n")
file:close()
