-- Many requests in flight: the engine, batches and tasks.

local core = require("pulse.core")
local pulse = require("pulse")
local support = require("support.sandbox")

describe("batches and tasks", function()
	local sandbox, client
	support.shared_sandbox({ log = true }, function(s, c)
		sandbox, client = s, c
	end)

	local function gets(n)
		local list = {}
		for i = 1, n do
			list[i] = { "GET", sandbox:item(i) }
		end
		return list
	end

	describe("client:batch", function()
		it("keeps input order when responses come back in another order", function()
			sandbox:fault("latency:ms=400") -- the first request finishes last
			local results = client:batch(gets(12), { concurrency = 12 })
			assert.are.equal(12, #results)
			for i, result in ipairs(results) do
				local body, res = table.unpack(result)
				assert.are.equal(i, sandbox:number_of(body))
				assert.are.equal(200, res.status)
				assert.are.equal(body, result.body)
			end
			sandbox:fault("latency:ms=400")
			local finished = {}
			client:batch(gets(12), {
				concurrency = 12,
				on_result = function(i)
					finished[#finished + 1] = i
				end,
			})
			assert.are.equal(1, finished[12], "the slow first request finished last")
		end)

		it("isolates one failure from the others", function()
			local list = gets(9)
			list[5] = { "GET", support.MISSING }
			local results = client:batch(list, { concurrency = 3 })
			for i, result in ipairs(results) do
				if i == 5 then
					assert.is_nil(result[1])
					assert.are.equal("not_found", result.err.kind)
				else
					assert.are.equal(200, result.res.status)
				end
			end
		end)

		it("never has more than concurrency requests in flight #timing", function()
			sandbox:fault("latency:ms=150:count=0")
			local started = core.now()
			client:batch(gets(24), { concurrency = 6 })
			local elapsed = core.now() - started
			sandbox:clear_faults()
			assert.are.equal(6, sandbox:stats().in_flight_max)
			assert.is_true(elapsed >= 0.55, "four rounds of 150 ms: " .. elapsed)
			assert.is_true(elapsed < 2.5, "rounds overlap: " .. elapsed)
		end)

		it("with fail_fast cancels what has not started", function()
			local list = gets(10)
			list[2] = { "GET", support.MISSING }
			local results = client:batch(list, { concurrency = 1, fail_fast = true })
			assert.are.equal(10, #results)
			assert.are.equal(200, results[1].res.status)
			assert.are.equal("not_found", results[2].err.kind)
			for i = 3, 10 do
				assert.are.equal("cancelled", results[i].err.kind)
			end
			assert.are.equal(2, sandbox:stats().requests)
		end)

		it("takes named entries, bodies and options", function()
			local results = client:batch({
				{ method = "POST", path = support.GUESTS, opts = { json = sandbox:guest(1) } },
				{ "GET", support.GUESTS, { query = { center_id = sandbox:center(), size = 2 } } },
			})
			assert.are.equal("Number 1", results[1].body.personal_info.last_name)
			assert.are.equal(2, #results[2].body.guests)
		end)

		it("streams: requests from a function, results to on_result, none kept", function()
			local n = 0
			local seen = {}
			local count = client:batch(function()
				n = n + 1
				if n <= 30 then
					return { "GET", sandbox:item(n) }
				end
			end, {
				concurrency = 5,
				on_result = function(i, body)
					seen[i] = sandbox:number_of(body)
				end,
			})
			assert.are.equal(30, count)
			for i = 1, 30 do
				assert.are.equal((i - 1) % 12 + 1, seen[i])
			end
		end)

		it("calls a request function no more once it has returned nil", function()
			-- A coroutine.wrap generator raises when called after it ended;
			-- concurrency 4 leaves requests in flight when it does.
			local calls = 0
			local count = client:batch(
				coroutine.wrap(function()
					for id = 1, 6 do
						calls = calls + 1
						coroutine.yield({ "GET", sandbox:item(id) })
					end
					calls = calls + 1
				end),
				{ concurrency = 4, on_result = function() end }
			)
			assert.are.equal(6, count)
			assert.are.equal(7, calls)
		end)

		it("sends each entry as given when its path is cached, whatever its shape", function()
			assert(client:get("/_sandbox/echo")) -- cached: GETs may take the plain path
			local results = client:batch({
				{ "GET", "/_sandbox/echo" },
				{ method = false, "DELETE", "/_sandbox/echo" }, -- falls back to [1]
				{ "POST", "/_sandbox/echo", { body = "x" } },
				{ "GET", "/_sandbox/echo", { headers = { ["x-tag"] = "t1" } } },
				{ path = "/_sandbox/echo", method = "HEAD" },
				{ "GET", "/_sandbox/echo", { decode = false } },
			})
			assert.are.equal("GET", results[1].body.method)
			assert.are.equal("DELETE", results[2].body.method)
			assert.are.equal("POST", results[3].body.method)
			assert.are.equal("x", results[3].body.body)
			assert.are.equal("t1", results[4].body.headers["x-tag"])
			assert.are.equal(200, results[5].res.status)
			assert.are.equal("string", type(results[6].body))
			assert.truthy(results[6].body:find('"method":"GET"', 1, true))
		end)

		it("gives a raw entry's success the res a single call gives, and retries its failure", function()
			local single_body = assert(client:get(sandbox:item(3), { decode = false }))
			local _, single = assert(client:get(sandbox:item(3))) -- res as init.lua makes it
			local results = client:batch({ { "GET", sandbox:item(3), { decode = false } } })
			local body, res = results[1].body, results[1].res
			assert.are.equal(single_body, body)
			assert.are.equal(8, support.assert_same_fields(single, res))
			assert.are.same({ 200, 1, 0, false }, { res.status, res.attempts, res.waited, res.from_cache })
			assert.are.equal(single.headers["content-type"], res.headers["content-type"])
			assert.are.equal(single.rate.limit, res.rate.limit)
			assert.is_true(res.elapsed > 0)

			sandbox:fault("503:count=1")
			results = client:batch({ { "GET", sandbox:item(3), { decode = false } } })
			assert.are.equal(single_body, results[1].body)
			assert.are.equal(2, results[1].res.attempts)
			assert.is_true(results[1].res.waited > 0)
		end)

		it("retries and reports a server that went away, on a cached path", function()
			local doomed = support.start()
			local dead = doomed:client({ retry = { max_attempts = 3, base = 0.001, cap = 0.001 } })
			assert(dead:get(support.READ)) -- reaches it once, and caches the URL
			doomed:stop()
			local _, first = dead:get(support.READ)
			assert.are.equal(3, first.attempts)
			local results = dead:batch({ { "GET", support.READ }, { "GET", support.READ, { decode = false } } })
			for i = 1, 2 do
				assert.is_nil(results[i].body)
				assert.are.equal("network", results[i].err.kind)
				assert.are.equal(3, results[i].err.attempts) -- the filed failure counts as the first
			end
			assert.are.equal(0, dead:ratelimit().in_flight)
			dead:close()
		end)

		it("names what is wrong with a streamed entry, on a cached path too", function()
			assert(client:get(sandbox:item(1)))
			for _, case in ipairs({
				{ { "GET", 42 }, "batch: request 2 needs a method and a path %(strings%)" },
				{ { 7, sandbox:item(1) }, "batch: request 2 needs a method and a path %(strings%)" },
				{ "GET /v1/centers", "batch: request 2 must be a table {method, path, opts}, got string" },
			}) do
				local entries = { { "GET", sandbox:item(1) }, case[1] }
				local n = 0
				local ok, err = pcall(client.batch, client, function()
					n = n + 1
					return entries[n]
				end)
				assert.is_false(ok)
				assert.truthy(tostring(err):find(case[2]), tostring(err))
			end
			assert.are.equal(0, client:ratelimit().in_flight)
		end)

		it("applies the retry rules to requests on paths seen before (the plain path)", function()
			client:batch(gets(12)) -- every URL cached: the next batch sends plain requests
			sandbox:reset()
			sandbox:fault("503:count=2,html502:count=1")
			local results = client:batch(gets(12), { concurrency = 4 })
			local attempts = 0
			for i, result in ipairs(results) do
				assert.are.equal(i, sandbox:number_of(result.body))
				attempts = attempts + result.res.attempts
			end
			assert.are.equal(15, attempts, "three faulted attempts, each retried")
			assert.are.equal(2, sandbox:stats().by_status["503"])
			assert.are.equal(15, sandbox:stats().requests)
		end)

		it("lets the request function and on_result make requests of their own", function()
			client:batch(gets(4))
			local n, fetched = 0, {}
			local count = client:batch(function()
				n = n + 1
				if n <= 4 then
					assert(client:get(sandbox:item(n + 4))) -- yields, as in any task
					return { "GET", sandbox:item(n) }
				end
			end, {
				concurrency = 2,
				on_result = function(i, body)
					local extra = assert(client:get(sandbox:item(i + 8)))
					fetched[i] = { sandbox:number_of(body), sandbox:number_of(extra) }
				end,
			})
			assert.are.equal(4, count)
			for i = 1, 4 do
				assert.are.same({ i, i + 8 }, fetched[i])
			end
		end)

		it("gives every token back when on_result raises mid-batch", function()
			client:batch(gets(6))
			assert.is_nil(client:delete(support.MISSING)) -- a quick 405; its URL is cached now
			sandbox:fault("latency:ms=300:count=0:method=GET")
			local list = gets(6)
			list[1] = { "DELETE", support.MISSING } -- ends first: the GETs are in flight
			local ok, err = pcall(client.batch, client, list, {
				concurrency = 6,
				on_result = function()
					error("stop at the first")
				end,
			})
			sandbox:clear_faults()
			assert.is_false(ok)
			assert.matches("stop at the first", tostring(err))
			assert.are.equal(0, client:ratelimit().in_flight)
			assert.are.equal(3, #client:batch(gets(3)))
		end)

		it("ends its requests in flight when a task catches its error and goes on", function()
			client:batch(gets(6))
			assert.is_nil(client:delete(support.MISSING))
			sandbox:fault("latency:ms=300:count=0:method=GET")
			local list = gets(6)
			list[1] = { "DELETE", support.MISSING } -- ends first: the GETs are in flight
			local in_flight
			pulse.run(function()
				local ok = pcall(client.batch, client, list, {
					concurrency = 6,
					on_result = function()
						error("stop at the first")
					end,
				})
				assert.is_false(ok)
				in_flight = client:ratelimit().in_flight -- the run is not over
			end)
			sandbox:clear_faults()
			assert.are.equal(0, in_flight)
			assert.are.equal(3, #client:batch(gets(3)))
		end)

		it("reports progress after each request", function()
			local calls = {}
			client:batch(gets(5), {
				on_progress = function(done, total, stats)
					calls[#calls + 1] = { done, total, stats.requests }
				end,
			})
			assert.are.equal(5, #calls)
			assert.are.same({ 5, 5 }, { calls[5][1], calls[5][2] })
		end)

		it("refuses bad input before sending anything", function()
			assert.has_error(function()
				client:batch({ { "GET" } })
			end)
			assert.has_error(function()
				client:batch(gets(2), { concurency = 2 })
			end)
			assert.has_error(function()
				client:batch("GET /services")
			end)
			-- A listed entry's options are checked as a single call's, and the
			-- error names the caller's line.
			for _, case in ipairs({
				{ { decod = false }, "batch: request 2: unknown option 'decod' %(valid: " },
				{ { decode = "no" }, "batch: request 2: option 'decode' must be boolean, got no" },
				{ "fast", "batch: request 2 options must be a table, got string" },
			}) do
				local ok, err = pcall(client.batch, client, { { "GET", sandbox:item(1) }, { "GET", sandbox:item(2), case[1] } })
				assert.is_false(ok)
				assert.truthy(err:find(case[2]), err)
			end
			local ok, err = pcall(function()
				client:batch({ { "GET", support.READ, { decod = false } } }) -- this line
			end)
			assert.is_false(ok)
			assert.truthy(err:find("^spec/batch_spec.lua:%d+: pulse: batch: request 1: unknown option"), err)
			assert.are.equal(0, sandbox:stats().requests)
		end)

		it("lets one request back off without holding up the others #timing", function()
			sandbox:fault("503:retry_after=1:count=1")
			local results = client:batch(gets(8), { concurrency = 8 })
			local slow, fast = 0, 0
			for _, result in ipairs(results) do
				local res = result.res
				assert.are.equal(200, res.status)
				if res.attempts == 2 then
					slow = slow + 1
					assert.is_true(res.waited >= 1)
				else
					fast = fast + 1
					assert.is_true(res.elapsed < 0.9, "held up: " .. res.elapsed)
				end
			end
			assert.are.same({ 1, 7 }, { slow, fast })
		end)
	end)

	describe("pulse.run and pulse.spawn", function()
		it("runs sequential-looking tasks concurrently #timing", function()
			sandbox:fault("latency:ms=300:count=0")
			local started = core.now()
			local ids = pulse.run(function()
				local tasks = {}
				for i = 1, 5 do
					tasks[i] = pulse.spawn(function()
						local a = assert(client:get(sandbox:item(i)))
						local b = assert(client:get(sandbox:item(i + 5)))
						return sandbox:number_of(a) + sandbox:number_of(b)
					end)
				end
				local sums = {}
				for i, task in ipairs(tasks) do
					sums[i] = task:join()
				end
				return sums
			end)
			local elapsed = core.now() - started
			sandbox:clear_faults()
			assert.are.same({ 7, 9, 11, 13, 15 }, ids)
			assert.is_true(elapsed < 1.2, "two rounds of 300 ms, not ten: " .. elapsed)
		end)

		it("nests: tasks spawn tasks, and a batch runs inside a task", function()
			local result = pulse.run(function()
				local outer = pulse.spawn(function()
					local inner = pulse.spawn(function()
						return sandbox:number_of(assert(client:get(sandbox:item(3))))
					end)
					local batch = client:batch(gets(4), { concurrency = 2 })
					return inner:join() + #batch
				end)
				return outer:join()
			end)
			assert.are.equal(7, result)
		end)

		it("surfaces an error raised in a task, with its traceback", function()
			local ok, err = pcall(pulse.run, function()
				pulse.spawn(function()
					local function deep()
						error("broken in a task")
					end
					deep()
				end)
				client:get(sandbox:item(1))
			end)
			assert.is_false(ok)
			assert.truthy(err:find("broken in a task", 1, true), err)
			assert.truthy(err:find("stack traceback", 1, true), err)
			assert.truthy(err:find("deep", 1, true), err)
		end)

		it("releases the limiter tokens of requests a failed run abandoned", function()
			local fresh = sandbox:client() -- its first request is the probe
			sandbox:fault("latency:ms=300")
			local ok = pcall(pulse.run, function()
				pulse.spawn(function()
					fresh:get(sandbox:item(1))
				end)
				pulse.spawn(function()
					error("another task fails mid-request")
				end)
			end)
			assert.is_false(ok)
			assert.are.equal(0, fresh:ratelimit().in_flight)
			local results = fresh:batch(gets(3))
			for _, result in ipairs(results) do
				assert.are.equal(200, result.res.status)
			end
			assert(fresh:get(sandbox:item(2)))
			fresh:close()
		end)

		it("keeps a transfer's key when the key rotates or the client closes meanwhile", function()
			local other = support.start({ keys = { "key-before-111" } })
			local c = pulse.new({ api_key = "key-before-111", base_url = other.url, retry = false })
			other:fault("latency:ms=300:count=3") -- a 401 is answered before faults
			pulse.run(function()
				local slow = pulse.spawn(function()
					return c:get(sandbox:item(1))
				end)
				pulse.sleep(0.1) -- the transfer is out, with the key it started with
				c:set_api_key("key-unknown-333")
				local _, res = slow:join()
				assert.are.equal(200, res.status)
				local _, err = c:get(sandbox:item(1))
				assert.are.equal("auth", err.kind, "the next request has the new key")
				c:set_api_key("key-before-111")
				local last = pulse.spawn(function()
					return c:get(sandbox:item(2))
				end)
				pulse.sleep(0.1)
				c:close() -- the transfer keeps what it needs until it ends
				_, res = last:join()
				assert.are.equal(200, res.status)
			end)
			assert.are.equal(2, c:stats().requests, "counted up to close")
			other:stop()
		end)

		it("refuses a request from a coroutine of the user's own inside a task, naming why, and sends nothing", function()
			local before = sandbox:stats().requests
			local ok, err = pcall(pulse.run, function()
				local fetch = coroutine.wrap(function()
					return client:get(sandbox:item(1))
				end)
				return fetch()
			end)
			assert.is_false(ok)
			assert.matches("a request inside pulse.run from a coroutine of your own", err)
			assert.matches("pulse.spawn", err)
			assert.are.equal(before, sandbox:stats().requests)
			assert.are.equal(0, client:ratelimit().in_flight)
			-- A sleep there is refused too; outside pulse.run, a coroutine of
			-- one's own is as good as any code.
			ok, err = pcall(pulse.run, function()
				coroutine.wrap(function()
					pulse.sleep(0.01)
				end)()
			end)
			assert.is_false(ok)
			assert.matches("a sleep inside pulse.run", err)
			local body = coroutine.wrap(function()
				return client:get(sandbox:item(2))
			end)()
			assert.are.equal(2, sandbox:number_of(body))
		end)

		it("refuses spawn outside run, and a task joined outside a task", function()
			assert.has_error(function()
				pulse.spawn(function() end)
			end, "pulse: spawn: call it inside pulse.run(function() ... end)")
		end)

		it("behaves as before outside tasks", function()
			local body, res = client:get(sandbox:item(1))
			assert.are.equal(1, sandbox:number_of(body))
			assert.are.equal(1, res.attempts)
		end)
	end)

	it("keeps the limiter in charge: zero 429s at concurrency 64 against a small policy #timing", function()
		local limited = support.start({ rate_limit = "20/1/20" })
		local c = limited:client()
		local started = core.now()
		-- 70 URLs of their own: identical GETs at once would share calls.
		local list = gets(70)
		for i, entry in ipairs(list) do
			entry[3] = { query = { n = i } }
		end
		local results = c:batch(list, { concurrency = 64 })
		local elapsed = core.now() - started
		for _, result in ipairs(results) do
			assert.are.equal(200, result.res.status)
		end
		assert.are.equal(0, limited:stats().rate_limited)
		assert.is_true(elapsed >= 2.5, "70 calls at 20 a second need three refills: " .. elapsed)
		c:close()
		limited:stop()
	end)

	it("sends no flood when the server's bucket trickles instead of refilling by window", function()
		-- One token a second: after waiting out Reset (1 s) the model expects a
		-- whole window's 10 tokens; the server has one.
		local trickle = support.start({ rate_limit = "10/10/10", refill = "continuous" })
		local c = trickle:client()
		local results = c:batch(gets(14), { concurrency = 32 })
		for _, result in ipairs(results) do
			assert.are.equal(200, result.res.status)
		end
		local stats = trickle:stats()
		-- Predicted refills are checked by one request first; a stray 429 is
		-- possible at a token's edge, a flood (one per waiting request) is not.
		assert.is_true(stats.rate_limited <= 2, "429s: " .. stats.rate_limited)
		c:close()
		trickle:stop()
	end)

	describe("the progress bar", function()
		local script = os.tmpname() .. ".lua"

		setup(function()
			local f = assert(io.open(script, "w"))
			f:write(string.format(
				[[
				local c = require("pulse").new({ api_key = %q, base_url = %q })
				local list = {}
				for i = 1, 20 do list[i] = { "GET", %q } end
				c:batch(list, { concurrency = 4 })
				]],
				sandbox.key,
				sandbox.url,
				sandbox:item(1)
			))
			f:close()
		end)

		teardown(function()
			os.remove(script)
		end)

		it("draws on a terminal", function()
			local out = support.run(string.format("script -qec '%s/pulse-lua %s' /dev/null", support.BIN, script))
			assert.truthy(out:find("20/20", 1, true), out)
			assert.truthy(out:find("/s  ETA", 1, true), out)
		end)

		it("stays silent when stderr is not a terminal, or with --quiet", function()
			local _, err = support.run(support.BIN .. "/pulse-lua " .. script)
			assert.are.equal("", err)
			local out = support.run(string.format("script -qec '%s/pulse-lua --quiet %s' /dev/null", support.BIN, script))
			assert.is_nil(out:find("20/20", 1, true), out)
		end)
	end)
end)
