/*
 * libFuzzer target: URL joining and query encoding, which live in Lua
 * (lua/pulse/url.lua), driven from a Lua state with fuzzed strings. The
 * results must never carry a byte that cannot stand in a URL.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char check[] =
    "local url, base, path, key, value = ...\n"
    "local joined = url.join(base, path)\n"
    "assert(not joined:find('[%c%s\\128-\\255]'), 'join left a raw byte')\n"
    "local q, why = url.encode_query({ [key] = value, list = { value, key } })\n"
    "assert(q or why, 'neither a query nor a reason')\n"
    "if q then\n"
    "  assert(not q:find('[^%w%-%._~%%=&]'), 'an unescaped byte in the query')\n"
    "  for hex in q:gmatch('%%(..)') do assert(hex:find('^%x%x$'), 'bad escape') end\n"
    "end\n"
    "url.origin(path)\n";

static lua_State *L;

static lua_State *state(void)
{
	if (L)
		return L;
	L = luaL_newstate();
	luaL_openlibs(L);
	if (luaL_dofile(L, "lua/pulse/url.lua") != LUA_OK || !lua_istable(L, -1))
		abort(); /* run from the project root */
	lua_setfield(L, LUA_REGISTRYINDEX, "url");
	if (luaL_loadstring(L, check) != LUA_OK)
		abort();
	lua_setfield(L, LUA_REGISTRYINDEX, "check");
	return L;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State *S = state();
	/* Four strings from one input: split at the first three NUL bytes. */
	const char *parts[4] = {"", "", "", ""};
	size_t lens[4] = {0, 0, 0, 0};
	size_t part = 0, from = 0;
	for (size_t i = 0; i <= size && part < 4; i++) {
		if (i == size || (data[i] == 0 && part < 3)) {
			parts[part] = (const char *)data + from;
			lens[part++] = i - from;
			from = i + 1;
		}
	}
	lua_getfield(S, LUA_REGISTRYINDEX, "check");
	lua_getfield(S, LUA_REGISTRYINDEX, "url");
	lua_pushliteral(S, "http://127.0.0.1:8080/v1");
	for (int i = 0; i < 4; i++)
		lua_pushlstring(S, parts[i], lens[i]);
	if (lua_pcall(S, 6, 0, 0) != LUA_OK) {
		const char *message = lua_tostring(S, -1);
		if (message && (strstr(message, "raw byte") || strstr(message, "unescaped") ||
		                strstr(message, "bad escape") || strstr(message, "neither")))
			abort();
		lua_pop(S, 1);
	}
	lua_gc(S, LUA_GCSTEP, 0);
	return 0;
}
