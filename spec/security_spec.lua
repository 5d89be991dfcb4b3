-- The key stays where it belongs: not sent across a redirect to another
-- port or host, and TLS is verified unless the user turns it off.

local support = require("support.sandbox")

describe("security", function()
	describe("redirects", function()
		local home, elsewhere

		setup(function()
			home = support.start({ keys = { "home-key-123" }, log = true })
			elsewhere = support.start({ keys = { "home-key-123" }, log = true })
		end)

		teardown(function()
			home:stop()
			elsewhere:stop()
		end)

		it("follows a redirect to another port without the key", function()
			home:fault("redirect:port=" .. elsewhere.port)
			local client = home:client()
			local body, err = client:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("auth", err.kind, "the other port saw no key")
			local lines = elsewhere:log_lines()
			assert.are.equal(1, #lines)
			assert.are.equal(support.READ, lines[1].path)
			assert.is_false(lines[1].key_sent)
			client:close()
		end)

		it("keeps the key on a redirect to the same origin", function()
			home:fault("redirect:port=" .. home.port)
			local client = home:client()
			local body, res = client:get(support.READ)
			assert.is_table(body)
			assert.are.equal(200, res.status)
			client:close()
		end)
	end)

	describe("TLS", function()
		local tls, sandbox

		setup(function()
			tls = support.self_signed()
			sandbox = support.start({ tls = tls })
		end)

		teardown(function()
			sandbox:stop()
			os.execute("rm -r " .. tls.dir)
		end)

		it("refuses a self-signed certificate by default", function()
			local client = sandbox:client({ retry = false })
			local body, err = client:get(support.READ)
			assert.is_nil(body)
			assert.are.equal("network", err.kind)
			assert.truthy(tostring(err):lower():find("certificate"), tostring(err))
			client:close()
		end)

		it("accepts it with ca_file", function()
			local client = sandbox:client({ ca_file = tls.cert })
			local body = client:get(support.READ)
			assert.is_table(body)
			client:close()
		end)

		it("accepts it with verify = false, warning once on stderr", function()
			local script = os.tmpname() .. ".lua"
			local f = assert(io.open(script, "w"))
			f:write(string.format(
				[[
				local pulse = require("pulse")
				for _ = 1, 2 do
					local c = pulse.new({ api_key = %q, base_url = %q, verify = false })
					assert(c:get("/v1/centers"))
				end
				]],
				sandbox.key,
				sandbox.url
			))
			f:close()
			local _, err, code = support.run(support.BIN .. "/pulse-lua " .. script)
			assert.are.equal(0, code, err)
			local _, count = err:gsub("TLS certificate verification is off", "")
			assert.are.equal(1, count, err)
			os.remove(script)
		end)
	end)
end)
