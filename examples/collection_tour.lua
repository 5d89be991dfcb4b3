-- Endpoint wrappers from a Postman collection: the sandbox's own
-- (examples/pulse-sandbox.postman_collection.json, the format Pulse
-- publishes its API in) loaded into functions, then a short job through
-- them: a new customer, their first booking, and the day's bookings.
--
--   pulse-lua --sandbox examples/collection_tour.lua [COLLECTION]

local pulse = require("pulse")

local client = pulse.new()
local api = client:api(arg[1] or "examples/pulse-sandbox.postman_collection.json")
print(api:help())
print()

-- {{customerName}} and {{customerEmail}} in the collection's body, filled.
local customer = assert(api.customers.create_customer({
	customerName = "Grace Hopper",
	customerEmail = "grace@example.org",
})).data
print(string.format("customer %d: %s", customer.id, customer.name))

-- opts.json replaces the collection's example body.
local booking, err = api.bookings.create_booking({}, {
	json = { service_id = 2, staff_id = 7, customer_id = customer.id, start = "2026-12-20T10:00:00Z" },
})
if not booking then
	error(err, 0)
end
print(string.format("booking %d at %s", booking.data.id, booking.data.start))

local shown = assert(api.bookings.get_booking({ id = booking.data.id })).data
print(string.format("read back: customer %d, staff %d", shown.customer_id, shown.staff_id))

-- The collection's list request, its query merged with ours.
local page = assert(api.bookings.list_bookings({ perPage = 5 }, { query = { page = 2 } }))
print(string.format("bookings page %d: %d of them", page.meta.page, #page.data))
client:close()
