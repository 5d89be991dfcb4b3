-- The request path's stages (send.lua): a stage added to send.stages runs
-- for the calls of clients made after, at its three points, with nothing
-- in send.lua edited; and the binding's call object, misused, says how.

local core = require("pulse.core")
local send = require("pulse.send")
local support = require("support.sandbox")

describe("request path stages", function()
	-- Each spec makes its clients after adding its stage: the shared
	-- client is not used.
	local sandbox
	support.shared_sandbox({}, function(s)
		sandbox = s
	end)

	-- Runs fn with stage in send.stages, removed after whatever happens.
	local function with_stage(stage, fn)
		table.insert(send.stages, stage)
		local ok, err = pcall(fn)
		for i = #send.stages, 1, -1 do
			if send.stages[i] == stage then
				table.remove(send.stages, i)
			end
		end
		assert(ok, err)
	end

	it("are the built-in four, each a named stage, none on a plain client's line", function()
		local names = {}
		for i, stage in ipairs(send.stages) do
			assert.is_table(stage, "entry " .. i)
			names[i] = stage.name
		end
		assert.are.same({ "dry_run", "replay", "cache", "record" }, names)
		-- None applies to a plain client: its calls keep the gate's fast path.
		local line = { cache = nil, dry_run = false }
		for _, stage in ipairs(send.stages) do
			assert.is_false(stage.applies(line), stage.name)
		end
	end)

	it("runs open, outcome (each attempt) and close, and close makes the answer", function()
		local seen = {}
		local stage = {
			name = "spy",
			open = function(call)
				seen[#seen + 1] = "open " .. call.req.method .. " " .. call.req.url:gsub("^https?://[^/]+", "")
			end,
			outcome = function(call)
				seen[#seen + 1] = "outcome " .. tostring(call.status or call.failure)
			end,
			close = function(call, body, res)
				seen[#seen + 1] = "close " .. tostring(call.status)
				body.stamped = call.sent
				return body, res
			end,
		}
		with_stage(stage, function()
			local client = sandbox:client()
			sandbox:fault("503:count=1")
			local body, res = client:get(sandbox:item(1))
			client:close()
			assert.are.equal(200, res.status)
			assert.are.equal(2, body.stamped, "close saw both transmissions")
			assert.are.same({ "open GET " .. sandbox:item(1), "outcome 503", "outcome 200", "close 200" }, seen)
		end)
	end)

	it("answers a call from open without sending it", function()
		local stage = {
			name = "answer",
			open = function(call)
				if call.req.url:find("/answered$") then
					return true, { answered = true }, { status = 200 }
				end
			end,
		}
		with_stage(stage, function()
			local client = sandbox:client()
			local body, res = client:get("/answered")
			assert.are.same({ answered = true }, body)
			assert.are.equal(200, res.status)
			assert.are.equal(0, client:stats().requests, "nothing was sent")
			assert.are.equal(200, select(2, client:get(sandbox:item(1))).status, "other calls go out")
			client:close()
		end)
	end)

	it("ends a call from outcome before the retry rules", function()
		local stage = {
			outcome = function(call)
				if call.status == 503 then
					return true, nil, "stopped at " .. call.status
				end
			end,
		}
		with_stage(stage, function()
			local client = sandbox:client()
			sandbox:fault("503:count=0")
			local body, err = client:get(sandbox:item(1))
			client:close()
			assert.is_nil(body)
			assert.are.equal("stopped at 503", err)
			assert.are.equal(1, sandbox:stats().requests, "no retry")
		end)
	end)

	it("leaves a line it does not apply to on the plain path, and clients made before alone", function()
		local opened = 0
		local before = sandbox:client()
		local stage = {
			applies = function(line)
				return line.client.base_url:find("127.0.0.1", 1, true) ~= nil and line.cache ~= nil
			end,
			open = function()
				opened = opened + 1
			end,
		}
		with_stage(stage, function()
			local plain = sandbox:client()
			local cached = sandbox:client({ cache = { ttl = 0 } })
			for _, client in ipairs({ before, plain, cached }) do
				client:get(sandbox:item(1))
				client:get(sandbox:item(1))
				client:close()
			end
			assert.are.equal(2, opened, "only the client with a cache, made after")
		end)
	end)

	it("refuses a malformed call object at the binding, naming what is wrong", function()
		local transport = core.transport({})
		local ok, err = pcall(transport.perform, transport, { url = sandbox.url })
		assert.is_false(ok)
		assert.matches("a request needs a method and a url", err)
		ok, err = pcall(transport.perform, transport, { method = "GET", url = sandbox.url, headers = "X: 1" })
		assert.is_false(ok)
		assert.matches("a request's headers must be a list of lines, got string", err)
		ok, err = pcall(transport.perform, transport, { method = "GET", url = sandbox.url, timeout = "soon" })
		assert.is_false(ok)
		assert.matches("a request's timeout must be a number, got string", err)
		ok, err = pcall(transport.perform, transport, "GET")
		assert.is_false(ok)
		assert.matches("table expected", err)
		local status, headers = transport:perform({ method = "GET", url = sandbox.url .. sandbox:item(1) })
		assert.are.equal(401, status, "no key: the sandbox refuses it")
		assert.are.equal("application/json", headers["content-type"])
		transport:close()
	end)
end)
