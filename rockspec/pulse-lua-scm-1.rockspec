-- The pulse module (pulse.core and the client's Lua modules) for LuaRocks.
-- It builds with the Makefile, from the one list of sources in
-- src/sources.mk; the pulse-lua runner and pulse-sandbox are `make`'s.
rockspec_format = "3.0"
package = "pulse-lua"
version = "scm-1"
source = {
	url = "git+file://.",
}
description = {
	summary = "Lua 5.4 SDK for the Pulse API: libcurl transport, rate limiting, retries",
	license = "MIT",
}
dependencies = {
	"lua >= 5.4, < 5.5",
}
external_dependencies = {
	CURL = { header = "curl/curl.h", library = "curl" },
	HIREDIS = { header = "hiredis/hiredis.h", library = "hiredis" },
}
build = {
	type = "make",
	build_target = "module",
	build_variables = {
		BUILD = "build/rock",
		CFLAGS = "$(CFLAGS)",
		LUA_CFLAGS = "-I$(LUA_INCDIR)",
		CURL_CFLAGS = "-I$(CURL_INCDIR)",
		CURL_LIBS = "-L$(CURL_LIBDIR) -lcurl",
		REDIS_CFLAGS = "-I$(HIREDIS_INCDIR)/hiredis",
		REDIS_LIBS = "-L$(HIREDIS_LIBDIR) -lhiredis",
	},
	install_target = "install-module",
	install_variables = {
		BUILD = "build/rock",
		LUA_CMOD = "$(LIBDIR)",
		LUA_LMOD = "$(LUADIR)",
	},
}
