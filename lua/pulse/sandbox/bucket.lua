-- The sandbox's organization-wide token bucket, as PULSE_API.md describes
-- it: LIMIT tokens are added every WINDOW seconds, never above BURST. It is
-- written apart from the client's model on purpose: tests of one against
-- the other would prove nothing if both were the same code.

local bucket = {}

local Bucket = {}
Bucket.__index = Bucket

-- refill: "window" (LIMIT at once every WINDOW, as PULSE_API.md says) or
-- "continuous" (LIMIT/WINDOW a second, trickling in): a bucket other than
-- the one the client models, to show the client copes with either.
function bucket.new(limit, window, burst, now, refill)
	return setmetatable({
		limit = limit,
		window = window,
		burst = burst,
		tokens = burst,
		started = now,
		updated = now,
		continuous = refill == "continuous",
		next_refill = now + window,
	}, Bucket)
end

-- Seconds since the bucket started full: benchmarks work out from it how
-- many calls the policy allowed by a given time.
function Bucket:age(now)
	return now - self.started
end

function Bucket:refill(now)
	if self.continuous then
		self.tokens = math.min(self.burst, self.tokens + (now - self.updated) * self.limit / self.window)
		self.updated = now
		-- The next whole token.
		local missing = math.ceil(self.tokens) - self.tokens
		self.next_refill = now + (missing > 0 and missing or 1) * self.window / self.limit
		return
	end
	if now >= self.next_refill then
		local periods = math.floor((now - self.next_refill) / self.window) + 1
		self.tokens = math.min(self.burst, self.tokens + periods * self.limit)
		self.next_refill = self.next_refill + periods * self.window
	end
end

-- Takes a token: true, or false when the bucket is empty.
function Bucket:take(now)
	self:refill(now)
	if self.tokens >= 1 then
		self.tokens = self.tokens - 1
		return true
	end
	return false
end

-- Whole seconds until the next refill, rounded up: a client that waits
-- this long finds the tokens there.
function Bucket:reset_in(now)
	return math.ceil(self.next_refill - now)
end

local function number_text(n)
	return math.type(n) == "float" and n == math.floor(n) and string.format("%d", n) or tostring(n)
end

function Bucket:headers(now)
	self:refill(now)
	return {
		{
			"Organization-RateLimit-Limit",
			string.format("%s;w=%s;b=%s", number_text(self.limit), number_text(self.window), number_text(self.burst)),
		},
		{ "RateLimit-Remaining", string.format("%d", math.floor(self.tokens)) },
		{ "RateLimit-Reset", string.format("%d", self:reset_in(now)) },
	}
end

return bucket
