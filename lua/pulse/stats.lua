-- The counters behind client:stats().

local stats = {}

local Stats = {}
Stats.__index = Stats

-- Latency percentiles come from the most recent requests only.
local LATENCY_WINDOW = 1024

function stats.new()
	return setmetatable({
		requests = 0,
		retries = 0,
		rate_limited = 0,
		throttled = 0,
		cache_hits = 0,
		bytes_received = 0,
		bytes_sent = 0,
		latencies = {},
		next_latency = 1,
	}, Stats)
end

function Stats:record_request(elapsed, received, sent)
	self.requests = self.requests + 1
	self.bytes_received = self.bytes_received + (type(received) == "string" and #received or 0)
	self.bytes_sent = self.bytes_sent + (sent and #sent or 0)
	self.latencies[self.next_latency] = elapsed
	self.next_latency = self.next_latency % LATENCY_WINDOW + 1
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

local function percentile(sorted, p)
	if #sorted == 0 then
		return nil
	end
	return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- A copy, with latency percentiles in seconds.
function Stats:snapshot()
	local sorted = table.move(self.latencies, 1, #self.latencies, 1, {})
	table.sort(sorted)
	return {
		requests = self.requests,
		retries = self.retries,
		rate_limited = self.rate_limited,
		throttled = self.throttled,
		cache_hits = self.cache_hits,
		bytes_received = self.bytes_received,
		bytes_sent = self.bytes_sent,
		latency = { p50 = percentile(sorted, 0.5), p90 = percentile(sorted, 0.9), p99 = percentile(sorted, 0.99) },
	}
end

return stats
