-- pulse-lua for LuaRocks: the pulse module (pulse.core and the client's Lua
-- modules), pulse.sandbox, and the pulse-lua and pulse-sandbox programs
-- (in the tree's bin/). It builds with the Makefile, from the one list of
-- sources in src/sources.mk, which finds libcurl, hiredis, libmicrohttpd
-- and Lua's static library with pkg-config (Debian: make deps installs
-- them).
rockspec_format = "3.0"
package = "pulse-lua"
version = "scm-1"
source = {
	-- `luarocks make` in a checkout builds what is there. A rock to hand
	-- to anyone is the source rock `make rock` makes from this file: its
	-- version the release's, its source a tarball of the tree packed in it.
	url = "git+file://.",
}
description = {
	summary = "Lua 5.4 SDK for the Pulse API: libcurl transport, rate limiting, retries",
	license = "MIT",
}
dependencies = {
	"lua >= 5.4, < 5.5",
}
build = {
	type = "make",
	build_target = "all",
	build_variables = {
		BUILD = "build/rock",
		CFLAGS = "$(CFLAGS)",
		LUA_CFLAGS = "-I$(LUA_INCDIR)",
	},
	install_target = "install-rock",
	install_variables = {
		BUILD = "build/rock",
		LUA_CMOD = "$(LIBDIR)",
		LUA_LMOD = "$(LUADIR)",
		BINDIR = "$(BINDIR)",
	},
}
