-- The examples do their jobs, as the README shows them run.

local support = require("support.sandbox")

local function run(args)
	return support.run(support.BIN .. "/pulse-lua " .. args)
end

describe("examples", function()
	it("export_services.lua writes every service as CSV", function()
		local out, err, code = run("--sandbox examples/export_services.lua")
		assert.are.equal(0, code, err)
		local header, rows = out:match("^([^\n]*)\n(.*)$")
		assert.truthy(header and header:find("service"), out)
		local _, count = rows:gsub("\n", "")
		assert.is_true(count >= 10, out)
	end)

	-- With a bucket each, these 4 workers draw 4-6 answers of 429.
	it("shared_limit.lua splits a job over workers that share one bucket", function()
		local out, err, code = run("--sandbox-rate-limit 10/1/10 examples/shared_limit.lua 4")
		assert.are.equal(0, code, err)
		local refreshed, failed, rejected = 0, 0, 0
		for ok, bad, r429 in out:gmatch("worker %d+: (%d+) refreshed, (%d+) failed, (%d+) answers of 429") do
			refreshed, failed, rejected = refreshed + ok, failed + bad, rejected + r429
		end
		assert.are.equal(45, refreshed, out)
		assert.are.equal(0, failed, out)
		assert.are.equal(0, rejected, out)
		assert.truthy(out:find("45 customers refreshed by 4 workers", 1, true), out)
		assert.truthy(out:find("10 calls every 1 s", 1, true), out)
	end)
end)
