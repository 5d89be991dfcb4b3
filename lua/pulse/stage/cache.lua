-- The cache stage of the request path (send.lua's stage list): the
-- response cache's policy for a client made with the cache option. The
-- store itself is cache.lua; this is when it is read, refreshed and
-- written.
--   open:    a write drops the cached reads of its path; a GET with a fresh
--            entry is answered from it, without a token; a stale entry is
--            kept, to revalidate (its validators go with the request) or to
--            serve on an error; in a task, within stale_while_revalidate,
--            it is served at once, and one refresh of it goes out behind,
--            in its own task, in the bulk lane (it waits for tokens
--            nobody else wants). With a shared limiter and a cache
--            directory, the processes sharing them fetch a missing entry
--            once: one claims the fetch in the limiter's store, the others
--            wait for what it stores (res.shared), and take over when its
--            claim lapses or it dies.
--   outcome: a 304 confirms the stale entry; a 503, or no answer (no
--            connection, a timeout, a connection lost), serves it when
--            stale_if_error allows.
--   close:   a write's end drops the reads it changed (again: a read may
--            have refilled them meanwhile); a GET's sound success is
--            stored, unless it says no-store or holds a key. Nothing
--            stored is served to a key the server has not taken since it
--            came into use (line.key_vouched), so a wrong key never reads
--            what a right one stored; in a directory, that the server took
--            a key is kept too (by its digest), so a later process with
--            the same key reads without a call first.

local cache = require("pulse.cache")
local core = require("pulse.core")
local errors = require("pulse.errors")
local response = require("pulse.response")
local secrets = require("pulse.secrets")
local tasks = require("pulse.tasks")

local stage = { name = "cache" }

local WRITES = require("pulse.request").WRITES

-- Only a client with a cache has the stage on its line.
function stage.applies(line)
	return line.cache ~= nil
end

-- What an answer from the origin says of the key in use: a success (or a
-- 304) shows the server takes it, a 401 or 403 that it does not.
local function key_answered(line, status)
	if status == 401 or status == 403 then
		if line.key_vouched then
			line.cache:vouch(line.bucket, line.key_digest, false)
		end
		line.key_vouched = false
	elseif ((status >= 200 and status < 300) or status == 304) and not line.key_vouched then
		line.key_vouched = true
		line.cache:vouch(line.bucket, line.key_digest, true)
	end
end

-- Tells the call's observer (its hooks, the trace) what the cache did.
local function tell(call, status)
	if call.observer then
		call.observer:cache(call, status)
	end
end

-- What a call answered from the cache returns: the stored body (decoded
-- as the call asks) and a res that says so. flag: "revalidated" or
-- "stale", or nil for a fresh entry.
local function from_entry(call, entry, flag)
	local headers = core.headers(entry.headers)
	local res = response.new(200, headers, call.sent, call.waited, core.now() - call.started, call.line.limiter:view())
	res.from_cache = true
	if flag then
		res[flag] = true
	end
	if not call.req.decode then
		return entry.body, res
	end
	local body, why = response.body(entry.body, headers)
	if body == nil then
		return nil, errors.new({ kind = "decode", message = why, method = call.req.method, url = call.req.url, res = res })
	end
	return body, res
end

-- The one refresh of a stale entry served at once: a GET of its URL in
-- the bulk lane, which revalidates it (line.revalidating lets it past the
-- serving below) and stores what comes. Its answer is nobody's.
local function refresh(line, url, ttl)
	-- Done, failed, or its task closed by a run that failed: the next
	-- stale hit may refresh again.
	local _ <close> = setmetatable({}, {
		__close = function()
			line.refreshing[url] = nil
		end,
	})
	line.revalidating = url
	pcall(line.client.request, line.client, "GET", url, { priority = "bulk", cache = { ttl = ttl } })
end

-- Serves entry, stale, at once and sends its refresh behind, when the
-- cache allows (stale_while_revalidate) and a task can wait for the
-- refresh. true and the answer, or nothing.
local function while_revalidating(call, entry, ttl)
	local line, url = call.line, call.req.url
	local store = line.cache
	if cache.age(entry) >= ttl + store.stale_while_revalidate or not tasks.current() then
		return
	end
	line.refreshing = line.refreshing or {}
	if not line.refreshing[url] then
		line.refreshing[url] = true
		line.stats.cache_refreshes = line.stats.cache_refreshes + 1
		tasks.spawn(refresh, line, url, ttl)
	end
	line.stats:record_stale()
	tell(call, "stale")
	return true, from_entry(call, entry, "stale")
end

-- How long a fetch claimed for the other processes may take before another
-- process takes it over, and how often the others look for its answer.
local CLAIM_LEASE = 10
local CLAIM_POLL = 0.05

-- The entry of url, fresh or stale, when the key in use may read it (the
-- server took the key, in this process or, by the directory, another);
-- else nil.
local function readable_entry(line, url)
	local store = line.cache
	if not line.key_vouched and store:vouched(line.bucket, line.key_digest) then
		line.key_vouched = true
	end
	return line.key_vouched and store:get(line.bucket, url) or nil
end

-- A fresh entry of url the key may read, or nil.
local function fresh_entry(line, url, ttl)
	local entry = readable_entry(line, url)
	return entry and cache.age(entry) < ttl and entry or nil
end

-- Another process of the shared limiter may be fetching url into the
-- shared directory: claims the fetch, or waits (within the call's budget)
-- for the entry the fetcher stores. true and the answer when it came that
-- way; nothing when this call fetches (call.claimed, unclaimed at close).
local function fetch_once(call, ttl)
	local line, url = call.line, call.req.url
	local name = core.sha256(line.bucket .. " " .. url)
	local deadline = core.now() + line.budget
	while true do
		local mine = line.limiter:claim(name, CLAIM_LEASE)
		if mine ~= false then -- this process's, or the store is away: fetch
			call.claimed = mine and name or nil
		else
			tasks.sleep(CLAIM_POLL)
		end
		-- Looked again: a fetcher may have stored it and let its claim go
		-- since this call first looked.
		local entry = fresh_entry(line, url, ttl)
		if not entry and mine ~= false then
			return
		end
		if entry then
			if call.claimed then
				line.limiter:unclaim(name)
				call.claimed = nil
			end
			line.stats:record_cache_hit()
			tell(call, "shared")
			local body, res = from_entry(call, entry)
			if res and res.from_cache then
				res.shared = true
			end
			return true, body, res
		end
		if core.now() >= deadline then
			return -- waited the budget: fetch it itself
		end
	end
end

-- What the cache holds for a GET of url that the key in use may read:
-- the body (decoded when it is JSON) and whether it is fresh by its TTL
-- (per_call, else the rules'); nil when nothing, or it does not decode.
-- Nothing is sent or counted: a plan looks (client:cached).
function stage.peek(line, url, per_call)
	local entry = readable_entry(line, url)
	if not entry then
		return nil
	end
	local body = response.body(entry.body, core.headers(entry.headers))
	if body == nil then
		return nil
	end
	return body, cache.age(entry) < line.cache:ttl_for(url, per_call)
end

function stage.open(call)
	local line, req = call.line, call.req
	local store = line.cache
	-- The refresh sets it just before its call comes here, without a yield
	-- between: whoever comes next is no refresh.
	local own_refresh = line.revalidating == req.url
	line.revalidating = nil
	if req.cache == false then
		return
	end
	if WRITES[req.method] then
		store:invalidate(line.bucket, req.url)
		call.invalidates = true
		return
	end
	if req.method ~= "GET" then
		return
	end
	local ttl = store:ttl_for(req.url, type(req.cache) == "table" and req.cache.ttl or nil)
	if ttl <= 0 then
		return
	end
	call.cache_ttl = ttl
	local entry = readable_entry(line, req.url)
	local stats = line.stats
	if entry and cache.age(entry) < ttl then
		stats:record_cache_hit()
		tell(call, "hit")
		return true, from_entry(call, entry)
	end
	stats.cache_misses = stats.cache_misses + 1
	if not entry then
		if line.shared and store.dir then
			return fetch_once(call, ttl)
		end
		return
	end
	if store.stale_while_revalidate > 0 and not own_refresh then
		local served, a, b = while_revalidating(call, entry, ttl)
		if served then
			return true, a, b
		end
	end
	call.stale = entry
	local lines = { table.unpack(req.headers or {}) }
	if entry.etag then
		lines[#lines + 1] = "If-None-Match: " .. entry.etag
	end
	if entry.last_modified then
		lines[#lines + 1] = "If-Modified-Since: " .. entry.last_modified
	end
	req.headers = lines
end

function stage.outcome(call)
	local entry = call.stale
	if not entry then
		return
	end
	local line, status = call.line, call.status
	local store, stats = line.cache, line.stats
	if status == 304 then
		store:put(line.bucket, call.req.url, entry) -- stamped now: fresh again
		stats.cache_revalidations = stats.cache_revalidations + 1
		tell(call, "revalidated")
		return true, from_entry(call, entry, "revalidated")
	end
	local failure = call:failure_kind()
	local unreachable = failure == "no_connection" or failure == "timeout" or failure == "network"
	if (status == 503 or unreachable) and cache.age(entry) < entry.ttl + store.stale_if_error then
		stats.cache_stale = stats.cache_stale + 1
		stats:record_stale()
		tell(call, "stale")
		return true, from_entry(call, entry, "stale")
	end
end

-- Whether an answer is sound enough to store: it decoded and carries no
-- error object, or, kept as it came (decode = false), it has the length
-- the server declared.
local function sound(call, value)
	if value == nil then
		return false
	elseif call.req.decode then
		return not response.error_object(value)
	end
	local declared = tonumber(call.headers["content-length"] or "")
	return declared == nil or declared == #call.body
end

-- What close does but for the claim.
local function store_answer(call, value, second)
	local line, req, status = call.line, call.req, call.status
	if status and not call.hop.foreign then
		key_answered(line, status)
	end
	if call.invalidates then
		line.cache:invalidate(line.bucket, req.url)
		return value, second
	end
	if not status or not call.cache_ttl or call.hop ~= req or not sound(call, value) then
		return value, second
	end
	local headers, body = call.headers, call.body
	if not cache.storable(status, headers) then
		return value, second
	end
	local block, client = tostring(headers), line.client
	if secrets.redact(client, body) ~= body or secrets.redact(client, block) ~= block then
		return value, second
	end
	line.cache:put(line.bucket, req.url, {
		body = body,
		headers = block,
		ttl = call.cache_ttl,
		etag = headers.etag,
		last_modified = headers["last-modified"],
	})
	tell(call, "stored")
	return value, second
end

-- The answer is stored (or will not be): the processes waiting on the
-- claim of its fetch go on.
function stage.close(call, value, second)
	value, second = store_answer(call, value, second)
	if call.claimed then
		call.line.limiter:unclaim(call.claimed)
		call.claimed = nil
	end
	return value, second
end

return stage
