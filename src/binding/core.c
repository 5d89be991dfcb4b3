/*
 * pulse.core: the module. It makes the metatables, which every function of
 * the module and of its objects shares as upvalues (binding.h), and
 * gathers the functions of the binding's files into one table.
 */
#include "binding.h"
#include "pulse_core.h"

#include <string.h>

#ifndef PULSE_VERSION
#define PULSE_VERSION "0.0.0"
#endif

/* Adds fns to the table on top, each sharing the upvalues at base + 1 on. */
static void add_functions(lua_State *L, int base, const luaL_Reg *fns)
{
	for (int i = 1; i <= SHARED_UPVALUES; i++)
		lua_pushvalue(L, base + i);
	luaL_setfuncs(L, fns, SHARED_UPVALUES);
}

/* Sets the metatable at index mt's __index to a table of fns. */
static void set_methods(lua_State *L, int base, int mt, const luaL_Reg *fns)
{
	lua_newtable(L);
	add_functions(L, base, fns);
	lua_setfield(L, mt, "__index");
}

int luaopen_pulse_core(lua_State *L)
{
	/* The shared upvalues, in their order (UP_...), above base. */
	int base = lua_gettop(L);
	lua_newtable(L); /* the module's state */
	luaL_newmetatable(L, TRANSPORT_MT);
	luaL_newmetatable(L, ENGINE_MT);
	luaL_newmetatable(L, LIMITER_MT);
	luaL_newmetatable(L, HEADERS_MT);
	luaL_newmetatable(L, RATE_MT);
	lua_newtable(L); /* the array metatable */
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__jsontype");
	static const char *const call_keys[] = CALL_KEY_NAMES;
	int keys = (int)(sizeof call_keys / sizeof *call_keys);
	lua_createtable(L, keys, 0);
	for (int k = 0; k < keys; k++) {
		lua_pushstring(L, call_keys[k]);
		lua_rawseti(L, -2, k + 1);
	}

	binding_json_memory(L);

	set_methods(L, base, base + 2, binding_transport_methods);
	binding_transport_metatable(L, base + 2);
	set_methods(L, base, base + 3, binding_engine_methods);
	binding_engine_metatable(L, base + 3);
	set_methods(L, base, base + 4, binding_limiter_methods);
	binding_limiter_metatable(L, base + 4);
	binding_response_metatables(L, base + 5, base + 6);
	binding_json_open(L);
	binding_journal_metatables(L);

	lua_newtable(L);
	const luaL_Reg *const files[] = {
	    binding_transport_functions, binding_engine_functions,  binding_limiter_functions,
	    binding_response_functions,  binding_json_functions,    binding_policy_functions,
	    binding_sys_functions,       binding_files_functions,   binding_journal_functions,
	    binding_redis_functions,     binding_metrics_functions, binding_trace_functions,
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		add_functions(L, base, files[i]);
	binding_redis_open(L);
	lua_pushvalue(L, base + 7);
	lua_setfield(L, -2, "array_mt");
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_pushliteral(L, PULSE_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, transport_library_version());
	lua_setfield(L, -2, "curl_version");
	return 1;
}
