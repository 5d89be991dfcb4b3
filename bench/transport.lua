-- Transport benchmark: N sequential keep-alive GETs of a ~2 KB JSON body,
-- one row per client, each with requests per second and its ratio to the
-- plain C baseline; then start-up time. The server is nginx serving a file
-- when nginx is installed (it is never the bottleneck), else the sandbox.
--   build/pulse-lua bench/transport.lua [N]      (make bench runs it)

package.path = "spec/?.lua;" .. package.path
local core = require("pulse.core")
local pulse = require("pulse")
local support = require("support.sandbox")

local N = tonumber(arg[1]) or 20000
local ROUNDS = 3
local SLOW_N = N // 10 -- Python and Node are an order of magnitude slower
local BUILD = support.BIN

local function which(program)
	local out = support.run("command -v " .. program)
	return out ~= "" and out ~= nil
end

local function write(path, text)
	local f = assert(io.open(path, "w"))
	f:write(text)
	f:close()
end

-- A ~2 KB JSON document like a page of customers.
local function body_text()
	local items = {}
	for i = 1, 24 do
		items[i] = { id = i, name = "Customer " .. i, email = "customer" .. i .. "@example.com", phone = "555-01" .. i }
	end
	return assert(pulse.json.encode({ data = items, meta = { page = 1, per_page = 24, total = 24 } }))
end

local function start_nginx(dir)
	local port = 20000 + math.random(0, 20000)
	write(dir .. "/body.json", body_text())
	write(dir .. "/nginx.conf", string.format([[
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 256; }
http {
	access_log off;
	keepalive_requests 1000000;
	keepalive_timeout 60s;
	server {
		listen 127.0.0.1:%d;
		location / { root %s; default_type application/json; }
	}
}
]], dir, dir, port, dir))
	os.execute(string.format("nginx -c %s/nginx.conf -e %s/error.log > /dev/null 2>&1 & echo $! > %s/pid", dir, dir, dir))
	local url = string.format("http://127.0.0.1:%d/body.json", port)
	local probe = core.transport({})
	for _ = 1, 100 do
		if probe:perform("GET", url) == 200 then
			probe:close()
			return url, function()
				os.execute("kill $(cat " .. dir .. "/pid)")
			end
		end
		core.sleep(0.05)
	end
	error("nginx did not start on port " .. port)
end

local function time_command(command)
	local started = core.now()
	local out, err, code = support.run(command)
	assert(code == 0, command .. " failed: " .. tostring(err))
	return core.now() - started, out
end

local dir = os.tmpname()
os.remove(dir)
os.execute("mkdir -p " .. dir)

local url, stop_server, server_name
if which("nginx") then
	url, stop_server = start_nginx(dir)
	server_name = "nginx (static file)"
else
	local sandbox = support.start({ keys = { "bench-key" } })
	url = sandbox.url .. "/customers?per_page=24"
	stop_server = function()
		sandbox:stop()
	end
	server_name = "pulse-sandbox"
end

local rows, by_name = {}, {}
local function row(name, requests, seconds)
	local rps = requests / seconds
	local r = by_name[name]
	if not r then
		r = { name = name, rps = 0 }
		by_name[name] = r
		rows[#rows + 1] = r
	end
	r.rps = math.max(r.rps, rps) -- the best round: this machine's noise only slows runs down
end

local client = pulse.new({
	api_key = "bench-key",
	base_url = url:match("^(https?://[^/]+)"),
	rate_limit = { limit = 1e8, window = 1, burst = 1e8 },
})
local path = url:match("^https?://[^/]+(.*)$")
local function pulse_round(decode)
	assert(client:get(path, { decode = decode }))
	local started = core.now()
	for _ = 1, N do
		if not client:get(path, { decode = decode }) then
			error("pulse-lua request failed")
		end
	end
	return core.now() - started
end

-- 1-3: plain C (one reused libcurl handle, no decoding), then pulse-lua
-- without and with decoding, in interleaved rounds.
for _ = 1, ROUNDS do
	local _, plain_seconds = time_command(BUILD .. "/bench/plain_get " .. url .. " " .. N)
	row("plain C libcurl (baseline)", N, tonumber(plain_seconds))
	row("pulse-lua, decode = false", N, pulse_round(false))
	row("pulse-lua, decoding", N, pulse_round(true))
end
client:close()

-- 4. the curl command line, one process reusing its connection
local config = {}
for _ = 1, N do
	config[#config + 1] = string.format('url = "%s"\noutput = "/dev/null"', url)
end
write(dir .. "/curl.cfg", table.concat(config, "\n") .. "\n")
row("curl command line", N, (time_command("curl -s -H 'Authorization: Api-key bench-key' -K " .. dir .. "/curl.cfg")))

-- 5. Python requests, decoding (timed inside, without interpreter start-up)
if support.run("/usr/bin/python3 -c 'import requests' && echo yes") == "yes\n" then
	write(dir .. "/bench.py", string.format([[
import time, requests
s = requests.Session()
s.headers["Authorization"] = "Api-key bench-key"
s.get(%q).json()
t = time.monotonic()
for _ in range(%d):
    s.get(%q).json()
print(time.monotonic() - t)
]], url, SLOW_N, url))
	local _, out = time_command("/usr/bin/python3 " .. dir .. "/bench.py")
	row("Python requests, decoding", SLOW_N, tonumber(out))
end

-- 6. Node's built-in fetch, decoding
if which("node") then
	write(dir .. "/bench.mjs", string.format([[
const url = %q, n = %d, headers = { Authorization: "Api-key bench-key" };
await (await fetch(url, { headers })).json();
const t = performance.now();
for (let i = 0; i < n; i++) await (await fetch(url, { headers })).json();
console.log((performance.now() - t) / 1000);
]], url, SLOW_N))
	local _, out = time_command("node " .. dir .. "/bench.mjs")
	row("Node fetch, decoding", SLOW_N, tonumber(out))
end

stop_server()

print(string.format(
	"transport: sequential keep-alive GETs of %d bytes from %s; %d per run (best of %d), %d for Python and Node",
	#body_text(),
	server_name,
	N,
	ROUNDS,
	SLOW_N
))
print(string.format("%-30s %12s %8s", "client", "requests/s", "ratio"))
for _, r in ipairs(rows) do
	print(string.format("%-30s %12.0f %8.2f", r.name, r.rps, r.rps / rows[1].rps))
end

-- Start-up: 200 runs of an empty script each.
local RUNS = 200
local function startup(command)
	local seconds = time_command(string.format("for i in $(seq %d); do %s -e '' || exit 1; done", RUNS, command))
	return seconds / RUNS * 1000
end
local lua_ms, pulse_ms = startup("lua5.4"), startup(BUILD .. "/pulse-lua")
print(string.format(
	"start-up (-e '', mean of %d): lua5.4 %.2f ms, pulse-lua %.2f ms, ratio %.2f",
	RUNS,
	lua_ms,
	pulse_ms,
	pulse_ms / lua_ms
))
os.execute("rm -r " .. dir)
