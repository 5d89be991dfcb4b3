-- Bulk import customers from a CSV file (name,email,phone), with a progress
-- bar and a checkpoint file, resumable: run it again after Ctrl-C and it
-- sends only the rows it has no answer for. Rows the API refuses (a bad
-- email) are reported, not retried.
--
--   pulse-lua --sandbox examples/import_customers.lua [CSV [CHECKPOINT]]
--
-- CSV defaults to examples/data/customers.csv, CHECKPOINT to
-- import_customers.checkpoint: one line per answered row ("12 created
-- 57", "17 refused", "23 uncertain"). A write whose answer was lost (a
-- dropped connection after it was sent) may or may not have been applied:
-- it is marked uncertain and not sent again, since sending it twice could
-- create the customer twice. Settling those is the job of a durable write
-- queue, which pulse-lua does not have yet.

local pulse = require("pulse")

local csv_path = arg[1] or "examples/data/customers.csv"
local checkpoint_path = arg[2] or "import_customers.checkpoint"

-- The fields of one CSV line (RFC 4180 quoting, no line breaks in fields).
local function csv_fields(line)
	local fields, pos = {}, 1
	while pos <= #line + 1 do
		if line:sub(pos, pos) == '"' then
			local value, stop = "", pos + 1
			while true do
				local quote = assert(line:find('"', stop, true), "unterminated quote in: " .. line)
				value = value .. line:sub(stop, quote - 1)
				if line:sub(quote + 1, quote + 1) == '"' then
					value, stop = value .. '"', quote + 2
				else
					pos = quote + 2
					break
				end
			end
			fields[#fields + 1] = value
		else
			local comma = line:find(",", pos, true) or #line + 1
			fields[#fields + 1] = line:sub(pos, comma - 1)
			pos = comma + 1
		end
	end
	return fields
end

local function read_rows(path)
	local rows = {}
	local file = assert(io.open(path))
	local header = file:read("l")
	assert(header == "name,email,phone", path .. ": the header should be name,email,phone")
	for line in file:lines() do
		if line ~= "" then
			local f = csv_fields(line)
			rows[#rows + 1] = { name = f[1], email = f[2], phone = f[3] ~= "" and f[3] or nil }
		end
	end
	file:close()
	return rows
end

-- The rows answered in an earlier run: row number -> outcome.
local function read_checkpoint(path)
	local done = {}
	local file = io.open(path)
	if file then
		for line in file:lines() do
			local row, outcome = line:match("^(%d+) (%a+)")
			if row then
				done[tonumber(row)] = outcome
			end
		end
		file:close()
	end
	return done
end

local rows = read_rows(csv_path)
local done = read_checkpoint(checkpoint_path)
local todo = {}
for i = 1, #rows do
	if not done[i] then
		todo[#todo + 1] = i
	end
end
if #todo < #rows then
	print(string.format("resuming: %d of %d rows were answered in an earlier run", #rows - #todo, #rows))
end

local client = pulse.new()
local checkpoint = assert(io.open(checkpoint_path, "a"))
local counts = { created = 0, refused = 0, uncertain = 0, failed = 0 }
local refused = {}
local next_todo = 0

client:batch(function()
	next_todo = next_todo + 1
	local row = todo[next_todo]
	return row and { "POST", "/customers", { json = rows[row] } }
end, {
	concurrency = 4,
	on_result = function(i, body, err)
		local row = todo[i]
		local outcome
		if body then
			outcome = "created " .. body.data.id
			counts.created = counts.created + 1
		elseif err.kind == "client" then
			outcome = "refused"
			counts.refused = counts.refused + 1
			local why = {}
			for field, problem in pairs(type(err.error) == "table" and err.error.fields or {}) do
				why[#why + 1] = field .. " " .. tostring(problem)
			end
			table.sort(why)
			refused[#refused + 1] = string.format("row %d: %s", row, #why > 0 and table.concat(why, ", ") or err.message)
		elseif err.uncertain then
			outcome = "uncertain"
			counts.uncertain = counts.uncertain + 1
		else
			counts.failed = counts.failed + 1 -- not written: the next run sends it again
			io.stderr:write(string.format("row %d: %s\n", row, tostring(err)))
			return
		end
		-- Flushed at once, so that Ctrl-C or a crash loses no answer.
		checkpoint:write(row, " ", outcome, "\n")
		checkpoint:flush()
	end,
})
checkpoint:close()

print(string.format(
	"%d created, %d refused, %d uncertain, %d to retry; %d requests",
	counts.created,
	counts.refused,
	counts.uncertain,
	counts.failed,
	client:stats().requests
))
for _, line in ipairs(refused) do
	print("  refused " .. line)
end
client:close()
