-- The sandbox's last minutes, a second at a time, for its dashboard: the
-- bucket's tokens at each second and the requests answered in it, by
-- status class. A second without a request gets the level the bucket had
-- then, worked out on a copy of it (the bucket itself only moves forward).

local history = {}

local KEEP = 300 -- seconds kept

local History = {}
History.__index = History

function history.new(bucket)
	return setmetatable({ bucket = bucket, samples = {}, last = nil }, History)
end

-- The bucket's tokens at time t (not before its last change), unchanged.
local function level_at(bucket, t)
	local copy = setmetatable({}, getmetatable(bucket))
	for k, v in pairs(bucket) do
		copy[k] = v
	end
	if not copy.continuous or t >= copy.updated then
		copy:refill(t)
	end
	return copy.tokens
end

local function sample(self, second, tokens)
	local s = self.samples[second]
	if not s then
		s = { t = second, tokens = tokens, ok = 0, client_error = 0, rate_limited = 0, server_error = 0 }
		self.samples[second] = s
		self.samples[second - KEEP] = nil
	end
	return s
end

--- Brings the history up to now, before a request changes the bucket:
-- the seconds since the last one get the level of their end.
function History:advance(now)
	local second = math.floor(now)
	local from = math.max((self.last or second) + 1, second - KEEP + 1)
	for s = from, second - 1 do
		sample(self, s, level_at(self.bucket, s + 0.999))
	end
	if not self.last or second > self.last then
		self.last = second
		sample(self, second, level_at(self.bucket, now))
	end
end

--- A request answered at now with status (0: dropped).
function History:count(now, status)
	local s = sample(self, math.floor(now), self.bucket.tokens)
	s.tokens = self.bucket.tokens
	if status == 429 then
		s.rate_limited = s.rate_limited + 1
	elseif status >= 500 or status == 0 then
		s.server_error = s.server_error + 1
	elseif status >= 400 then
		s.client_error = s.client_error + 1
	else
		s.ok = s.ok + 1
	end
end

--- The samples up to now, oldest first (GET /_sandbox/history).
function History:list(now)
	self:advance(now)
	local list = {}
	for s = self.last - KEEP + 1, self.last do
		list[#list + 1] = self.samples[s]
	end
	return list
end

return history
