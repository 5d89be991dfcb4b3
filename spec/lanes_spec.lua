-- Lanes on the organization's bucket (core/lanes.c, and its port in
-- redis_bucket.lua): when tokens are short, waiting interactive calls take
-- them before normal ones, normal before bulk, each lane in its order of
-- arrival, on every backend; a reserve keeps a share of each window from
-- bulk calls until shortly before the refill. Then the same between real
-- processes, on shm: and Redis, the order of service read from the
-- sandbox's log.

local core = require("pulse.core")
local redis = require("support.redis")
local support = require("support.sandbox")

local POLICY = "Organization-RateLimit-Limit: %d;w=%d;b=%d\r\n"

-- A response's header block: Remaining and Reset, and the policy when given.
local function answer(remaining, reset, limit, window)
	return (limit and POLICY:format(limit, window, limit) or "")
		.. string.format("RateLimit-Remaining: %d\r\nRateLimit-Reset: %d\r\n", remaining, reset)
end

describe("lanes on a bucket", function()
	local server, temp = nil, {}

	setup(function()
		server = redis.start()
	end)

	teardown(function()
		server:stop()
		for _, path in ipairs(temp) do
			os.remove(path)
		end
	end)

	-- Each backend's limiter on a new bucket of limit per window.
	local function limiters(name, limit, window)
		local shm = support.temp_path()
		temp[#temp + 1] = shm
		local policy = { limit = limit, window = window, burst = limit }
		local function with(fields)
			for k, v in pairs(policy) do
				fields[k] = v
			end
			return fields
		end
		return {
			["this process's"] = core.ratelimit(limit, window, limit),
			["shm:"] = core.limiter(with({ url = "shm:" .. shm, bucket = name })),
			["redis://"] = core.limiter(with({ url = server.url .. "/?bucket=" .. name })),
		}
	end

	-- A caller in lane: asks, and keeps its place in line between asks.
	local function caller(rl, lane)
		local place = 0
		return function()
			local wait, second = rl:take(nil, lane, place)
			if wait == 0 then
				place = 0
				return true
			end
			place = second
			assert.is_true(place > 0, "a caller told to wait has a place")
			return false, wait
		end
	end

	-- A bucket confirmed by a first answer, then emptied by requests whose
	-- answers are still out: their tickets, in order.
	local function emptied(rl, limit)
		local taken, first = rl:take()
		assert.are.equal(0, taken)
		rl:observe(200, answer(limit - 1, 50, limit, 60), nil, first)
		local out = {}
		for i = 1, limit - 1 do
			taken, out[i] = rl:take()
			assert.are.equal(0, taken, "token " .. i)
		end
		return out
	end

	it("gives the next tokens to interactive callers, then normal, then bulk, each in order of arrival", function()
		for name, rl in pairs(limiters("order", 5, 60)) do
			local out = emptied(rl, 5)
			local bulk1, normal, interactive, bulk2 =
				caller(rl, "bulk"), caller(rl, "normal"), caller(rl, "interactive"), caller(rl, "bulk")
			-- All four wait, in this order of arrival.
			for _, ask in ipairs({ bulk1, normal, interactive, bulk2 }) do
				assert.is_false(ask(), name)
			end
			-- One answer frees one token (3 said left, 3 still out): whoever
			-- asks first, only the interactive caller takes it.
			rl:observe(200, answer(3, 49), nil, out[1])
			rl:observe(200, answer(3, 49), nil, out[2])
			assert.is_false(bulk1(), name .. ": bulk waits behind normal and interactive")
			assert.is_false(normal(), name .. ": normal waits behind interactive")
			assert.is_true(interactive(), name .. ": interactive first")
			-- The next: normal's.
			rl:observe(200, answer(3, 49), nil, out[3])
			assert.is_false(bulk2(), name)
			assert.is_false(bulk1(), name)
			assert.is_true(normal(), name .. ": normal next")
			-- Then the bulk callers, the first come first.
			rl:observe(200, answer(3, 49), nil, out[4])
			assert.is_false(bulk2(), name .. ": the second bulk caller waits for the first")
			assert.is_true(bulk1(), name .. ": the first bulk caller first")
		end
	end)

	it("shows the reserve and who waits in each lane, on every backend", function()
		for name, rl in pairs(limiters("shown-" .. math.random(1e6), 4, 60)) do
			assert.are.same({ reserve = 0, waiting = { interactive = 0, normal = 0, bulk = 0 } }, rl:lanes(), name)
			assert.is_true(rl:set_reserve(0.25), name)
			emptied(rl, 4)
			local bulk1, bulk2, interactive = caller(rl, "bulk"), caller(rl, "bulk"), caller(rl, "interactive")
			for _, ask in ipairs({ bulk1, bulk2, interactive }) do
				assert.is_false(ask(), name)
			end
			local lanes = rl:lanes()
			assert.are.same({ reserve = 0.25, waiting = { interactive = 1, normal = 0, bulk = 2 } }, lanes, name)
		end
	end)

	it("holds no token for a caller that left, or never came back", function()
		for name, rl in pairs(limiters("leave", 3, 60)) do
			local out = emptied(rl, 3)
			local _, place = rl:take(nil, "interactive", 0)
			assert.is_true(place > 0, name)
			rl:observe(200, answer(1, 49), nil, out[1])
			rl:observe(200, answer(1, 49), nil, out[2])
			local bulk = caller(rl, "bulk")
			assert.is_false(bulk(), name .. ": held for the interactive caller")
			rl:leave(place)
			assert.is_true(bulk(), name .. ": the caller left: the token is bulk's")
		end
		-- A caller that is not back by its wait and a grace lapses (this
		-- process's bucket, on a clock of the spec's).
		local rl = core.ratelimit(1, 60, 1, 0)
		assert.are.equal(0, (rl:take(0)))
		rl:observe(200, answer(0, 50, 1, 60), 0.01)
		assert.is_true(rl:take(0.02, "interactive", 0) > 40, "told to come back at the refill, 50 s on")
		local wait, place = rl:take(51, "bulk", 0)
		assert.is_true(wait > 0, "refilled: the one token is held for the interactive caller, not back yet")
		assert.are.equal(
			0,
			(rl:take(53, "bulk", place)),
			"not back 2 s after its wait: it lapsed, and the token is the next caller's"
		)
	end)

	it("keeps a reserve from bulk callers until shortly before the refill, then lets them spend it", function()
		for name, rl in pairs(limiters("reserve", 10, 3)) do
			assert.is_true(rl:set_reserve(0.2), name)
			local taken, first = rl:take(nil, "bulk")
			assert.are.equal(0, taken)
			rl:observe(200, answer(9, 3, 10, 3), nil, first)
			-- 9 left, 2 of them the reserve: bulk takes 7.
			for i = 1, 7 do
				assert.are.equal(0, (rl:take(nil, "bulk", 0)), name .. ": bulk token " .. i)
			end
			local bulk = caller(rl, "bulk")
			local ok, wait = bulk()
			assert.is_false(ok, name .. ": the reserve is not bulk's")
			-- It is let go 0.3 s (a tenth of the window) before the refill.
			assert.is_true(wait > 1.5 and wait < 3, name .. ": told to come back at the release, not " .. wait)
			-- An interactive caller spends one of the reserve; normal callers
			-- are not held by it.
			assert.are.equal(0, (rl:take(nil, "interactive", 0)), name)
			assert.is_false(bulk(), name .. ": one token of the reserve left")
			-- At the release bulk spends the rest, so none is lost at the refill.
			os.execute(string.format("sleep %.2f", wait + 0.02))
			assert.is_true(bulk(), name .. ": the reserve's last token is bulk's at the release")
		end
	end)

	it("keeps the order of the callers that waited out a 429: interactive first when the block ends", function()
		for name, rl in pairs(limiters("blocked", 1, 2)) do
			local taken, first = rl:take()
			assert.are.equal(0, taken)
			rl:observe(429, "Retry-After: 1\r\n" .. POLICY:format(1, 2, 1), nil, first)
			local bulk, interactive = caller(rl, "bulk"), caller(rl, "interactive")
			local _, wait = bulk()
			assert.is_true(wait > 0.5, name .. ": blocked by the 429, told " .. wait)
			assert.is_false(interactive(), name)
			os.execute(string.format("sleep %.2f", wait + 0.15))
			-- The bulk caller, first to come back, waits for the interactive one.
			assert.is_false(bulk(), name .. ": the one token after the block is not bulk's")
			assert.is_true(interactive(), name .. ": the interactive caller first")
		end
	end)

	it("sets the reserve from the command line, where every process of the bucket reads it", function()
		local shm = support.temp_path()
		temp[#temp + 1] = shm
		local function runner(args)
			return support.run(support.BIN .. "/pulse-lua --limiter " .. args)
		end
		local out, err, code = runner("shm:" .. shm .. "?bucket=front --reserve interactive=0.25")
		assert.are.equal(0, code, err)
		assert.are.equal("bucket front keeps 0.25 of each window for interactive calls\n", out)
		out = runner("shm:" .. shm .. " --status")
		assert.truthy(out:find("waiting    0 interactive, 0 normal, 0 bulk; reserve 0.25 of each window", 1, true), out)
		local rl = core.limiter({ url = "shm:" .. shm, bucket = "front", limit = 8, window = 60, burst = 8 })
		local taken, first = rl:take(nil, "bulk")
		assert.are.equal(0, taken)
		rl:observe(200, answer(7, 50, 8, 60), nil, first)
		for i = 1, 5 do
			assert.are.equal(0, (rl:take(nil, "bulk", 0)), "bulk token " .. i)
		end
		assert.is_true(rl:take(nil, "bulk", 0) > 1, "the last 2 of 8 are the reserve another process set")
		local url = server.url .. "/?bucket=front-" .. math.random(1e6)
		out, err, code = runner(url .. " --reserve interactive=0.5")
		assert.are.equal(0, code, err)
		assert.truthy(out:find("keeps 0.5", 1, true), out)
		out = runner(url .. " --status")
		assert.truthy(out:find("reserve 0.5 of each window", 1, true), out)
		out, err, code = runner("shm:" .. shm .. "?bucket=front --reserve bulk=0.2")
		assert.are.equal(1, code, out)
		assert.truthy(err:find("--reserve takes interactive=SHARE, a share of each window from 0 to 1, not 'bulk=0.2'", 1, true), err)
	end)

	it("refuses a lane or a reserve it does not know, naming them", function()
		local rl = core.ratelimit(5, 60, 5)
		local ok, err = pcall(rl.take, rl, nil, "urgent")
		assert.is_false(ok)
		assert.truthy(tostring(err):find('"interactive", "normal" or "bulk"', 1, true), err)
		local set, why = rl:set_reserve(1.5)
		assert.is_nil(set)
		assert.truthy(why:find("from 0 to 1", 1, true), why)
	end)
end)

describe("lanes between processes", function()
	local server, sandbox, shm

	setup(function()
		server = redis.start()
		shm = support.temp_path()
	end)

	teardown(function()
		server:stop()
		os.remove(shm)
	end)

	after_each(function()
		if sandbox then
			sandbox:stop()
			sandbox = nil
		end
	end)

	-- Starts a lane worker (spec/support/lane_worker.lua); its output file.
	local function start(limiter, lane, path, count, concurrency, pause)
		local out = support.temp_path()
		support.background(
			string.format(
				"PULSE_API_KEY=%s %s/pulse-lua spec/support/lane_worker.lua %s %s %s %s %d %d %s",
				support.shell_quote(sandbox.key),
				support.BIN,
				sandbox.url,
				support.shell_quote(limiter),
				lane,
				support.shell_quote(path),
				count,
				concurrency,
				pause or ""
			),
			out
		)
		return out
	end

	local function calls_of(out)
		return support.json_line(out).calls
	end

	local function epoch_of(iso)
		local y, mo, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):([%d.]+)Z$")
		local whole = os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = 0, isdst = false })
		-- os.time reads the table as local time: the zone's offset back.
		local offset = os.time(os.date("*t", whole)) - os.time(os.date("!*t", whole))
		return whole + offset + tonumber(s)
	end

	-- Three processes making GETs on one limiter, while a client outside it
	-- spends the server's bucket: one of them meets a 429, and the pause
	-- it reads reaches the others, who send nothing more until it passes.
	-- Measured from the sandbox's log: the 429s of the incident (only
	-- requests already out when the first came back may meet one) and the
	-- requests sent into the pause (none).
	for _, backend in ipairs({ "shm:", "redis://" }) do
		it("pause together on a 429 one of them meets (" .. backend .. ")", function()
			sandbox = support.start({ rate_limit = "20/3/20", log = true })
			local limiter = backend == "shm:" and "shm:" .. shm .. ".pause" or server.url .. "/?bucket=pause-" .. sandbox.port
			local outs = {}
			for i = 1, 3 do
				outs[i] = start(limiter, "normal", sandbox:item(i), 4, 1, 0.3)
			end
			core.sleep(0.6) -- the bucket confirmed, and a few tokens spent
			local auth = { "Authorization: Api-key " .. sandbox.key }
			for _ = 1, 20 do
				sandbox:raw("GET", support.READ, auth)
			end
			for i = 1, 3 do
				for _, call in ipairs(calls_of(outs[i])) do
					assert.are.equal(200, call.status, "every call got through, in the end")
				end
			end
			local first429, resumed, rate_limited, into_pause = nil, nil, 0, 0
			for _, entry in ipairs(sandbox:log_lines()) do
				local at = epoch_of(entry.time)
				if entry.path ~= support.READ then -- the workers'
					if entry.status == 429 then
						rate_limited = rate_limited + 1
						first429 = first429 or at
						if at > first429 + 0.25 then
							into_pause = into_pause + 1
						end
					elseif first429 and not resumed then
						resumed = at
					end
				end
			end
			assert.is_not_nil(first429, "the outside client's spending made one of them meet a 429")
			assert.is_true(rate_limited <= 3, rate_limited .. " answers of 429 in one incident")
			assert.are.equal(0, into_pause, "requests sent into the pause")
			assert.is_true(resumed - first429 > 0.5, "the others waited for the Retry-After")
			os.remove(shm .. ".pause")
		end)
	end

	-- A bulk job of 20 GETs, 8 at a time, on a bucket of 4 a second; then,
	-- while it waits on the bucket, an interactive process asks 3 GETs in
	-- a row. Each interactive call is served within the next window's
	-- tokens (the sandbox's log: at most 4 bulk calls served between its
	-- asking and its answer), not behind the bulk job's backlog.
	for _, backend in ipairs({ "shm:", "redis://" }) do
		it("serve a waiting interactive call from the next window, ahead of a bulk job's backlog (" .. backend .. ")", function()
			sandbox = support.start({ rate_limit = "4/1/4", log = true })
			local limiter = backend == "shm:" and "shm:" .. shm or server.url .. "/?bucket=lanes-" .. sandbox.port
			local item = sandbox:item(1)
			local bulk = start(limiter, "bulk", "/v1/centers", 20, 8)
			core.sleep(1.5) -- the bulk job has the bucket empty, and a backlog
			local interactive = calls_of(start(limiter, "interactive", item, 3, 1, 0.4))
			local bulk_calls = calls_of(bulk)
			assert.are.equal(20, #bulk_calls)
			local served = {}
			for _, entry in ipairs(sandbox:log_lines()) do
				served[#served + 1] = { at = epoch_of(entry.time), path = entry.path, status = entry.status }
				assert.are.equal(200, entry.status, "no 429: " .. entry.path)
			end
			assert.are.equal(23, #served)
			local last_bulk = 0
			for _, s in ipairs(served) do
				if s.path == "/v1/centers" then
					last_bulk = math.max(last_bulk, s.at)
				end
			end
			for i, call in ipairs(interactive) do
				assert.are.equal(200, call.status)
				local bulk_between = 0
				for _, s in ipairs(served) do
					if s.path == "/v1/centers" and s.at > call.asked and s.at <= call.ended then
						bulk_between = bulk_between + 1
					end
				end
				assert.is_true(
					bulk_between <= 4,
					string.format("interactive call %d: %d bulk calls served while it waited", i, bulk_between)
				)
				assert.is_true(call.ended - call.asked < 1.6, "interactive call " .. i .. " waited past a window")
				assert.is_true(call.ended < last_bulk, "interactive call " .. i .. " ended before the bulk job")
			end
		end)
	end
end)
