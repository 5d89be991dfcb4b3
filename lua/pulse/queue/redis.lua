-- The write queue on Redis Streams (redis://...?stream=NAME), drained by
-- many processes on many machines at once. Each step is a script run in
-- Redis (src/queue/redis_streams.lua says what it keeps where):
--   * a push is one XADD, with its id's dedupe key and its place in its
--     key's order set in the same script;
--   * each drainer is a consumer of the stream's group: it reads entries
--     (XREADGROUP) as its workers want them, keeps a lease on those it
--     holds by claiming them afresh at every look, and takes over the
--     entries of a consumer gone quiet for longer than the lease
--     (XAUTOCLAIM); with nothing to do it blocks in XREAD on the stream
--     and on its news (S:wake: an entry let go, a key's next at its head,
--     the stream emptied) until a push or such news comes, an entry of
--     its own is due, or a third of the lease has passed; a send is
--     recorded before the request takes a token, so such an entry
--     comes back uncertain, for reconcile, exactly as after a crash of a
--     file queue's drainer;
--   * an entry is worked on only at the head of its key, whoever holds
--     the earlier ones;
--   * its outcome acknowledges it (XACK) and takes it off the stream; a
--     dead letter moves to the stream NAME:dead.
-- Redis out of reach (a restart) is waited for, up to the open's timeout.

local core = require("pulse.core")
local json = require("pulse.json")
local state = require("pulse.queue.state")
local tasks = require("pulse.tasks")

local redis_queue = {}

local SCRIPT = core.redis_queue_script
local DEFAULT_STREAM = "pulse-writes"
-- Pushes in one script at most (4 arguments each, under the binding's 250).
local PUSHES_PER_STEP = 60
-- Errors Redis answers while it cannot serve yet: wait, as for a restart.
local TRANSIENT = { "LOADING", "TRYAGAIN", "MASTERDOWN" }

local Queue = {}
Queue.__index = Queue
Queue.__name = "pulse.queue.redis"

local function failure(message)
	return nil, "pulse.queue: " .. message
end

local function random_hex(bytes)
	local digits = {}
	for i = 1, bytes do
		digits[i] = string.format("%02x", math.random(0, 255))
	end
	return table.concat(digits)
end

local function transient(why)
	for _, word in ipairs(TRANSIENT) do
		if why:find(": " .. word, 1, true) then
			return true
		end
	end
	return false
end

-- Opens the queue of url (opts: queue.open's, checked, and timeout: the
-- seconds Redis may be away before a step fails). Asks Redis for the
-- counts, so that a wrong URL or password fails here.
function redis_queue.open(url, opts)
	local conn, stream = core.redis(url, opts.timeout)
	if not conn then
		return failure(stream)
	end
	local self = setmetatable({
		conn = conn,
		stream = stream or DEFAULT_STREAM,
		sync = opts.sync,
		window_ms = string.format("%d", math.max(1, math.floor(opts.dedupe_window * 1000))),
		timeout = opts.timeout or 30,
		unflushed = {}, -- sync = "batch": pushes not yet sent, in order
		unflushed_ids = {}, -- their ids
		held = {}, -- draining: the entries this consumer holds, by id
		sids = {}, -- id -> { sid, key } of every entry taken, until it ends
		heads = {}, -- key -> the id at its head, as last seen
		totals = { pending = 0, uncertain = 0, done = 0, dead = 0 },
	}, Queue)
	local ok, why = self:refresh()
	if not ok then
		conn:close()
		return nil, why
	end
	return self
end

-- Runs a step of the script (args: the step's name, then its own); its
-- reply, or nil and why. Redis out of reach, or loading its data, is
-- asked again until the timeout: every step can be run twice (a push
-- finds its own nonce; an outcome counts once, by its XACK).
function Queue:_step(args)
	local deadline, wait = nil, 0.05
	while true do
		local reply, why, unreachable = self.conn:eval(SCRIPT, { self.stream }, args)
		if reply ~= nil then
			return reply
		end
		if not (unreachable or transient(why)) then
			return failure(why)
		end
		deadline = deadline or core.now() + self.timeout
		if core.now() >= deadline then
			return failure(string.format("%s (for %g s)", why, self.timeout))
		end
		tasks.sleep(wait) -- outside tasks, core.sleep
		wait = math.min(wait * 2, 1)
	end
end

local function set_counts(self, c)
	local t = self.totals
	t.pending, t.uncertain, t.done, t.dead = c[1], c[2], c[3], c[4]
	-- Redis' clock said how long: on ours, until when.
	self.settle_view = { c[5], c[5] > 0 and core.epoch() + c[6] / 1000 or nil }
end

-- Pushes records (with their encoded payloads) in steps; the outcome of
-- each: "queued", or why it is a repeat.
function Queue:_push_all(pushes)
	local outcomes = {}
	for first = 1, #pushes, PUSHES_PER_STEP do
		local args = { "push", self.window_ms }
		for i = first, math.min(#pushes, first + PUSHES_PER_STEP - 1) do
			local p = pushes[i]
			args[#args + 1] = p.record.id
			args[#args + 1] = p.record.key
			args[#args + 1] = p.nonce
			args[#args + 1] = p.payload
		end
		local reply, why = self:_step(args)
		if not reply then
			return nil, why
		end
		table.move(reply, 1, #reply, #outcomes + 1, outcomes)
	end
	return outcomes
end

-- Pushes a checked push record, encoded as payload (queue/init.lua's):
-- the id and whether it was queued (false: a repeat, and why). With sync
-- = "batch" it is sent at flush, and only repeats among the pushes not
-- yet flushed are told here.
function Queue:push(record, payload)
	local p = { record = record, payload = payload, nonce = random_hex(8) }
	if self.sync == "batch" then
		if self.unflushed_ids[record.id] then
			return record.id, false, "pending"
		end
		self.unflushed[#self.unflushed + 1] = p
		self.unflushed_ids[record.id] = true
		return record.id, true
	end
	local outcomes, why = self:_push_all({ p })
	if not outcomes then
		return nil, why
	end
	if outcomes[1] ~= "queued" then
		return record.id, false, outcomes[1]
	end
	return record.id, true
end

-- Sends the pushes not yet sent: true and how many of them were repeats
-- of entries Redis has, or nil and why (they stay, for the next flush).
function Queue:flush()
	if #self.unflushed == 0 then
		return true, 0
	end
	local outcomes, why = self:_push_all(self.unflushed)
	if not outcomes then
		return nil, why
	end
	self.unflushed, self.unflushed_ids = {}, {}
	local repeats = 0
	for _, outcome in ipairs(outcomes) do
		if outcome ~= "queued" then
			repeats = repeats + 1
		end
	end
	return true, repeats
end

-- Stream ids ("ms-seq") in order.
local function sid_before(a, b)
	local am, as = a:match("^(%d+)-(%d+)$")
	local bm, bs = b:match("^(%d+)-(%d+)$")
	am, bm = tonumber(am), tonumber(bm)
	if am ~= bm then
		return am < bm
	end
	return tonumber(as) < tonumber(bs)
end

-- An entry as take gives it: { sid, id, payload, sent, failures, attempts,
-- ms it is still settling (Redis' clock; settle_until is on ours), ours }.
-- One another program added to the stream is `foreign` (it has no place
-- in its key's order, so it would never come to the head of its key): a
-- readable one has the `refusal` its dead letter says; one whose payload
-- is not a push record fails as a request (it has no method).
local function held_entry(t)
	local r = json.decode(t[3])
	local readable = type(r) == "table" and type(r.key) == "string" and type(r.method) == "string"
		and type(r.path) == "string"
	r = readable and r or {}
	local foreign = t[8] == 0 or nil
	return {
		foreign = foreign,
		refusal = readable and foreign and "not queued by pulse.queue: another program added it to the stream, "
			.. "outside the queue's order of its key" or nil,
		sid = t[1],
		id = t[2],
		key = r.key or "",
		method = r.method,
		path = r.path,
		opts = type(r.opts) == "table" and r.opts or {},
		pushed_at = r.at,
		state = t[4] == 1 and "sent" or "pending",
		unsure = t[4] == 1 or nil,
		failures = t[5],
		attempts = t[6],
		settle_until = (t[7] or 0) > 0 and core.epoch() + t[7] / 1000 or nil,
	}
end

local function set_heads(self, list)
	for i = 1, #list, 2 do
		self.heads[list[i]] = list[i + 1]
	end
end

-- Draining: keeps the lease on what this consumer holds, takes over what
-- was left idle past the lease, and reads new entries up to twice the
-- workers. Not draining: the counts alone.
function Queue:refresh()
	if not self.consumer then
		local c, why = self:_step({ "counts" })
		if not c then
			return nil, why
		end
		set_counts(self, c)
		return true
	end
	local held = 0
	local args = { "take", self.consumer, 0, self.lease_ms }
	for _, entry in pairs(self.held) do
		held = held + 1
		args[#args + 1] = entry.sid
		args[#args + 1] = entry.key
	end
	args[3] = math.max(0, self.capacity - held)
	local reply, why = self:_step(args)
	if not reply then
		return nil, why
	end
	local lost, got, heads, counts = reply[1], reply[2], reply[3], reply[4]
	-- A full take: the stream may hold more for the workers to want now.
	self.more = args[3] > 0 and #got >= args[3]
	self.last_ids = reply[6]
	local by_sid = {}
	for id, entry in pairs(self.held) do
		by_sid[entry.sid] = id
	end
	for _, sid in ipairs(lost) do
		if by_sid[sid] then
			self.held[by_sid[sid]] = nil
		end
	end
	for _, t in ipairs(got) do
		local entry = held_entry(t)
		self.held[entry.id] = entry
		self.sids[entry.id] = { entry.sid, entry.key, entry.foreign }
	end
	set_heads(self, heads)
	local known = self.totals.pending + self.totals.uncertain
	set_counts(self, counts)
	return self:_check_generation(reply[5], known)
end

-- A generation other than the one first seen means Redis lost the queue
-- under this drainer (restarted without persistence, or flushed): the
-- entries it knew of are gone, which no later count would show. known:
-- how many were pending or uncertain at the last look.
function Queue:_check_generation(generation, known)
	if self.generation and generation ~= self.generation and known > 0 then
		return failure(
			string.format(
				"Redis lost the queue's stream %s under this drainer (a restart without persistence, "
					.. "or a FLUSHALL): the %d entries pending or uncertain at the last look are gone, "
					.. "their writes not applied by this drainer",
				self.stream,
				known
			)
		)
	end
	self.generation = generation
	return true
end

function Queue:counts()
	return self.totals
end

-- Blocks until there may be work: a push, news on S:wake (read after the
-- last look's ids), an entry held coming due, a third of the lease (which
-- the next look renews), at most seconds, or a stop signal. Redis out of
-- reach ends it: the next look says so, after its own waits. true, or nil
-- and why.
function Queue:wait(seconds)
	if not self.last_ids then
		return true
	end
	local now, until_due = core.epoch(), math.min(seconds, tonumber(self.lease_ms) / 3000)
	for _, entry in pairs(self.held) do
		until_due = math.min(until_due, math.max(0, state.due(entry) - now))
	end
	local ms = math.floor(until_due * 1000)
	if ms <= 0 then
		return true
	end
	local reply, why, unreachable = self.conn:blocking({
		"XREAD", "COUNT", "1", "BLOCK", tostring(ms), "STREAMS",
		self.stream, self.stream .. ":wake", self.last_ids[1], self.last_ids[2],
	}, until_due)
	if reply == nil and not unreachable then
		return failure(why)
	end
	return true
end

-- A stream has no journal to damage: no stretch, no entry touched.
function Queue.damage()
	return {}, {}, {}
end

-- The entries another program added to the stream (a drain makes them
-- dead letters): how many, and the ids of the first 100; or nil and why.
function Queue:foreign()
	local reply, why = self:_step({ "foreign" })
	if not reply then
		return nil, why
	end
	return reply[1], reply[2]
end

-- The uncertain entries the server may still be applying, as of the last
-- look: how many, and until when (epoch seconds; nil when none).
function Queue:settling()
	return self.settle_view[1], self.settle_view[2]
end

-- The oldest entry held, at the head of its key, not taken (busy[id]),
-- ready at now (state.ready: its backoff over, settled when uncertain).
-- A foreign one has no place in its key's order: the drain takes it to
-- make it a dead letter.
function Queue:next_entry(busy, now)
	local found
	for id, entry in pairs(self.held) do
		if
			not busy[id]
			and (self.heads[entry.key] == id or entry.foreign)
			and state.ready(entry, now)
			and (not found or sid_before(entry.sid, found.sid))
		then
			found = entry
		end
	end
	return found
end

function Queue:entry(id)
	return self.held[id]
end

-- What a record the drain made does to the entry held (state.lua's rules;
-- settle_until on our clock, near enough to Redis' for our own waits).
local APPLY = {
	send = function(entry, r)
		if not (r.again and entry.state == "sent") then
			entry.attempts = entry.attempts + 1
		end
		entry.unsure = true
		entry.state = "sent"
		entry.settle_until = core.epoch() + r.hold
	end,
	unsent = function(entry)
		entry.unsure = nil
		entry.state = "pending"
	end,
	fail = function(entry, r)
		entry.failures, entry.not_before, entry.reason = r.failures, r.not_before, r.error
		if not r.uncertain then
			entry.state = "pending"
		end
	end,
}

-- Applies the drain's records in one script: true; or nil, why and true
-- when a send's entry is no longer this consumer's (then it is let go).
function Queue:append(records)
	local sent = {}
	for i, r in ipairs(records) do
		-- An entry lost to another consumer mid-send still ends here: its
		-- XACK then finds it acknowledged, or acknowledges it for both.
		local taken = self.sids[r.id] or {}
		sent[i] = {
			op = r.op,
			id = r.id,
			sid = taken[1],
			key = taken[2],
			failures = r.failures,
			reason = r.reason,
			hold = r.hold,
			again = r.again,
			foreign = taken[3],
		}
	end
	local reply, why = self:_step({ "apply", self.consumer, self.window_ms, assert(json.encode(sent)) })
	if not reply then
		return nil, why
	end
	if reply[1] == "lost" then
		self.held[records[1].id] = nil
		return nil, "taken over by another drainer", true
	end
	for _, r in ipairs(records) do
		local entry = self.held[r.id]
		if entry and APPLY[r.op] then
			APPLY[r.op](entry, r)
		elseif r.op == "done" or r.op == "dead" then
			self.held[r.id], self.sids[r.id] = nil, nil
		end
	end
	set_heads(self, reply[2])
	return true
end

-- Joins the stream's group as a consumer of its own (host, and a random
-- part that no restart repeats): opts, drain's (workers, lease).
function Queue:claim(opts)
	local f = io.open("/etc/hostname")
	local host = f and f:read("l") or "host"
	if f then
		f:close()
	end
	self.consumer = host .. "-" .. random_hex(8)
	self.capacity = 2 * opts.workers
	self.lease_ms = string.format("%d", math.floor(opts.lease * 1000))
	return true
end

-- Leaving: the entries still held are made idle, for the next consumer
-- to take over at once (uncertain ones, for reconcile).
function Queue:release()
	if not self.consumer then
		return
	end
	local args = { "release", self.consumer }
	for _, entry in pairs(self.held) do
		args[#args + 1] = entry.sid
	end
	self:_step(args)
	self.held, self.heads, self.sids, self.consumer = {}, {}, {}, nil
end

-- The entries not yet final, in push order, without taking any (a dry
-- run's list): as next_entry gives them (state "sent" for a send with no
-- outcome).
function Queue:waiting()
	local reply, why = self:_step({ "waiting" })
	if not reply then
		return nil, why
	end
	local list = {}
	for i, t in ipairs(reply) do
		list[i] = held_entry({ nil, t[1], t[2], t[3], 0, 0 })
	end
	return list
end

-- The dead letters, oldest first, as the user sees them.
function Queue:dead()
	local reply, why = self:_step({ "dead" })
	if not reply then
		return nil, why
	end
	local list = {}
	for i, t in ipairs(reply) do
		local entry = held_entry({ nil, t[1], t[2], t[4] == "1" and 1 or 0, tonumber(t[6]), tonumber(t[5]) })
		entry.reason = t[3]
		list[i] = state.view(entry)
	end
	return list
end

-- Puts the dead letters of ids (a set; nil: all) back; how many.
function Queue:retry_dead(wanted)
	local args = { "retry" }
	for id in pairs(wanted or {}) do
		args[#args + 1] = id
	end
	if wanted and #args == 1 then
		return 0
	end
	return self:_step(args)
end

function Queue:close()
	if self.conn then
		local ok, why = self:flush()
		self:release()
		self.conn:close()
		self.conn = nil
		return ok, why
	end
	return true
end

return redis_queue
