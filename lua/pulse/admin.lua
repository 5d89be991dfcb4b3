-- pulse-lua --limiter URL --status | --reset | --reserve interactive=SHARE:
-- a shared rate-limit bucket's state, a fresh start for it (after a policy
-- change, or a bad state), or the share of each window it keeps for
-- interactive calls.

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
		string.format("  in flight  %d", r.in_flight),
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
	local buckets, why = core.limiter_status(limiter_url, bucket or nil)
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
	local count, why = core.limiter_reset(limiter_url, bucket or nil)
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
	-- A shm: URL's ?bucket=NAME names the bucket, not a part of the path.
	local open_url = limiter_url:find("^shm:") and limiter_url:gsub("[?].*$", "") or limiter_url
	local ok, limiter = pcall(core.limiter, { url = open_url, bucket = bucket })
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

return admin
