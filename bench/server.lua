-- The server the benchmarks read from: nginx serving a ~2 KB JSON file when
-- nginx is installed (it is never the bottleneck), else pulse-sandbox with
-- no rate limit serving a page of customers.

local core = require("pulse.core")
local pulse = require("pulse")
local support = require("support.sandbox")

local server = {}

local function write(path, text)
	local f = assert(io.open(path, "w"))
	f:write(text)
	f:close()
end

-- A ~2 KB JSON document like a page of customers.
function server.body()
	local items = {}
	for i = 1, 24 do
		items[i] = { id = i, name = "Customer " .. i, email = "customer" .. i .. "@example.com", phone = "555-01" .. i }
	end
	return assert(pulse.json.encode({ data = items, meta = { page = 1, per_page = 24, total = 24 } }))
end

-- nginx on port, serving body.json; the URL and a function that stops it,
-- or nil when it did not answer (the port was taken, say).
local function try_nginx(port)
	local dir = os.tmpname()
	os.remove(dir)
	os.execute("mkdir -p " .. dir .. " && chmod 755 " .. dir)
	write(dir .. "/body.json", server.body())
	write(
		dir .. "/nginx.conf",
		string.format(
			[[
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	server {
		listen 127.0.0.1:%d;
		location / { root %s; default_type application/json; }
	}
}
]],
			dir,
			dir,
			port,
			dir
		)
	)
	os.execute(
		string.format(
			"%snginx -c %s/nginx.conf -e %s/error.log > /dev/null 2>&1 & echo $! > %s/pid",
			server.server_cpu(),
			dir,
			dir,
			dir
		)
	)
	local function stop()
		os.execute("kill $(cat " .. dir .. "/pid) 2>/dev/null; sleep 0.1; rm -rf " .. dir)
	end
	local url = string.format("http://127.0.0.1:%d/body.json", port)
	local probe = core.transport({})
	for _ = 1, 40 do
		if probe:perform("GET", url) == 200 then
			probe:close()
			return url, stop
		end
		core.sleep(0.05)
	end
	probe:close()
	stop()
	return nil
end

-- Ports below Linux's ephemeral range (32768 up), which a client connection
-- of an earlier run may still hold; another port when one is taken anyway.
local function start_nginx()
	for _ = 1, 5 do
		local url, stop = try_nginx(20000 + math.random(0, 12000))
		if url then
			return url, stop, "nginx (static file)"
		end
	end
	error("nginx did not start on any of five ports")
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

-- Returns the URL to fetch, a function that stops the server, and its name.
function server.start()
	if (support.run("command -v nginx") or "") ~= "" then
		return start_nginx()
	end
	local sandbox = support.start({ keys = { "bench-key" } })
	return sandbox.url .. "/customers?per_page=24", function()
		sandbox:stop()
	end, "pulse-sandbox"
end

return server
