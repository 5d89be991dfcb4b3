-- The process's metrics: client:metrics() in the Prometheus text format,
-- named after OpenTelemetry's HTTP client conventions, and pulse-lua
-- --metrics serving them while a drain runs, scraped with curl.

local core = require("pulse.core")
local pulse = require("pulse")
local support = require("support.sandbox")

-- The samples of a text: { ["name{labels}"] = value }, every line checked
-- to be a comment (# HELP, # TYPE) or a sample of a family declared.
local function samples(text)
	local out, types = {}, {}
	for line in text:gmatch("[^\n]+") do
		local kind, family = line:match("^# (%u+) ([%w_]+)")
		if kind then
			assert(kind == "HELP" or kind == "TYPE", line)
			if kind == "TYPE" then
				types[family] = line:match(" (%a+)$")
			end
		else
			local series, value = line:match("^([%w_]+%b{}) (%S+)$")
			if not series then
				series, value = line:match("^([%w_]+) (%S+)$")
			end
			assert(series and tonumber(value), "not a sample: " .. line)
			local name = series:match("^[%w_]+")
			local of = name:gsub("_bucket$", ""):gsub("_sum$", ""):gsub("_count$", "")
			assert(types[of] or types[name], "a sample of no declared family: " .. line)
			out[series] = tonumber(value)
		end
	end
	return out, types
end

local GET_2XX = 'http_request_method="GET",http_response_status_class="2xx"'

describe("metrics", function()
	local sandbox

	setup(function()
		sandbox = support.start({ rate_limit = "1000/1/1000" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	before_each(function()
		sandbox:reset()
		core.metrics_reset()
	end)

	it("count requests by method and status class, retries, 429s, and the calls cache and twins saved", function()
		local client = sandbox:client({ cache = { ttl = 60 } })
		sandbox:fault("503:count=1")
		core.metrics_reset() -- the fault was asked over HTTP from this process too
		assert(client:get(support.READ)) -- a 503, retried: 2 requests
		assert(client:get(support.READ)) -- from the cache
		assert.is_nil((client:get(support.MISSING)))
		assert(client:post(support.GUESTS, sandbox:guest(1)))
		local plain = sandbox:client()
		pulse.run(function()
			local a = pulse.spawn(function()
				assert(plain:get(sandbox:item(1)))
			end)
			local b = pulse.spawn(function()
				assert(plain:get(sandbox:item(1)))
			end)
			a:join()
			b:join()
		end)
		local s, types = samples(client:metrics())
		assert.are.equal("histogram", types.http_client_request_duration_seconds)
		assert.are.equal(2, s["http_client_request_duration_seconds_count{" .. GET_2XX .. "}"], "the read and the twins'")
		local get_5xx = 'http_request_method="GET",http_response_status_class="5xx"'
		assert.are.equal(1, s["http_client_request_duration_seconds_count{" .. get_5xx .. "}"])
		local get_4xx = 'http_request_method="GET",http_response_status_class="4xx"'
		assert.are.equal(1, s["http_client_request_duration_seconds_count{" .. get_4xx .. "}"])
		local post = 'http_request_method="POST",http_response_status_class="2xx"'
		assert.are.equal(1, s["http_client_request_duration_seconds_count{" .. post .. "}"])
		assert.are.equal(5, s.pulse_client_requests_total)
		assert.are.equal(1, s.pulse_client_retries_total)
		assert.are.equal(1, s.pulse_client_cache_hits_total)
		assert.are.equal(1, s.pulse_client_calls_shared_total)
		assert.are.equal(2, s.pulse_client_calls_saved_total)
		-- Buckets count up to their bound, +Inf holds them all.
		local last = 0
		for _, le in ipairs({ "0.005", "0.01", "0.1", "1", "10", "+Inf" }) do
			local n = s["http_client_request_duration_seconds_bucket{" .. GET_2XX .. ',le="' .. le .. '"}']
			assert.is_true(n >= last, le)
			last = n
		end
		assert.are.equal(2, last)
		assert.is_nil(client:metrics():find("/v1/", 1, true), "no URL in a label")
		client:close()
		plain:close()
	end)

	it("count 429s and the seconds waited for tokens", function()
		local tight = support.start({ rate_limit = "2/1/2" })
		local client = tight:client({ rate_limit = { limit = 2, window = 1 } })
		for _ = 1, 4 do
			assert(client:get(support.READ))
		end
		local s = samples(client:metrics())
		local waited = client:stats().throttled_sum
		assert.is_true(waited > 0)
		assert.is_true(math.abs(s.pulse_client_token_wait_seconds_total - waited) < 1e-5, tostring(waited))
		assert.are.equal(0, s.pulse_client_rate_limited_total)
		-- Requests past any limiter meet the server's 429s, counted too.
		local limited = 0
		for _ = 1, 4 do
			local status = tight:raw("GET", support.READ, { "Authorization: Api-key " .. tight.key })
			limited = limited + (status == 429 and 1 or 0)
		end
		assert.is_true(limited >= 1)
		assert.are.equal(limited, samples(client:metrics()).pulse_client_rate_limited_total)
		client:close()
		tight:stop()
	end)

	it("are served by pulse-lua --metrics while a drain runs, and scraped with curl", function()
		local slow = support.start({ rate_limit = "4/1/4" })
		local journal, err_path = support.temp_path(".journal"), support.temp_path(".err")
		local q = assert(pulse.queue.open("file:" .. journal))
		for i = 1, 16 do
			assert(q:push({ method = "POST", path = support.GUESTS, json = slow:guest(i), id = "g" .. i }))
		end
		q:close()
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(slow.key), slow.url)
		local pid = support.background(
			string.format("env %s %s/pulse-lua --metrics 0 --queue file:%s --drain", env, support.BIN, journal),
			err_path
		)
		local url
		local deadline = core.now() + 10
		repeat
			url = (support.read_file(err_path) or ""):match("metrics at (http://%S+)")
			core.sleep(0.02)
		until url or core.now() > deadline
		assert(url, support.read_file(err_path))
		-- Mid-drain: 16 writes at 4 a second take 3 s or more.
		local mid
		repeat
			core.sleep(0.2)
			local text, _, code = support.run("curl -s --max-time 5 " .. url)
			assert.are.equal(0, code)
			mid = samples(text).pulse_client_requests_total
		until mid > 0 or core.now() > deadline
		assert.is_true(mid > 0 and mid < 16, "scraped mid-drain: " .. tostring(mid))
		local status = support.run("curl -s -o /dev/null -w '%{http_code}' " .. url:gsub("/metrics$", "/"))
		assert.are.equal("404", status)
		repeat
			core.sleep(0.05)
		until not support.alive(pid) or core.now() > deadline + 20
		assert.truthy((support.read_file(err_path) or ""):find("16 done, 0 dead, 0 left, 16 calls", 1, true))
		slow:stop()
		os.remove(journal)
		os.remove(journal .. ".lock")
		os.remove(err_path)
	end)

	it("refuse an address they cannot serve on, naming it", function()
		local _, err, code = support.run(support.BIN .. "/pulse-lua --metrics 70000 -e 'print(1)'")
		assert.are.equal(1, code)
		assert.truthy(err:find("--metrics 70000: the port must be a number from 0 to 65535", 1, true), err)
		_, err, code = support.run(support.BIN .. "/pulse-lua --metrics 'example.com:80' -e 'print(1)'")
		assert.are.equal(1, code)
		assert.truthy(err:find("the host must be an IPv4 address, localhost, or [an IPv6 address]", 1, true), err)
	end)
end)
