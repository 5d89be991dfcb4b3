-- The response cache: answers to GETs kept for a while, so that data that
-- rarely changes (services, staff, prices) does not spend the
-- organization's rate limit again. Entries are keyed by the organization
-- (the limiter's bucket name: a key rotation keeps them, another
-- organization never sees them) and the URL, its query sorted. In memory
-- they are bounded by an LRU; with a directory, the disk is the only tier:
-- a file per organization and path, holding that path's query variants,
-- written whole and renamed into place, 0600, so that processes naming the
-- directory share it. A file that cannot be read is a miss.

local core = require("pulse.core")
local json = require("pulse.json")

local cache = {}

local Cache = {}
Cache.__index = Cache

local DEFAULTS = { ttl = 60, max_entries = 1024, stale_if_error = 0 }

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
-- max_entries, dir, rules, stale_if_error).
function cache.new(opts)
	opts = opts == true and {} or opts
	local self = setmetatable({
		ttl = opts.ttl or DEFAULTS.ttl,
		max_entries = opts.max_entries or DEFAULTS.max_entries,
		stale_if_error = opts.stale_if_error or DEFAULTS.stale_if_error,
		rules = compile_rules(opts.rules),
		dir = opts.dir,
		entries = {}, -- key -> node of the LRU list
		count = 0,
	}, Cache)
	self.newest, self.oldest = nil, nil
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

-- ---- memory: an LRU list ------------------------------------------------

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

local function memory_get(self, key)
	local node = self.entries[key]
	if node then
		unlink(self, node)
		push_newest(self, node)
		return node.entry
	end
end

local function memory_put(self, key, entry)
	local node = self.entries[key]
	if node then
		unlink(self, node)
	else
		node = { key = key }
		self.entries[key] = node
		self.count = self.count + 1
	end
	node.entry = entry
	push_newest(self, node)
	while self.count > self.max_entries do
		local oldest = self.oldest
		unlink(self, oldest)
		self.entries[oldest.key] = nil
		self.count = self.count - 1
	end
end

local function memory_drop(self, org, base)
	for key, node in pairs(self.entries) do
		if node.entry.org == org and node.entry.base == base then
			unlink(self, node)
			self.entries[key] = nil
			self.count = self.count - 1
		end
	end
end

-- ---- disk: a file per organization and path -----------------------------

local function file_of(self, org, base)
	return self.dir .. "/" .. core.sha256(org .. "\n" .. base):sub(1, 40) .. ".json"
end

-- The variants stored for (org, base): query -> entry; {} when there are
-- none, or the file is not one of ours.
local function read_variants(self, org, base)
	local file = io.open(file_of(self, org, base), "rb")
	if not file then
		return {}
	end
	local text = file:read("a")
	file:close()
	local doc = json.decode(text or "")
	if type(doc) ~= "table" or doc.v ~= 1 or doc.org ~= org or doc.base ~= base or type(doc.variants) ~= "table" then
		return {}
	end
	return doc.variants
end

-- ---- the cache's operations ----------------------------------------------

-- The entry stored for url in org's cache, fresh or not, or nil.
function Cache:get(org, url)
	local base, query = split(url)
	local entry
	if self.dir then
		entry = read_variants(self, org, base)[query]
		local valid = type(entry) == "table"
			and type(entry.stored) == "number"
			and type(entry.ttl) == "number"
			and type(entry.body) == "string"
			and type(entry.headers) == "string"
		if not valid then
			return nil
		end
	else
		entry = memory_get(self, org .. "\n" .. base .. "?" .. query)
	end
	return entry
end

-- Stores an entry for url: { body, headers (the block), ttl, etag,
-- last_modified }, stamped now.
function Cache:put(org, url, entry)
	local base, query = split(url)
	entry.stored, entry.org, entry.base = core.epoch(), org, base
	if not self.dir then
		memory_put(self, org .. "\n" .. base .. "?" .. query, entry)
		return
	end
	local variants = read_variants(self, org, base)
	variants[query] = entry
	local text = json.encode({ v = 1, org = org, base = base, variants = variants })
	-- A cache that cannot write is a cache that misses, not a failed call.
	if text then
		core.write_private(file_of(self, org, base), text)
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
				os.remove(file_of(self, org, target))
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
