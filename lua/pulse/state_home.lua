-- Where pulse keeps a user's state (the prompt's history, a collection
-- run's checkpoint), as the XDG Base Directory specification has it:
-- $XDG_STATE_HOME, else ~/.local/state. Returns the directory, and the
-- folders above it that may have to be made (~/.local), or nil when
-- neither variable is set.
return function()
	local state = os.getenv("XDG_STATE_HOME")
	if state ~= nil and state ~= "" then
		return state, {}
	end
	local home = os.getenv("HOME")
	if home == nil or home == "" then
		return nil
	end
	return home .. "/.local/state", { home .. "/.local" }
end
