-- Headless Chromium (Debian's chromium, which make deps installs) for the
-- specs of the pages a person looks at: the DOM as the browser rendered
-- it, and a screenshot. Chromium runs as root here, so without its
-- sandbox, and with a profile of its own each time.

local support = require("support.sandbox")

local browser = {}

-- The binary, or an error that says how to get it: a spec of a page never
-- passes without a browser.
local function binary()
	for _, name in ipairs({ "chromium", "chromium-browser" }) do
		local path = support.run("command -v " .. name)
		if path and path ~= "" then
			return (path:gsub("%s+$", ""))
		end
	end
	error("headless Chromium is needed to check this page: install it (make deps installs chromium)", 2)
end

local function run(args)
	local profile = support.temp_path(".profile")
	local command = string.format(
		"timeout 90 %s --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=%s %s 2>/dev/null",
		binary(),
		profile,
		args
	)
	local out, err, code = support.run(command)
	os.execute("rm -rf " .. profile)
	assert(code == 0, command .. " failed: " .. tostring(err))
	return out
end

--- The DOM of url once loaded and its scripts have run (budget_ms of
-- virtual time: what a page's timers and fetches get), serialized.
function browser.dom(url, budget_ms)
	return run(string.format("--virtual-time-budget=%d --dump-dom %s", budget_ms or 3000, support.shell_quote(url)))
end

--- A screenshot of url into path (PNG), width x height.
function browser.screenshot(url, path, width, height, budget_ms)
	run(string.format(
		"--virtual-time-budget=%d --hide-scrollbars --window-size=%d,%d --screenshot=%s %s",
		budget_ms or 3000,
		width or 1000,
		height or 1400,
		support.shell_quote(path),
		support.shell_quote(url)
	))
	local file = assert(io.open(path, "rb"), "no screenshot written at " .. path)
	local png = file:read(8)
	file:close()
	assert(png == "\137PNG\r\n\26\n", "the screenshot is no PNG")
end

return browser
