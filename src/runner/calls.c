/*
 * How pulse-lua calls Lua and reports what went wrong: lua.c's helpers,
 * in a leaf file that the main file (pulse_lua.c), the REPL (repl.c) and
 * the sandbox option (runner_sandbox.c) all call down into.
 */
#include "calls.h"

#include "interrupt.h"

#include <lauxlib.h>
#include <stdio.h>

const char *progname = "pulse-lua";

void l_message(const char *pname, const char *msg)
{
	if (pname)
		fprintf(stderr, "%s: ", pname);
	fprintf(stderr, "%s\n", msg);
	fflush(stderr);
}

int report(lua_State *L, int status)
{
	if (status != LUA_OK) {
		const char *msg = interrupt_is(L, -1) ? interrupt_message(L, -1) : lua_tostring(L, -1);
		l_message(progname, msg ? msg : "(error object is not a string)");
		lua_pop(L, 1);
	}
	return status;
}

/* The message handler: an error object with __tostring (pulse's errors
 * have one) prints as that one readable line, then the traceback; an
 * interrupt as its own line, with none. */
static int msghandler(lua_State *L)
{
	if (interrupt_is(L, 1))
		return 1;
	const char *msg = lua_tostring(L, 1);
	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int docall(lua_State *L, int narg, int nres)
{
	int base = lua_gettop(L) - narg;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	interrupt_arm(L);
	int status = lua_pcall(L, narg, nres, base);
	interrupt_disarm();
	lua_remove(L, base);
	return status;
}
