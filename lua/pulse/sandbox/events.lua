-- The events of the sample organization, in the envelope webhooks.md
-- documents: id and event_id (24 hex digits), event_schema "v1",
-- event_resource, event_type, event_timestamp (UTC, seven fractional
-- digits) and data. The sandbox keeps the latest for GET /_sandbox/events,
-- and delivers each to the --webhook URLs (src/sandbox/webhooks.c).

local json = require("pulse.sandbox.json")

local events = {}

local KEPT = 200

local Events = {}
Events.__index = Events

-- clock: the wall clock's UTC seconds, fractional; deliver (or nil): a
-- function that queues an envelope's text for the webhooks.
function events.new(clock, deliver)
	return setmetatable({ recent = {}, count = 0, clock = clock, deliver = deliver }, Events)
end

-- An id in the documented form: 24 hex digits, seconds first, as a
-- Mongo-style object id.
function Events:new_id(now)
	self.count = self.count + 1
	return string.format("%08x%016x", math.floor(now) & 0xffffffff, self.count)
end

-- Records an event: resource (nil: null, as the newer samples write it),
-- its type (<Resource>.<Event>) and data. Returns its envelope.
function Events:emit(resource, event_type, data)
	local now = self.clock()
	local envelope = {
		id = self:new_id(now),
		event_id = self:new_id(now),
		event_schema = "v1",
		event_resource = resource or json.null,
		event_type = event_type,
		event_timestamp = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(now))
			.. string.format(".%07dZ", math.floor(now % 1 * 1e7)),
		data = data,
	}
	table.insert(self.recent, envelope)
	if #self.recent > KEPT then
		table.remove(self.recent, 1)
	end
	if self.deliver then
		self.deliver(json.encode(envelope))
	end
	return envelope
end

-- The events recorded, oldest first.
function Events:list()
	return json.copy_array(self.recent)
end

return events
