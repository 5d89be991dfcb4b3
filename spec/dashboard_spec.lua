-- The sandbox's dashboard (GET /_sandbox/dashboard), checked in headless
-- Chromium against a running sandbox: the page draws itself from
-- /_sandbox/stats and /_sandbox/history, and what it shows is what they
-- say (the bucket's level, the faults active, the organization's counts,
-- a bar for the requests of each second). A screenshot goes under build/.
-- #browser: run once, outside check-asan and check-valgrind.

local browser = require("support.browser")
local support = require("support.sandbox")

describe("the sandbox's dashboard #browser", function()
	it("shows the bucket's level, requests a second by status, faults and the organization, as the sandbox says", function()
		local sandbox = support.start({ rate_limit = "7/60/7" })
		local client = sandbox:client({ retry = false })
		for _ = 1, 5 do
			assert(client:get(support.READ))
		end
		assert.is_nil((client:get(support.MISSING)))
		sandbox:fault("503:count=3:method=POST")
		local url = sandbox.url .. "/_sandbox/dashboard"
		local dom = browser.dom(url, 4000)
		local stats = sandbox:stats()
		assert.are.equal(1, stats.bucket.tokens, "7, less the 6 calls")
		assert.is_true(tonumber(dom:match('data%-updated="(%d+)"')) >= 1, "the page drew itself")
		assert.are.equal(stats.bucket.tokens, tonumber(dom:match('id="level" data%-tokens="(%d+)"')))
		assert.truthy(dom:find('<li class="fault">503 on POST, 3 left</li>', 1, true), dom:match('<ul id="faults">.-</ul>'))
		for kind, count in pairs(stats.organization) do
			assert.are.equal(count, tonumber(dom:match('data%-kind="' .. kind .. '">(%d+)<')), kind)
		end
		local ok, client_errors = 0, 0
		for class, n in dom:gmatch('<rect class="bar (%a[%a_]*)"[^>]- data%-count="(%d+)"') do
			if class == "ok" then
				ok = ok + tonumber(n)
			elseif class == "client_error" then
				client_errors = client_errors + tonumber(n)
			end
		end
		assert.are.equal(5, ok, "the 5 reads in the bars")
		assert.are.equal(1, client_errors, "the 404")
		assert.truthy(dom:find('<polyline class="tokens" points="[%d.]+,'), "the bucket's level drawn")
		browser.screenshot(url, support.BIN .. "/dashboard.png", 1000, 1100, 4000)
		-- Loopback only, as the other control endpoints.
		local html = support.run("curl -s " .. url)
		assert.truthy(html:find("<!DOCTYPE html>", 1, true))
		local loads = html:find("<script src", 1, true) or html:find("@import", 1, true) or html:find('href="http', 1, true)
		assert.is_nil(loads, "nothing loaded from elsewhere")
		client:close()
		sandbox:stop()
	end)
end)
