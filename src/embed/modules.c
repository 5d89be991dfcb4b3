#include "modules.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

static const struct embedded_module *find_module(const char *name)
{
	for (const struct embedded_module *m = embedded_modules; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

static int search_embedded(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	const struct embedded_module *m = find_module(name);
	if (!m) {
		lua_pushfstring(L, "no embedded module '%s'", name);
		return 1;
	}
	if (luaL_loadbufferx(L, m->source, m->len, m->chunkname, "t") != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, m->chunkname + 1);
	return 2;
}

int modules_source(lua_State *L)
{
	const char *chunkname = luaL_checkstring(L, 1);
	for (const struct embedded_module *m = embedded_modules; m->name; m++)
		if (strcmp(m->chunkname, chunkname) == 0) {
			lua_pushlstring(L, m->source, m->len);
			return 1;
		}
	lua_pushnil(L);
	return 1;
}

void modules_install(lua_State *L)
{
	int developer_path = getenv("LUA_PATH_5_4") || getenv("LUA_PATH");
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchers");
	/* searchers: 1 preload, 2 package.path, 3 package.cpath, 4 all-in-one */
	int position = developer_path ? 3 : 2;
	for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i >= position; i--) {
		lua_rawgeti(L, -1, i);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pushcfunction(L, search_embedded);
	lua_rawseti(L, -2, position);
	lua_pop(L, 2);
}
