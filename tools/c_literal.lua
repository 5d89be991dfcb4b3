-- A Lua string as a C string literal, split at its line ends: for the
-- sources the build compiles into the programs (embed.lua, cstring.lua).

return function(text)
	local escaped = text:gsub('[%c"\\?\128-\255]', function(c)
		if c == "\n" then
			return '\\n"\n"'
		end
		return string.format("\\%03o", c:byte())
	end)
	return '"' .. escaped .. '"'
end
