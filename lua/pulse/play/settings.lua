-- The options of a pulse-lua --collection run, as the runner hands them
-- ({ name, value } in the order given), made into one settings table:
-- ours (--env, --data, --folder, --parallel, --reporter KIND:FILE) and
-- Newman's spellings of the same (--environment, -d/--iteration-data,
-- -n/--iteration-count, --delay-request, --timeout-request, --bail,
-- -x/--suppress-exit-code, --env-var, --global-var, --reporters with
-- --reporter-KIND-export), and what Newman cannot do (--checks,
-- --strict-scripts, --checkpoint, --resume, --rerun-failed, --max-calls).
-- A wrong value is refused with exit status 2 (usage).

local settings = {}

-- The exit statuses of a --collection run, as Newman's users expect.
settings.EXIT = { failed = 1, usage = 2, unreadable = 3 }

local REPORT_KINDS = { json = true, junit = true, html = true }

local function usage(message)
	error({ refused = message, status = settings.EXIT.usage }, 0)
end

local function whole(name, value, least)
	local n = math.tointeger(tonumber(value))
	if not n or n < least then
		usage(string.format("'%s' takes a whole number, %d or more, not '%s'", name, least, tostring(value)))
	end
	return n
end

local function pair(name, value)
	local key, v = value:match("^([^=]+)=(.*)$")
	if not key then
		usage(string.format("'%s' takes NAME=VALUE, not '%s'", name, value))
	end
	return key, v
end

-- Newman's default report path: newman/<name>-<time>.<ext>.
local function default_export(kind)
	local ext = kind == "junit" and "xml" or kind
	return string.format("newman/pulse-run-report-%s.%s", os.date("%Y-%m-%d-%H-%M-%S"), ext)
end

--- The settings of opts (the runner's: collection, plan, max_calls, and
-- args, a list of { name, value }).
function settings.of(opts)
	local s = {
		collection = opts.collection,
		plan = opts.plan,
		folders = {},
		reports = {}, -- { kind, path }, in the order given
		env_vars = {},
		global_vars = {},
		parallel = 1,
		cli = true,
	}
	if opts.max_calls then
		s.max_calls = whole("--max-calls", opts.max_calls, 1)
	end
	local kinds, exports = nil, {}
	for _, arg in ipairs(opts.args or {}) do
		local name, value = arg[1], arg[2]
		if name == "--folder" then
			s.folders[#s.folders + 1] = value
		elseif name == "--env" or name == "--environment" then
			s.env = value
		elseif name == "--data" or name == "--iteration-data" then
			s.data = value
		elseif name == "--iteration-count" then
			s.iterations = whole(name, value, 1)
		elseif name == "--parallel" then
			s.parallel = whole(name, value, 1)
			if s.parallel > 64 then
				usage("'--parallel' takes a whole number from 1 to 64, not '" .. value .. "'")
			end
		elseif name == "--reporter" then
			local kind, path = value:match("^(%a+):(.+)$")
			if not REPORT_KINDS[kind] then
				usage("'--reporter' takes json:FILE, junit:FILE or html:FILE, not '" .. value .. "'")
			end
			s.reports[#s.reports + 1] = { kind = kind, path = path }
		elseif name == "--reporters" then
			kinds = {}
			for kind in value:gmatch("[^,]+") do
				if kind ~= "cli" and not REPORT_KINDS[kind] then
					usage("'--reporters' takes a list of cli, json, junit and html, not '" .. kind .. "'")
				end
				kinds[#kinds + 1] = kind
			end
		elseif name:find("^%-%-reporter%-%a+%-export$") then
			exports[name:match("^%-%-reporter%-(%a+)%-export$")] = value
		elseif name == "--delay-request" then
			s.delay = whole(name, value, 0) / 1000
		elseif name == "--timeout-request" then
			s.timeout = whole(name, value, 1) / 1000
		elseif name == "--bail" then
			s.bail = value or "failure"
		elseif name == "--suppress-exit-code" then
			s.suppress_exit_code = true
		elseif name == "--env-var" then
			local key, v = pair(name, value)
			s.env_vars[key] = v
		elseif name == "--global-var" then
			local key, v = pair(name, value)
			s.global_vars[key] = v
		elseif name == "--checks" then
			s.checks = value
		elseif name == "--strict-scripts" then
			s.strict_scripts = true
		elseif name == "--checkpoint" then
			s.checkpoint = value
		elseif name == "--resume" then
			s.resume = true
		elseif name == "--rerun-failed" then
			s.rerun_failed = true
		else
			usage("'" .. name .. "' is no option of '--collection'")
		end
	end
	if kinds then -- Newman's --reporters: cli prints the summary, the others export
		s.cli = false
		for _, kind in ipairs(kinds) do
			if kind == "cli" then
				s.cli = true
			else
				s.reports[#s.reports + 1] = { kind = kind, path = exports[kind] or default_export(kind) }
			end
		end
	end
	for kind in pairs(exports) do
		if not REPORT_KINDS[kind] then
			usage("'--reporter-" .. kind .. "-export': no reporter " .. kind)
		elseif not kinds then
			s.reports[#s.reports + 1] = { kind = kind, path = exports[kind] } -- an export names its reporter
		end
	end
	if s.resume and s.rerun_failed then
		usage("'--resume' and '--rerun-failed' cannot go together: one goes on, the other plays the failed again")
	end
	if s.plan and (s.resume or s.rerun_failed) then
		usage("'--plan' sends nothing: not with '--resume' or '--rerun-failed'")
	end
	return s
end

return settings
