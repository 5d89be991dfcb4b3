-- A plan before the work: how many calls a job will spend, and how long
-- the organization's bucket, as it stands, makes them take. Nothing is
-- sent: the bucket's view is the limiter's (client:ratelimit()).

local options = require("pulse.options")

local plan = {}

--- The seconds calls take at the bucket of view (limit, window, remaining,
-- reset, blocked: client:ratelimit()'s), sent as fast as it allows: the
-- tokens left now, then limit at each refill. lanes (optional): `ahead`,
-- calls waiting before this job's (they take the first tokens), and
-- `held`, the tokens of each window the job's lane may take only shortly
-- before its refill (a bulk job and the reserve). A shared bucket's other
-- users spend it too: this is the least the job can take.
function plan.seconds(calls, view, lanes)
	local ahead, held = lanes and lanes.ahead or 0, lanes and lanes.held or 0
	local blocked = view.blocked or 0
	local available = blocked > 0 and 0 or view.remaining
	local need = calls + ahead
	if need <= available - math.min(held, available) then
		return 0
	end
	-- The reserve goes to bulk when the window has this little left (lanes.c).
	local early = math.min(1, view.window / 10)
	if need <= available then
		return math.max(0, view.reset - early)
	end
	local limit = view.limit > 0 and view.limit or 1
	local windows = math.ceil((need - available) / limit)
	local last = need - available - (windows - 1) * limit -- the calls of the last window
	local seconds = math.max(blocked, view.reset) + (windows - 1) * view.window
	return last > limit - held and seconds + view.window - early or seconds
end

-- The calls ahead of a new one in lane (by options.LANES), and the tokens
-- of each window it may not take early, at the bucket's lanes now.
local function lanes_for(lanes, lane, limit)
	local ahead = 0
	for name, rank in pairs(options.LANES) do
		if rank <= lane then
			ahead = ahead + (lanes.waiting[name] or 0)
		end
	end
	local held = lane == options.LANES.bulk and math.ceil(lanes.reserve * limit - 1e-9) or 0
	return { ahead = ahead, held = held }
end

--- A plan: { calls, seconds, rate, priority, ahead, reserve, ... } for
-- calls at client's bucket in the lane priority (default: the client's
-- own), with the fields of what (the job's own counts) copied in. When a
-- shared limiter's store cannot say who waits, the plan counts no one
-- (`lanes_unknown` says why).
function plan.make(client, calls, what, priority)
	local view = client:ratelimit()
	local lanes, why = client:lanes()
	priority = priority or (lanes and lanes.priority) or "normal"
	local p = {
		calls = calls,
		rate = { limit = view.limit, window = view.window, remaining = view.remaining, reset = view.reset },
		priority = priority,
		ahead = 0,
		reserve = 0,
		lanes_unknown = why,
	}
	local counts = lanes and lanes_for(lanes, options.LANES[priority], view.limit)
	if counts then
		p.ahead, p.reserve = counts.ahead, lanes.reserve
	end
	p.seconds = plan.seconds(calls, view, counts)
	for k, v in pairs(what or {}) do
		p[k] = v
	end
	return p
end

--- The plan in one line for a person: "120 calls, about 1 min 45 s (the
-- bucket: 60 calls every 60 s, 12 left now)", with the calls the cache
-- answers ("3 calls and 1 from the cache"), "at least" when the pages are
-- not known, and the lane when it matters ("; bulk lane, 3 calls ahead,
-- reserve 0.2 for interactive calls").
function plan.describe(p)
	local s = p.seconds
	local whole = math.ceil(s) -- rounded once: 179.4 s is 2 min 60 s otherwise
	local took = s < 1 and "at once"
		or s < 90 and string.format("about %d s", whole)
		or s < 5400 and string.format("about %d min %d s", whole // 60, whole % 60)
		or string.format("about %.1f h", s / 3600)
	local lane, ahead, reserve, priority = "", p.ahead or 0, p.reserve or 0, p.priority or "normal"
	if ahead > 0 or reserve > 0 or priority ~= "normal" then
		lane = string.format("; %s lane, %d call%s ahead", priority, ahead, ahead == 1 and "" or "s")
		if reserve > 0 then
			lane = lane .. string.format(", reserve %g for interactive calls", reserve)
		end
	end
	local cached = (p.cached or 0) > 0 and string.format(" and %d from the cache", p.cached) or ""
	return string.format(
		"%s%d call%s%s, %s (the bucket: %g calls every %g s, %d left now%s)",
		p.pages_known == false and "at least " or "",
		p.calls,
		p.calls == 1 and "" or "s",
		cached,
		took,
		p.rate.limit,
		p.rate.window,
		p.rate.remaining,
		lane
	)
end

return plan
