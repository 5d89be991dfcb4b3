--- A client of the Pulse API, made by `pulse.new`: its options checked,
-- the transport and limiter it sends through, the key (kept apart, never
-- shown), and the calls, each of which goes down the one request path
-- (send.lua). README.md has the options, `res` and `err` in brief,
-- doc/client.md in full.
-- @module pulse.client

local core = require("pulse.core")
local api = require("pulse.api")
local batch = require("pulse.batch")
local cache = require("pulse.cache")
local errors = require("pulse.errors")
local har = require("pulse.har")
local observe = require("pulse.observe")
local options = require("pulse.options")
local pagination = require("pulse.pagination")
local replay_stage = require("pulse.stage.replay")
local secrets = require("pulse.secrets")
local send = require("pulse.send")
local stats = require("pulse.stats")
local url = require("pulse.url")

local client = {}

-- Set by the pulse-lua runner for --verbose and --quiet.
local runner = package.loaded["pulse.runner"] or {}

local RETRY_DEFAULTS = { max_attempts = 6, max_elapsed = 300, base = 0.5, cap = 30 }

--- The options of `pulse.new`, all optional (the key and the base URL
-- default to `$PULSE_API_KEY` and `$PULSE_BASE_URL`); an unknown name is
-- an error listing the valid ones.
-- @usage local client = pulse.new({ rate_limit = { limit = 60, window = 60 },
--   cache = { dir = "/var/cache/pulse", ttl = 3600 }, auth_scheme = "apikey" })
-- @table options
-- @field api_key the key (else `api_key_file`, `$PULSE_API_KEY`, `$PULSE_API_KEY_FILE`)
-- @field api_key_file a file whose first line is the key, read again when it changes
-- @field base_url the API's URL, http:// or https://
-- @field auth_scheme the `Authorization` header's scheme word: "Api-key" (default) or "apikey"
-- @field timeout seconds per attempt (80)
-- @field connect_timeout seconds to connect (30)
-- @field rate_limit `{ limit, window, burst }`, the starting policy (60 a minute)
-- @field limiter "shm:PATH" or "redis://host:port": one bucket for every process
-- @field bucket the shared bucket's name (default: the organization's, from the key)
-- @field limiter_fallback `{ share }`: the part of the limit to keep when the shared limiter is down
-- @field priority the lane on the limiter: "interactive", "normal" (default) or "bulk"
-- @field retry `{ max_attempts, max_elapsed, base, cap, on_retry }`, or false
-- @field cache true, or `{ ttl, dir, rules, max_entries, max_bytes, stale_if_error, stale_while_revalidate }`
-- @field verify TLS verification (true)
-- @field ca_file, proxy, user_agent, verbose, max_body

--- What a successful call returns beside its body.
-- @usage local body, res = client:get("/v1/centers")
-- print(res.status, res.attempts, res.rate.remaining, res.from_cache)
-- @table res
-- @field status the HTTP status
-- @field headers the answer's headers, found in any case
-- @field attempts every sending of the request (retries, redirects)
-- @field waited seconds waited for the rate limit
-- @field elapsed seconds in all
-- @field from_cache answered from the cache, without a call
-- @field shared the answer of an identical GET out at the same time, ridden along with
-- @field rate the limiter's view after it: `limit, window, burst, remaining, reset`
-- @field redirects the redirects followed, `{ status, url }` each
-- @field next where a walk (`pages`, `each`) resumes

--- What a failed call returns: `tostring(err)` is one line, without the key.
-- @usage local found, err = api.guests.get({ guest_id = id })
-- if not found and err.kind == "not_found" then ... end
-- if not found then print(err.kind, err.code, err.message) end
-- @table err
-- @field kind auth, forbidden, not_found, client, conflict, rate_limited, unavailable,
-- server, network, timeout, decode, too_large, redirect, loop, cancelled, usage;
-- for an error object inside a 2xx, from its application code
-- @field code the API's application code (a number, or a string such as "GE502")
-- @field message the API's message, or what failed
-- @field status the HTTP status, when an answer came (200 for an error inside a 200)
-- @field error the error object as the API sent it (any key redacted)
-- @field attempts, retry_after, method, url, res
-- @field uncertain true for a write that may or may not have been applied

--- A client: made by `pulse.new`, closed by `close` (or a `<close>`
-- variable). Every call returns `body, res` on success and `nil, err` on
-- failure; misuse (wrong types, unknown options) raises.
-- @type Client
local Client = {}
Client.__index = Client
Client.__name = "pulse.client"

function Client:__tostring()
	return "pulse.client(" .. self.base_url .. ")"
end

local usage = errors.usage

-- A key goes into a header line: anything that could end the line or the
-- field is refused, without repeating the key in the message.
-- level: whom a bad key is blamed on (3: the caller of our caller).
local function check_key(key, where, level)
	if type(key) ~= "string" or key == "" then
		usage(where .. ": the API key must be a non-empty string", level or 3)
	end
	if key:find("[%c%s]") then
		usage(where .. ": the API key contains spaces or control characters", level or 3)
	end
end

local warned_verify = false

-- An environment variable's value, or nil when it is unset or empty.
local function given(value)
	return value ~= nil and value ~= "" and value or nil
end

-- Where the key comes from: the key itself, or the file holding it. The
-- options come before the environment, a key before a key file.
local function key_source(opts)
	if opts.api_key ~= nil or opts.api_key_file ~= nil then
		return opts.api_key, opts.api_key_file
	end
	local key = given(os.getenv("PULSE_API_KEY"))
	return key, not key and given(os.getenv("PULSE_API_KEY_FILE")) or nil
end

-- The key in a key file: its first line, spaces trimmed; or nil and why.
local function read_key_file(path)
	local f, why = io.open(path, "r")
	if not f then
		return nil, why
	end
	local line = f:read("l")
	f:close()
	line = line and line:match("^%s*(.-)%s*$")
	if not line or line == "" then
		return nil, path .. ": no key on its first line"
	end
	return line
end

-- The replay the options ask for ($PULSE_REPLAY, $PULSE_REPLAY_MISS and
-- $PULSE_REPLAY_IGNORE, which pulse-lua --replay sets, else): { file,
-- miss, ignore }, or nil.
local function replay_options(opts)
	local given_replay = opts.replay
	if given_replay == nil then
		local file = given(os.getenv("PULSE_REPLAY"))
		if not file then
			return nil
		end
		local ignore = { query = {}, body = {} }
		for kind, name in (os.getenv("PULSE_REPLAY_IGNORE") or ""):gmatch("(%a+):([^,]+)") do
			if not ignore[kind] then
				usage("new: $PULSE_REPLAY_IGNORE: '" .. kind .. ":" .. name .. "' is neither query:NAME nor body:FIELD", 4)
			end
			table.insert(ignore[kind], name)
		end
		local miss = given(os.getenv("PULSE_REPLAY_MISS")) or "fail"
		if miss ~= "fail" and miss ~= "live" then
			usage('new: $PULSE_REPLAY_MISS must be "fail" or "live", got \'' .. miss .. "'", 4)
		end
		return { file = file, miss = miss, ignore = ignore }
	end
	if type(given_replay) == "string" then
		return { file = given_replay, miss = "fail", ignore = {} }
	end
	if not given_replay.file then
		usage("new: option 'replay' needs its file", 4)
	end
	return { file = given_replay.file, miss = given_replay.miss or "fail", ignore = given_replay.ignore or {} }
end

-- Whether the options (or $PULSE_DRY_RUN, which pulse-lua --dry-run sets)
-- ask for a dry run.
local function dry_run_of(opts)
	if opts.dry_run ~= nil then
		return opts.dry_run
	end
	local flag = given(os.getenv("PULSE_DRY_RUN"))
	return flag ~= nil and flag ~= "0" and flag ~= "false"
end

-- The options of pulse.new, checked: the key (or the file it came from),
-- the base URL and its origin, and the replay's player when one is asked.
-- A misuse is blamed on the caller of pulse.new.
local function check_options(opts)
	if opts ~= nil and type(opts) ~= "table" then
		usage("bad argument #1 to 'new' (table expected, got " .. type(opts) .. ")", 3)
	end
	opts = opts or {}
	local valid, why = options.check("new", opts, options.CLIENT)
	if not valid then
		usage(why, 3)
	end
	-- A replay that sends nothing needs no key, and its base URL is the
	-- recording's.
	local replay = replay_options(opts)
	local player
	if replay then
		local loaded
		loaded, player = pcall(replay_stage.player, replay.file, replay)
		if not loaded then
			usage("new: " .. player, 3)
		end
	end
	local offline = player and not player.live
	local key, key_file = key_source(opts)
	if key_file then
		key, why = read_key_file(key_file)
		if not key then
			usage("new: cannot read the API key: " .. why, 3)
		end
	end
	if key == nil and offline then
		key = "replay-sends-nothing"
	end
	if key == nil then
		usage("new: no API key: set PULSE_API_KEY or PULSE_API_KEY_FILE, or pass api_key or api_key_file", 3)
	end
	check_key(key, "new", 4)
	local base_url = opts.base_url or os.getenv("PULSE_BASE_URL")
	if (base_url == nil or base_url == "") and player and player.origin ~= "" then
		base_url = player.origin
	end
	if base_url == nil or base_url == "" then
		usage("new: no base URL: set PULSE_BASE_URL or pass base_url", 3)
	end
	local origin = url.origin(base_url)
	if not origin then
		usage("new: base_url must be an http:// or https:// URL without credentials, got '" .. base_url .. "'", 3)
	end
	-- The organization's shared limit: the option, else $PULSE_LIMITER (which
	-- pulse-lua --limiter sets), so that every job of a machine can share it.
	local from_env = opts.limiter == nil and given(os.getenv("PULSE_LIMITER"))
	if from_env then
		opts = options.merge(opts, { limiter = from_env })
	end
	if opts.limiter ~= nil and not opts.limiter:find("^shm:.") and not opts.limiter:find("^rediss?://") then
		local where = from_env and "$PULSE_LIMITER" or "limiter"
		usage("new: " .. where .. " must be \"shm:<path>\" or \"redis://[user:password@]host:port[/db]\"", 3)
	end
	if opts.user_agent and opts.user_agent:find("[%c]") then
		usage("new: user_agent contains control characters", 3)
	end
	-- An HTTP token (RFC 9110): nothing that could end the header line.
	if opts.auth_scheme and not opts.auth_scheme:find("^[%w!#$%%&'*+.^_`|~-]+$") then
		usage("new: auth_scheme must be one word such as \"Api-key\" or \"apikey\", got '" .. opts.auth_scheme .. "'", 3)
	end
	if opts.verify == false and not warned_verify then
		warned_verify = true
		io.stderr:write("pulse: warning: TLS certificate verification is off (verify = false)\n")
	end
	return opts, key, base_url, origin, key_file, player
end

-- The name of the bucket of an organization: a hash of the base URL's
-- origin and the key, so that two organizations never share one and the
-- key's text is stored nowhere. Several keys of one organization share a
-- bucket by naming it (the bucket option).
function client.bucket_name(origin, key)
	return "org-" .. core.sha256(origin .. "\n" .. key):sub(1, 32)
end

-- The digest by which a cache directory recalls that the server took a
-- key (stage/cache.lua): not the bucket's name, which may be written
-- elsewhere (a shm file, a Redis key).
local function key_digest(origin, key)
	return core.sha256("vouched\n" .. origin .. "\n" .. key)
end

-- The limiter opts ask for: this process's, or one shared through a file
-- or Redis, for the bucket named; a redis:// URL's password is redacted
-- like the key.
local function make_limiter(self, opts, bucket)
	local policy = opts.rate_limit or {}
	local limit = policy.limit or 60
	local window, burst = policy.window or 60, policy.burst or limit
	if not opts.limiter then
		return core.ratelimit(limit, window, burst)
	end
	local password = opts.limiter:match("^rediss?://[^/@]*:([^/@]*)@")
	if password and password ~= "" then
		secrets.remember(self, password)
	end
	local ok, limiter = pcall(core.limiter, {
		url = opts.limiter,
		bucket = bucket,
		limit = limit,
		window = window,
		burst = burst,
		timeout = opts.connect_timeout or 30,
		fallback_share = opts.limiter_fallback and opts.limiter_fallback.share,
	})
	if not ok then
		usage("new: " .. secrets.redact(self, tostring(limiter)), 4)
	end
	return limiter
end

-- With a key file: the file's key, read again when the file has changed
-- (rotation reaches a long-running worker without a restart). A file
-- being rewritten, empty or unreadable for a moment, keeps the key in use.
local function key_refresher(self, key_file)
	local stamp = core.file_stamp(key_file)
	return function()
		local now = core.file_stamp(key_file)
		if now == stamp then
			return
		end
		local key = read_key_file(key_file)
		if key and not key:find("[%c%s]") then
			stamp = now
			self:set_api_key(key)
		end
	end
end

-- pulse.new: the options as README.md and doc/client.md list them.
function client.new(opts)
	local key, base_url, origin, key_file, player
	opts, key, base_url, origin, key_file, player = check_options(opts)
	local retry = opts.retry ~= false and options.merge(RETRY_DEFAULTS, opts.retry)
	local timeout = opts.timeout or 80
	local self = setmetatable({
		base_url = base_url:gsub("/+$", ""),
		origin = origin,
		verbose = opts.verbose == nil and runner.verbose or opts.verbose,
		retry = retry,
		timeout = timeout,
		auth_scheme = opts.auth_scheme or "Api-key",
		-- Writes are not sent (stage/dry_run.lua): a drain, a runner ask.
		dry_run = dry_run_of(opts),
	}, Client)
	secrets.remember(self, key)
	local transport = core.transport({
		timeout = opts.timeout,
		connect_timeout = opts.connect_timeout,
		verify = opts.verify,
		ca_file = opts.ca_file,
		proxy = opts.proxy,
		user_agent = opts.user_agent,
		max_body = opts.max_body,
	})
	transport:set_key(key, self.auth_scheme)
	local bucket = opts.bucket or client.bucket_name(origin, key)
	local limiter = make_limiter(self, opts, bucket)
	local store = opts.cache and cache.new(opts.cache) or nil
	local made, observer = pcall(observe.new, self, opts.on, opts.trace or given(os.getenv("PULSE_TRACE")))
	if not made then
		usage("new: " .. observer, 2)
	end
	-- A replay that goes live for a miss adds the exchange to its file.
	local record_path = opts.record or given(os.getenv("PULSE_RECORD")) or (player and player.live and player.path)
	local recorder
	if record_path then
		local why
		recorder, why = har.recorder(record_path)
		if not recorder then
			usage("new: record: cannot write " .. record_path .. ": " .. tostring(why), 2)
		end
	end
	-- The client's parts, handed to the request path once (send.lua).
	self._line = send.line(self, {
		transport = transport,
		limiter = limiter,
		shared = opts.limiter ~= nil,
		budget = retry and retry.max_elapsed or timeout,
		lane = opts.priority and options.LANES[opts.priority],
		-- A plain call's one attempt ends by retry.max_elapsed + 1 s too.
		first_timeout = retry and timeout > retry.max_elapsed + 1 and retry.max_elapsed + 1 or nil,
		stats = stats.new(transport, limiter, store),
		cache = store,
		bucket = bucket,
		key_digest = key_digest(origin, key),
		refresh_key = key_file and key_refresher(self, key_file) or nil,
		observer = observer,
		dry_run = self.dry_run,
		replay = player,
		recorder = recorder,
	})
	return self
end

--- Rotates the key: the next request on carries it. The bucket stays the
-- client's (the organization's), and the old key stays redacted.
-- @tparam string key the new API key
function Client:set_api_key(key)
	check_key(key, "set_api_key")
	secrets.remember(self, key)
	local line = self._line
	line.transport:set_key(key, self.auth_scheme)
	line.key_vouched = false
	line.key_digest = key_digest(self.origin, key)
	line.reads = {} -- a GET out under the old key is no twin of one under the new
end

--- Closes the client's connections; its stats stay readable.
function Client:close()
	local line = self._line
	line.transport:close()
	if line.observer then
		line.observer:flush()
	end
	if line.recorder then
		line.recorder:close()
		line.recorder = nil -- the calls after this are not recorded
	end
end
Client.__close = Client.close

--- The limiter's model of the organization's bucket.
-- @treturn table `limit, window, burst, remaining, reset, blocked, in_flight`
function Client:ratelimit()
	return self._line.limiter:view()
end

--- The bucket's lanes, in every process sharing it: the reserve (the
-- share of each window held for interactive calls), the callers waiting
-- in each lane now, and the lane this client's calls take by default.
-- @treturn table `reserve, waiting = {interactive, normal, bulk}, priority`;
-- or nil, why (a shared limiter's store could not answer)
function Client:lanes()
	local line = self._line
	local lanes, why = line.limiter:lanes()
	if not lanes then
		return nil, why
	end
	for name, lane in pairs(options.LANES) do
		if lane == (line.lane or options.LANES.normal) then
			lanes.priority = name
		end
	end
	return lanes
end

--- The calls the client has sent so far (every transmission):
-- `client:stats().requests` without the rest of the snapshot, cheap enough
-- to ask before every request (max_calls does).
-- @treturn number
function Client:calls()
	return self._line.stats:requests()
end

--- What the client has done so far.
-- @treturn table `requests, retries, rate_limited, throttled, throttled_sum,
-- ignored_headers, bytes_received, bytes_sent, latency` (percentiles)
function Client:stats()
	return self._line.stats:snapshot()
end

-- A method called with a dot, not a colon, gets this rather than an
-- error from deep inside. (The calls test getmetatable(self) themselves:
-- it is every request's path.)
local function not_a_client(name)
	usage(name .. ": call it as client:" .. name .. "(...), with a colon", 3)
end

-- Methods seen valid, so that a batch checks each once (a few dozen at most).
local VALID_METHODS, valid_methods = {}, 0

--- The process's metrics, in the Prometheus text format: every client's
-- requests (a duration histogram by method and status class), retries,
-- 429s, token waits, and the calls the cache and shared reads saved; what
-- `pulse-lua --metrics ADDR:PORT` serves.
-- @treturn string
function Client:metrics()
	if getmetatable(self) ~= Client then
		not_a_client("metrics")
	end
	return core.metrics()
end

--- Sends a request.
-- @tparam string method an upper-case method, "GET" or "PROPFIND"
-- @tparam string path a path under base_url (or an absolute URL on its origin)
-- @tparam[opt] table opts `query, json, body, headers, timeout, retry, decode,
-- idempotent, follow_redirects, max_body, before_send`
-- @return body (decoded JSON, or text), res; or nil, err
function Client:request(method, path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("request")
	end
	if not VALID_METHODS[method] then
		if type(method) ~= "string" or not method:find("^%u+$") then
			usage("bad argument #1 to 'request' (method must be an upper-case string like \"GET\")", 2)
		end
		if valid_methods < 64 then
			VALID_METHODS[method], valid_methods = true, valid_methods + 1
		end
	end
	return send.call(self._line, "request", method, path, opts)
end

--- GET: `request("GET", path, opts)`.
-- @tparam string path
-- @tparam[opt] table opts
-- @return body, res; or nil, err
function Client:get(path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("get")
	end
	return send.call(self._line, "get", "GET", path, opts)
end

--- What the client's cache holds for a GET of path, without sending it:
-- the body (decoded as a GET's) and whether the entry is still fresh. A
-- plan counts with it (op:plan).
-- @tparam string path
-- @tparam[opt] table opts a GET's (`query`, `cache`)
-- @return body, fresh; or nil when the cache holds nothing the key may read
function Client:cached(path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("cached")
	end
	return send.cached(self._line, "cached", path, opts)
end

--- DELETE: `request("DELETE", path, opts)`.
-- @tparam string path
-- @tparam[opt] table opts
-- @return body, res; or nil, err
function Client:delete(path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("delete")
	end
	return send.call(self._line, "delete", "DELETE", path, opts)
end

local function with_body(method)
	local name = method:lower()
	return function(self, path, body, opts)
		if getmetatable(self) ~= Client then
			not_a_client(name)
		end
		if opts ~= nil and type(opts) ~= "table" then
			usage("bad argument #3 to '" .. name .. "' (options must be a table, got " .. type(opts) .. ")", 2)
		end
		if body ~= nil and type(body) ~= "table" and body ~= core.null then
			usage(
				"bad argument #2 to '"
					.. name
					.. "' (JSON body must be a table, got "
					.. type(body)
					.. "; pass a raw string as opts.body)",
				2
			)
		end
		local merged = {}
		for k, v in pairs(opts or {}) do
			merged[k] = v
		end
		merged.json = body
		return send.call(self._line, name, method, path, merged)
	end
end

--- POST a JSON body: `request("POST", path, opts)` with `opts.json = body`.
-- A POST is never retried once sent unless `opts.idempotent`.
-- @function Client:post
-- @tparam string path
-- @tparam table body the JSON body (or nil, with `opts.body` a string)
-- @tparam[opt] table opts
-- @return body, res; or nil, err (`err.uncertain` when it may have been applied)
Client.post = with_body("POST")

--- PUT a JSON body, as `post` does.
-- @function Client:put
-- @tparam string path
-- @tparam table body
-- @tparam[opt] table opts
-- @return body, res; or nil, err
Client.put = with_body("PUT")

--- PATCH a JSON body, as `post` does.
-- @function Client:patch
-- @tparam string path
-- @tparam table body
-- @tparam[opt] table opts
-- @return body, res; or nil, err
Client.patch = with_body("PATCH")

--- A list endpoint's pages, lazily, for a generic `for`: `body, res` of each
-- page. The next page is found by the Link header (rel="next") or
-- `meta.next_page`, or as `opts.page`, `opts.cursor` or `opts.next` say;
-- `res.next` is where to resume (`opts.start`). A page that fails raises its
-- `err`, with `err.page` set. (A tail call, so that a misuse is reported at
-- the caller.)
-- @tparam string path
-- @tparam[opt] table opts `page, cursor, next, items, start, max_pages`, and
-- request options for every page
-- @return an iterator
function Client:pages(path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("pages")
	end
	return pagination.pages(self, path, opts)
end

--- A list endpoint's items, lazily: `item, res` for each item of each page
-- (the list at `opts.items`, "data" by default). Options as for `pages`.
-- @tparam string path
-- @tparam[opt] table opts
-- @return an iterator
function Client:each(path, opts)
	if getmetatable(self) ~= Client then
		not_a_client("each")
	end
	return pagination.each(self, path, opts)
end

--- The Pulse API's documented operations as functions of this client, in
-- their groups (`api.guests.search`), each `op(args, opts)` returning
-- `body, res` or `nil, err`; see `pulse.operation`. With a Postman
-- collection, its folders too, as nested tables, each request as
-- `fn(args, opts)` with a snake_case name (a folder named as a group joins
-- it); `api:help()` lists them. See `pulse.collection`.
-- @usage local api = client:api()
-- local found = assert(api.guests.search({ email = "ada@example.com" }))
-- for guest in api.guests.list:each({ center_id = id }) do print(guest.id) end
-- print(api.bookings.reserve:help())
-- @param[opt] collection a file's path, a decoded collection, or one loaded
-- with `pulse.collection.load`
-- @tparam[opt] table opts `environment` (a table, or a Postman environment
-- file's path), `data` (a row of iteration data)
-- @treturn table the wrappers
function Client:api(collection, opts)
	if getmetatable(self) ~= Client then
		not_a_client("api")
	end
	if opts ~= nil and type(opts) ~= "table" then
		usage("bad argument #2 to 'api' (options must be a table, got " .. type(opts) .. ")", 2)
	end
	return (api.new(self, collection, opts)) -- the wrappers alone
end

--- Requests, up to `concurrency` at a time (8), results in input order.
-- With `max_calls`, no request starts once that many calls are spent or
-- promised to the requests out: those not started end as
-- `kind = "cancelled"`, to run again. `priority` is their lane.
-- @tparam table|function requests a list of `{ method, path, opts }`, or a
-- function returning the next one (nil at the end)
-- @tparam[opt] table opts `concurrency, fail_fast, on_progress, on_result, max_calls, priority`
-- @treturn table a list of `{ body, res }` or `{ nil, err }` (the count
-- instead, with `on_result`)
function Client:batch(requests, opts)
	if getmetatable(self) ~= Client then
		not_a_client("batch")
	end
	return batch.run(self._line, requests, opts, runner)
end

return client
