-- pulse-lua --queue URL --status | --check | --accept-damage | --dead |
-- --retry-dead | --drain [--max-calls N] | --plan: a queue looked at,
-- decided on, or drained from the command line, by an operator who has no
-- script at hand. Each prints what it found and returns true, or nil and
-- why (then pulse-lua exits 1).

local plan = require("pulse.plan")
local pulse = require("pulse")
local queue = require("pulse.queue")
local state = require("pulse.queue.state")

local command = {}

-- Opens the queue at url, runs fn(q) (true, or nil and why) and closes
-- it; a failure is said in the words of option.
local function with_queue(url, option, fn)
	local q, why = queue.open(url)
	if not q then
		return nil, option .. ": " .. why
	end
	local ok
	ok, why = fn(q)
	q:close()
	if not ok then
		return nil, option .. ": " .. why
	end
	return true
end

local function clock(epoch)
	return os.date("%Y-%m-%d %H:%M:%S", math.ceil(epoch))
end

-- The counts, and what the writes in flight wait for.
function command.status(url)
	return with_queue(url, "--status", function(q)
		local s, why = q:stats()
		if not s then
			return nil, why
		end
		local lines = {
			"queue " .. url:gsub("//[^@/]*@", "//"), -- no password
			string.format("  pending    %d", s.pending),
			string.format("  in flight  %d (sent, outcome unknown)", s.uncertain),
			string.format("  done       %d (kept for the dedupe window)", s.done),
			string.format("  dead       %d", s.dead),
		}
		if s.settling > 0 then
			lines[3] = lines[3]
				.. string.format(
					", %d of them settling until %s: no drainer reconciles them before",
					s.settling,
					clock(s.settle_until)
				)
		end
		local damaged = q.store:damage()
		lines[#lines + 1] = #damaged == 0 and "  damaged    none"
			or string.format(
				"  damaged    %d stretch(es) of the journal (%s): see --check",
				#damaged,
				state.where(damaged)
			)
		print(table.concat(lines, "\n"))
		return true
	end)
end

-- A stream has no journal to damage, but may hold entries that are not
-- the queue's.
local function check_stream(q)
	local n, ids = q.store:foreign()
	if not n then
		return nil, ids
	end
	if n == 0 then
		print("every entry of the stream is the queue's")
		return true
	end
	print(string.format("%d entries of the stream are not the queue's: %s", n, table.concat(ids, ", ")))
	return nil, "another program added entries to the stream; a drain makes them dead letters"
end

-- Reads every record; reports damage, and the entries it touched.
function command.check(url)
	return with_queue(url, "--check", function(q)
		local ok, why = q:stats() -- reads every record there is
		if not ok then
			return nil, why
		end
		if q.store.foreign then
			return check_stream(q)
		end
		local damaged, touched, orphans = q.store:damage()
		if #damaged == 0 then
			print("no damage: every record reads whole")
			return true
		end
		print(string.format("damaged: %s", state.where(damaged)))
		print(string.format("%d entries whose state was in the damage (uncertain until reconciled):", #touched))
		for _, entry in ipairs(touched) do
			print(string.format("  %s  %s %s", entry.id, entry.method, entry.path))
		end
		if #orphans > 0 then
			local ids = table.concat(orphans, ", ")
			print(string.format("%d ids named after the damage whose push was in it (lost): %s", #orphans, ids))
		end
		return nil,
			"the journal is damaged; drain with accept_damage = true, or run --accept-damage, "
				.. "to reconcile the entries it touched and go on"
	end)
end

-- The operator's decision on damage: the journal kept aside, then
-- rewritten without it, the entries it touched uncertain.
function command.accept_damage(url)
	return with_queue(url, "--accept-damage", function(q)
		local damaged, touched = q.store:damage()
		if #damaged == 0 then
			print("no damage to accept")
			return true
		end
		local ok, why = q.store:claim({ workers = 1, lease = 60 })
		if not ok then
			return nil, why
		end
		local copy
		copy, why = q.store:accept_damage()
		q.store:release()
		if not copy then
			return nil, why
		end
		print(string.format("kept the damaged journal as %s", copy))
		print(string.format("%d entries are uncertain: the next drain reconciles them before sending any", #touched))
		return true
	end)
end

-- The dead letters, one a line.
function command.dead(url)
	return with_queue(url, "--dead", function(q)
		local list, why = q:dead()
		if not list then
			return nil, why
		end
		for _, e in ipairs(list) do
			print(string.format("%s  %s %s  attempts %d  %s", e.id, e.method, e.path, e.attempts or 0, e.reason or ""))
		end
		print(string.format("%d dead letter%s", #list, #list == 1 and "" or "s"))
		return true
	end)
end

-- A client of the environment ($PULSE_API_KEY, $PULSE_BASE_URL,
-- $PULSE_LIMITER), or nil and why not.
local function client_of_environment(option)
	local ok, client = pcall(pulse.new)
	if not ok then
		return nil, option .. ": " .. tostring(client):gsub("^[^:]*:%d+: ", "")
	end
	return client
end

-- The calls a drain would spend now, and the least time they take.
function command.plan(url)
	local client, why = client_of_environment("--plan")
	if not client then
		return nil, why
	end
	return with_queue(url, "--plan", function(q)
		local p, failed = q:plan(client)
		if not p then
			return nil, failed
		end
		print(string.format(
			"queue %s: %d pending, %d uncertain (without a reconcile, dead letters: no call)",
			url:gsub("//[^@/]*@", "//"),
			p.entries,
			p.uncertain
		))
		print("  " .. plan.describe(p))
		return true
	end)
end

-- Applies the queue with a client of the environment, in the bulk lane,
-- until it is empty, or max_calls calls are spent (the rest stay queued).
function command.drain(url, max_calls)
	local max = max_calls and math.tointeger(tonumber(max_calls))
	if max_calls and (not max or max < 1) then
		return nil, "--max-calls takes a whole number of calls, 1 or more, not '" .. max_calls .. "'"
	end
	local client, why = client_of_environment("--drain")
	if not client then
		return nil, why
	end
	return with_queue(url, "--drain", function(q)
		local report, failed = q:drain(client, { max_calls = max })
		if not report then
			return nil, failed
		end
		if report.would_write then
			local refused = 0
			for _, w in ipairs(report.would_write) do
				refused = refused + (w.refused and 1 or 0)
			end
			print(string.format(
				"dry run: %d write%s not sent (%d the catalog refuses), %d calls; the queue is as it was",
				#report.would_write,
				#report.would_write == 1 and "" or "s",
				refused,
				report.calls
			))
			return true
		end
		print(string.format(
			"%d done, %d dead, %d left, %d calls%s",
			report.done,
			report.dead,
			report.pending,
			report.calls,
			report.stopped == "max_calls" and string.format(" (--max-calls %d: run it again to go on)", max)
				or report.stopped and " (stopped by " .. tostring(report.stopped) .. ")"
				or ""
		))
		return true
	end)
end

-- Every dead letter back in the queue.
function command.retry_dead(url)
	return with_queue(url, "--retry-dead", function(q)
		local n, why = q:retry_dead()
		if not n then
			return nil, why
		end
		print(string.format("%d dead letter%s back in the queue", n, n == 1 and "" or "s"))
		return true
	end)
end

return command
