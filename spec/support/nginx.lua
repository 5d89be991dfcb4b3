-- nginx (Debian nginx-light) on loopback, for the peers our sandbox cannot
-- be: an HTTP/2 server for the specs, a static file server nothing
-- outpaces for the benchmarks.

local core = require("pulse.core")
local support = require("support.sandbox")

local nginx = {}

local CONFIG = [[
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events { worker_connections 1024; }
http {
	{http}
	server {
		listen 127.0.0.1:{port}{tls};
		{server}
	}
}
]]

local Server = {}
Server.__index = Server

-- Stops nginx and removes its directory.
function Server:stop()
	support.stop_process(self.pid)
	os.execute("rm -rf " .. self.dir)
end

-- nginx on port, or nil and its error log when it did not come up (the
-- port was taken, say).
local function try_start(port, opts)
	local dir = os.tmpname()
	os.remove(dir)
	os.execute("mkdir -p " .. dir .. " && chmod 755 " .. dir)
	for name, text in pairs(opts.files or {}) do
		support.write_file(dir .. "/" .. name, text)
	end
	local tls = ""
	if opts.tls then
		tls = " ssl http2;\n\t\tssl_certificate " .. opts.tls.cert .. ";\n\t\tssl_certificate_key " .. opts.tls.key
	end
	local fields = { dir = dir, port = port, tls = tls, http = opts.http or "", server = opts.server or "" }
	support.write_file(dir .. "/nginx.conf", (CONFIG:gsub("{(%a+)}", fields):gsub("{dir}", dir)))
	os.execute(string.format(
		"%snginx -c %s/nginx.conf -e %s/error.log > /dev/null 2>&1 & echo $! > %s/pid",
		opts.prefix or "",
		dir,
		dir,
		dir
	))
	local server = setmetatable({
		dir = dir,
		port = port,
		pid = assert(support.read_file(dir .. "/pid")):match("%d+"),
		url = string.format("%s://127.0.0.1:%d", opts.tls and "https" or "http", port),
	}, Server)
	-- Up once it answers anything; an unverified probe, as the server's
	-- certificate is the caller's business.
	local probe = core.transport({ verify = false })
	for _ = 1, 100 do
		if probe:perform({ method = "GET", url = server.url .. "/" }) then
			probe:close()
			return server
		end
		if not support.alive(server.pid) then
			break
		end
		core.sleep(0.02)
	end
	probe:close()
	local log = support.read_file(dir .. "/error.log") or ""
	server:stop()
	return nil, log
end

-- Whether nginx is installed.
function nginx.installed()
	return (support.run("command -v nginx") or "") ~= ""
end

-- Starts nginx; opts: files ({ name = text } put in its directory), http
-- and server (lines of its http and server blocks; {dir} names the
-- directory), tls ({ cert, key }: HTTPS with HTTP/2 offered), prefix (of
-- the command: taskset). Returns { url, dir, port, stop }; raises when
-- nginx is missing or did not start.
function nginx.start(opts)
	if not nginx.installed() then
		error("nginx is not installed: make deps installs nginx-light", 2)
	end
	local log
	-- Ports below Linux's ephemeral range (32768 up), which a client
	-- connection of an earlier run may still hold; another when one is taken.
	for _ = 1, 5 do
		local server
		server, log = try_start(20000 + math.random(0, 12000), opts or {})
		if server then
			return server
		end
	end
	error("nginx did not start on any of five ports:\n" .. log, 2)
end

return nginx
