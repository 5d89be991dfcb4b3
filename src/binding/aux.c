/*
 * The helpers every file of the binding calls: telling its objects apart,
 * giving them their metatables, pushing numbers. A leaf, as LuaSocket's
 * auxiliar.c: it calls nothing of the binding's.
 */
#include "binding.h"

void *binding_check_object(lua_State *L, int arg, int mt, const char *tname)
{
	void *p = lua_touserdata(L, arg);
	if (p && lua_getmetatable(L, arg)) {
		int same = lua_rawequal(L, -1, mt);
		lua_pop(L, 1);
		if (same)
			return p;
	}
	return luaL_checkudata(L, arg, tname);
}

void binding_set_metatable(lua_State *L, int mt)
{
	lua_pushvalue(L, mt);
	lua_setmetatable(L, -2);
}

void binding_new_metatable(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close)
{
	luaL_newmetatable(L, name);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, close);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, close);
	lua_setfield(L, -2, "__close");
	lua_pop(L, 1);
}

void binding_push_number(lua_State *L, double v)
{
	lua_Integer i;
	if (lua_numbertointeger(v, &i) && (double)i == v)
		lua_pushinteger(L, i);
	else
		lua_pushnumber(L, v);
}
