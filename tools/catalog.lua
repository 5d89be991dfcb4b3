-- Writes, from doc/api/endpoints.tsv (make catalog), the documented
-- operations of the Pulse API three ways: the sandbox's table (it routes
-- by it), the client's (lua/pulse/catalog.lua: the SDK's names, paging
-- and update rules, from which client:api() builds its wrappers) and the
-- table of names in doc/api/NAMES.md. The sandbox and the client each
-- have their own, as neither requires the other; nothing the build or the
-- specs use reads the catalog outside the repository.
--   lua5.4 tools/catalog.lua doc/api/endpoints.tsv SANDBOX.lua CLIENT.lua NAMES.md

package.path = "tools/?.lua;" .. package.path
local names = require("catalog_names")

local source, target, client_target, names_target = arg[1], arg[2], arg[3], arg[4]
if not source or not target or not client_target or not names_target then
	io.stderr:write("usage: lua5.4 tools/catalog.lua ENDPOINTS.tsv SANDBOX.lua CLIENT.lua NAMES.md\n")
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

local rows = read_rows(source)

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
for _, row in ipairs(rows) do
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

local function write(path, lines)
	local file = assert(io.open(path, "w"))
	file:write(table.concat(lines, "\n"), "\n")
	file:close()
end

write(target, out)

-- The client's catalog -------------------------------------------------

-- The parameter pairs by which lists page, as the reference names them
-- (PULSE_API.md: page/size everywhere but a few).
local PAGE_STYLES = {
	{ page = "page", size = "size" },
	{ page = "page_num", size = "num_records" },
	{ page = "page_num", size = "page_size" },
	{ page = "page_num", size = "records" },
	{ page = "page_number", size = "page_size" },
}

-- The largest page the API serves (more is an error, code 422).
local MAX_PAGE = 100

-- The types core-domain.md states, by operation; the paging parameters
-- are integers wherever they appear. No other argument's type is checked.
local TYPES = {
	create_booking = {
		center_id = "string",
		date = "date",
		is_only_catalog_employees = "boolean",
		is_family_booking = "boolean",
		guests = "array",
	},
	list_booking_slots = { check_future_day_availability = "boolean" },
	reserve_booking_slot = { slot_time = "datetime", create_invoice = "boolean" },
	confirm_booking = { notes = "string", group_name = "string" },
	list_appointments = {
		center_id = "string",
		start_date = "date",
		end_date = "date",
		include_no_show_cancel = "boolean",
	},
	list_guest_appointments = { start_date = "date", end_date = "date" },
	search_guests = { email = "string", search_across_zone = "boolean" },
	mark_appointment_no_show = { comments = "string" },
	cancel_invoice_booking = { comments = "string" },
}

-- Operations whose list is walked in date windows (core-domain.md 5a: the
-- appointments of a center, at most 7 days a call).
local WINDOWS = { list_appointments = { from = "start_date", to = "end_date", days = 7 } }

local function set_of(list)
	local set = {}
	for _, v in ipairs(list) do
		set[v] = true
	end
	return set
end

local function paging_of(query, returns)
	local present = {}
	for _, p in ipairs(query) do
		present[query_param(p).name] = true
	end
	for _, style in ipairs(PAGE_STYLES) do
		if present[style.page] and present[style.size] then
			local items
			for _, key in ipairs(returns) do
				if key ~= "page_info" and key ~= "page_Info" and key ~= "error" and key ~= "Error" then
					items = key
					break
				end
			end
			return { page = style.page, size = style.size, max = MAX_PAGE, items = items }
		end
	end
end

-- What a GET answers only when its expand names it (core-domain.md 4:
-- get guest), asked for by a patch, which must send the whole object.
local EXPANDS = { get_guest = { "address_info", "preferences", "tags", "referral", "primary_employee" } }

-- A PUT that replaces what a GET of its group at the same path reads
-- (core-domain.md: "send every field even to change one"): its
-- required fields, the body's that the GET answers, and its patch.
local function whole_object(row, rows_of_group)
	if row.method ~= "PUT" or row.path == "" then
		return nil
	end
	for _, other in ipairs(rows_of_group) do
		if other.method == "GET" and other.path:lower() == row.path:lower() then
			local answered = set_of(split(other.returns, ","))
			local required = {}
			for _, field in ipairs(split(row.body_fields, ",")) do
				if answered[field] then
					required[#required + 1] = field
				end
			end
			return { get = other.name, required = required, expand = EXPANDS[other.name] }
		end
	end
end

local function type_list(types)
	local keys = {}
	for k in pairs(types or {}) do
		keys[#keys + 1] = k
	end
	table.sort(keys)
	local items = {}
	for _, k in ipairs(keys) do
		items[#items + 1] = string.format("[%q] = %q", k, types[k])
	end
	return "{ " .. table.concat(items, ", ") .. (#items > 0 and " }" or "}")
end

names.assign(rows)
local rows_by_group = {}
for _, row in ipairs(rows) do
	local list = rows_by_group[row.group] or {}
	rows_by_group[row.group] = list
	list[#list + 1] = row
end
for _, row in ipairs(rows) do
	row.whole = whole_object(row, rows_by_group[row.group])
end

local client_out = {
	"-- The documented operations of the Pulse API as the SDK calls them,",
	"-- generated from doc/api/endpoints.tsv by tools/catalog.lua (make",
	"-- catalog): edit that, not this. The names follow doc/api/NAMES.md.",
	"--   group (the SDK's), name (the catalog's, always an alias), short (the",
	"--   SDK's name, where the rule gives one), method, path (\"\" where the",
	"--   reference gives none), path_params, query ({ name, default?,",
	"--   required? }), body (field names), returns (top-level keys of the",
	"--   answer; bare_array when it is a JSON array), slug (the reference",
	"--   page), paging ({ page, size, max, items? }), window ({ from, to,",
	"--   days }), whole ({ get, required, patch, patch_short?, expand? }: a",
	"--   PUT that replaces the whole object; expand: what its GET must",
	"--   expand to read all of it), types (by argument: string, boolean,",
	"--   integer, array, date, datetime).",
	"-- luacheck: ignore 631",
	"return {",
	"\treference = \"https://docs.zenoti.com/reference/\",",
	"\toperations = {",
}
for _, row in ipairs(rows) do
	local query = split(row.query_params, ",")
	local returns = split(row.returns, ",")
	local bare = returns[1] and returns[1]:find("^%(") ~= nil
	if bare then
		returns = {}
	end
	-- The fields in the order the comment above gives, the optional ones
	-- left out when absent.
	local compact = {}
	local function add(field)
		if field then
			compact[#compact + 1] = field
		end
	end
	add("group = " .. quote(row.api_group))
	add("name = " .. quote(row.name))
	add(row.short and ("short = " .. quote(row.short)))
	add("method = " .. quote(row.method))
	add("path = " .. quote(row.path))
	add("path_params = " .. string_list(split(row.path_params, ",")))
	add("query = " .. query_list(query))
	add("body = " .. string_list(split(row.body_fields, ",")))
	add("returns = " .. string_list(returns))
	add(bare and "bare_array = true")
	add("slug = " .. quote(row.doc_slug))
	local paging = paging_of(query, returns)
	if paging then
		compact[#compact + 1] = string.format(
			"paging = { page = %q, size = %q, max = %d%s }",
			paging.page,
			paging.size,
			paging.max,
			paging.items and string.format(", items = %q", paging.items) or ""
		)
	end
	local window = WINDOWS[row.name]
	if window then
		compact[#compact + 1] =
			string.format("window = { from = %q, to = %q, days = %d }", window.from, window.to, window.days)
	end
	local whole = row.whole
	if whole then
		local patch_short = row.short and names.patch_of(row.short)
		compact[#compact + 1] = string.format(
			"whole = { get = %q, required = %s, patch = %q%s%s }",
			whole.get,
			string_list(whole.required),
			names.patch_of(row.name),
			patch_short and string.format(", patch_short = %q", patch_short) or "",
			whole.expand and (", expand = " .. string_list(whole.expand)) or ""
		)
	end
	local types = {}
	for k, v in pairs(TYPES[row.name] or {}) do
		types[k] = v
	end
	if paging then
		types[paging.page], types[paging.size] = "integer", "integer"
	end
	if next(types) then
		compact[#compact + 1] = "types = " .. type_list(types)
	end
	client_out[#client_out + 1] = "\t\t{ " .. table.concat(compact, ", ") .. " },"
end
client_out[#client_out + 1] = "\t},"
client_out[#client_out + 1] = "}"
write(client_target, client_out)

-- The table of names ---------------------------------------------------

local doc = {
	"# The SDK's names of the API's operations",
	"",
	"Generated from `endpoints.tsv` by `tools/catalog.lua` (`make catalog`); the rule is",
	"`tools/catalog_names.lua`'s:",
	"",
	"- The group is the catalog's, except `service_booking`, which is `bookings`.",
	"- The name drops the group's noun, plural or singular, where it first stands as whole",
	"  words, and keeps the verb and the rest: `search_guests` is `api.guests.search`,",
	"  `close_invoice` is `api.invoices.close`. In `bookings` the noun may be `booking_slot`:",
	"  `reserve_booking_slot` is `api.bookings.reserve`.",
	"- `list_<noun>_<things>` is `<things>`: `list_center_services` is `api.centers.services`,",
	"  except before a preposition (`list_centers_near_base_center` is",
	"  `api.centers.list_near_base_center`).",
	"- Where two operations of a group would share a short name, or the short name is",
	"  `help`, `each` or `pages`, they keep their full names only.",
	"- Every operation also answers to its full catalog name: `api.guests.search_guests`.",
	"- A `PUT` that replaces the whole object a `GET` of its group reads at the same path",
	"  has a `patch` beside it (`update_guest` and `patch_guest`, `api.guests.patch`): a GET,",
	"  a merge and the PUT, 2 calls.",
	"",
	"| call | catalog name | method | path |",
	"|---|---|---|---|",
}
for _, row in ipairs(rows) do
	local call = "api." .. row.api_group .. "." .. (row.short or row.name)
	doc[#doc + 1] = string.format(
		"| `%s` | `%s` | %s | %s |",
		call,
		row.name,
		row.method,
		row.path ~= "" and ("`" .. row.path .. "`") or "(none documented)"
	)
	local whole = row.whole
	if whole then
		local patch = "api." .. row.api_group .. "." .. names.patch_of(row.short or row.name)
		doc[#doc + 1] = string.format("| `%s` | `%s` | GET + PUT | `%s` |", patch, names.patch_of(row.name), row.path)
	end
end
write(names_target, doc)
