#include "state.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

static void *pool_alloc(void *pool, void *ptr, size_t osize, size_t nsize)
{
	return block_pool_realloc(pool, ptr, osize, nsize);
}

static int panic(lua_State *L)
{
	const char *message =
	    lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string";
	lua_writestringerror("PANIC: unprotected error in call to Lua API (%s)\n", message);
	return 0; /* Lua aborts */
}

/*
 * Warnings: off until "@on", and a message may come in parts (tocont).
 * Each function is the state of that machine, set as the next to call.
 */
static void warn_off(void *L, const char *message, int tocont);
static void warn_on(void *L, const char *message, int tocont);

/* "@on" and "@off" switch; other messages starting with '@' are ignored. */
static int is_control(lua_State *L, const char *message, int tocont)
{
	if (tocont || message[0] != '@')
		return 0;
	if (strcmp(message, "@on") == 0)
		lua_setwarnf(L, warn_on, L);
	else if (strcmp(message, "@off") == 0)
		lua_setwarnf(L, warn_off, L);
	return 1;
}

static void warn_part(void *L, const char *message, int tocont)
{
	lua_writestringerror("%s", message);
	if (tocont) {
		lua_setwarnf(L, warn_part, L);
	} else {
		lua_writestringerror("%s", "\n");
		lua_setwarnf(L, warn_on, L);
	}
}

static void warn_on(void *L, const char *message, int tocont)
{
	if (is_control(L, message, tocont))
		return;
	lua_writestringerror("%s", "Lua warning: ");
	warn_part(L, message, tocont);
}

static void warn_off(void *L, const char *message, int tocont)
{
	is_control(L, message, tocont);
}

lua_State *state_new(struct block_pool *pool)
{
	const char *choice = getenv("PULSE_MALLOC");
	if (choice && strcmp(choice, "system") == 0)
		return luaL_newstate();
	lua_State *L = lua_newstate(pool_alloc, pool);
	if (L) {
		lua_atpanic(L, panic);
		lua_setwarnf(L, warn_off, L);
	}
	return L;
}

void state_close(lua_State *L, struct block_pool *pool)
{
	lua_close(L);
	block_pool_free_all(pool);
}
