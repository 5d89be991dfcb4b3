-- What a write queue holds, rebuilt from its records: every process that
-- reads the same records in the same order reaches the same state, so the
-- rules that need agreement (a repeated id is dropped; an entry waits for
-- the earlier ones of its key) are applied here, when a record is read,
-- not when it is written. A record is a table with `op`:
--   push    { id, key, method, path, opts, at }: a new entry
--   send    { id, settle_until [, again] }: it is about to go out (uncertain
--           until an outcome), and may still be applied by the server
--           until settle_until (epoch seconds): no one reconciles it before;
--           again: a later try of the same send (a retry, or after a
--           wait for a token), which moves settle_until on
--   unsent  { id }: what was about to go out surely was not applied
--   fail    { id, failures, not_before, error [, uncertain] }: try later
--           (uncertain: not before its send's settle_until either)
--   done    { id, at [, status, reconciled] }: applied
--   dead    { id, reason }: a dead letter
--   retry   { id }: a dead letter back in the queue (uncertain again when
--           the send it died of had no outcome)
--   entry   { the entry's fields }: one entry whole, as compaction writes it

local state = {}

local State = {}
State.__index = State

local FINAL = { done = true, dead = true }

-- dedupe_window: seconds a done entry's id keeps a repeat out.
function state.new(dedupe_window)
	return setmetatable({
		dedupe_window = dedupe_window,
		entries = {}, -- by id
		keys = {}, -- by key: its FIFO of entries not final, { head = i, n }
		key_order = {}, -- those FIFOs, in the order their keys came
		seq = 0,
		records = 0, -- read so far: compaction weighs them against the entries
		damaged = {}, -- the journal's damaged stretches read: { offset, length }
		sent = {}, -- by id: the entries in state "sent", for settling()
		orphans = {}, -- ids named after damage by records whose push it held
		counts = { pending = 0, uncertain = 0, done = 0, dead = 0 },
	}, State)
end

local function count(self, entry, delta)
	local s = entry.state == "sent" and "uncertain" or entry.state
	self.counts[s] = self.counts[s] + delta
end

local function set_state(self, entry, new)
	count(self, entry, -1)
	entry.state = new
	count(self, entry, 1)
	self.sent[entry.id] = new == "sent" and entry or nil
end

local function enqueue(self, entry)
	local fifo = self.keys[entry.key]
	if not fifo or fifo.dropped then
		fifo = { head = 1, n = 0 }
		self.keys[entry.key] = fifo
		self.key_order[#self.key_order + 1] = fifo
	end
	fifo.n = fifo.n + 1
	fifo[fifo.n] = entry
end

-- Whether a push of id at time at is a repeat: the entry is still in the
-- queue (pending, uncertain or a dead letter), or was done within the
-- window before.
function State:is_repeat(id, at)
	local entry = self.entries[id]
	if not entry then
		return false
	end
	if entry.state ~= "done" then
		return true, entry.state == "dead" and "a dead letter" or "pending"
	end
	return (at or 0) - (entry.done_at or 0) < self.dedupe_window, "done"
end

local function add(self, record, fields)
	self.seq = self.seq + 1
	local entry = {
		id = record.id,
		key = record.key,
		method = record.method,
		path = record.path,
		opts = record.opts or {},
		pushed_at = record.at,
		seq = self.seq,
		state = fields.state or "pending",
		attempts = fields.attempts or 0,
		failures = fields.failures or 0,
		not_before = fields.not_before,
		reason = fields.reason,
		unsure = fields.unsure,
		settle_until = fields.settle_until,
		done_at = fields.done_at,
	}
	self.entries[entry.id] = entry
	count(self, entry, 1)
	self.sent[entry.id] = entry.state == "sent" and entry or nil
	if not FINAL[entry.state] then
		enqueue(self, entry)
	end
	return entry
end

local APPLY = {}

function APPLY.push(self, r)
	if not self:is_repeat(r.id, r.at) then
		local old = self.entries[r.id]
		if old then -- done long enough ago: the id is free again
			count(self, old, -1)
		end
		add(self, r, {})
	end
end

function APPLY.entry(self, r)
	local old = self.entries[r.id]
	if old then
		count(self, old, -1)
		self.entries[r.id] = nil
		self.sent[r.id] = nil
	end
	if r.method then
		add(self, r, r)
	else -- a done id kept for the dedupe window only
		local tomb = { id = r.id, state = "done", done_at = r.done_at, seq = 0 }
		self.entries[r.id] = tomb
		count(self, tomb, 1)
	end
end

function APPLY.send(self, r, entry)
	if not (r.again and entry.state == "sent") then
		entry.attempts = entry.attempts + 1
	end
	entry.unsure = true -- until an outcome says otherwise, even once dead
	entry.settle_until = r.settle_until
	set_state(self, entry, "sent")
end

function APPLY.unsent(self, _, entry)
	entry.unsure = nil
	set_state(self, entry, "pending")
end

function APPLY.fail(self, r, entry)
	entry.failures = r.failures
	entry.not_before = r.not_before
	entry.reason = r.error
	if not r.uncertain then
		set_state(self, entry, "pending")
	end
end

function APPLY.done(self, r, entry)
	entry.unsure = nil
	entry.done_at = r.at
	entry.status = r.status
	set_state(self, entry, "done")
end

function APPLY.dead(self, r, entry)
	entry.reason = r.reason
	set_state(self, entry, "dead")
end

function APPLY.retry(self, _, entry)
	if entry.state == "dead" then
		entry.failures, entry.not_before = 0, nil
		-- A write that may have been applied comes back uncertain: the
		-- drain asks reconcile before sending it again.
		set_state(self, entry, entry.unsure and "sent" or "pending")
		enqueue(self, entry)
	end
end

-- Where damaged stretches ({ offset, length }...) lie, as people read it:
-- "bytes 308-454, bytes ...".
function state.where(stretches)
	local where = {}
	for i, d in ipairs(stretches) do
		where[i] = string.format("bytes %d-%d", d.offset, d.offset + d.length - 1)
	end
	return table.concat(where, ", ")
end

-- A damaged stretch of the journal, read where it lies among the records:
-- it may have held any record about the entries already there (a send, a
-- done), so each of them not yet final becomes uncertain: never sent
-- again without a reconcile. Its push may have been there too: records
-- after it about an id no push made known are counted as orphans.
function State:damage(offset, length)
	local stretch = { offset = offset, length = length }
	self.damaged[#self.damaged + 1] = stretch
	local reason = "its state was in a damaged part of the journal (" .. state.where({ stretch }) .. ")"
	for _, entry in pairs(self.entries) do
		if entry.method and not FINAL[entry.state] then
			entry.damaged = true
			entry.unsure = true
			entry.reason = reason
			if entry.state ~= "sent" then
				set_state(self, entry, "sent")
			end
		end
	end
end

-- Applies one record; one about an id it does not know, or an entry that
-- already ended, changes nothing (a record a repeat push would have had).
function State:apply(record)
	self.records = self.records + 1
	local apply = APPLY[record.op]
	if not apply then
		return
	end
	if record.op == "push" or record.op == "entry" then
		return apply(self, record)
	end
	local entry = self.entries[record.id]
	if not entry and #self.damaged > 0 then
		self.orphans[tostring(record.id)] = true
	end
	if entry and entry.method and (not FINAL[entry.state] or record.op == "retry") then
		apply(self, record, entry)
	end
end

-- When entry may be worked on (epoch seconds): once its backoff is over,
-- and when it is uncertain, once the server has had until settle_until to
-- finish the send that made it so (a reconcile before then could find it
-- not applied while the server is still applying it).
function state.due(entry)
	local due = entry.not_before or 0
	if entry.state == "sent" then
		due = math.max(due, entry.settle_until or 0)
	end
	return due
end

-- Whether entry may be worked on at now (state.due).
function state.ready(entry, now)
	return state.due(entry) <= now
end

-- The uncertain entries still settling at now: how many, and until when
-- the last of them does (nil when none). Only the entries sent are looked
-- at: a drain's progress asks after every result.
function State:settling(now)
	local n, last = 0, nil
	for _, entry in pairs(self.sent) do
		local t = entry.settle_until
		if t and t > now then
			n = n + 1
			last = math.max(last or t, t)
		end
	end
	return n, last
end

-- The next entry to work on: the oldest of its key not yet final, not
-- taken (busy[id]), ready at now (state.ready). Keys take turns in the
-- order they came.
function State:next_entry(busy, now)
	local order, kept = self.key_order, 0
	local found
	for i = 1, #order do
		local fifo = order[i]
		while fifo.head <= fifo.n and FINAL[fifo[fifo.head].state] do
			fifo[fifo.head] = nil
			fifo.head = fifo.head + 1
		end
		if fifo.head > fifo.n then
			fifo.dropped = true -- empty: a new entry of its key starts another
		else
			kept = kept + 1
			order[kept] = fifo
			local entry = fifo[fifo.head]
			if not found and not busy[entry.id] and state.ready(entry, now) then
				found = entry
			end
		end
	end
	for i = kept + 1, #order do
		order[i] = nil
	end
	return found
end

-- An entry as the user's callbacks and q:dead() see it: a table of its
-- own, with the request's options beside id, key, method and path.
function state.view(entry)
	local v = {
		id = entry.id,
		key = entry.key,
		method = entry.method,
		path = entry.path,
		attempts = entry.attempts,
		failures = entry.failures,
		reason = entry.reason,
	}
	for name, value in pairs(entry.opts) do
		v[name] = value
	end
	return v
end

-- The entries in push order (states: a set, or nil for all).
function State:list(states)
	local list = {}
	for _, entry in pairs(self.entries) do
		if entry.method and (not states or states[entry.state]) then
			list[#list + 1] = entry
		end
	end
	table.sort(list, function(a, b)
		return a.seq < b.seq
	end)
	return list
end

-- The records a compacted journal holds: each entry not done as a whole,
-- and each done one still inside the dedupe window (now: epoch seconds)
-- as its id and time alone.
function State:snapshot(now)
	local records = {}
	for _, entry in ipairs(self:list()) do
		if entry.state ~= "done" then
			records[#records + 1] = {
				op = "entry",
				id = entry.id,
				key = entry.key,
				method = entry.method,
				path = entry.path,
				opts = entry.opts,
				at = entry.pushed_at,
				state = entry.state,
				attempts = entry.attempts,
				failures = entry.failures,
				not_before = entry.not_before,
				reason = entry.reason,
				unsure = entry.unsure,
				settle_until = entry.settle_until,
			}
		end
	end
	for id, entry in pairs(self.entries) do
		if entry.state == "done" and now - (entry.done_at or 0) < self.dedupe_window then
			records[#records + 1] = { op = "entry", id = id, done_at = entry.done_at }
		end
	end
	return records
end

-- Whether compaction is due: most records read no longer say anything.
function State:wants_compaction()
	local c = self.counts -- every entry is counted in one of them
	return self.records > 2 * (c.pending + c.uncertain + c.done + c.dead) + 256
end

return state
