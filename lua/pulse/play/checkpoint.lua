-- A collection run's checkpoint: a JSON line per step, appended as the
-- run goes, so that a run killed (kill -9, Ctrl-C, a crash) can go on
-- (--resume) without repeating a request that completed, and a later run
-- can play again only what failed (--rerun-failed). A write is recorded
-- "sent" before it goes out and with its outcome when it ends; one left
-- sent is uncertain: the server may have applied it.
--
--   {"run": {"collection": ..., "rows": N, "requests": M}}
--   {"row": r, "index": i, "name": ..., "state": "sent"}
--   {"row": r, "index": i, "name": ..., "state": "done"|"failed", "result": {...}}
--
-- A later line of a step replaces an earlier one.

local json = require("pulse.json")

local checkpoint = {}

local Checkpoint = {}
Checkpoint.__index = Checkpoint

local function key(row, index)
	return row .. ":" .. index
end

--- What the file at path says, or nil when there is none: the run's
-- header, and each step's last state ({ row, index, name, state, result }).
function checkpoint.read(path)
	local file = io.open(path, "rb")
	if not file then
		return nil
	end
	local run, steps = nil, {}
	for line in file:lines() do
		local record = json.decode(line)
		-- A line cut by a kill is the last one: what it said did not happen.
		if type(record) == "table" then
			if type(record.run) == "table" then
				run = record.run
			elseif record.row and record.index then
				steps[key(record.row, record.index)] = record
			end
		end
	end
	file:close()
	return { run = run, steps = steps }
end

--- Opens path to record a run: afresh (truncated, with the run's header),
-- or to go on (appended). Returns the checkpoint, or nil and why.
function checkpoint.open(path, run, go_on)
	local file, why = io.open(path, go_on and "ab" or "wb")
	if not file then
		return nil, why
	end
	local self = setmetatable({ path = path, file = file }, Checkpoint)
	if not go_on then
		self:write({ run = run })
	end
	return self
end

function Checkpoint:write(record)
	self.file:write(json.encode(record), "\n")
	self.file:flush() -- a kill -9 loses no line already written
end

--- A write of step (row, index) is about to go out.
function Checkpoint:sent(row, index, name)
	self:write({ row = row, index = index, name = name, state = "sent" })
end

--- Step (row, index) ended: "done" or "failed", with its result.
function Checkpoint:ended(row, index, name, state, result)
	self:write({ row = row, index = index, name = name, state = state, result = result })
end

function Checkpoint:close()
	if self.file then
		self.file:close()
		self.file = nil
	end
end

checkpoint.key = key

return checkpoint
