-- The counters behind client:stats(). Requests, bytes and latencies are
-- counted in C by the client's transport (pulse.core), on the request's
-- path; the client's own events (retries, 429s, throttling) here.

local stats = {}

local Stats = {}

-- The transport's counters read as fields too (on_progress callbacks get
-- this object).
local TRANSPORT_COUNTERS = { requests = true, bytes_received = true, bytes_sent = true }

Stats.__index = function(self, name)
	if TRANSPORT_COUNTERS[name] then
		return self.transport:stats()[name]
	end
	return Stats[name]
end

function stats.new(transport, limiter)
	return setmetatable({
		transport = transport,
		limiter = limiter,
		retries = 0,
		rate_limited = 0,
		throttled = 0,
		cache_hits = 0,
	}, Stats)
end

function Stats:record_retry()
	self.retries = self.retries + 1
end

function Stats:record_429()
	self.rate_limited = self.rate_limited + 1
end

function Stats:record_throttle(seconds)
	self.throttled = self.throttled + seconds
end

-- A copy, with latency percentiles in seconds.
function Stats:snapshot()
	local counted = self.transport:stats(true)
	return {
		requests = counted.requests,
		retries = self.retries,
		rate_limited = self.rate_limited,
		throttled = self.throttled,
		cache_hits = self.cache_hits,
		ignored_headers = self.limiter:ignored_headers(),
		bytes_received = counted.bytes_received,
		bytes_sent = counted.bytes_sent,
		latency = counted.latency,
	}
end

return stats
