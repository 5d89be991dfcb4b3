-- The response cache: answers to GETs kept for a while, so that data that
-- rarely changes (services, staff, prices) does not spend the
-- organization's rate limit again. Entries are keyed by the organization
-- (the limiter's bucket name) and the URL, its query sorted; the request
-- path (send.lua) serves one only to a key the server has taken since it
-- came into use. In memory they are bounded by an LRU, in count and in
-- bytes. With a directory, the disk is the only tier: a file per entry,
-- written whole and renamed into place, 0600, in a 0700 directory of the
-- user's own, so that processes naming the directory share it; a
-- generation file per organization and path lets a write drop every query
-- variant at once, and a sweep now and then prunes what expired and keeps
-- the bounds. A file that cannot be read, or is not the user's own, is a
-- miss.

local core = require("pulse.core")
local json = require("pulse.json")

local cache = {}

local Cache = {}
Cache.__index = Cache

local DEFAULTS =
	{ ttl = 60, max_entries = 1024, max_bytes = 64 * 1024 * 1024, stale_if_error = 0, stale_while_revalidate = 0 }

-- A stored time this far ahead of the clock is no time this cache wrote:
-- such an entry is expired (processes sharing a directory share a clock).
local CLOCK_SLACK = 5

-- A writer's temporary file older than this was left by a crash.
local ABANDONED = 60

-- The rules as a list, longest pattern first: { pattern, ttl, match }.
local function compile_rules(rules)
	local list = {}
	for pattern, ttl in pairs(rules or {}) do
		if type(pattern) ~= "string" or type(ttl) ~= "number" or ttl < 0 or ttl ~= ttl then
			error("pulse: new: cache.rules maps path patterns to TTLs in seconds (>= 0), got " .. tostring(pattern), 4)
		end
		local match = "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-%?]", "%%%0"):gsub("%*", ".*") .. "$"
		list[#list + 1] = { pattern = pattern, ttl = ttl, match = match }
	end
	table.sort(list, function(a, b)
		return #a.pattern > #b.pattern or (#a.pattern == #b.pattern and a.pattern < b.pattern)
	end)
	return list
end

-- A cache from the client's cache option (true, or a table of ttl,
-- max_entries, max_bytes, dir, rules, stale_if_error,
-- stale_while_revalidate).
function cache.new(opts)
	opts = opts == true and {} or opts
	local self = setmetatable({
		ttl = opts.ttl or DEFAULTS.ttl,
		max_entries = opts.max_entries or DEFAULTS.max_entries,
		max_bytes = opts.max_bytes or DEFAULTS.max_bytes,
		stale_if_error = opts.stale_if_error or DEFAULTS.stale_if_error,
		stale_while_revalidate = opts.stale_while_revalidate or DEFAULTS.stale_while_revalidate,
		rules = compile_rules(opts.rules),
		dir = opts.dir,
		entries = {}, -- key -> node of the LRU list
		count = 0,
		bytes = 0,
		refused = 0, -- files in dir that were not the user's own, ignored
		puts = 0, -- to this dir since the last sweep
	}, Cache)
	self.newest, self.oldest = nil, nil
	-- The longest an entry may be of use: the longest TTL, then stale.
	local longest = self.ttl
	for _, rule in ipairs(self.rules) do
		longest = math.max(longest, rule.ttl)
	end
	self.lifetime = longest + math.max(self.stale_if_error, self.stale_while_revalidate)
	-- Sweep the directory every this many puts: the bounds then hold
	-- within an eighth.
	self.sweep_every = math.max(1, self.max_entries // 8)
	if self.dir then
		local ok, why = core.private_dir(self.dir)
		if not ok then
			error("pulse: new: cache.dir: " .. why, 3)
		end
	end
	return self
end

-- The URL without its query, and its query's parts sorted.
local function split(url)
	local base, query = url:match("^([^?#]*)%??([^#]*)")
	local parts = {}
	for part in query:gmatch("[^&]+") do
		parts[#parts + 1] = part
	end
	table.sort(parts)
	return base, table.concat(parts, "&")
end

-- The path of a URL (for rules): what follows its origin.
local function path_of(base)
	return base:match("^%a[%w+.-]*://[^/]*(.*)$") or base
end

-- The TTL for url: the per-call one, else the longest matching rule's,
-- else the cache's.
function Cache:ttl_for(url, per_call)
	if per_call then
		return per_call
	end
	local path = path_of((split(url)))
	if path == "" then
		path = "/"
	end
	for _, rule in ipairs(self.rules) do
		if path:find(rule.match) then
			return rule.ttl
		end
	end
	return self.ttl
end

-- What an entry weighs against max_bytes.
local function weight(entry)
	return #entry.body + #entry.headers
end

-- ---- memory: an LRU list, bounded in count and bytes ----------------------

local function unlink(self, node)
	if node.newer then
		node.newer.older = node.older
	else
		self.newest = node.older
	end
	if node.older then
		node.older.newer = node.newer
	else
		self.oldest = node.newer
	end
	node.newer, node.older = nil, nil
end

local function push_newest(self, node)
	node.older = self.newest
	if self.newest then
		self.newest.newer = node
	else
		self.oldest = node
	end
	self.newest = node
end

local function memory_remove(self, node)
	unlink(self, node)
	self.entries[node.key] = nil
	self.count = self.count - 1
	self.bytes = self.bytes - node.weight
end

local function memory_get(self, key)
	local node = self.entries[key]
	if node then
		unlink(self, node)
		push_newest(self, node)
		return node.entry
	end
end

local function memory_put(self, key, entry)
	local old = self.entries[key]
	if old then
		memory_remove(self, old)
	end
	local node = { key = key, entry = entry, weight = weight(entry) }
	self.entries[key] = node
	self.count = self.count + 1
	self.bytes = self.bytes + node.weight
	push_newest(self, node)
	while self.count > self.max_entries or self.bytes > self.max_bytes do
		memory_remove(self, self.oldest)
	end
end

local function memory_drop(self, org, base)
	for _, node in pairs(self.entries) do
		if node.entry.org == org and node.entry.base == base then
			memory_remove(self, node)
		end
	end
end

-- ---- disk: a file per entry ------------------------------------------------

local function hashed(...)
	return core.sha256(table.concat({ ... }, "\n")):sub(1, 40)
end

-- Reads a file of the cache: its text, or nil (missing, unreadable, or
-- not the user's own: then counted).
local function read(self, path)
	local text, _, refused = core.read_private(path)
	if refused then
		self.refused = self.refused + 1
	end
	return text
end

-- The generation of (org, base): a write bumps it, so that every query
-- variant stored under the one before is a miss from then on.
local function gen_file(self, org, base)
	return self.dir .. "/" .. hashed(org, base) .. ".gen"
end

local function generation(self, org, base)
	return read(self, gen_file(self, org, base)) or "0"
end

local function entry_file(self, org, base, query, gen)
	return self.dir .. "/" .. hashed(org, base, query, gen) .. ".entry"
end

-- The entry in a file's text when it is one of this cache's, for (org,
-- base, query), and not stored in the future; else nil.
local function decode_entry(text, org, base, query)
	local entry = json.decode(text or "")
	local valid = type(entry) == "table"
		and entry.v == 2
		and entry.org == org
		and entry.base == base
		and entry.query == query
		and type(entry.stored) == "number"
		and type(entry.ttl) == "number"
		and type(entry.body) == "string"
		and type(entry.headers) == "string"
	if not valid or entry.stored > core.epoch() + CLOCK_SLACK then
		return nil
	end
	return entry
end

-- Prunes the directory: the entries past their use, a crashed writer's
-- temporary files, generations older than any entry of use, then the
-- oldest entries until max_entries and max_bytes hold. Only the user's
-- own files are touched.
local function sweep(self)
	self.puts = 0
	local files = core.list_dir(self.dir)
	if not files then
		return
	end
	local now, kept, count, bytes = core.epoch(), {}, 0, 0
	for _, f in ipairs(files) do
		local age = now - f.mtime
		local path = self.dir .. "/" .. f.name
		if not f.mine then
			self.refused = self.refused + 1
		elseif f.name:find("%.entry$") then
			if age > self.lifetime then
				os.remove(path)
			else
				kept[#kept + 1] = f
				count, bytes = count + 1, bytes + f.size
			end
		elseif
			(f.name:find("%.tmp$") and age > ABANDONED)
			or ((f.name:find("%.gen$") or f.name:find("%.key$")) and age > self.lifetime)
		then
			os.remove(path)
		end
	end
	if count <= self.max_entries and bytes <= self.max_bytes then
		return
	end
	table.sort(kept, function(a, b)
		return a.mtime < b.mtime
	end)
	for _, f in ipairs(kept) do
		if count <= self.max_entries and bytes <= self.max_bytes then
			break
		end
		os.remove(self.dir .. "/" .. f.name)
		count, bytes = count - 1, bytes - f.size
	end
end

-- ---- the cache's operations ----------------------------------------------

-- The entry stored for url in org's cache, fresh or not, or nil.
function Cache:get(org, url)
	local base, query = split(url)
	if not self.dir then
		return memory_get(self, org .. "\n" .. base .. "?" .. query)
	end
	local path = entry_file(self, org, base, query, generation(self, org, base))
	return decode_entry(read(self, path), org, base, query)
end

-- Stores an entry for url: { body, headers (the block), ttl, etag,
-- last_modified }, stamped now. One heavier than max_bytes is not kept.
function Cache:put(org, url, entry)
	if weight(entry) > self.max_bytes then
		return
	end
	local base, query = split(url)
	entry.v, entry.stored, entry.org, entry.base, entry.query = 2, core.epoch(), org, base, query
	if not self.dir then
		memory_put(self, org .. "\n" .. base .. "?" .. query, entry)
		return
	end
	local text = json.encode(entry)
	-- A cache that cannot write is a cache that misses, not a failed call.
	if text then
		core.write_private(entry_file(self, org, base, query, generation(self, org, base)), text)
	end
	self.puts = self.puts + 1
	if self.puts >= self.sweep_every then
		sweep(self)
	end
end

-- A directory's record that the server took a key (by its digest, never
-- the key) for org: a process starting with that key may read what is
-- stored without first spending a call to show the key is good. It lasts
-- as long as an entry can be of use.
local function key_file(self, org, digest)
	return self.dir .. "/" .. hashed(org, digest) .. ".key"
end

--- Whether a process sharing the directory saw the server take the key
-- of digest for org, within the cache's lifetime.
function Cache:vouched(org, digest)
	if not self.dir then
		return false
	end
	local stamp = tonumber(read(self, key_file(self, org, digest)) or "")
	local now = core.epoch()
	return stamp ~= nil and stamp <= now + CLOCK_SLACK and now - stamp <= self.lifetime
end

--- Records (taken = true) or forgets (false) that the server took the key
-- of digest for org; a memory cache has no one to tell.
function Cache:vouch(org, digest, taken)
	if not self.dir then
		return
	end
	if taken then
		core.write_private(key_file(self, org, digest), string.format("%.3f", core.epoch()))
	else
		os.remove(key_file(self, org, digest))
	end
end

-- Drops the reads of a write's URL and of its parent list, whatever their
-- query.
function Cache:invalidate(org, url)
	local base = split(url)
	local parent = base:match("^(.*)/[^/]*$")
	for _, target in ipairs({ base, parent }) do
		if target then
			if self.dir then
				local gen = string.format("%x-%x", math.floor(core.epoch() * 1e6), math.random(0, 0x7fffffff))
				core.write_private(gen_file(self, org, target), gen)
			else
				memory_drop(self, org, target)
			end
		end
	end
end

-- How old an entry is, in seconds.
function cache.age(entry)
	return core.epoch() - entry.stored
end

-- Whether a response may be stored: a 200 without Cache-Control: no-store.
function cache.storable(status, headers)
	if status ~= 200 then
		return false
	end
	local control = headers["cache-control"]
	return not (control and control:lower():find("no%-store"))
end

return cache
