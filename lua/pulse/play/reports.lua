-- What a collection run reports: the summary table (Newman's cli
-- reporter's place), and the JSON, JUnit and HTML files. A result is one
-- request of one row (iteration): row, index, name (api.folder.request),
-- request (its name in the collection), method, time, status, attempts,
-- waited, error (why the request failed, when it did), checks ({ name,
-- passed, message }), failed (the request or a check failed), uncertain,
-- dry_run, and detail ({ request, answer }: what went and what came, the
-- key redacted) for a failed one.

local json = require("pulse.json")
local report_html = require("pulse.report_html")

local reports = {}

local function xml_escape(text)
	return (tostring(text):gsub("[&<>\"']", {
		["&"] = "&amp;",
		["<"] = "&lt;",
		[">"] = "&gt;",
		['"'] = "&quot;",
		["'"] = "&apos;",
	}):gsub("[%z\1-\8\11\12\14-\31]", "?"))
end

-- Why a result failed, in one line: its error, or its failed checks.
function reports.why(r)
	if r.uncertain then
		return "uncertain: the write was sent and its outcome is unknown"
	end
	local failed = {}
	for _, c in ipairs(r.checks or {}) do
		if not c.passed then
			failed[#failed + 1] = c.name .. (c.message and (" (" .. c.message .. ")") or "")
		end
	end
	if #failed > 0 then
		return "check failed: " .. table.concat(failed, "; ")
	end
	return r.error or "failed"
end

--- Counts over results: failed, checks passed and failed, dry runs,
-- uncertain writes.
function reports.totals(results)
	local t = { failed = 0, checks_passed = 0, checks_failed = 0, dry_runs = 0, uncertain = 0 }
	for _, r in ipairs(results) do
		t.failed = t.failed + (r.failed and 1 or 0)
		t.dry_runs = t.dry_runs + (r.dry_run and 1 or 0)
		t.uncertain = t.uncertain + (r.uncertain and 1 or 0)
		for _, c in ipairs(r.checks or {}) do
			if c.passed then
				t.checks_passed = t.checks_passed + 1
			else
				t.checks_failed = t.checks_failed + 1
			end
		end
	end
	return t
end

--- The summary: a line per request of the collection, its runs added up,
-- then the totals, what was not run, and the failures.
function reports.summary(run)
	local results, stats = run.results, run.stats
	local order, by_name = {}, {}
	for _, r in ipairs(results) do
		local s = by_name[r.name]
		if not s then
			s = { name = r.name, runs = 0, failed = 0, time = 0, attempts = 0, waited = 0, statuses = {}, checks = 0 }
			by_name[r.name] = s
			order[#order + 1] = s
		end
		s.runs, s.time = s.runs + 1, s.time + r.time
		s.failed = s.failed + (r.failed and 1 or 0)
		s.checks = s.checks + #(r.checks or {})
		s.attempts, s.waited = s.attempts + (r.attempts or 0), s.waited + (r.waited or 0)
		s.statuses[r.dry_run and "dry-run" or tostring(r.status or "-")] = true
	end
	local header = { "request", "runs", "failed", "status", "avg ms", "attempts", "waited s", "checks" }
	local lines = { string.format("%-44s %5s %6s %-9s %9s %8s %8s %6s", table.unpack(header)) }
	for _, s in ipairs(order) do
		local statuses = {}
		for k in pairs(s.statuses) do
			statuses[#statuses + 1] = k
		end
		table.sort(statuses)
		lines[#lines + 1] = string.format(
			"%-44s %5d %6d %-9s %9.1f %8d %8.1f %6d",
			s.name,
			s.runs,
			s.failed,
			table.concat(statuses, ","),
			1000 * s.time / s.runs,
			s.attempts,
			s.waited,
			s.checks
		)
	end
	local t = reports.totals(results)
	lines[#lines + 1] = string.format(
		"%d requests, %d failed, in %.1f s; %d sent, %d answers of 429, %d retries",
		#results,
		t.failed,
		run.elapsed,
		stats.requests,
		stats.rate_limited,
		stats.retries
	)
	if t.checks_passed + t.checks_failed > 0 then
		lines[#lines + 1] = string.format("checks: %d passed, %d failed", t.checks_passed, t.checks_failed)
	end
	local scripts = run.scripts
	if scripts and scripts.prerequest + scripts.test > 0 then
		lines[#lines + 1] = string.format(
			"scripts: %d pre-request and %d test script%s in the collection, not run "
				.. "(pulse-lua runs no JavaScript: --checks FILE.lua takes their place)",
			scripts.prerequest,
			scripts.test,
			scripts.test == 1 and "" or "s"
		)
	end
	if t.dry_runs > 0 then
		lines[#lines + 1] = string.format(
			"dry run: %d write%s not sent (each printed on stderr as the request it would have been)",
			t.dry_runs,
			t.dry_runs == 1 and "" or "s"
		)
	end
	if run.skipped and run.skipped > 0 then
		lines[#lines + 1] = string.format("resumed: %d requests done in the run before, not sent again", run.skipped)
	end
	if run.stopped then
		lines[#lines + 1] = run.stopped
	end
	for _, r in ipairs(results) do
		if r.failed then
			lines[#lines + 1] = string.format("  failed: %s (row %d): %s", r.name, r.row, reports.why(r))
		end
	end
	return table.concat(lines, "\n")
end

--- JUnit XML: a test suite per row (iteration), a test case per request,
-- a failure holding what was sent and what came back (key redacted).
function reports.junit(run)
	local results = run.results
	local by_row, rows = {}, {}
	for _, r in ipairs(results) do
		if not by_row[r.row] then
			by_row[r.row] = {}
			rows[#rows + 1] = r.row
		end
		table.insert(by_row[r.row], r)
	end
	local name = run.collection_name
	local out = {
		'<?xml version="1.0" encoding="UTF-8"?>',
		string.format(
			'<testsuites name="%s" tests="%d" failures="%d" time="%.3f">',
			xml_escape(name),
			#results,
			reports.totals(results).failed,
			run.elapsed
		),
	}
	for _, row in ipairs(rows) do
		local list, failed, time = by_row[row], 0, 0
		for _, r in ipairs(list) do
			failed, time = failed + (r.failed and 1 or 0), time + r.time
		end
		out[#out + 1] = string.format(
			'  <testsuite name="%s, row %d" tests="%d" failures="%d" time="%.3f">',
			xml_escape(name),
			row,
			#list,
			failed,
			time
		)
		for _, r in ipairs(list) do
			local open = string.format(
				'    <testcase classname="%s" name="%s" time="%.3f"',
				xml_escape(r.name),
				xml_escape(r.request),
				r.time
			)
			if r.failed then
				local detail = r.detail or {}
				out[#out + 1] = open .. ">"
				out[#out + 1] = string.format('      <failure message="%s">', xml_escape(reports.why(r)))
				out[#out + 1] = xml_escape("request: " .. (detail.request or (r.method or "?") .. " " .. r.request))
				out[#out + 1] = xml_escape("answer: " .. (detail.answer or "none"))
				out[#out + 1] = "      </failure>"
				out[#out + 1] = "    </testcase>"
			else
				out[#out + 1] = open .. "/>"
			end
		end
		out[#out + 1] = "  </testsuite>"
	end
	out[#out + 1] = "</testsuites>"
	return table.concat(out, "\n") .. "\n"
end

--- The JSON report: the totals and every result.
function reports.json(run)
	local t = reports.totals(run.results)
	local results = {}
	for i, r in ipairs(run.results) do
		local copy = {}
		for k, v in pairs(r) do
			copy[k] = v
		end
		copy.checks = r.checks and json.array(r.checks) or nil
		results[i] = copy
	end
	return json.encode({
		collection = run.collection_name,
		elapsed = run.elapsed,
		requests = #run.results,
		failed = t.failed,
		checks = { passed = t.checks_passed, failed = t.checks_failed },
		scripts = run.scripts,
		results = json.array(results),
	}) .. "\n"
end

--- The HTML report's content (report_html.page's).
function reports.html(run, timeline)
	local stats = run.stats
	local failures = {}
	for _, r in ipairs(run.results) do
		if r.failed then
			local detail = r.detail or {}
			failures[#failures + 1] = {
				title = string.format("%s (row %d)", r.name, r.row),
				request = detail.request or string.format("%s %s", r.method or "?", r.request),
				answer = (detail.answer or reports.why(r)) .. (r.checks and #r.checks > 0 and ("\n" .. reports.why(r)) or ""),
			}
		end
	end
	local t = reports.totals(run.results)
	return report_html.page({
		title = "pulse-lua: " .. run.collection_name,
		summary = {
			{ "collection", run.collection_name },
			{ "requests", #run.results },
			{ "failed", t.failed },
			{ "checks passed", t.checks_passed },
			{ "checks failed", t.checks_failed },
			{ "elapsed (s)", run.elapsed },
			{ "calls sent", stats.requests },
			{ "answers of 429", stats.rate_limited },
			{ "retries", stats.retries },
		},
		failures = failures,
		calls = timeline.calls,
	})
end

return reports
