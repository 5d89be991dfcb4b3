-- The writes the queue's specs push (a guest a row, its e-mail its id and
-- key) and the checks on the sandbox's side: how many guests an e-mail has
-- there, the order they were made in, and a reconcile that looks one up.
-- The guests go to the sample organization's first center (seed 1), whose
-- id is made here as the sandbox makes it.

local guests = {}

local center_id

local function center()
	if not center_id then
		center_id = require("pulse.sandbox.org").new({ seed = 1, centers = 1, guests = 1, now = os.time() }).centers[1].id
	end
	return center_id
end

guests.PATH = "/v1/guests"

function guests.row(i, prefix)
	return {
		center_id = center(),
		personal_info = {
			first_name = "Guest",
			last_name = "Number " .. i,
			email = string.format("%s%d@example.org", prefix or "q", i),
		},
	}
end

-- A guest the API refuses at once (no last name, which it requires): 400.
function guests.refused()
	return { center_id = center(), personal_info = { first_name = "No last name" } }
end

-- Pushes rows 1 to n (of prefix) to queue q.
function guests.push(q, n, prefix)
	for i = 1, n do
		local r = guests.row(i, prefix)
		local email = r.personal_info.email
		assert(q:push({ method = "POST", path = guests.PATH, json = r, id = email, key = email }))
	end
end

-- How many guests the sandbox holds with email.
function guests.applied(client, email)
	local body = assert(client:get("/v1/guests/search", { query = { email = email } }))
	return body.page_info.total
end

-- For each e-mail, the places (in the order the sandbox made them) of the
-- center's guests that have it: one walk of the list, 100 a page.
function guests.places(client)
	local api = client:api()
	local by_email, place = {}, 0
	for guest in api.guests.list:each({ center_id = center() }) do
		place = place + 1
		local list = by_email[guest.personal_info.email] or {}
		list[#list + 1] = place
		by_email[guest.personal_info.email] = list
	end
	return by_email
end

-- A drain's reconcile on the sandbox's search: applied when the guest
-- exists; nil and why when the lookup failed.
function guests.reconcile(entry, client)
	local body, err = client:get("/v1/guests/search", { query = { email = entry.json.personal_info.email } })
	if not body then
		return nil, err
	end
	return #body.guests > 0
end

return guests
