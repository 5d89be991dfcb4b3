-- A report a person looks at: one self-contained HTML file (inline CSS and
-- SVG, no script or font from anywhere else) with a summary table, the
-- failures with their request and answer, and a timeline of the run: the
-- bucket's tokens left, the calls sent, the 429s, and each call's latency,
-- one point per call. The collection runner (--reporter html:FILE) and a
-- queue's drain (report_html = FILE) write it; timeline() collects what
-- it draws from the client's response hook.

local json = require("pulse.json")

local report_html = {}

local function escape(text)
	return (tostring(text):gsub("[&<>\"']", {
		["&"] = "&amp;",
		["<"] = "&lt;",
		[">"] = "&gt;",
		['"'] = "&quot;",
		["'"] = "&#39;",
	}))
end

--- A timeline to fill: `on_response` is a response hook (pulse.new's
-- `on`, or a call's) that records each attempt; `calls` what it recorded:
-- { t (seconds from the first), latency, status (nil: no answer), remaining
-- (tokens left after it, when the answer said) }.
function report_html.timeline()
	local self = { calls = {} }
	function self.on_response(event)
		local calls = self.calls
		self.first = self.first or event.time
		calls[#calls + 1] = {
			t = event.time - self.first,
			latency = event.elapsed or 0,
			status = event.status,
			remaining = event.rate and event.rate.remaining,
		}
	end
	return self
end

local CSS = [[
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 2px 12px 2px 0; text-align: left; }
th { border-bottom: 1px solid #999; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; max-height: 16em; }
.failure { border-left: 3px solid #c33; padding-left: 10px; margin-bottom: 1em; }
svg { background: #fbfbfb; border: 1px solid #ddd; }
.axis { stroke: #999; } .label { font-size: 11px; fill: #555; }
.tokens { fill: none; stroke: #2a7; stroke-width: 1.5; } .sent { fill: none; stroke: #37c; stroke-width: 1.5; }
.limited { stroke: #c33; stroke-width: 2; } .call { fill: #37c; } .call.bad { fill: #c33; }
.legend span { margin-right: 1.5em; }
]]

-- The SVG of the bucket and the calls over time, and of each call's
-- latency: one circle (class "call") per call.
local function charts(calls)
	local W, H, PAD = 900, 220, 40
	local span = 0.001
	local most, slowest = 1, 0.001
	for i, c in ipairs(calls) do
		span = math.max(span, c.t + c.latency)
		most = math.max(most, c.remaining or 0, i)
		slowest = math.max(slowest, c.latency)
	end
	local function x(t)
		return PAD + (W - 2 * PAD) * t / span
	end
	local function y(v, top)
		return H - PAD - (H - 2 * PAD) * v / top
	end
	-- Steps, not slopes: a count holds until the next call changes it.
	local tokens, sent, limited = {}, {}, {}
	local function step(points, t, value)
		if #points > 0 then
			points[#points + 1] = string.format("%.1f,%s", x(t), points[#points]:match(",(.*)$"))
		end
		points[#points + 1] = string.format("%.1f,%.1f", x(t), y(value, most))
	end
	for i, c in ipairs(calls) do
		step(sent, c.t, i)
		if c.remaining then
			step(tokens, c.t, c.remaining)
		end
		if c.status == 429 then
			limited[#limited + 1] = string.format(
				'<line class="limited" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>',
				x(c.t),
				H - PAD,
				x(c.t),
				PAD
			)
		end
	end
	local axes = function(top_label)
		return string.format(
			'<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/><line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>'
				.. '<text class="label" x="%d" y="%d">0 s</text><text class="label" x="%d" y="%d">%.1f s</text>'
				.. '<text class="label" x="4" y="%d">%s</text>',
			PAD,
			H - PAD,
			W - PAD,
			H - PAD,
			PAD,
			PAD,
			PAD,
			H - PAD,
			PAD,
			H - PAD + 16,
			W - PAD - 30,
			H - PAD + 16,
			span,
			PAD - 6,
			top_label
		)
	end
	local bucket = string.format(
		'<svg id="bucket" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="tokens left and calls sent">'
			.. '%s<polyline class="tokens" points="%s"/><polyline class="sent" points="%s"/>%s</svg>',
		W,
		H,
		W,
		H,
		axes(tostring(most)),
		table.concat(tokens, " "),
		table.concat(sent, " "),
		table.concat(limited)
	)
	local points = {}
	for _, c in ipairs(calls) do
		local bad = not c.status or c.status >= 400
		points[#points + 1] = string.format(
			'<circle class="call%s" cx="%.1f" cy="%.1f" r="3"><title>%s, %.0f ms at %.2f s</title></circle>',
			bad and " bad" or "",
			x(c.t),
			y(c.latency, slowest),
			c.status and tostring(c.status) or "no answer",
			c.latency * 1000,
			c.t
		)
	end
	local latency = string.format(
		'<svg id="latency" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="latency of each call">'
			.. "%s%s</svg>",
		W,
		H,
		W,
		H,
		axes(string.format("%.0f ms", slowest * 1000)),
		table.concat(points)
	)
	return bucket, latency
end

-- Counts what the browser drew, for a reader to check: the page's body
-- gets data-rendered="points=N" (circles laid out with a size).
local PROBE = [[
document.addEventListener("DOMContentLoaded", function () {
  var drawn = 0;
  document.querySelectorAll("#latency circle.call").forEach(function (c) {
    var box = c.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) drawn++;
  });
  document.body.setAttribute("data-rendered", "points=" + drawn);
});
]]

--- The page. r: `title`; `summary`, a list of { label, value } rows;
-- `failures`, a list of { title, request, answer } (texts, the key
-- redacted already); `calls`, a timeline's.
function report_html.page(r)
	local out = {
		"<!DOCTYPE html>",
		'<html lang="en"><head><meta charset="utf-8">',
		"<title>" .. escape(r.title) .. "</title>",
		"<style>" .. CSS .. "</style></head><body>",
		"<h1>" .. escape(r.title) .. "</h1>",
		'<table id="summary">',
	}
	for _, row in ipairs(r.summary) do
		local value = row[2]
		local numeric = type(value) == "number"
		out[#out + 1] = string.format(
			"<tr><th>%s</th><td%s>%s</td></tr>",
			escape(row[1]),
			numeric and ' class="n"' or "",
			escape(numeric and (math.type(value) == "float" and string.format("%.3f", value) or value) or value)
		)
	end
	out[#out + 1] = "</table>"
	local calls = r.calls or {}
	local limited = 0
	for _, c in ipairs(calls) do
		limited = limited + (c.status == 429 and 1 or 0)
	end
	local bucket, latency = charts(calls)
	out[#out + 1] = "<h2>The bucket and the calls</h2>"
	out[#out + 1] = string.format(
		'<p class="legend"><span style="color:#2a7">&#9632; tokens left</span>'
			.. '<span style="color:#37c">&#9632; calls sent (%d)</span>'
			.. '<span style="color:#c33">| answers of 429 (%d)</span></p>',
		#calls,
		limited
	)
	out[#out + 1] = bucket
	out[#out + 1] = "<h2>Latency, one point per call</h2>"
	out[#out + 1] = latency
	out[#out + 1] = string.format('<h2 id="failures">Failures (%d)</h2>', #(r.failures or {}))
	for _, f in ipairs(r.failures or {}) do
		out[#out + 1] = string.format(
			'<div class="failure"><h3>%s</h3><p>Request</p><pre>%s</pre><p>Answer</p><pre>%s</pre></div>',
			escape(f.title),
			escape(f.request or ""),
			escape(f.answer or "")
		)
	end
	out[#out + 1] = "<script>" .. PROBE .. "</script>"
	out[#out + 1] = "</body></html>"
	return table.concat(out, "\n") .. "\n"
end

--- The answer of err (a pulse error) as a person reads it: the status,
-- the error object the body carried, else the body, then the message (the
-- key redacted already, as in every pulse error).
function report_html.answer_of(err)
	if type(err) ~= "table" then
		return tostring(err)
	end
	local lines = { err.status and ("HTTP " .. err.status) or "no answer" }
	if err.error ~= nil then
		lines[#lines + 1] = json.encode(err.error)
	elseif type(err.body) == "string" and err.body ~= "" then
		lines[#lines + 1] = err.body:sub(1, 4096)
	end
	lines[#lines + 1] = tostring(err.message or err)
	return table.concat(lines, "\n")
end

--- Writes the page to path: true, or nil and why.
function report_html.write(path, r)
	local file, why = io.open(path, "w")
	if not file then
		return nil, why
	end
	file:write(report_html.page(r))
	file:close()
	return true
end

return report_html
