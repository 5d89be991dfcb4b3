-- /v1 invoices: get with expand, a custom payment (collected elsewhere),
-- close (at a zero balance only), and cancel (the whole booking).
-- core-domain.md sections 6 (step 5) and 7.

local json = require("pulse.sandbox.json")
local org = require("pulse.sandbox.org")
local times = require("pulse.sandbox.times")
local wire = require("pulse.sandbox.wire")

local invoices = {}

function invoices.find(call, id)
	return call:find("invoices", id, 404, 418, "Invoice not found.")
end

local function invoice_appointments(invoice)
	local group = invoice._group
	return wire.map(group and group._appointments or {}, function(a)
		local service, therapist = a._service, a._therapist
		return {
			id = a.id,
			invoice_item_id = a._item.invoice_item_id,
			service_name = service.name,
			service_id = service.id,
			start_time = times.format(a._start),
			end_time = times.format(a._start + service.duration * 60),
			serviceduration_in_miutes = service.duration,
			has_add_ons = false,
			is_add_on = false,
			therapist_name = therapist.personal_info.name,
			TherapistId = therapist.id,
			package_id = json.null,
			is_recurring = false,
			cart_item_id = a._cart_item,
			appointment_type = 0,
			therapist_request_type = 0,
			room_id = json.null,
			room_name = "",
			equipment_id = json.null,
			equipment_name = "",
		}
	end)
end

-- The wire form of invoice; expand(part) says whether a part is wanted.
function invoices.fields(invoice, expand)
	local out = wire.fields(invoice)
	local total, paid = org.dues(invoice)
	local tax = 0
	for _, item in ipairs(invoice._items) do
		tax = tax + item.price.tax * item.quantity
	end
	out.appointment_group_id = invoice._group and invoice._group.id or json.null
	out.invoice_dues = { total = total, paid = paid, balance = org.round_money(total - paid) }
	out.total_price = {
		currency_id = invoice._items[1] and invoice._items[1].price.currency_id or 0,
		net_price = org.round_money(total - tax),
		tax = org.round_money(tax),
		rounding_adjustment = 0,
		sum_total = total,
	}
	local guest = invoice._guest
	local info = guest.personal_info
	out.guest = {
		id = guest.id,
		first_name = info.first_name,
		last_name = info.last_name,
		gender = info.gender,
		code = guest.code,
		mobile_phone = info.mobile_phone ~= json.null and "+1 " .. info.mobile_phone.number or json.null,
		email = info.email ~= "" and info.email or json.null,
	}
	out.invoice_items = expand("InvoiceItems") and json.copy_array(invoice._items) or json.null
	out.appointments = expand("Appointments") and invoice_appointments(invoice) or json.null
	out.transactions = expand("Transactions") and json.copy_array(invoice._transactions) or json.null
	out.additional_fields = json.array()
	return out
end

function invoices.get_invoice(call)
	local invoice, bad = invoices.find(call, call.params.invoice_id)
	if not invoice then
		return bad
	end
	return 200, {
		invoice = invoices.fields(invoice, function(part)
			return call:expands(part)
		end),
		error = json.null,
	}
end

local function amount_of(value)
	if value == nil or value == json.null then
		return 0
	end
	return type(value) == "number" and value >= 0 and value < 1e9 and value or nil
end

function invoices.add_invoice_custom_payment(call)
	local invoice, bad = invoices.find(call, call.params.invoice_id)
	if not invoice then
		return bad
	end
	local input, invalid = call:body()
	if not input then
		return invalid
	end
	local amount, tip = amount_of(input.amount), amount_of(input.tip_amount)
	if input.amount == nil then
		return call:missing("amount")
	elseif not amount or not tip then
		return call:fail(400, 502, "Invalid amount.")
	elseif invoice.is_closed or invoice._status == org.INVOICE_STATUS.voided then
		return call:fail(400, 728, "A payment cannot be added to a closed invoice.")
	end
	local center = invoice._center
	local transaction = org.pay(call.org.random, invoice, amount, tip, org.local_time(center, call.now), "CUSTOM")
	if type(input.additional_data) == "string" then
		transaction.payment_option.additional_data = input.additional_data
	end
	return 200, { transaction = transaction, error = json.null }
end

-- Closes an invoice whose balance is zero; its error object is
-- {StatusCode, Message, InternalMessage}, as the reference shows here.
function invoices.close_invoice(call)
	local invoice, bad = invoices.find(call, call.params.invoice_id)
	if not invoice then
		return bad
	end
	if invoice.is_closed then
		return 200, { is_invoice_closed = true, error = json.null }
	end
	local group = invoice._group
	local center = invoice._center
	local today = times.day_of(org.local_time(center, call.now))
	if group and times.day_of(group._appointments[1]._start) > today then
		return call:fail(400, 1113, "The invoice has a future appointment: it cannot be closed.")
	end
	local total, paid = org.dues(invoice)
	if paid < total then
		return call:fail(400, 419, "Full payment is not made.")
	elseif paid > total then
		return call:fail(400, 459, "The invoice is overpaid.")
	end
	org.close_invoice(invoice)
	if group then
		for _, a in ipairs(group._appointments) do
			if a._status ~= org.STATUS.no_show then
				a._status = org.STATUS.closed
			end
		end
	end
	call.events:emit("Invoice", "Invoice.Closed", {
		invoice = invoices.fields(invoice, function()
			return true
		end),
	})
	return 200, { is_invoice_closed = true, error = json.null }
end

function invoices.cancel_invoice_booking(call)
	local invoice, bad = call:find("invoices", call.params.invoice_id, 400, 428, "Request invoices are Invalid.")
	if not invoice then
		return bad
	end
	if #invoice._transactions > 0 then
		return call:fail(400, 502, "payments are added to invoice, delete payments and retry.")
	elseif invoice.is_closed then
		return call:fail(400, 400, "The invoice is closed.")
	elseif not invoice._group then
		return call:fail(400, 502, "invoice doesn't have any appointments.")
	end
	local input, invalid = call:optional_body()
	if not input then
		return invalid
	end
	for _, a in ipairs(invoice._group._appointments) do
		a._status = org.STATUS.cancelled
	end
	if type(input.comments) == "string" then
		invoice._group._notes = input.comments
	end
	invoice._status = org.INVOICE_STATUS.voided
	return 200, { success = true, is_charge_applied = false, error = json.null }
end

return invoices
