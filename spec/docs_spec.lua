-- make docs: the reference (LDoc) has an entry for every public function
-- and field, found by walking the modules as a user would see them.

local pulse = require("pulse")
local support = require("support.sandbox")

-- The anchors of the generated page of module name.
local function anchors(dir, name)
	local page = assert(support.read_file(dir .. "/modules/" .. name .. ".html"), "no page for " .. name)
	local found = {}
	for anchor in page:gmatch('<a name = "([^"]+)"') do
		found[anchor] = true
	end
	return found
end

-- The public names of t: those not starting with "_".
local function public(t, only_functions)
	local names = {}
	for k, v in pairs(t) do
		if type(k) == "string" and not k:find("^_") and (not only_functions or type(v) == "function") then
			names[#names + 1] = k
		end
	end
	table.sort(names)
	return names
end

describe("make docs", function()
	local dir

	setup(function()
		dir = support.temp_path()
		local out, err, code = support.run("make docs BUILD=" .. dir)
		assert.are.equal(0, code, out .. err)
		dir = dir .. "/docs"
	end)

	teardown(function()
		os.execute("rm -rf " .. dir:gsub("/docs$", ""))
	end)

	it("documents every field of pulse", function()
		local found = anchors(dir, "pulse")
		for _, name in ipairs(public(pulse)) do
			assert.is_true(found[name] ~= nil, "pulse." .. name .. " has no entry")
		end
	end)

	it("documents every method of a client, of a task and of a sandbox", function()
		local client = pulse.new({ api_key = "k", base_url = "http://127.0.0.1:9" })
		local found = anchors(dir, "pulse.client")
		for _, name in ipairs(public(getmetatable(client).__index, true)) do
			assert.is_true(found["Client:" .. name] ~= nil, "client:" .. name .. " has no entry")
		end
		client:close()
		local join
		pulse.run(function()
			join = getmetatable(pulse.spawn(function() end)).__index
		end)
		found = anchors(dir, "pulse.tasks")
		for _, name in ipairs(public(join, true)) do
			assert.is_true(found["Task:" .. name] ~= nil, "task:" .. name .. " has no entry")
		end
		local sandbox = require("pulse.sandbox")
		found = anchors(dir, "pulse.sandbox")
		for _, name in ipairs(public(sandbox, true)) do
			assert.is_true(found[name] ~= nil, "pulse.sandbox." .. name .. " has no entry")
		end
		-- A sandbox's methods, from one started where it runs in-process.
		local out = support.run(
			support.BIN
				.. "/pulse-lua -e 'local sb = require(\"pulse.sandbox\").start()"
				.. " for k, v in pairs(getmetatable(sb).__index) do print(k, type(v)) end sb:stop()'"
		)
		local methods = 0
		for name in out:gmatch("([%w_]+)\tfunction") do
			if not name:find("^_") then
				methods = methods + 1
				assert.is_true(found["Sandbox:" .. name] ~= nil, "sandbox:" .. name .. " has no entry")
			end
		end
		assert.is_true(methods > 0, out)
	end)

	it("documents every function of pulse.json, pulse.collection and pulse.queue, and a queue's methods", function()
		local journal = support.temp_path(".journal")
		local q = assert(pulse.queue.open("file:" .. journal))
		local found = anchors(dir, "pulse.queue")
		for _, name in ipairs(public(getmetatable(q).__index, true)) do
			assert.is_true(found["Queue:" .. name] ~= nil, "queue:" .. name .. " has no entry")
		end
		q:close()
		os.remove(journal)
		os.remove(journal .. ".lock")
		for _, module in ipairs({ "pulse.json", "pulse.collection", "pulse.queue" }) do
			found = anchors(dir, module)
			for _, name in ipairs(public(require(module), true)) do
				assert.is_true(found[name] ~= nil, module .. "." .. name .. " has no entry")
			end
		end
	end)
end)
