-- pulse-lua --collection FILE: a Postman collection's requests played in
-- document order, once per data row (iteration), through the client's
-- limiter and retries (Newman's job, under the rate limit); --parallel N
-- plays N rows at once, each row's requests in order. The options
-- (Newman's spellings too) are play/settings.lua's; the checks that take
-- the place of pm.test scripts play/checks.lua's; the checkpoint that
-- lets a killed run go on play/checkpoint.lua's; the summary and report
-- files play/reports.lua's. The exit status: 0 passed, 1 a request or a
-- check failed, 2 usage, 3 a collection, data or checks file unreadable
-- (130 and 143 for Ctrl-C and SIGTERM, the runner's).

local api = require("pulse.api")
local builtin = require("pulse.play.builtin")
local checkpoint = require("pulse.play.checkpoint")
local checks = require("pulse.play.checks")
local collection = require("pulse.collection")
local core = require("pulse.core")
local csv = require("pulse.csv")
local json = require("pulse.json")
local plan = require("pulse.plan")
local pulse = require("pulse")
local report_html = require("pulse.report_html")
local reports = require("pulse.play.reports")
local secrets = require("pulse.secrets")
local settings = require("pulse.play.settings")
local state_home = require("pulse.state_home")

local play = {}

-- Set by the pulse-lua runner for --quiet, and its interrupt object.
local runner = package.loaded["pulse.runner"] or {}

local EXIT = settings.EXIT

local IDEMPOTENT = require("pulse.request").IDEMPOTENT

local function refuse(message, status)
	error({ refused = message, status = status or EXIT.usage }, 0)
end

local function read_text(path, what)
	local file = io.open(path, "rb") or refuse(what .. ": " .. path .. " cannot be read", EXIT.unreadable)
	local text = file:read("a"):gsub("^\239\187\191", "")
	file:close()
	return text
end

-- The data rows of a CSV file (a header record, then a row a record) or a JSON
-- file (an array of objects).
local function read_data(path)
	local text = read_text(path, "--data")
	if path:lower():find("%.json$") then
		local rows = json.decode(text)
		if type(rows) ~= "table" or not json.is_array(rows) then
			refuse("--data: " .. path .. " is not a JSON array of objects", EXIT.unreadable)
		end
		for i, row in ipairs(rows) do
			if type(row) ~= "table" then
				refuse("--data: " .. path .. ": row " .. i .. " is not an object", EXIT.unreadable)
			end
		end
		return rows
	end
	local rows, why = csv.rows(text)
	if not rows then
		refuse("--data: " .. path .. ": " .. why, EXIT.unreadable)
	end
	return rows
end

local function read_environment(path)
	local doc = json.decode(read_text(path, "--env"))
	if type(doc) ~= "table" then
		refuse("--env: " .. path .. " is not a Postman environment (JSON)", EXIT.unreadable)
	end
	return doc
end

-- The environment's variables, name -> value, with --env-var's over them.
local function environment_of(doc, overrides)
	local out = {}
	for k, v in pairs(api.environment_of(doc)) do
		out[k] = v
	end
	for k, v in pairs(overrides) do
		out[k] = v
	end
	return out
end

-- The rows to play: the data's (-n of them; the last again past its end,
-- as Newman does), or -n empty ones.
local function rows_of(s)
	local data = s.data and read_data(s.data) or nil
	local count = s.iterations or (data and #data) or 1
	local rows = {}
	for i = 1, count do
		-- Each iteration's own: a request's captures are set in it.
		local row = {}
		for k, v in pairs(data and data[math.min(i, #data)] or {}) do
			row[k] = v
		end
		rows[i] = row
	end
	return rows
end

-- The endpoints to play: all, or those under the folders named.
local function selected(calls, folders)
	if #folders == 0 then
		return calls
	end
	local out = {}
	for _, folder in ipairs(folders) do
		local found = false
		for _, c in ipairs(calls) do
			for _, name in ipairs(c.request.folders) do
				if name == folder then
					out[#out + 1], found = c, true
					break
				end
			end
		end
		if not found then
			refuse("--folder: no folder named '" .. folder .. "' holds a request")
		end
	end
	return out
end

-- The names a request answers to in a checks file.
local function names_of(c)
	local path = table.concat(c.request.folders, "/")
	return { c.name, c.request.name, (path ~= "" and (path .. "/") or "") .. c.request.name }
end

-- Where a run's checkpoint is kept unless --checkpoint says: the state
-- directory ($XDG_STATE_HOME/pulse/runs), by the collection's name and
-- where its file is.
local function default_checkpoint(collection_path)
	local state, above = state_home()
	if not state then
		refuse("no $XDG_STATE_HOME nor $HOME for the run's checkpoint: give --checkpoint FILE")
	end
	table.move({ state, state .. "/pulse", state .. "/pulse/runs" }, 1, 3, #above + 1, above)
	for _, dir in ipairs(above) do
		local ok, why = core.private_dir(dir)
		if not ok then
			refuse("the run's checkpoint: " .. why .. " (give --checkpoint FILE)")
		end
	end
	local absolute = collection_path
	if not absolute:find("^/") then
		absolute = (os.getenv("PWD") or ".") .. "/" .. collection_path
	end
	local base = collection_path:match("([^/]+)$"):gsub("%.json$", ""):gsub("[^%w._-]", "_")
	return string.format("%s/pulse/runs/%s-%s.checkpoint", state, base, core.sha256(absolute):sub(1, 12))
end

-- Whether v is Ctrl-C or SIGTERM under the runner: the interrupt object,
-- or an error made of it.
local function is_interrupt(v)
	return v ~= nil and (v == runner.interrupt or (type(v) == "table" and v.kind == "interrupted"))
end

-- The one-line answer of a result, for a report: status and body (the
-- key redacted).
local function answer_of(client, res, body, err)
	if err then
		return secrets.redact(client, report_html.answer_of(err))
	end
	local text = type(body) == "table" and json.encode(body) or tostring(body or "")
	return secrets.redact(client, "HTTP " .. tostring(res and res.status) .. "\n" .. text:sub(1, 4096))
end

local Run = {}
Run.__index = Run

-- A result from a step recorded in the checkpoint of the run before.
local function restored(record)
	local r = type(record.result) == "table" and record.result or {}
	r.restored = true
	return r
end

-- What resuming does with a step the run before left: its result, when
-- it completed; "send" when it must go (again); or an uncertain result
-- for a write sent whose outcome is unknown, which only the checks
-- file's reconcile can settle.
function Run:resumed_step(c, n, index, row)
	local record = self.before.steps[checkpoint.key(n, index)]
	if not record then
		return "send"
	end
	if record.state == "done" or record.state == "failed" then
		self.skipped = self.skipped + 1
		return restored(record)
	end
	if IDEMPOTENT[c.request.method] then
		return "send" -- sent, no answer: sending it again does no harm
	end
	local reconcile = self.checks and self.checks:reconciler(names_of(c))
	local r = { row = n, index = index, name = c.name, request = c.request.name, method = c.request.method, time = 0 }
	if reconcile then
		local ok, applied = pcall(reconcile, { name = c.name, request = c.request.name, row = n, data = row })
		if ok and applied == true then
			r.reconciled, r.status = true, "applied"
			self.cp:ended(n, index, c.name, "done", r)
			return r
		elseif ok and applied == false then
			return "send"
		end
	end
	r.uncertain, r.failed = true, true
	return r
end

-- One request of row n: sent, checked, recorded; what its answer sets
-- (its captures) goes into row. Returns its result.
function Run:step(c, n, index, row)
	local client, s = self.client, self.settings
	local seen
	local opts = {
		timeout = s.timeout,
		on = {
			request = function(event)
				seen = event.method .. " " .. event.url
			end,
		},
	}
	if self.cp and not IDEMPOTENT[c.request.method] then
		local cp = self.cp
		opts.before_send = function()
			cp:sent(n, index, c.name)
			return true
		end
	end
	local started = core.now()
	local ok, body, res = pcall(c.call, nil, opts)
	local r = {
		row = n,
		index = index,
		request = c.request.name,
		name = c.name,
		method = c.request.method,
		time = core.now() - started,
	}
	if not ok and is_interrupt(body) then
		error(body, 0)
	elseif ok and body == nil and is_interrupt(res) then
		error(res, 0)
	end
	local err = ok and body == nil and res or nil
	if not ok then -- the call could not be made (a variable with no value)
		r.error = tostring(body):gsub("^pulse: ", "")
	elseif err then
		r.status, r.error = err.status, tostring(err):gsub("^pulse: ", "")
		r.attempts, r.waited = err.attempts, err.res and err.res.waited or 0
		r.uncertain = err.uncertain
	else
		r.status, r.attempts, r.waited = res.status, res.attempts, res.waited
		r.dry_run = res.dry_run
		for name, path in pairs(c.request.capture or {}) do -- for the row's requests after it
			local value = json.at_path(body, path)
			if value == nil then
				r.error = string.format("its answer has no %s to set {{%s}} from", path, name)
			else
				row[name] = value
			end
		end
	end
	local rules = self.checks and self.checks:for_request(names_of(c)) or {}
	if ok and #rules > 0 then
		local checked_res = err and err.res or res
		local checked_body = err and (err.error ~= nil and { error = err.error } or nil) or body
		r.checks = checks.run(rules, checked_res, checked_body, r.time * 1000)
		local failed = err and err.status == nil -- no answer at all
		for _, check in ipairs(r.checks) do
			failed = failed or not check.passed
		end
		r.failed = failed or r.uncertain or false
	else
		r.failed = not ok or err ~= nil or r.error ~= nil
	end
	if r.failed then
		r.detail = {
			request = secrets.redact(client, seen or (r.method .. " " .. r.request)),
			answer = ok and answer_of(client, res, body, err) or r.error,
		}
	end
	if self.cp then
		self.cp:ended(n, index, c.name, r.failed and "failed" or "done", r)
	end
	return r
end

-- Row n: each selected request in order, as the run's options say.
function Run:row(n, row, progress)
	local client, s = self.client, self.settings
	local _, row_calls = api.collection(client, self.coll, {
		data = row,
		environment = self.environment,
		globals = s.global_vars,
		path_defaults = true,
	})
	local results, first = {}, true
	for index, c in ipairs(row_calls) do
		if self.stopped then
			break
		end
		local key = checkpoint.key(n, index)
		if self.wanted[c.name] and (not self.only or self.only[key]) then
			local r = self.before and not self.only and self:resumed_step(c, n, index, row) or "send"
			if r == "send" then
				if s.max_calls and client:calls() >= s.max_calls then
					self.stopped = string.format(
						"stopped at --max-calls %d: the rest were not sent; --resume goes on (checkpoint %s)",
						s.max_calls,
						self.checkpoint_path
					)
					break
				end
				if s.delay and not first then
					pulse.sleep(s.delay)
				end
				first = false
				r = self:step(c, n, index, row)
			end
			results[#results + 1] = r
			progress(r)
			if r.failed and s.bail == "failure" then
				self.stopped = "bailed at the first failure (--bail failure): the rest were not run"
				break
			elseif r.failed and s.bail == "iteration" then
				break -- the rest of this row only
			end
		end
	end
	return results
end

-- Makes the folders of path that are missing (Newman's reports go to
-- newman/ by default), 0700.
local function make_parents(path)
	local prefix = ""
	for part in path:gmatch("([^/]*)/") do
		prefix = prefix .. part .. "/"
		if part ~= "" and part ~= "." and not io.open(prefix) then
			local ok, why = core.private_dir(prefix)
			if not ok then
				refuse("--reporter: " .. why, EXIT.unreadable)
			end
		end
	end
end

local function write_file(path, text)
	make_parents(path)
	local file, why = io.open(path, "w")
	if not file then
		refuse("--reporter: cannot write " .. tostring(why), EXIT.unreadable)
	end
	file:write(text)
	file:close()
end

-- The run's checkpoint, opened as --resume or --rerun-failed want it (the
-- run before's read into self.before), or afresh.
function Run:open_checkpoint(rows_count, requests_count)
	local s = self.settings
	-- Beside the run's first report, or where --checkpoint says, or in the
	-- state directory when the run writes no report.
	local beside = s.reports[1] and (s.reports[1].path .. ".checkpoint")
	local path = s.checkpoint or beside or default_checkpoint(s.collection)
	local header = { collection = self.coll.name, file = s.collection, rows = rows_count, requests = requests_count }
	if s.resume or s.rerun_failed then
		local before = checkpoint.read(path)
		if not before or not before.run then
			refuse(string.format("%s: no checkpoint of a run before at %s", s.resume and "--resume" or "--rerun-failed", path))
		end
		if before.run.collection ~= header.collection or before.run.rows ~= rows_count then
			refuse(string.format(
				"the checkpoint at %s is of another run (%s, %s rows), not of this one (%s, %d rows)",
				path,
				tostring(before.run.collection),
				tostring(before.run.rows),
				header.collection,
				rows_count
			))
		end
		self.before = before
		if s.rerun_failed then
			self.only = {}
			for key, record in pairs(before.steps) do
				if record.state == "failed" then
					self.only[key] = true
				end
			end
		end
	end
	self.checkpoint_path = path
	-- A dry run's writes were not sent: a run after it must not take them
	-- for done. It reads a checkpoint, and keeps none.
	if self.client.dry_run then
		return
	end
	local why
	self.cp, why = checkpoint.open(path, header, s.resume or s.rerun_failed)
	if not self.cp then
		refuse("the run's checkpoint: cannot write " .. tostring(why))
	end
end

-- The run, planned (--plan) or played; returns true when it passed, else
-- false, why, and the exit status.
local function run_collection(s)
	local source = s.collection == builtin.NAME and builtin.collection() or s.collection
	local coll_ok, coll = pcall(collection.load, source)
	if not coll_ok then
		refuse((tostring(coll):gsub("^pulse: ", "")), EXIT.unreadable)
	end
	local scripts = coll.scripts
	if s.strict_scripts and scripts.prerequest + scripts.test > 0 then
		return false,
			string.format(
				"the collection holds %d pre-request and %d test scripts, which pulse-lua does not run (--strict-scripts); "
					.. "--checks FILE.lua takes their place",
				scripts.prerequest,
				scripts.test
			),
			EXIT.failed
	end
	local self = setmetatable({ settings = s, coll = coll, skipped = 0 }, Run)
	self.checks = s.checks and checks.load(s.checks) or nil
	self.environment = environment_of(s.env and read_environment(s.env) or {}, s.env_vars)
	local rows = rows_of(s)
	local timeline
	for _, report in ipairs(s.reports) do
		if report.kind == "html" then
			timeline = report_html.timeline()
		end
	end
	-- A collection's rows are bulk work: a person's calls go first.
	local client = pulse.new({ priority = "bulk", on = timeline and { response = timeline.on_response } })
	self.client = client
	local _, all = api.collection(client, coll, { environment = self.environment, globals = s.global_vars })
	local calls = selected(all, s.folders)
	self.wanted = {}
	for _, c in ipairs(calls) do
		self.wanted[c.name] = true
	end
	if s.plan then -- what the run would spend; nothing sent
		local p = plan.make(client, #calls * #rows, { requests = #calls, rows = #rows })
		print(string.format("%s: %d requests x %d rows", coll.name or s.collection, #calls, #rows))
		print("  " .. plan.describe(p))
		return true
	end
	self:open_checkpoint(#rows, #calls)
	local total, done = #calls * #rows, 0
	local show = not runner.quiet and core.isatty(2)
	local function progress(r)
		done = done + 1
		if show then
			io.stderr:write(string.format("\r\27[K%d/%d %s %s", done, total, r.name, r.status or "failed"))
		end
	end
	local started = core.now()
	local results = {}
	local ok, err = pcall(pulse.run, function()
		local next_row = 0
		local function worker()
			while next_row < #rows and not self.stopped do
				next_row = next_row + 1
				local n = next_row
				for _, r in ipairs(self:row(n, rows[n], progress)) do
					results[#results + 1] = r
				end
			end
		end
		local workers = {}
		for i = 1, math.min(s.parallel, #rows) do
			workers[i] = pulse.spawn(worker)
		end
		for _, w in ipairs(workers) do
			w:join()
		end
	end)
	if self.cp then
		self.cp:close()
	end
	if show then
		io.stderr:write("\r\27[K")
	end
	if not ok then
		if is_interrupt(err) and self.cp then
			io.stderr:write(string.format("pulse-lua: --resume goes on from checkpoint %s\n", self.cp.path))
		end
		client:close()
		error(err, 0)
	end
	table.sort(results, function(a, b)
		return a.row < b.row or (a.row == b.row and a.index < b.index)
	end)
	local run = {
		collection_name = coll.name or s.collection,
		results = results,
		elapsed = core.now() - started,
		stats = client:stats(),
		scripts = scripts,
		skipped = self.skipped,
		stopped = self.stopped,
	}
	if s.cli then
		print(reports.summary(run))
	end
	for _, report in ipairs(s.reports) do
		if report.kind == "json" then
			write_file(report.path, reports.json(run))
		elseif report.kind == "junit" then
			write_file(report.path, reports.junit(run))
		else
			write_file(report.path, reports.html(run, timeline))
		end
	end
	client:close()
	local t = reports.totals(results)
	if t.failed > 0 then
		local why = string.format("%d of %d requests failed", t.failed, #results)
		if t.uncertain > 0 then
			why = why
				.. string.format(
					"; %d uncertain write%s not sent again: give it a reconcile in --checks",
					t.uncertain,
					t.uncertain == 1 and "" or "s"
				)
		end
		return false, why, s.suppress_exit_code and 0 or EXIT.failed
	end
	return true
end

--- Plays a collection (the runner's options: collection, plan, max_calls,
-- args). Returns true when every request and check passed; false, why
-- and the exit status when the run could not be made or one failed.
function play.main(opts)
	local ok, passed, why, status = pcall(function()
		return run_collection(settings.of(opts))
	end)
	if not ok then
		local failure = passed
		if type(failure) == "table" and failure.refused then
			return false, failure.refused, failure.status or EXIT.usage
		end
		-- A misuse pulse names (no key, no base URL...): its one line,
		-- without a traceback of the runner's own code.
		local misuse = type(failure) == "string"
			and (failure:match("^[^\n]-:%d+: pulse: ([^\n]*)$") or failure:match("^pulse: ([^\n]*)$"))
		if misuse then
			return false, misuse, EXIT.usage
		end
		error(failure, 0)
	end
	if passed then
		return true, nil, 0
	end
	return false, why, status or EXIT.failed
end

return play
