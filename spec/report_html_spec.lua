-- Reports a person looks at, checked in headless Chromium: the HTML report
-- of a collection's run (--reporter html:FILE) and of a queue's drain
-- (report_html = FILE), one self-contained file each. The browser renders
-- it; the spec reads the DOM it rendered (one point per call in the
-- latency chart, the failures with their request and answer, no key) and
-- keeps a screenshot under build/ for people to look at. #browser: run
-- once, outside check-asan and check-valgrind.

local browser = require("support.browser")
local json = require("pulse.json")
local pulse = require("pulse")
local support = require("support.sandbox")

-- The summary table's value of label, from a rendered DOM.
local function summary_value(dom, label)
	return dom:match("<th>" .. label:gsub("%p", "%%%0") .. "</th><td[^>]*>([^<]*)</td>")
end

local function rendered_points(dom)
	return tonumber(dom:match('<body[^>]-data%-rendered="points=(%d+)"'))
end

describe("HTML reports #browser", function()
	local sandbox

	setup(function()
		sandbox = support.start({ rate_limit = "5/1/5" })
	end)

	teardown(function()
		sandbox:stop()
	end)

	it("of a collection's run: a point per call, the failures with request and answer, no key", function()
		local coll = support.temp_path(".json")
		support.write_file(
			coll,
			json.encode({
				info = { name = "report spec", schema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
				item = {
					{ name = "Centers", request = { method = "GET", url = "{{baseUrl}}/v1/centers" } },
					{ name = "A missing one", request = { method = "GET", url = "{{baseUrl}}" .. support.MISSING } },
				},
			})
		)
		local data = support.temp_path(".csv")
		support.write_file(data, "n\n1\n2\n3\n4\n5\n6\n")
		local page = support.temp_path(".html")
		local env = string.format("PULSE_API_KEY=%s PULSE_BASE_URL=%s ", support.shell_quote(sandbox.key), sandbox.url)
		local _, err, code = support.run(
			string.format(
				"env %s %s/pulse-lua --quiet --collection %s --data %s --reporter html:%s",
				env,
				support.BIN,
				coll,
				data,
				page
			)
		)
		assert.are.equal(1, code, err) -- the missing one failed, 6 times
		local html = support.read_file(page)
		assert.is_nil(html:find(sandbox.key, 1, true), "no key in the file")
		assert.is_nil(html:find("https?://[%w.-]+/[%w./-]*%.js") or html:find("<link", 1, true), "nothing from elsewhere")
		local dom = browser.dom("file://" .. page)
		local sent = tonumber(summary_value(dom, "calls sent"))
		assert.are.equal(12, sent)
		assert.are.equal(sent, rendered_points(dom), "one point per call, laid out by the browser")
		assert.are.equal("6", summary_value(dom, "failed"))
		local _, failures = dom:gsub('<div class="failure">', "")
		assert.are.equal(6, failures)
		assert.truthy(dom:find("GET " .. sandbox.url .. support.MISSING, 1, true), "the failed request")
		assert.truthy(dom:find("HTTP 404", 1, true), "its answer")
		assert.truthy(dom:find('<polyline class="tokens" points="[%d.]+,', 1), "the bucket's tokens drawn")
		browser.screenshot("file://" .. page, support.BIN .. "/report-collection.png")
		for _, path in ipairs({ coll, data, page }) do
			os.remove(path)
		end
	end)

	it("of a queue's drain: its writes, 429s met, and its dead letters", function()
		local journal, page = support.temp_path(".journal"), support.temp_path(".html")
		local q = assert(pulse.queue.open("file:" .. journal))
		for i = 1, 8 do
			assert(q:push({ method = "POST", path = support.GUESTS, json = sandbox:guest(i), id = "g" .. i }))
		end
		-- Refused for good: no center.
		assert(q:push({ method = "POST", path = support.GUESTS, json = { personal_info = {} }, id = "bad" }))
		local client = sandbox:client()
		local report = assert(q:drain(client, { workers = 3, report_html = page }))
		assert.are.same({ 8, 1 }, { report.done, report.dead })
		local dom = browser.dom("file://" .. page)
		assert.are.equal(report.calls, tonumber(summary_value(dom, "calls sent")))
		assert.are.equal(report.calls, rendered_points(dom))
		assert.truthy(dom:find("bad: ", 1, true), "the dead letter")
		assert.truthy(dom:find("POST /v1/guests", 1, true), "its request")
		assert.is_nil(support.read_file(page):find(sandbox.key, 1, true))
		browser.screenshot("file://" .. page, support.BIN .. "/report-drain.png")
		-- A file it cannot write is refused before any work.
		local none, why = q:drain(client, { report_html = "/nonexistent/dir/r.html" })
		assert.is_nil(none)
		assert.truthy(why:find("report_html: cannot write /nonexistent/dir/r.html", 1, true), why)
		client:close()
		q:close()
		os.remove(journal)
		os.remove(page)
	end)
end)
