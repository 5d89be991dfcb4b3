-- pulse-lua --limiter URL --status | --reset | --reserve interactive=SHARE |
-- --top: a shared rate-limit bucket's state, a fresh start for it (after a
-- policy change, or a bad state), the share of each window it keeps for
-- interactive calls, or its state live.

local core = require("pulse.core")
local client = require("pulse.client")
local url = require("pulse.url")

local admin = {}

-- The bucket the URL means: its ?bucket=NAME, else the organization of
-- $PULSE_API_KEY and $PULSE_BASE_URL, named as pulse.new names it; false
-- (every bucket of a shm: file) when there is neither. A Redis URL must
-- name one: nil and why not, in the words of option (--status, --reset).
local function bucket_of(limiter_url, option)
	local named = limiter_url:match("[?&]bucket=([^&]+)")
	if named then
		return named
	end
	local key, base = os.getenv("PULSE_API_KEY"), os.getenv("PULSE_BASE_URL")
	local origin = base and url.origin(base)
	if key and key ~= "" and origin then
		return client.bucket_name(origin, key)
	end
	if limiter_url:find("^redis") then
		return nil, option .. ": name the bucket (?bucket=NAME), or set PULSE_API_KEY and PULSE_BASE_URL"
	end
	return false
end

-- The URL of the store itself: a shm: URL's ?bucket=NAME names a bucket,
-- not a part of the file's path.
local function store_url(limiter_url)
	return limiter_url:find("^shm:") and (limiter_url:gsub("[?].*$", "")) or limiter_url
end

local function describe(b)
	local r = b.rate
	local lines = {
		string.format("bucket %s", b.name),
		string.format("  policy     %g calls every %g s, bucket of %g", r.limit, r.window, r.burst),
		string.format(
			"  tokens     %d (%s), next refill in %.1f s%s",
			r.remaining,
			b.confirmed and "the server's word" or "predicted: the next request checks",
			r.reset,
			r.blocked > 0 and string.format(", blocked %.1f s more by a 429", r.blocked) or ""
		),
		string.format("  in flight  %d   answers of 429: %d", r.in_flight, b.rate_limited or 0),
		string.format(
			"  waiting    %d interactive, %d normal, %d bulk%s",
			b.waiting.interactive,
			b.waiting.normal,
			b.waiting.bulk,
			b.reserve > 0 and string.format("; reserve %g of each window for interactive calls", b.reserve) or ""
		),
		string.format(
			"  workers    %d %s",
			b.workers,
			b.shared_memory and "attached now" or "seen in the last minute"
		),
		b.observed >= 0 and string.format("  last answer %.1f s ago%s", b.observed, b.last_status == 429 and " (a 429)" or "")
			or "  last answer none yet",
	}
	if (b.clock_disagreements or 0) > 0 then
		lines[#lines + 1] = string.format(
			"  clocks     %d time(s) a worker found another's clock ahead of its own, last by %.1f s "
				.. "(a time namespace, or a fake clock): the waits were held to the policy",
			b.clock_disagreements,
			b.clock_disagreement
		)
	end
	if (b.repaired or 0) > 0 then
		lines[#lines + 1] = string.format("  repaired   %d value(s) of the file that were out of bounds", b.repaired)
	end
	if b.recovered > 0 then
		lines[#lines + 1] = string.format("  recovered  the lock of %d process(es) that died holding it", b.recovered)
	end
	return table.concat(lines, "\n")
end

-- Prints the bucket's state. Returns true, or nil and why not.
function admin.status(limiter_url)
	local bucket, missing = bucket_of(limiter_url, "--status")
	if bucket == nil then
		return nil, missing
	end
	local buckets, why = core.limiter_status(store_url(limiter_url), bucket or nil)
	local shared_memory = limiter_url:find("^shm:") ~= nil
	if not buckets then
		return nil, "--status: " .. why
	end
	local shown = 0
	for _, b in ipairs(buckets) do
		if not bucket or b.name == bucket then
			b.shared_memory = shared_memory
			print(describe(b))
			shown = shown + 1
		end
	end
	if shown == 0 then
		print("no bucket " .. (bucket or "") .. " there yet")
	end
	return true
end

-- Forgets the bucket (every bucket of a shm: file, with no bucket named).
-- Returns true, or nil and why not.
function admin.reset(limiter_url)
	local bucket, missing = bucket_of(limiter_url, "--reset")
	if bucket == nil then
		return nil, missing
	end
	local count, why = core.limiter_reset(store_url(limiter_url), bucket or nil)
	if not count then
		return nil, "--reset: " .. why
	end
	print(string.format("reset %d bucket%s", count, count == 1 and "" or "s"))
	return true
end

-- Sets the reserve, spec "interactive=SHARE": stored with the bucket (a
-- Redis URL's, or a shm: file's bucket named or of $PULSE_API_KEY), so
-- every process sharing it agrees. Returns true, or nil and why not.
function admin.reserve(limiter_url, spec)
	local share = spec and spec:match("^interactive=([%d.]+)$")
	share = tonumber(share)
	if not share or share < 0 or share > 1 then
		return nil, "--reserve takes interactive=SHARE, a share of each window from 0 to 1, not '"
			.. tostring(spec)
			.. "'"
	end
	local bucket, missing = bucket_of(limiter_url, "--reserve")
	if not bucket then
		return nil, missing or "--reserve: name the bucket (?bucket=NAME), or set PULSE_API_KEY and PULSE_BASE_URL"
	end
	local ok, limiter = pcall(core.limiter, { url = store_url(limiter_url), bucket = bucket })
	if not ok then
		return nil, "--reserve: " .. tostring(limiter)
	end
	local set, why = limiter:set_reserve(share)
	if not set then
		return nil, "--reserve: " .. why
	end
	print(string.format("bucket %s keeps %g of each window for interactive calls", bucket, share))
	return true
end

-- ---- --top ---------------------------------------------------------------------

-- How often --top looks, and how many past windows it shows.
local TOP_EVERY = 1
local TOP_WINDOWS = 4

local LANE_ORDER = { "interactive", "normal", "bulk" }

-- The tokens each process took in the window going on and in the ones
-- before: a window closes when the bucket's next refill moves later (it
-- refilled). Each process: { start = taken when the window began, past =
-- { newest first } }.
local function count_windows(seen, b)
	local refilled = seen.reset and b.rate.reset > seen.reset + 0.5
	seen.reset = b.rate.reset
	local rows = {}
	for _, p in ipairs(b.processes) do
		local w = seen[p.name] or { start = p.taken, past = {} }
		seen[p.name] = w
		for _, lane in ipairs(LANE_ORDER) do
			local now = (p.taken[lane] or 0) - (w.start[lane] or 0)
			if refilled then
				w.past[lane] = w.past[lane] or {}
				table.insert(w.past[lane], 1, now)
				w.past[lane][TOP_WINDOWS + 1] = nil
			end
			rows[#rows + 1] = { name = p.name, lane = lane, now = now, past = w.past[lane] or {} }
		end
		if refilled then
			w.start = p.taken
		end
	end
	-- Only the lanes a process has taken from, or took from before.
	local shown = {}
	for _, r in ipairs(rows) do
		local any = r.now > 0
		for _, n in ipairs(r.past) do
			any = any or n > 0
		end
		if any then
			shown[#shown + 1] = r
		end
	end
	return shown
end

local function queue_line(q)
	if not q then
		return nil
	end
	local s, why = q:stats()
	if not s then
		return "unreadable: " .. tostring(why)
	end
	return string.format("%d pending, %d uncertain, %d done, %d dead", s.pending, s.uncertain, s.done, s.dead)
end

-- The frame a terminal shows.
local function frame(b, rows, queue)
	local r = b.rate
	local lines = {
		string.format("bucket %s   (every %d s; Ctrl-C stops)", b.name, TOP_EVERY),
		string.format("  tokens     %d of %g, next refill in %.1f s (%g calls every %g s)%s", r.remaining,
			r.burst, r.reset, r.limit, r.window, r.blocked > 0 and string.format("; blocked %.1f s by a 429", r.blocked) or ""),
		string.format("  in flight  %d   answers of 429: %d", r.in_flight, b.rate_limited),
		string.format("  waiting    %d interactive, %d normal, %d bulk%s", b.waiting.interactive, b.waiting.normal,
			b.waiting.bulk, b.reserve > 0 and string.format("; reserve %g for interactive calls", b.reserve) or ""),
		string.format("  taken      this window | the %d before, newest first", TOP_WINDOWS),
	}
	for _, row in ipairs(rows) do
		local past = {}
		for i = 1, TOP_WINDOWS do
			past[i] = string.format("%5s", row.past[i] and tostring(row.past[i]) or "-")
		end
		lines[#lines + 1] =
			string.format("    %-24s %-12s %5d |%s", row.name, row.lane, row.now, table.concat(past))
	end
	if #rows == 0 then
		lines[#lines + 1] = "    (no token taken since --top began)"
	end
	if queue then
		lines[#lines + 1] = "  queue      " .. queue
	end
	return table.concat(lines, "\n") .. "\n"
end

-- The line a pipe gets each time.
local function line_of(b, rows, queue)
	local r = b.rate
	local taken = {}
	for _, row in ipairs(rows) do
		taken[#taken + 1] = string.format("%s/%s=%d", row.name:gsub(" ", ""), row.lane, row.now)
	end
	return string.format(
		"%s tokens=%d/%g refill_in=%.1f in_flight=%d waiting=%d/%d/%d 429s=%d taken=%s%s\n",
		os.date("%H:%M:%S"),
		r.remaining,
		r.burst,
		r.reset,
		r.in_flight,
		b.waiting.interactive,
		b.waiting.normal,
		b.waiting.bulk,
		b.rate_limited,
		#taken > 0 and table.concat(taken, ",") or "-",
		queue and " queue=" .. queue:gsub(", ", "/"):gsub(" %a+", "") or ""
	)
end

-- Shows the bucket live until Ctrl-C (or SIGTERM): redrawn on a terminal,
-- a line each time on a pipe. queue_url: a queue whose depth to show too.
-- Returns true, or nil and why not.
function admin.top(limiter_url, queue_url)
	local bucket, missing = bucket_of(limiter_url, "--top")
	if bucket == nil then
		return nil, missing
	end
	local q
	if queue_url then
		local why
		q, why = require("pulse.queue").open(queue_url)
		if not q then
			return nil, "--top: --queue " .. tostring(why)
		end
	end
	local tty, seen = core.isatty(1), {}
	core.stop_arm()
	while not core.stop_signal() do
		local buckets, why = core.limiter_status(store_url(limiter_url), bucket or nil)
		if not buckets then
			core.stop_disarm()
			return nil, "--top: " .. why
		end
		local b
		for _, each in ipairs(buckets) do
			b = b or ((not bucket or each.name == bucket) and each or nil)
		end
		if not b then
			io.write(tty and "\27[H\27[2J" or "", "no bucket ", bucket or "", " there yet\n")
		else
			local rows, queue = count_windows(seen, b), queue_line(q)
			io.write(tty and "\27[H\27[2J" .. frame(b, rows, queue) or line_of(b, rows, queue))
		end
		io.flush()
		core.sleep(TOP_EVERY)
	end
	core.stop_disarm()
	if q then
		q:close()
	end
	return true
end

return admin
