-- Dates and date-times as the API writes them: YYYY-MM-DD, and
-- YYYY-MM-DDTHH:MM:SS without an offset, in a center's local time. The
-- sandbox counts time as seconds since 1970-01-01T00:00:00 of the clock in
-- question (UTC, or a center's), computed here rather than with os.time,
-- which reads the machine's time zone.

local times = {}

-- "No date", as the API writes it.
times.NONE = "0001-01-01T00:00:00"

times.DAY = 86400

-- Days since 1970-01-01 of a civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
	y = m <= 2 and y - 1 or y
	local era = (y >= 0 and y or y - 399) // 400
	local yoe = y - era * 400
	local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
	local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
	return era * 146097 + doe - 719468
end

local function valid_date(y, m, d)
	if m < 1 or m > 12 or d < 1 then
		return false
	end
	local next_month = m == 12 and days_from_civil(y + 1, 1, 1) or days_from_civil(y, m + 1, 1)
	return d <= next_month - days_from_civil(y, m, 1)
end

-- Seconds of "YYYY-MM-DD", or nil.
function times.parse_date(text)
	local y, m, d = tostring(text):match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
	if not y then
		return nil
	end
	y, m, d = tonumber(y), tonumber(m), tonumber(d)
	return valid_date(y, m, d) and days_from_civil(y, m, d) * times.DAY or nil
end

-- Seconds of "YYYY-MM-DDTHH:MM:SS" (or a date alone: its midnight), or nil.
function times.parse(text)
	text = tostring(text)
	local date, h, mi, s = text:match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d):(%d%d):(%d%d)$")
	if not date then
		return times.parse_date(text)
	end
	local day = times.parse_date(date)
	h, mi, s = tonumber(h), tonumber(mi), tonumber(s)
	if not day or h > 23 or mi > 59 or s > 59 then
		return nil
	end
	return day + h * 3600 + mi * 60 + s
end

function times.format(seconds)
	return os.date("!%Y-%m-%dT%H:%M:%S", seconds // 1)
end

function times.format_date(seconds)
	return os.date("!%Y-%m-%d", seconds // 1)
end

-- The midnight of the day seconds falls in.
function times.day_of(seconds)
	return seconds // times.DAY * times.DAY
end

-- 0 for Sunday to 6 for Saturday.
function times.weekday(seconds)
	return (seconds // times.DAY + 4) % 7
end

-- "HH:MM" of minutes after midnight.
function times.clock(minutes)
	return string.format("%02d:%02d", minutes // 60, minutes % 60)
end

return times
