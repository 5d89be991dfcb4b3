--- A durable write queue: writes pushed to a journal, or to a Redis
-- stream many drainers share, then applied by a drain exactly once,
-- through crashes, restarts and 503 storms. A write whose answer was lost
-- is never sent again blindly: the drain asks `reconcile` whether it was
-- applied.
--
--    local q = pulse.queue.open("file:/var/lib/job/writes.journal")
--    q:push{ method = "POST", path = "/customers", json = row, id = row.email }
--    local report = q:drain(client, { workers = 4, reconcile = fn })
--
-- @module pulse.queue

local core = require("pulse.core")
local drain = require("pulse.queue.drain")
local errors = require("pulse.errors")
local file = require("pulse.queue.file")
local options = require("pulse.options")
local plan = require("pulse.plan")
local redis = require("pulse.queue.redis")

local queue = {}

local DAY = 86400

local OPEN_OPTIONS = { sync = "string", dedupe_window = "non-negative", timeout = "positive" }

-- What a pushed entry may carry: the request's options a queue can keep
-- (JSON-able: no functions).
local ENTRY_OPTIONS = { json = true, query = true, headers = true, body = true, timeout = true, idempotent = true }

-- A queue, as open returns it (documented as a type below, after open).
local Queue = {}
Queue.__index = Queue
Queue.__name = "pulse.queue"

local usage = errors.usage_for("pulse.queue")

-- Raises, blaming the caller of method name, unless self is an open queue.
local function check_self(self, name)
	if getmetatable(self) ~= Queue then
		usage(name .. ": call it as q:" .. name .. "(...), with a colon", 3)
	end
	if self.closed then
		usage(name .. ": the queue is closed", 3)
	end
end

--- Opens a queue.
-- @tparam string url `file:PATH` (a journal, made 0600 when missing), or
-- `redis://[user:password@]host:port[/db][?stream=NAME]` (a stream,
-- default `pulse-writes`, drained by any number of processes)
-- @tparam[opt] table opts `sync` ("each", the default: `push` returns once
-- the journal is fsynced, or Redis answered; "batch": at once, and `flush`
-- makes pushes durable), `dedupe_window` (seconds a done entry's id keeps
-- a repeat out; default 7 days), `timeout` (Redis: seconds it may be out
-- of reach before a step fails; default 30)
-- @return the queue; or nil and why (the journal cannot be opened, Redis
-- cannot be reached or refuses)
function queue.open(url, opts)
	if type(url) ~= "string" then
		usage("bad argument #1 to 'open' (a URL like \"file:/path/writes.journal\" expected, got " .. type(url) .. ")", 2)
	end
	opts = opts or {}
	if type(opts) ~= "table" then
		usage("bad argument #2 to 'open' (options must be a table, got " .. type(opts) .. ")", 2)
	end
	local ok, why = options.check("open", opts, OPEN_OPTIONS)
	if not ok then
		usage(why, 2)
	end
	local sync = opts.sync or "each"
	if sync ~= "each" and sync ~= "batch" then
		usage('open: sync must be "each" or "batch", got "' .. sync .. '"', 2)
	end
	local store_opts = { sync = sync, dedupe_window = opts.dedupe_window or 7 * DAY, timeout = opts.timeout }
	local path = url:match("^file:(.+)$")
	local store, err
	if path then
		store, err = file.open(path, store_opts)
	elseif url:find("^rediss?://") then
		store, err = redis.open(url, store_opts)
	else
		-- Not echoed: a mistyped Redis URL may hold a password.
		usage(
			"bad argument #1 to 'open' (a URL like \"file:/path/writes.journal\" or "
				.. '"redis://host:6379?stream=pulse-writes" expected)',
			2
		)
	end
	if not store then
		return nil, err
	end
	return setmetatable({ store = store }, Queue)
end

local made = 0

-- An id for an entry pushed without one: unique across processes and
-- restarts (time, pid-free but random, and a counter).
local function make_id()
	made = made + 1
	return string.format("%x-%x-%x", math.floor(core.epoch() * 1e6), math.random(0, 0x7fffffff), made)
end

local function check_entry(entry)
	if type(entry) ~= "table" then
		usage("bad argument #1 to 'push' (a table { method =, path =, ... } expected, got " .. type(entry) .. ")", 3)
	end
	if type(entry.method) ~= "string" or not entry.method:find("^%u+$") then
		usage('push: method must be an upper-case string like "POST"', 3)
	end
	if type(entry.path) ~= "string" or entry.path == "" then
		usage("push: path must be a non-empty string", 3)
	end
	for name in pairs(entry) do
		if not ENTRY_OPTIONS[name] and name ~= "method" and name ~= "path" and name ~= "id" and name ~= "key" then
			usage(
				"push: unknown field '"
					.. tostring(name)
					.. "' (method, path, id, key, json, query, headers, body, timeout, idempotent)",
				3
			)
		end
	end
	if type(entry.headers) == "table" then
		for name in pairs(entry.headers) do
			if type(name) == "string" and name:lower() == "authorization" then
				-- The journal is a file: a key in it would outlive the job.
				usage("push: no Authorization header: the client that drains the queue sends its key", 3)
			end
		end
	end
	for _, name in ipairs({ "id", "key" }) do
		local v = entry[name]
		if v ~= nil and type(v) ~= "string" and math.type(v) ~= "integer" then
			usage("push: " .. name .. " must be a string or an integer, got " .. type(v), 3)
		end
	end
end

--- A queue, as `open` returns it.
-- @type Queue

--- Pushes a write.
-- @tparam table entry `method`, `path`, the request's options (`json`,
-- `query`, `headers`, `body`, `timeout`, `idempotent`), and optionally `id`
-- (a repeat of a pending id, or of one done within `dedupe_window`, is not
-- queued again) and `key` (entries of one key are applied in push order;
-- default: the path)
-- @return the entry's id and whether it was queued (false, and why, for a
-- repeat); or nil and why the journal failed
function Queue:push(entry)
	check_self(self, "push")
	check_entry(entry)
	local opts = {}
	for name in pairs(ENTRY_OPTIONS) do
		opts[name] = entry[name]
	end
	local id = entry.id ~= nil and tostring(entry.id) or make_id()
	local record = {
		op = "push",
		id = id,
		key = entry.key ~= nil and tostring(entry.key) or entry.path,
		method = entry.method,
		path = entry.path,
		opts = opts,
		at = core.epoch(),
	}
	local encoded, why = core.json_encode(record)
	if not encoded then
		usage("push: the entry cannot be stored as JSON: " .. tostring(why), 2)
	end
	return self.store:push(record, encoded)
end

--- Makes every push so far durable (with `sync = "batch"`).
-- @return true (and, on Redis, how many pushes were repeats); or nil and why
function Queue:flush()
	check_self(self, "flush")
	return self.store:flush()
end

--- Applies the queued writes with client. See doc/queue.md for the options:
-- `workers`, `reconcile`, `on_result`, `on_progress`, `max_failures`,
-- `until_empty`, `stop_timeout`, `backoff`, `settle` (seconds a server may
-- still apply a write past its attempt's timeout: no uncertain entry is
-- reconciled before), `accept_damage` (drain a damaged journal, its
-- touched entries reconciled first), `priority` (the lane on the limiter:
-- "bulk" unless said), `max_calls` (no entry starts once that many calls
-- are spent or promised to the entries out: the rest stay for the next
-- drain), and on Redis `lease`.
-- @return a report `{ done =, dead =, pending =, calls =, stopped = }` (and
-- `damage` when accepted); or nil and why (another process drains the
-- file queue, the journal is damaged, Redis lost the queue, or the store
-- failed)
function Queue:drain(client, opts)
	check_self(self, "drain")
	return drain.run(self.store, client, opts, 2)
end

--- What draining the queue now would spend, without sending anything: a
-- call per pending entry, and one more per uncertain entry when opts
-- gives `reconcile` (it asks the API; without one they become dead
-- letters), and the least time the client's bucket, as it stands, makes
-- them take in the drain's lane (bulk unless opts gives `priority`),
-- behind the calls waiting in its lane and above.
-- @param client the client that would drain it
-- @tparam[opt] table opts the drain's options (`reconcile` and `priority` count)
-- @return `{ calls, seconds, entries, uncertain, rate, priority, ahead, reserve }`; or nil and why
-- @usage local p = q:plan(client)
-- print(require("pulse.plan").describe(p))
function Queue:plan(client, opts)
	check_self(self, "plan")
	if type(client) ~= "table" or type(client.ratelimit) ~= "function" then
		usage("bad argument #1 to 'plan' (a client from pulse.new expected, got " .. type(client) .. ")", 2)
	end
	local s, why = self:stats()
	if not s then
		return nil, why
	end
	local reconciled = opts and opts.reconcile and s.uncertain or 0
	local priority = opts and opts.priority or "bulk"
	if not options.LANES[priority] then
		usage('plan: option \'priority\' must be "interactive", "normal" or "bulk", got ' .. tostring(priority), 2)
	end
	return plan.make(client, s.pending + reconciled, { entries = s.pending, uncertain = s.uncertain }, priority)
end

--- Counts: `pending`, `uncertain` (sent, outcome unknown), `done`, `dead`,
-- and `settling`: the uncertain entries the server may still be applying
-- (sent less than their attempt's timeout and the drain's `settle` ago),
-- which no drainer reconciles before `settle_until` (epoch seconds, when
-- the last of them may be; absent when none settles); `damaged`: how many
-- stretches of a journal are no records (a flipped bit), which a drain
-- refuses until told `accept_damage`.
-- @treturn table
function Queue:stats()
	check_self(self, "stats")
	local ok, why = self.store:refresh()
	if not ok then
		return nil, why
	end
	local c = self.store:counts()
	local settling, settle_until = self.store:settling()
	return {
		pending = c.pending,
		uncertain = c.uncertain,
		done = c.done,
		dead = c.dead,
		settling = settling,
		settle_until = settle_until,
		damaged = #self.store:damage(),
	}
end

--- The dead letters, in push order: entries (`id, method, path`, the
-- options, `attempts`, `failures`) with `reason`.
-- @treturn table
function Queue:dead()
	check_self(self, "dead")
	return self.store:dead()
end

--- Puts dead letters back in the queue (ids: a list; default: all).
-- @return how many went back; or nil and why
function Queue:retry_dead(ids)
	check_self(self, "retry_dead")
	if ids ~= nil and type(ids) ~= "table" then
		usage("bad argument #1 to 'retry_dead' (a list of ids expected, got " .. type(ids) .. ")", 2)
	end
	local wanted = ids and {}
	for _, id in ipairs(ids or {}) do
		wanted[tostring(id)] = true
	end
	return self.store:retry_dead(wanted)
end

--- Flushes and closes; safe to call twice.
-- @return true; or nil and why the flush failed
function Queue:close()
	self.closed = true
	return self.store:close()
end
Queue.__close = Queue.close
Queue.__gc = Queue.close

return queue
