-- A plan before the work: how many calls a job will spend, and how long
-- the organization's bucket, as it stands, makes them take. Nothing is
-- sent: the bucket's view is the limiter's (client:ratelimit()).

local plan = {}

--- The seconds calls take at the bucket of view (limit, window, remaining,
-- reset, blocked: client:ratelimit()'s), sent as fast as it allows: the
-- tokens left now, then limit at each refill. A shared bucket's other
-- users spend it too: this is the least the job can take.
function plan.seconds(calls, view)
	local blocked = view.blocked or 0
	local available = blocked > 0 and 0 or view.remaining
	if calls <= available then
		return 0
	end
	local limit = view.limit > 0 and view.limit or 1
	local windows = math.ceil((calls - available) / limit)
	return math.max(blocked, view.reset) + (windows - 1) * view.window
end

--- A plan: { calls, seconds, rate, ... } for calls at client's bucket,
-- with the fields of what (the job's own counts) copied in.
function plan.make(client, calls, what)
	local view = client:ratelimit()
	local p = {
		calls = calls,
		seconds = plan.seconds(calls, view),
		rate = { limit = view.limit, window = view.window, remaining = view.remaining, reset = view.reset },
	}
	for k, v in pairs(what or {}) do
		p[k] = v
	end
	return p
end

--- The plan in one line for a person: "120 calls, about 1 min 45 s (the
-- bucket: 60 calls every 60 s, 12 left now)".
function plan.describe(p)
	local s = p.seconds
	local took = s < 1 and "at once"
		or s < 90 and string.format("about %d s", math.ceil(s))
		or s < 5400 and string.format("about %d min %d s", s // 60, math.ceil(s % 60))
		or string.format("about %.1f h", s / 3600)
	return string.format(
		"%d call%s, %s (the bucket: %g calls every %g s, %d left now)",
		p.calls,
		p.calls == 1 and "" or "s",
		took,
		p.rate.limit,
		p.rate.window,
		p.rate.remaining
	)
end

return plan
