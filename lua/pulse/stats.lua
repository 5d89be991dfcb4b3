-- The counters behind client:stats(). Requests, bytes and latencies are
-- counted in C by the client's transport (pulse.core), on the request's
-- path; the client's own events (retries, 429s, throttling, the cache's
-- answers) here, and told to the process's metrics (client:metrics()).

local core = require("pulse.core")

local stats = {}

local Stats = {}
Stats.__index = Stats

-- cache: the client's response cache, or nil.
function stats.new(transport, limiter, cache)
	return setmetatable({
		transport = transport,
		limiter = limiter,
		cache = cache,
		retries = 0,
		rate_limited = 0,
		throttled = 0, -- wall time during which at least one request waited
		throttled_sum = 0, -- every request's waits added up
		throttled_until = 0, -- when the waits known so far end
		cache_hits = 0, -- answered from the cache, fresh
		cache_misses = 0, -- looked up, and nothing fresh there
		cache_revalidations = 0, -- a stale entry confirmed by a 304
		cache_stale = 0, -- a stale entry served on an error (stale_if_error)
		cache_refreshes = 0, -- stale entries served at once, refreshed behind (stale_while_revalidate)
		shared = 0, -- answers that rode along with a twin out already
		stale_served = 0, -- stale answers served, on an error or while refreshed behind
		replayed = 0, -- requests a replay's recording answered for (they count as requests)
		dry_run = 0, -- writes a dry run did not send
	}, Stats)
end

function Stats:record_retry()
	self.retries = self.retries + 1
	core.metrics_add("retry", 1)
end

-- An answer from the cache, fresh: a call saved.
function Stats:record_cache_hit()
	self.cache_hits = self.cache_hits + 1
	core.metrics_add("cache_hit", 1)
end

-- An answer that rode along with a twin out already: a call saved.
function Stats:record_shared()
	self.shared = self.shared + 1
	core.metrics_add("shared", 1)
end

-- A stale answer served (on an error, or while it is refreshed behind): a
-- call saved.
function Stats:record_stale()
	self.stale_served = self.stale_served + 1
	core.metrics_add("stale", 1)
end

-- A call a replay answered: the requests its recording made for it stand
-- for this run's, so that a replayed run counts what the recorded one spent.
function Stats:record_replayed(requests)
	self.replayed = self.replayed + requests
end

function Stats:record_dry_run()
	self.dry_run = self.dry_run + 1
end

function Stats:record_429()
	self.rate_limited = self.rate_limited + 1
end

-- A request is about to wait seconds for the rate limit: concurrent waits
-- overlap, so throttled counts the time they cover once.
function Stats:record_throttle(seconds)
	local now = core.now()
	local ends = now + seconds
	self.throttled_sum = self.throttled_sum + seconds
	core.metrics_add("token_wait", seconds)
	local from = math.max(now, self.throttled_until)
	if ends > from then
		self.throttled = self.throttled + (ends - from)
		self.throttled_until = ends
	end
end

-- The requests sent (every transmission; under a replay, those its
-- recording answered for too), without the rest of a snapshot.
function Stats:requests()
	return self.transport:stats().requests + self.replayed
end

-- A copy, with latency percentiles in seconds.
function Stats:snapshot()
	local counted = self.transport:stats(true)
	return {
		requests = counted.requests + self.replayed,
		replayed = self.replayed,
		dry_run = self.dry_run,
		retries = self.retries,
		rate_limited = self.rate_limited,
		throttled = self.throttled,
		throttled_sum = self.throttled_sum,
		cache_hits = self.cache_hits,
		cache_misses = self.cache_misses,
		cache_revalidations = self.cache_revalidations,
		cache_stale = self.cache_stale,
		cache_refreshes = self.cache_refreshes,
		cache_refused = self.cache and self.cache.refused or 0,
		shared = self.shared,
		stale_served = self.stale_served,
		ignored_headers = self.limiter:ignored_headers(),
		bytes_received = counted.bytes_received,
		bytes_sent = counted.bytes_sent,
		latency = counted.latency,
	}
end

return stats
