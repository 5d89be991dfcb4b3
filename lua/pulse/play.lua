-- pulse-lua --collection FILE: a Postman collection's requests played in
-- document order, once per data row, through the client's limiter and
-- retries (Newman's job, under the rate limit); --parallel N plays N rows
-- at once, each row's requests in order. A summary table at the end, JSON,
-- JUnit and HTML reports on request; the result is false when a request
-- failed.

local api = require("pulse.api")
local collection = require("pulse.collection")
local csv = require("pulse.csv")
local core = require("pulse.core")
local json = require("pulse.json")
local plan = require("pulse.plan")
local pulse = require("pulse")
local report_html = require("pulse.report_html")

local play = {}

-- Set by the pulse-lua runner for --quiet.
local runner = package.loaded["pulse.runner"] or {}

local function refuse(message)
	error({ refused = message }, 0)
end

-- The data rows of a CSV file (a header record, then a row a record) or a JSON
-- file (an array of objects).
local function read_data(path)
	local file = io.open(path, "rb") or refuse("--data: " .. path .. " cannot be read")
	local text = file:read("a"):gsub("^\239\187\191", "")
	file:close()
	if path:lower():find("%.json$") then
		local rows = json.decode(text)
		if type(rows) ~= "table" or not json.is_array(rows) then
			refuse("--data: " .. path .. " is not a JSON array of objects")
		end
		for i, row in ipairs(rows) do
			if type(row) ~= "table" then
				refuse("--data: " .. path .. ": row " .. i .. " is not an object")
			end
		end
		return rows
	end
	local rows, why = csv.rows(text)
	if not rows then
		refuse("--data: " .. path .. ": " .. why)
	end
	return rows
end

-- The endpoints to play: all, or those under the folder named.
local function selected(calls, folder)
	if not folder then
		return calls
	end
	local out = {}
	for _, c in ipairs(calls) do
		for _, name in ipairs(c.request.folders) do
			if name == folder then
				out[#out + 1] = c
				break
			end
		end
	end
	if #out == 0 then
		refuse("--folder: no folder named '" .. folder .. "' holds a request")
	end
	return out
end

-- What a failed result's request went to, and the answer, for the HTML
-- report (not in the JSON one's results): by result.
local failure_details = setmetatable({}, { __mode = "k" })

-- One row: each endpoint in order; returns its results.
local function play_row(client, coll, calls, row_number, row, environment, progress)
	local _, row_calls = api.collection(client, coll, { data = row, environment = environment, path_defaults = true })
	local wanted = {}
	for _, c in ipairs(calls) do
		wanted[c.name] = true
	end
	local results = {}
	for index, c in ipairs(row_calls) do
		if wanted[c.name] then
			local started = core.now()
			local ok, body, res = pcall(c.call)
			local r = {
				row = row_number,
				index = index,
				request = c.request.name,
				name = c.name,
				method = c.request.method,
				time = core.now() - started,
			}
			if not ok then -- the call could not be made (a variable with no value)
				r.error = tostring(body):gsub("^pulse: ", "")
			elseif body == nil then
				r.status, r.error = res.status, tostring(res):gsub("^pulse: ", "")
				r.attempts, r.waited = res.attempts, res.res and res.res.waited or 0
				failure_details[r] = { url = res.url, answer = report_html.answer_of(res) }
			else
				r.status, r.attempts, r.waited = res.status, res.attempts, res.waited
				r.dry_run = res.dry_run
			end
			results[#results + 1] = r
			progress(r)
		end
	end
	return results
end

local function xml_escape(text)
	return (tostring(text):gsub("[&<>\"']", {
		["&"] = "&amp;",
		["<"] = "&lt;",
		[">"] = "&gt;",
		['"'] = "&quot;",
		["'"] = "&apos;",
	}):gsub("[%z\1-\8\11\12\14-\31]", "?"))
end

local function junit(coll, results, elapsed)
	local by_row, rows = {}, {}
	for _, r in ipairs(results) do
		if not by_row[r.row] then
			by_row[r.row] = {}
			rows[#rows + 1] = r.row
		end
		table.insert(by_row[r.row], r)
	end
	local failures = 0
	for _, r in ipairs(results) do
		failures = failures + (r.error and 1 or 0)
	end
	local out = {
		'<?xml version="1.0" encoding="UTF-8"?>',
		string.format(
			'<testsuites name="%s" tests="%d" failures="%d" time="%.3f">',
			xml_escape(coll.name),
			#results,
			failures,
			elapsed
		),
	}
	for _, row in ipairs(rows) do
		local list, failed, time = by_row[row], 0, 0
		for _, r in ipairs(list) do
			failed, time = failed + (r.error and 1 or 0), time + r.time
		end
		out[#out + 1] = string.format(
			'  <testsuite name="%s, row %d" tests="%d" failures="%d" time="%.3f">',
			xml_escape(coll.name),
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
			if r.error then
				out[#out + 1] = open .. ">"
				out[#out + 1] = string.format('      <failure message="%s"/>', xml_escape(r.error))
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

local function write_file(path, text)
	local file, why = io.open(path, "w")
	if not file then
		refuse("--reporter: cannot write " .. tostring(why))
	end
	file:write(text)
	file:close()
end

-- The summary table: a line per request of the collection, its runs
-- added up.
local function summary(results, elapsed, stats)
	local order, by_name, dry_runs = {}, {}, 0
	for _, r in ipairs(results) do
		local s = by_name[r.name]
		if not s then
			s = { name = r.name, runs = 0, failed = 0, time = 0, attempts = 0, waited = 0, statuses = {} }
			by_name[r.name] = s
			order[#order + 1] = s
		end
		s.runs, s.time = s.runs + 1, s.time + r.time
		s.failed = s.failed + (r.error and 1 or 0)
		s.attempts, s.waited = s.attempts + (r.attempts or 0), s.waited + (r.waited or 0)
		s.statuses[r.dry_run and "dry-run" or tostring(r.status or "-")] = true
		dry_runs = dry_runs + (r.dry_run and 1 or 0)
	end
	local header = { "request", "runs", "failed", "status", "avg ms", "attempts", "waited s" }
	local lines = { string.format("%-44s %5s %6s %-9s %9s %8s %8s", table.unpack(header)) }
	local failed = 0
	for _, s in ipairs(order) do
		local statuses = {}
		for k in pairs(s.statuses) do
			statuses[#statuses + 1] = k
		end
		table.sort(statuses)
		failed = failed + s.failed
		lines[#lines + 1] = string.format(
			"%-44s %5d %6d %-9s %9.1f %8d %8.1f",
			s.name,
			s.runs,
			s.failed,
			table.concat(statuses, ","),
			1000 * s.time / s.runs,
			s.attempts,
			s.waited
		)
	end
	lines[#lines + 1] = string.format(
		"%d requests, %d failed, in %.1f s; %d sent, %d answers of 429, %d retries",
		#results,
		failed,
		elapsed,
		stats.requests,
		stats.rate_limited,
		stats.retries
	)
	if dry_runs > 0 then
		lines[#lines + 1] = string.format(
			"dry run: %d write%s not sent (each printed on stderr as the request it would have been)",
			dry_runs,
			dry_runs == 1 and "" or "s"
		)
	end
	return table.concat(lines, "\n"), failed
end

-- The HTML report's content (report_html.page's).
local function html_report(coll, file, results, elapsed, client, timeline)
	local stats = client:stats()
	local failures, failed = {}, 0
	for _, r in ipairs(results) do
		if r.error then
			failed = failed + 1
			local detail = failure_details[r] or {}
			failures[#failures + 1] = {
				title = string.format("%s (row %d)", r.name, r.row),
				request = string.format("%s %s", r.method or "?", detail.url or r.request),
				answer = detail.answer or r.error,
			}
		end
	end
	return {
		title = "pulse-lua: " .. (coll.name or file),
		summary = {
			{ "collection", coll.name or file },
			{ "requests", #results },
			{ "failed", failed },
			{ "elapsed (s)", elapsed },
			{ "calls sent", stats.requests },
			{ "answers of 429", stats.rate_limited },
			{ "retries", stats.retries },
		},
		failures = failures,
		calls = timeline.calls,
	}
end

-- Plays opts.collection (the runner's options, as strings). Returns true
-- when every request succeeded; false and why when the run could not be
-- made or a request failed.
function play.main(opts)
	local ok, result, why = pcall(function()
		local coll_ok, coll = pcall(collection.load, opts.collection)
		if not coll_ok then
			refuse(tostring(coll):gsub("^pulse: ", ""))
		end
		local parallel = 1
		if opts.parallel then
			parallel = math.tointeger(tonumber(opts.parallel))
			if not parallel or parallel < 1 or parallel > 64 then
				refuse("--parallel takes a whole number from 1 to 64, not '" .. opts.parallel .. "'")
			end
		end
		local environment = {}
		if opts.env then
			local file = io.open(opts.env, "rb") or refuse("--env: " .. opts.env .. " cannot be read")
			local doc = json.decode((file:read("a"):gsub("^\239\187\191", "")))
			file:close()
			if type(doc) ~= "table" then
				refuse("--env: " .. opts.env .. " is not a Postman environment (JSON)")
			end
			environment = doc
		end
		local rows = opts.data and read_data(opts.data) or { {} }
		local timeline
		for _, reporter in ipairs(opts.reporters or {}) do
			if reporter:find("^html:") then
				timeline = report_html.timeline()
			end
		end
		-- A collection's rows are bulk work: a person's calls go first.
		local client = pulse.new({ priority = "bulk", on = timeline and { response = timeline.on_response } })
		local _, all = api.collection(client, coll, { environment = environment })
		local calls = selected(all, opts.folder)
		local total, done = #calls * #rows, 0
		if opts.plan then -- what the run would spend; nothing sent
			local p = plan.make(client, total, { requests = #calls, rows = #rows })
			print(string.format("%s: %d requests x %d rows", coll.name or opts.collection, #calls, #rows))
			print("  " .. plan.describe(p))
			return true
		end
		local show = not runner.quiet and core.isatty(2)
		local function progress(r)
			done = done + 1
			if show then
				io.stderr:write(string.format("\r\27[K%d/%d %s %s", done, total, r.name, r.status or "failed"))
			end
		end
		local started = core.now()
		local results = {}
		pulse.run(function()
			local next_row = 0
			local function worker()
				while next_row < #rows do
					next_row = next_row + 1
					local n = next_row
					for _, r in ipairs(play_row(client, coll, calls, n, rows[n], environment, progress)) do
						results[#results + 1] = r
					end
				end
			end
			local tasks = {}
			for i = 1, math.min(parallel, #rows) do
				tasks[i] = pulse.spawn(worker)
			end
			for _, t in ipairs(tasks) do
				t:join()
			end
		end)
		if show then
			io.stderr:write("\r\27[K")
		end
		local elapsed = core.now() - started
		table.sort(results, function(a, b)
			return a.row < b.row or (a.row == b.row and a.index < b.index)
		end)
		local text, failed = summary(results, elapsed, client:stats())
		print(text)
		for _, reporter in ipairs(opts.reporters or {}) do
			local kind, path = reporter:match("^(%a+):(.+)$")
			if kind == "json" then
				write_file(path, json.encode({
					collection = coll.name,
					elapsed = elapsed,
					requests = #results,
					failed = failed,
					results = results,
				}) .. "\n")
			elseif kind == "html" then
				write_file(path, report_html.page(html_report(coll, opts.collection, results, elapsed, client, timeline)))
			else
				write_file(path, junit(coll, results, elapsed))
			end
		end
		client:close()
		if failed > 0 then
			return false, string.format("%d of %d requests failed", failed, #results)
		end
		return true
	end)
	if not ok then
		if type(result) == "table" and result.refused then
			return false, result.refused
		end
		-- A misuse pulse names (no key, no base URL...): its one line,
		-- without a traceback of the runner's own code.
		local misuse = type(result) == "string"
			and (result:match("^[^\n]-:%d+: pulse: ([^\n]*)$") or result:match("^pulse: ([^\n]*)$"))
		if misuse then
			return false, misuse
		end
		error(result, 0)
	end
	return result, why
end

return play
