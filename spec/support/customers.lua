-- The writes the queue's specs push (a customer a row, its email its id
-- and key) and the checks on the sandbox's side: how many customers an
-- email has there, and a reconcile that looks one up.

local customers = {}

function customers.row(i, prefix)
	return { name = "Customer " .. i, email = string.format("%s%d@example.org", prefix or "q", i) }
end

-- Pushes rows 1 to n (of prefix) to queue q.
function customers.push(q, n, prefix)
	for i = 1, n do
		local r = customers.row(i, prefix)
		assert(q:push({ method = "POST", path = "/customers", json = r, id = r.email, key = r.email }))
	end
end

-- How many customers the sandbox holds with email.
function customers.applied(client, email)
	local body = assert(client:get("/customers", { query = { email = email, per_page = 100 } }))
	return body.meta.total
end

-- A drain's reconcile on the sandbox's lookup: applied when the customer
-- exists; nil and why when the lookup failed.
function customers.reconcile(entry, client)
	local body, err = client:get("/customers", { query = { email = entry.json.email } })
	if not body then
		return nil, err
	end
	return #body.data > 0
end

return customers
