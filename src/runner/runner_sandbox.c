#include "runner_sandbox.h"

#include "calls.h"
#include "sandbox/options.h"
#include "sandbox/sandbox.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_HEX 32

/* Starts a sandbox of config with a fresh key (key: KEY_HEX + 1 bytes).
 * NULL on failure, with why in err. */
static struct sandbox *start_with_key(struct sandbox_config *config, char *key, char *err, size_t errlen)
{
	if (sandbox_random_key(key, KEY_HEX + 1) != 0) {
		snprintf(err, errlen, "cannot make a sandbox key: no randomness available");
		return NULL;
	}
	const char *keys[] = {key};
	config->keys = keys;
	config->key_count = 1;
	struct sandbox *sandbox = sandbox_start(config, err, errlen, NULL);
	config->keys = NULL; /* keys was this function's */
	config->key_count = 0;
	return sandbox;
}

struct sandbox *runner_sandbox_start(const struct options *o)
{
	char key[KEY_HEX + 1], err[512];
	const char *why;
	struct sandbox_config config = sandbox_default_config();
	if (o->sandbox_rate_limit)
		sandbox_parse_rate_limit(o->sandbox_rate_limit, &config,
		                         &why); /* checked with the arguments */
	if (o->sandbox_seed)
		sandbox_parse_seed(o->sandbox_seed, &config.seed, &why);
	config.faults = o->sandbox_faults;
	struct sandbox *sandbox = start_with_key(&config, key, err, sizeof err);
	if (!sandbox) {
		l_message(progname, err);
		return NULL;
	}
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", sandbox_port(sandbox));
	setenv("PULSE_BASE_URL", url, 1);
	setenv("PULSE_API_KEY", key, 1);
	memset(key, 0, sizeof key);
	return sandbox;
}

#define HANDLE_MT "pulse.runner.sandbox"

static int handle_stop(lua_State *L)
{
	struct sandbox **handle = luaL_checkudata(L, 1, HANDLE_MT);
	sandbox_stop(*handle);
	*handle = NULL;
	return 0;
}

/* The field name of the table at idx, as a string or NULL; a value of
 * another type raises, naming it. */
static const char *opt_string_field(lua_State *L, int idx, const char *name)
{
	lua_getfield(L, idx, name);
	const char *value = NULL;
	if (lua_isinteger(L, -1) || lua_type(L, -1) == LUA_TSTRING)
		value = lua_tostring(L, -1); /* a seed may be a number */
	else if (!lua_isnil(L, -1))
		luaL_error(L, "pulse.sandbox.start: %s must be a string", name);
	lua_pop(L, 1); /* the string stays alive in the table */
	return value;
}

static int start_sandbox(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct sandbox_config config = sandbox_default_config();
	const char *why, *rate = opt_string_field(L, 1, "rate_limit"), *seed = opt_string_field(L, 1, "seed");
	if (rate && sandbox_parse_rate_limit(rate, &config, &why) != 0)
		return luaL_error(L, "pulse.sandbox.start: rate_limit %s, not '%s'", why, rate);
	if (seed && sandbox_parse_seed(seed, &config.seed, &why) != 0)
		return luaL_error(L, "pulse.sandbox.start: seed %s, not '%s'", why, seed);
	config.faults = opt_string_field(L, 1, "faults");
	if (lua_getfield(L, 1, "reservation_hold") != LUA_TNIL) /* pulse.sandbox checked it */
		config.reservation_hold = lua_tonumber(L, -1);
	lua_pop(L, 1);
	struct sandbox **handle = lua_newuserdatauv(L, sizeof *handle, 0);
	*handle = NULL;
	luaL_setmetatable(L, HANDLE_MT);
	char key[KEY_HEX + 1], err[512];
	if (!(*handle = start_with_key(&config, key, err, sizeof err)))
		return luaL_error(L, "pulse.sandbox.start: %s", err);
	lua_pushfstring(L, "http://127.0.0.1:%d", sandbox_port(*handle));
	lua_pushstring(L, key);
	return 3;
}

void runner_sandbox_open(lua_State *L)
{
	if (luaL_newmetatable(L, HANDLE_MT)) {
		lua_pushcfunction(L, handle_stop);
		lua_setfield(L, -2, "__gc");
		lua_createtable(L, 0, 1);
		lua_pushcfunction(L, handle_stop);
		lua_setfield(L, -2, "stop");
		lua_setfield(L, -2, "__index");
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, start_sandbox);
	lua_setfield(L, -2, "start_sandbox");
}
