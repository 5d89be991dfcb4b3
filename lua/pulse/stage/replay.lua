-- The replay stage (replay = FILE, pulse-lua --replay FILE.har): a call
-- is answered from a HAR recording without the network, by method, path,
-- query and body (volatile query and JSON body fields ignored by the
-- replay's rules), repeats in their recorded order. A call nothing in the
-- recording answers fails (kind replay_miss), or, with miss = "live", goes
-- out as usual, to be added to the recording by the record stage.

local core = require("pulse.core")
local errors = require("pulse.errors")
local har = require("pulse.har")
local secrets = require("pulse.secrets")
local url = require("pulse.url")

local stage = { name = "replay" }

function stage.applies(line)
	return line.replay ~= nil
end

--- A replay of the HAR at path: its exchanges by key, each key's in the
-- file's order. opts: miss ("fail" or "live"), ignore ({ query = {names},
-- body = {dotted fields} }). Raises naming the file when it cannot be read.
function stage.player(path, opts)
	local rules = { query = {}, body = {} }
	for kind, names in pairs(opts.ignore or {}) do
		for _, name in ipairs(names) do
			rules[kind][name] = true
		end
	end
	local exchanges, why = har.load(path, rules)
	if not exchanges then
		error("replay: " .. why, 0)
	end
	local by_key = {}
	for _, exchange in ipairs(exchanges) do
		local list = by_key[exchange.key] or { next = 1 }
		list[#list + 1] = exchange
		by_key[exchange.key] = list
	end
	local origin = exchanges[1] and url.split(exchanges[1].url) or ""
	return {
		path = path,
		rules = rules,
		by_key = by_key,
		count = #exchanges,
		live = opts.miss == "live",
		origin = origin,
	}
end

function stage.open(call)
	local player, req = call.line.replay, call.req
	local list = player.by_key[har.match_key(req.method, req.url, req.body, player.rules)]
	local exchange = list and list[list.next]
	if not exchange then
		if player.live then
			return false
		end
		local client = call.line.client
		local message = string.format(
			"no answer recorded for it in %s (%d exchange%s%s)",
			player.path,
			player.count,
			player.count == 1 and "" or "s",
			list and ", each of this request's used already" or ""
		)
		return true, nil, errors.new({
			kind = "replay_miss",
			method = req.method,
			url = secrets.redact(client, req.url),
			message = message,
			attempts = 0,
		})
	end
	list.next = list.next + 1
	call.line.stats:record_replayed(exchange.attempts)
	call.status, call.headers, call.body = exchange.status, core.headers(exchange.headers), exchange.body
	call.sent, call.rate = exchange.attempts, call.line.limiter:view()
	local a, b = call:conclude()
	local res = b
	if a == nil and errors.is_error(b) then
		res = b.res
	end
	if type(res) == "table" then
		res.replayed = true
	end
	return true, a, b
end

return stage
