-- The write queue's steps on Redis Streams, run inside Redis (EVALSHA) so
-- that each is atomic: lua/pulse/queue/redis.lua says what they mean for
-- a drain. A queue named S is:
--   S                the stream of entries not yet final, fields id, e
--                    (the push record, JSON); its consumer group "pulse"
--                    holds each delivered entry in its consumer's PEL
--   S:dead           the stream of dead letters: id, e, reason, unsure
--   S:key:K          the ids of key K not yet final, in push order: an
--                    entry is worked on only at the head of its key
--   S:id:ID          the dedupe key of id ID: "p NONCE" while pending,
--                    "x" while a dead letter, "d" for dedupe_window once
--                    done
--   S:sent           ids whose send was recorded with no outcome yet, each
--                    with the time (ms, Redis' clock) until which the
--                    server may still apply it: no one reconciles it before
--   S:failures, S:attempts   counts by id
--   S:done           how many entries ended done
--   S:wake           a short stream of news for drainers blocked in XREAD
--                    on S and it: an entry let go, a key's next at its
--                    head, the stream emptied
--   S:gen            made with the group: a drainer that finds it changed
--                    knows Redis lost the queue (a restart without
--                    persistence, a FLUSHALL) under it
--
-- KEYS[1]: S. ARGV[1]: the step; the rest, the step's own. Errors are
-- raised (redis.error_reply) only for misuse; outcomes are replies.

local S = KEYS[1]
local step = ARGV[1]
local GROUP = "pulse"

-- Redis' clock, in ms.
local function now_ms()
	local t = redis.call("TIME")
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The ms from now until the server may no longer apply a send of id (0:
-- it may be reconciled).
local function settle_left(id, now)
	return math.max(0, tonumber(redis.call("HGET", S .. ":sent", id) or "0") - now)
end

-- { pending, uncertain, done, dead, settling, ms until the last settles }.
local function counts()
	local out = redis.call("XLEN", S)
	local uncertain = redis.call("HLEN", S .. ":sent")
	local done = tonumber(redis.call("GET", S .. ":done") or "0")
	local now, settling, last = now_ms(), 0, 0
	for _, t in ipairs(redis.call("HVALS", S .. ":sent")) do
		local left = tonumber(t) - now
		if left > 0 then
			settling, last = settling + 1, math.max(last, left)
		end
	end
	return { out - uncertain, uncertain, done, redis.call("XLEN", S .. ":dead"), settling, last }
end

-- The queue's generation, made when missing (with the group, or on a
-- stream older than it).
local function generation()
	local gen = redis.call("GET", S .. ":gen")
	if not gen then
		local t = redis.call("TIME")
		gen = t[1] .. "." .. t[2]
		redis.call("SET", S .. ":gen", gen)
	end
	return gen
end

local function ensure_group()
	local ok = redis.pcall("XGROUP", "CREATE", S, GROUP, "0", "MKSTREAM")
	if type(ok) == "table" and ok.err and not ok.err:find("BUSYGROUP", 1, true) then
		error(ok.err)
	end
	generation()
end

-- XCLAIM of sids by consumer, with options after them.
local function xclaim(consumer, sids, ...)
	local args = { "XCLAIM", S, GROUP, consumer, 0 }
	for _, sid in ipairs(sids) do
		args[#args + 1] = sid
	end
	for _, option in ipairs({ ... }) do
		args[#args + 1] = option
	end
	return redis.call(unpack(args))
end

local function fields(list)
	local t = {}
	for i = 1, #list, 2 do
		t[list[i]] = list[i + 1]
	end
	return t
end

-- Forgets what an entry that ended kept beside the stream.
local function forget(id, key)
	redis.call("LREM", S .. ":key:" .. key, 1, id)
	redis.call("HDEL", S .. ":sent", id)
	redis.call("HDEL", S .. ":failures", id)
	redis.call("HDEL", S .. ":attempts", id)
end

-- The id at the head of key's order ("" when none).
local function head(key)
	return redis.call("LINDEX", S .. ":key:" .. key, 0) or ""
end

-- Tells drainers blocked on S:wake that there may be work for them (XADD
-- to S tells them of pushes itself).
local function wake(why)
	redis.call("XADD", S .. ":wake", "MAXLEN", "~", 64, "*", "w", why)
end

-- The id of the last entry of stream ("0-0" when none): an XREAD after
-- it answers what comes next.
local function last_id(stream)
	local e = redis.call("XREVRANGE", stream, "+", "-", "COUNT", 1)[1]
	return e and e[1] or "0-0"
end

-- push WINDOW_MS {ID KEY NONCE PAYLOAD}...: each answers "queued", or why
-- it is a repeat ("pending", "done", "a dead letter"). A push tried again
-- after a lost answer finds its own NONCE and is "queued".
local function push()
	ensure_group()
	local out = {}
	for i = 3, #ARGV, 4 do
		local id, key, nonce, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
		local dk = S .. ":id:" .. id
		local v = redis.call("GET", dk)
		if not v then
			redis.call("XADD", S, "*", "id", id, "e", payload)
			redis.call("RPUSH", S .. ":key:" .. key, id)
			redis.call("SET", dk, "p " .. nonce)
			out[#out + 1] = "queued"
		elseif v == "p " .. nonce then
			out[#out + 1] = "queued"
		elseif v == "d" then
			out[#out + 1] = "done"
		elseif v == "x" then
			out[#out + 1] = "a dead letter"
		else
			out[#out + 1] = "pending"
		end
	end
	return out
end

-- The key of an entry's payload; nil when it is not a push record (an
-- entry some other program added to the stream).
local function key_of(payload)
	local ok, r = pcall(cjson.decode, payload or "")
	if ok and type(r) == "table" and type(r.key) == "string" then
		return r.key
	end
end

-- An entry as take answers it: { sid, id, payload, sent, failures,
-- attempts, ms it is still settling, ours }: ours is 0 for an entry that
-- has no place in its key's order (another program added it, well formed
-- or not), which the drain makes a dead letter.
local function entry(sid, list, now)
	local f = fields(list)
	f.id = f.id or sid
	local key = key_of(f.e)
	local ours = key and redis.call("LPOS", S .. ":key:" .. key, f.id) and 1 or 0
	return {
		sid,
		f.id,
		f.e or "",
		redis.call("HEXISTS", S .. ":sent", f.id),
		tonumber(redis.call("HGET", S .. ":failures", f.id) or "0"),
		tonumber(redis.call("HGET", S .. ":attempts", f.id) or "0"),
		settle_left(f.id, now),
		ours,
	}
end

-- The SIDs of entries in consumer's PEL, as a set.
local function pending_of(consumer)
	local mine = {}
	for _, p in ipairs(redis.call("XPENDING", S, GROUP, "-", "+", 100000, consumer)) do
		mine[p[1]] = true
	end
	return mine
end

-- take CONSUMER NEW LEASE_MS {SID KEY}...: keeps the consumer's lease on
-- the entries it holds (SID, of KEY), takes over those idle past LEASE_MS
-- (their consumer is gone), and reads new ones, NEW in all. Answers
-- { lost SIDs, entries taken, {KEY, head id}..., counts, generation,
-- { last id of S, last id of S:wake } }.
local function take()
	ensure_group()
	local consumer, new, lease = ARGV[2], tonumber(ARGV[3]), ARGV[4]
	local mine = pending_of(consumer)
	local lost, keep, keys = {}, {}, {}
	for i = 5, #ARGV, 2 do
		local sid, key = ARGV[i], ARGV[i + 1]
		keys[key] = true
		if mine[sid] then
			keep[#keep + 1] = sid
		else
			lost[#lost + 1] = sid
		end
	end
	if #keep > 0 then -- resets their idle time: the lease
		xclaim(consumer, keep, "JUSTID")
	end
	-- One at least, even when it holds all it may: what it holds may wait
	-- for the head of its key, which a consumer gone may hold.
	local got, now = {}, now_ms()
	local claimed = redis.call("XAUTOCLAIM", S, GROUP, consumer, lease, "0-0", "COUNT", math.max(new, 1))
	for _, e in ipairs(claimed[2]) do
		if type(e[2]) == "table" then
			got[#got + 1] = entry(e[1], e[2], now)
		end
	end
	if #got < new then
		local read = redis.call("XREADGROUP", "GROUP", GROUP, consumer, "COUNT", new - #got, "STREAMS", S, ">")
		for _, e in ipairs(read and read[1] and read[1][2] or {}) do
			got[#got + 1] = entry(e[1], e[2], now)
		end
	end
	for _, e in ipairs(got) do
		local key = key_of(e[3])
		if key then
			keys[key] = true
		end
	end
	local heads = {}
	for key in pairs(keys) do
		heads[#heads + 1] = key
		heads[#heads + 1] = head(key)
	end
	return { lost, got, heads, counts(), generation(), { last_id(S), last_id(S .. ":wake") } }
end

-- apply CONSUMER WINDOW_MS RECORDS: the drain's records (JSON, a list, as
-- lua/pulse/queue/state.lua's, with the entry's sid and key, and for a
-- send the hold: the seconds from now the server may still apply it), in
-- one step. A send of an entry this consumer no longer holds answers
-- { "lost" } and changes nothing; else { "ok", {KEY, head id}... }.
local function apply()
	local consumer, window = ARGV[2], ARGV[3]
	local records = cjson.decode(ARGV[4])
	for _, r in ipairs(records) do
		if r.op == "send" then
			local p = redis.call("XPENDING", S, GROUP, r.sid, r.sid, 1)
			if not p[1] or p[1][2] ~= consumer then
				return { "lost" }
			end
		end
	end
	local heads, now, ended = {}, now_ms(), false
	for _, r in ipairs(records) do
		local id = r.id
		if r.op == "send" then
			if not (r.again and redis.call("HEXISTS", S .. ":sent", id) == 1) then
				redis.call("HINCRBY", S .. ":attempts", id, 1)
			end
			redis.call("HSET", S .. ":sent", id, now + math.floor((r.hold or 0) * 1000))
		elseif r.op == "unsent" then
			redis.call("HDEL", S .. ":sent", id)
		elseif r.op == "fail" then
			redis.call("HSET", S .. ":failures", id, r.failures)
		elseif r.op == "done" or r.op == "dead" then
			-- Only the first to end it counts it: a consumer that lost the
			-- entry and ends it too finds it acknowledged.
			if r.sid and redis.call("XACK", S, GROUP, r.sid) == 1 then
				local e = redis.call("XRANGE", S, r.sid, r.sid)[1]
				local payload = e and fields(e[2]).e or "{}"
				if r.foreign then
					-- Not the queue's: its id and key name none of its entries.
					redis.call("XADD", S .. ":dead", "*", "id", id, "e", payload, "reason", r.reason or "",
						"unsure", 0, "attempts", 0, "failures", 0)
				elseif r.op == "done" then
					redis.call("INCR", S .. ":done")
					redis.call("SET", S .. ":id:" .. id, "d", "PX", window)
				else
					local unsure = redis.call("HEXISTS", S .. ":sent", id)
					redis.call("XADD", S .. ":dead", "*", "id", id, "e", payload, "reason", r.reason or "",
						"unsure", unsure, "attempts", redis.call("HGET", S .. ":attempts", id) or "0",
						"failures", redis.call("HGET", S .. ":failures", id) or "0")
					redis.call("SET", S .. ":id:" .. id, "x")
				end
				redis.call("XDEL", S, r.sid)
				ended = true
				if not r.foreign then
					forget(id, r.key)
				end
			end
			if r.key then
				local next_one = head(r.key)
				heads[#heads + 1] = r.key
				heads[#heads + 1] = next_one
				if next_one ~= "" then -- another drainer may hold it, and wait
					wake("head")
				end
			end
		end
	end
	if ended and redis.call("XLEN", S) == 0 then -- drainers waiting for the end
		wake("empty")
	end
	return { "ok", heads }
end

-- dead: the dead letters, { id, payload, reason, unsure, attempts, failures }...
local function dead()
	local out = {}
	for _, e in ipairs(redis.call("XRANGE", S .. ":dead", "-", "+")) do
		local f = fields(e[2])
		out[#out + 1] = { f.id, f.e, f.reason, f.unsure, f.attempts, f.failures }
	end
	return out
end

-- retry [ID...]: puts the dead letters named (all, when none is) back at
-- the end of the stream and of their key; one whose send had no outcome
-- comes back uncertain. Answers how many went back.
local function retry()
	ensure_group()
	local wanted
	if #ARGV > 1 then
		wanted = {}
		for i = 2, #ARGV do
			wanted[ARGV[i]] = true
		end
	end
	local n = 0
	for _, e in ipairs(redis.call("XRANGE", S .. ":dead", "-", "+")) do
		local f = fields(e[2])
		local key = key_of(f.e)
		if (not wanted or wanted[f.id]) and key then
			redis.call("XADD", S, "*", "id", f.id, "e", f.e)
			redis.call("RPUSH", S .. ":key:" .. key, f.id)
			redis.call("SET", S .. ":id:" .. f.id, "p retry")
			redis.call("HSET", S .. ":attempts", f.id, f.attempts)
			if f.unsure == "1" then
				redis.call("HSET", S .. ":sent", f.id, 1)
			end
			redis.call("XDEL", S .. ":dead", e[1])
			n = n + 1
		end
	end
	return n
end

-- release CONSUMER SID...: a stopping consumer's entries that are still
-- its own (another may have taken one over since its last look) are made
-- idle since long ago, so that the next take of any consumer takes them
-- over at once. A consumer left holding nothing leaves the group.
local function release()
	local consumer = ARGV[2]
	local mine = pending_of(consumer)
	local sids = {}
	for i = 3, #ARGV do
		if mine[ARGV[i]] then
			sids[#sids + 1] = ARGV[i]
		end
	end
	if #sids > 0 then
		local t = redis.call("TIME")
		-- The longest idle time XCLAIM keeps (it takes a longer one for "now").
		local idle = tonumber(t[1]) * 1000 - 1
		xclaim(consumer, sids, "IDLE", idle, "JUSTID")
		wake("release")
	elseif next(mine) == nil then
		redis.call("XGROUP", "DELCONSUMER", S, GROUP, consumer)
	end
	return 1
end

-- foreign: the entries of the stream outside the queue's bookkeeping (no
-- place in their key's order: another program added them), which a drain
-- makes dead letters. Answers { how many, their ids (the first 100) }.
local function foreign()
	local ids, n = {}, 0
	for _, e in ipairs(redis.call("XRANGE", S, "-", "+")) do
		local f = fields(e[2])
		local key = key_of(f.e)
		if not (key and f.id and redis.call("LPOS", S .. ":key:" .. key, f.id)) then
			n = n + 1
			if #ids < 100 then
				ids[#ids + 1] = f.id or e[1]
			end
		end
	end
	return { n, ids }
end

-- waiting: the entries not yet final, in stream order, as a dry run lists
-- them, read without taking any: { id, payload, sent (0 or 1) }...
local function waiting()
	local out = {}
	for _, e in ipairs(redis.call("XRANGE", S, "-", "+")) do
		local f = fields(e[2])
		out[#out + 1] = { f.id or e[1], f.e or "", redis.call("HEXISTS", S .. ":sent", f.id or "") }
	end
	return out
end

local steps = {
	waiting = waiting,
	foreign = foreign,
	push = push,
	take = take,
	apply = apply,
	dead = dead,
	retry = retry,
	release = release,
	counts = counts,
}
if not steps[step] then
	return redis.error_reply("pulse queue: no step " .. tostring(step))
end
return steps[step]()
