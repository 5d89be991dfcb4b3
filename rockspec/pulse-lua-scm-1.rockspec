-- The pulse module (pulse.core and the Lua layer) for LuaRocks. The
-- pulse-lua runner and pulse-sandbox are built by the Makefile.
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
}
build = {
	type = "builtin",
	modules = {
		["pulse.core"] = {
			sources = {
				"src/core/buf.c",
				"src/core/clock.c",
				"src/core/json_decode.c",
				"src/core/json_encode.c",
				"src/net/transport.c",
				"src/net/engine.c",
				"src/core/ratelimit_headers.c",
				"src/core/header_block.c",
				"src/core/ratelimit.c",
				"src/core/retry.c",
				"src/core/request_stats.c",
				"src/binding/core.c",
				"src/binding/response.c",
			},
			defines = { 'PULSE_VERSION="0.1.0"', "_GNU_SOURCE" },
			libraries = { "curl" },
			incdirs = { "$(CURL_INCDIR)", "src/core", "src/net", "src/binding" },
			libdirs = { "$(CURL_LIBDIR)" },
		},
		pulse = "lua/pulse/init.lua",
		["pulse.errors"] = "lua/pulse/errors.lua",
		["pulse.json"] = "lua/pulse/json.lua",
		["pulse.options"] = "lua/pulse/options.lua",
		["pulse.progress"] = "lua/pulse/progress.lua",
		["pulse.stats"] = "lua/pulse/stats.lua",
		["pulse.tasks"] = "lua/pulse/tasks.lua",
		["pulse.url"] = "lua/pulse/url.lua",
	},
}
