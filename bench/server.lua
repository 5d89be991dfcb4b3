-- The server the benchmarks read from: nginx serving a ~2 KB JSON file when
-- nginx is installed (it is never the bottleneck), else pulse-sandbox with
-- no rate limit serving a page of customers.

local nginx = require("support.nginx")
local pulse = require("pulse")
local support = require("support.sandbox")

local server = {}

-- A ~2 KB JSON document like a page of customers.
function server.body()
	local items = {}
	for i = 1, 24 do
		items[i] = { id = i, name = "Customer " .. i, email = "customer" .. i .. "@example.com", phone = "555-01" .. i }
	end
	return assert(pulse.json.encode({ data = items, meta = { page = 1, per_page = 24, total = 24 } }))
end

-- With two cores or more, the server runs on the second and the clients on
-- the first: neither then competes with the other for a core, and runs
-- compare. These give the command prefix for each ("" when not pinning).
local function pin(cpu)
	local cores = tonumber((support.run("nproc 2>/dev/null") or ""):match("%d+")) or 1
	if cores < 2 or (support.run("command -v taskset") or "") == "" then
		return ""
	end
	return "taskset -c " .. cpu .. " "
end

function server.server_cpu()
	return pin(1)
end

function server.client_cpu()
	return pin(0)
end

-- nginx serving body.json: the URL and a function that stops it.
local function start_nginx()
	local static = nginx.start({
		files = { ["body.json"] = server.body() },
		http = "access_log off; keepalive_requests 1000000; keepalive_timeout 60s;",
		server = "location / { root {dir}; default_type application/json; }",
		prefix = server.server_cpu(),
	})
	return static.url .. "/body.json", function()
		static:stop()
	end, "nginx (static file)"
end

-- Returns the URL to fetch, a function that stops the server, and its name.
function server.start()
	if nginx.installed() then
		return start_nginx()
	end
	local sandbox = support.start({ keys = { "bench-key" } })
	return sandbox.url .. "/v1/centers", function()
		sandbox:stop()
	end, "pulse-sandbox"
end

return server
