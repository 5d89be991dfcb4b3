-- HTTP/2: when the server offers it (ALPN, over TLS), the requests a batch
-- or several tasks have in flight share one connection as streams. The
-- sandbox speaks HTTP/1.1 only, so nginx stands in front of it: HTTP/2 to
-- the client, a request per stream to the sandbox, which counts how many
-- it has in flight (each held 500 ms, so that they overlap even on a
-- loaded machine).

local core = require("pulse.core")
local nginx = require("support.nginx")
local pulse = require("pulse")
local support = require("support.sandbox")

-- The access log's lines since the last call, { connection, protocol,
-- status } each, once there are at least count (0 by default): nginx logs
-- a request after its response went out, so the last line can come after
-- the client has its response. Waits 5 s at most.
local function log_reader(path)
	local seen = 0
	return function(count)
		local deadline, lines = core.now() + 5
		repeat
			lines = {}
			for line in (support.read_file(path) or ""):gmatch("[^\n]+") do
				lines[#lines + 1] = line
			end
			local waiting = #lines - seen < (count or 0) and core.now() < deadline
			if waiting then
				core.sleep(0.02)
			end
		until not waiting
		local fresh = {}
		for k = seen + 1, #lines do
			local connection, protocol, status = lines[k]:match("^(%d+) (%S+) (%d+)$")
			fresh[#fresh + 1] = { connection = connection, protocol = protocol, status = tonumber(status) }
		end
		seen = #lines
		return fresh
	end
end

local function connections(entries)
	local distinct, count = {}, 0
	for _, entry in ipairs(entries) do
		if not distinct[entry.connection] then
			distinct[entry.connection], count = true, count + 1
		end
	end
	return count
end

describe("HTTP/2", function()
	local tls, sandbox, proxy, new_entries, client

	setup(function()
		tls = support.self_signed()
		-- A long window: a refill makes the limiter send one request alone
		-- until a response confirms it, which would hide a burst.
		sandbox = support.start({ rate_limit = "100000/3600/100000" })
		proxy = nginx.start({
			tls = tls,
			http = "log_format streams '$connection $server_protocol $status';",
			server = table.concat({
				"access_log {dir}/access.log streams;",
				"keepalive_timeout 1s;", -- idle HTTP/2 connections close soon
				"location / { proxy_pass " .. sandbox.url .. "; }",
			}, "\n"),
		})
		new_entries = log_reader(proxy.dir .. "/access.log")
	end)

	teardown(function()
		proxy:stop()
		sandbox:stop()
		os.execute("rm -r " .. tls.dir)
	end)

	before_each(function()
		sandbox:reset()
		client = pulse.new({ api_key = sandbox.key, base_url = proxy.url, ca_file = tls.cert })
		-- The limiter learns the policy; then the connection is left to
		-- close, so that what follows starts a burst with none open.
		assert(client:get("/v1/centers"))
		core.sleep(1.5)
		new_entries(1)
	end)

	after_each(function()
		sandbox:clear_faults()
		client:close()
	end)

	-- The requests nginx logged since before_each: count of them, all
	-- HTTP/2 on one connection, and as many as in_flight at once behind it.
	local function assert_streams_of_one_connection(count, in_flight)
		local entries = new_entries(count)
		assert.are.equal(count, #entries)
		for _, entry in ipairs(entries) do
			assert.are.equal("HTTP/2.0", entry.protocol)
		end
		assert.are.equal(1, connections(entries))
		assert.are.equal(in_flight, sandbox:stats().in_flight_max) -- the streams overlapped
	end

	it("carries a batch's requests as streams of one connection", function()
		sandbox:fault("latency:ms=500:count=0")
		local list = {}
		for i = 1, 16 do -- pages of their own: twins at once would share one request
			list[i] = { "GET", "/v1/centers", { query = { page = i } } }
		end
		local results = client:batch(list, { concurrency = 8 })
		for i, result in ipairs(results) do
			assert.are.equal(200, result.res and result.res.status, "request " .. i .. ": " .. tostring(result.err))
		end
		assert_streams_of_one_connection(16, 8)
	end)

	it("carries the requests of several tasks on one connection", function()
		sandbox:fault("latency:ms=500:count=0")
		pulse.run(function()
			local tasks = {}
			for i = 1, 6 do
				tasks[i] = pulse.spawn(function()
					return assert(client:get("/v1/centers", { query = { page = i } }))
				end)
			end
			for _, task in ipairs(tasks) do
				task:join()
			end
		end)
		assert_streams_of_one_connection(6, 6)
	end)
end)
