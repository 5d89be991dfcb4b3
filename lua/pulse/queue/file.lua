-- The write queue in a local journal (pulse.core's journal: records with a
-- checksum each, appended under a lock, fsynced). Every change is a record
-- appended; the state is what the records say (state.lua), read back from
-- the file, so that the processes pushing to one journal and the one
-- draining it agree. Only the drainer compacts.

local core = require("pulse.core")
local json = require("pulse.json")
local state = require("pulse.queue.state")

local file = {}

local Queue = {}
Queue.__index = Queue
Queue.__name = "pulse.queue.file"

local function failure(message)
	return nil, "pulse.queue: " .. message
end

-- Opens the journal at path (opts: queue.open's, checked). Reading it
-- recovers from a crash: a torn last record is cut off. A record damaged
-- in the middle is not: it is skipped, counted, and the state it may have
-- held is treated as unknown (state.lua's damage).
function file.open(path, opts)
	local journal, why = core.journal_open(path)
	if not journal then
		return failure(why)
	end
	local self = setmetatable({
		path = path,
		journal = journal,
		sync = opts.sync,
		dedupe_window = opts.dedupe_window,
		unflushed = {}, -- sync = "batch": encoded push records not yet written
		offset = 0,
	}, Queue)
	self.state = state.new(opts.dedupe_window)
	local ok, err = self:refresh()
	if not ok then
		journal:close()
		return nil, err
	end
	return self
end

local function decode(payload)
	local record = json.decode(payload)
	if type(record) ~= "table" or type(record.op) ~= "string" or record.id == nil then
		return nil
	end
	return record
end

-- Applies the records after self.offset (all of them, when the file was
-- compacted by the drainer since: then our own pushes not yet flushed
-- come after them again, where a flush will put them). Call it holding
-- the lock.
function Queue:_catch_up(replaced)
	if replaced then
		self.state = state.new(self.dedupe_window)
		self.offset = 0
	end
	local payloads, offset = self.journal:read(self.offset)
	if not payloads then
		return failure(offset)
	end
	for _, payload in ipairs(payloads) do
		if type(payload) == "table" then -- bytes that are no record
			self.state:damage(payload.offset, payload.length)
		else
			local record = decode(payload)
			if record then
				self.state:apply(record)
			end
		end
	end
	self.offset = offset
	if replaced then
		for _, payload in ipairs(self.unflushed) do
			self.state:apply(json.decode(payload))
		end
	end
	return true
end

-- Runs fn with the journal locked and caught up; returns what fn returns,
-- or nil and why the journal failed.
function Queue:_locked(fn)
	local replaced, why = self.journal:lock()
	if replaced == nil then
		return failure(why)
	end
	local ok, err = self:_catch_up(replaced)
	local results
	if ok then
		results = table.pack(fn())
	else
		results = table.pack(nil, err)
	end
	self.journal:unlock()
	return table.unpack(results, 1, results.n)
end

-- Reads what other processes appended since; the drainer then compacts
-- the journal when it is due.
function Queue:refresh()
	local ok, why = self:_locked(function()
		return true
	end)
	if ok then
		ok, why = self:_compact()
	end
	return ok, why
end

-- What drain asks of a store: the counts, the next entry to work on, an
-- entry by id (the state's rules, state.lua).
function Queue:counts()
	return self.state.counts
end

function Queue:next_entry(busy, now)
	return self.state:next_entry(busy, now)
end

function Queue:entry(id)
	return self.state.entries[id]
end

-- The uncertain entries the server may still be applying: how many, and
-- until when (epoch seconds; nil when none).
function Queue:settling()
	return self.state:settling(core.epoch())
end

-- The damaged stretches of the journal ({ offset, length }, in order),
-- the entries whose state they may have held, and the ids named after
-- them by records whose push they held (sorted).
function Queue:damage()
	local touched, orphans = {}, {}
	if #self.state.damaged == 0 then -- the usual case, asked by every stats()
		return self.state.damaged, touched, orphans
	end
	for _, entry in ipairs(self.state:list()) do
		if entry.damaged then
			touched[#touched + 1] = entry
		end
	end
	for id in pairs(self.state.orphans) do
		orphans[#orphans + 1] = id
	end
	table.sort(orphans)
	return self.state.damaged, touched, orphans
end

-- The user's decision on damage (drain's accept_damage): the journal is
-- copied aside as PATH.damaged-TIME, then rewritten whole, its entries as
-- they are now: those the damage may have touched uncertain, for
-- reconcile. Needs the claim. The copy's path, or nil and why.
function Queue:accept_damage()
	local path = self.journal:path()
	local copy = string.format("%s.damaged-%d", path, math.floor(core.epoch()))
	local ok, why = self:_locked(function() -- the bytes as they are, no append between
		local f, err = io.open(path, "rb")
		if not f then
			return failure(err)
		end
		local bytes = f:read("a")
		f:close()
		local written, write_err = core.write_private(copy, bytes)
		if not written then
			return failure(write_err)
		end
		return true
	end)
	if not ok then
		return nil, why
	end
	ok, why = self:_compact(true)
	if not ok then
		return nil, why
	end
	return copy
end

-- The entries not yet final, in push order, without taking any (a dry
-- run's list): as next_entry gives them (state "sent" for a send with no
-- outcome).
function Queue:waiting()
	local ok, why = self:refresh()
	if not ok then
		return nil, why
	end
	return self.state:list({ pending = true, sent = true })
end

-- The dead letters, in push order, as the user sees them.
function Queue:dead()
	local ok, why = self:refresh()
	if not ok then
		return nil, why
	end
	local list = {}
	for i, entry in ipairs(self.state:list({ dead = true })) do
		list[i] = state.view(entry)
	end
	return list
end

-- Puts the dead letters of ids (a set; nil: all) back; how many.
function Queue:retry_dead(wanted)
	local ok, why = self:refresh()
	if not ok then
		return nil, why
	end
	local records = {}
	for _, entry in ipairs(self.state:list({ dead = true })) do
		if not wanted or wanted[entry.id] then
			records[#records + 1] = { op = "retry", id = entry.id }
		end
	end
	if #records > 0 then
		ok, why = self:append(records)
		if not ok then
			return nil, why
		end
	end
	return #records
end

-- Holding the lock: appends payloads, fsyncs, and applies what was
-- appended since the last read (these among them), as every reader will.
function Queue:_write(payloads)
	local ok, why = self.journal:append(payloads)
	if ok then
		ok, why = self.journal:sync()
	end
	if not ok then
		return failure(why)
	end
	return self:_catch_up(false)
end

-- Appends records (tables) durably and applies them. A record's hold
-- (seconds the server may still apply a send) becomes its settle_until on
-- this machine's clock, the one every process of the journal reads.
function Queue:append(records)
	local payloads = {}
	local now = core.epoch()
	for i, record in ipairs(records) do
		if record.hold then
			record.settle_until, record.hold = now + record.hold, nil
		end
		payloads[i] = assert(json.encode(record))
	end
	return self:_locked(function()
		return self:_write(payloads)
	end)
end

-- Pushes a checked push record, encoded as payload (queue/init.lua's):
-- returns the id and whether it was queued (false: a repeat, and why).
function Queue:push(record, payload)
	if self.sync == "batch" then
		local is_repeat, why = self.state:is_repeat(record.id, record.at)
		if is_repeat then
			return record.id, false, why
		end
		self.unflushed[#self.unflushed + 1] = payload
		self.state:apply(record)
		return record.id, true
	end
	return self:_locked(function()
		local is_repeat, why = self.state:is_repeat(record.id, record.at)
		if is_repeat then
			return record.id, false, why
		end
		local ok, err = self:_write({ payload })
		if not ok then
			return nil, err
		end
		return record.id, true, nil
	end)
end

-- Makes every push so far durable.
function Queue:flush()
	if #self.unflushed == 0 then
		return true
	end
	local unflushed = self.unflushed
	return self:_locked(function()
		local ok, why = self:_write(unflushed)
		if ok then
			-- Read back, they repeated what the state had from push.
			self.unflushed = {}
		end
		return ok, why
	end)
end

-- The drainer's lock: true, or nil and why (naming the holder's pid).
-- One drainer at a time: drain's lease has nothing to do here.
function Queue:claim()
	-- By the journal's real path: a symbolic link to it is the same lock.
	local claim, holder = core.claim(self.journal:path() .. ".lock")
	if not claim then
		if type(holder) == "number" then
			return failure(string.format("%s is being drained by another process (pid %d)", self.path, holder))
		end
		return failure(holder)
	end
	self.claimed = claim
	return true
end

-- Compacts the journal when it is due, and gives the lock up.
function Queue:release()
	if self.claimed then
		self:_compact()
		self.claimed:release()
		self.claimed = nil
	end
end

-- Rewrites the journal as its entries, when most records say nothing any
-- more (or now, when forced); only the drainer does (it holds the claim).
function Queue:_compact(force)
	if not self.claimed or not (force or self.state:wants_compaction()) then
		return true
	end
	return self:_locked(function()
		local payloads = {}
		for i, record in ipairs(self.state:snapshot(core.epoch())) do
			payloads[i] = assert(json.encode(record))
		end
		local ok, why = self.journal:replace(payloads)
		if not ok then
			return failure(why)
		end
		return self:_catch_up(true) -- the new file, from its start
	end)
end

function Queue:close()
	if self.journal then
		local ok, why = self:flush()
		self:release()
		self.journal:close()
		self.journal = nil
		return ok, why
	end
	return true
end

return file
