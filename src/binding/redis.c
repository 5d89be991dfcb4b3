/* The queue's Redis connection as userdata, pulse.redis (redis/link.h):
 * it runs the queue's scripts, whose meaning is the Lua queue's; here
 * they are strings in and replies out. */
#include "binding.h"

#include "net/transport.h"
#include "redis/link.h"
#include "redis_reply.h"
#include "redis_streams.h" /* REDIS_STREAMS_SCRIPT: queue/redis_streams.lua, made by the build */
#include "util/stop_signal.h"

#include <string.h>

#define REDIS_MT "pulse.redis"

#define MAX_ARGS 250

static struct redis_link *check_link(lua_State *L)
{
	struct redis_link *l = luaL_checkudata(L, 1, REDIS_MT);
	if (!l->role)
		luaL_error(L, "the queue's Redis connection is closed");
	return l;
}

/* core.redis(url, timeout) -> connection, and the URL's stream= (or nil);
 * or nil and why. It connects at its first script. */
static int core_redis(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1);
	double timeout = luaL_optnumber(L, 2, 30);
	struct redis_link *l = lua_newuserdatauv(L, sizeof *l, 1);
	memset(l, 0, sizeof *l);
	luaL_setmetatable(L, REDIS_MT);
	lua_newtable(L); /* script source -> its SHA-1, once Redis gave it */
	lua_setiuservalue(L, -2, 1);
	char err[256];
	if (redis_link_init(l, url, "stream", "queue", timeout, err, sizeof err) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	if (l->url.name[0])
		lua_pushstring(L, l->url.name);
	else
		lua_pushnil(L);
	return 2;
}

/* What a method returns for reply (freed here): the reply as Lua values;
 * or nil, why and whether Redis was out of reach when there is none. */
static int push_reply(lua_State *L, struct redis_link *l, redisReply *reply)
{
	if (!reply) {
		lua_pushnil(L);
		lua_pushstring(L, l->error);
		lua_pushboolean(L, l->unreachable);
		return 3;
	}
	int bad = binding_push_redis_reply(L, reply);
	freeReplyObject(reply);
	if (bad) {
		lua_pushnil(L);
		lua_pushliteral(L, "the queue's Redis answered arrays nested too deep");
		return 2;
	}
	return 1;
}

/* Puts the count strings of the table at t into argv and lens from n on,
 * each left on the stack while Redis is asked (the caller made room);
 * returns the next n. A value that is not a string raises, naming it as
 * what #i. */
static int gather_strings(lua_State *L, int t, lua_Integer count, const char *what, const char **argv,
                          size_t *lens, int n)
{
	for (lua_Integer i = 1; i <= count; i++) {
		lua_rawgeti(L, t, i);
		if (!lua_isstring(L, -1))
			return luaL_error(L, "%s #%d is not a string", what, (int)i);
		argv[n] = lua_tolstring(L, -1, &lens[n]);
		n++;
	}
	return n;
}

/* redis:eval(script, keys, args) -> the script's reply; or nil, why and
 * whether Redis was out of reach (then trying again may do). */
static int redis_eval_method(lua_State *L)
{
	struct redis_link *l = check_link(L);
	size_t script_len;
	const char *script = luaL_checklstring(L, 2, &script_len);
	luaL_checktype(L, 3, LUA_TTABLE);
	luaL_checktype(L, 4, LUA_TTABLE);
	lua_Integer nkeys = luaL_len(L, 3), nargs = luaL_len(L, 4);
	if (nkeys + nargs + 1 > MAX_ARGS)
		return luaL_error(L, "too many keys and arguments for one script (%d at most)", MAX_ARGS - 1);
	const char *argv[MAX_ARGS];
	size_t lens[MAX_ARGS];
	/* Each argument stays on the stack while Redis is asked. */
	luaL_checkstack(L, (int)(nkeys + nargs) + 8, "a script's arguments");
	lua_pushinteger(L, nkeys);
	argv[0] = lua_tolstring(L, -1, &lens[0]); /* kept on the stack */
	int n = gather_strings(L, 3, nkeys, "a script's key", argv, lens, 1);
	n = gather_strings(L, 4, nargs, "a script's argument", argv, lens, n);
	char sha[41] = "";
	lua_getiuservalue(L, 1, 1);
	int shas = lua_gettop(L);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, shas) == LUA_TSTRING)
		memcpy(sha, lua_tostring(L, -1), 41);
	lua_pop(L, 1);
	redisReply *reply = redis_link_eval(l, sha, script, n, argv, lens);
	if (sha[0]) {
		lua_pushvalue(L, 2);
		lua_pushstring(L, sha);
		lua_rawset(L, shas);
	}
	return push_reply(L, l, reply);
}

/* A stop asked (a drain's SIGTERM or SIGINT) or an interrupt. */
static int stop_or_interrupt(void)
{
	return stop_signal_received() || transport_interrupted();
}

/* redis:blocking(args, seconds) -> the reply of a command Redis may hold
 * up to seconds (XREAD ... BLOCK); false when a stop signal or an
 * interrupt cut the wait short; or nil, why and whether Redis was out of
 * reach. */
static int redis_blocking_method(lua_State *L)
{
	struct redis_link *l = check_link(L);
	luaL_checktype(L, 2, LUA_TTABLE);
	double seconds = luaL_checknumber(L, 3);
	lua_Integer argc = luaL_len(L, 2);
	if (argc < 1 || argc > MAX_ARGS)
		return luaL_error(L, "a command of 1 to %d arguments expected", MAX_ARGS);
	const char *argv[MAX_ARGS];
	size_t lens[MAX_ARGS];
	luaL_checkstack(L, (int)argc + 4, "a command's arguments");
	gather_strings(L, 2, argc, "a command's argument", argv, lens, 0);
	redisReply *reply = redis_link_blocking(l, (int)argc, argv, lens, seconds, stop_or_interrupt);
	if (!reply && l->interrupted) {
		lua_pushboolean(L, 0);
		return 1;
	}
	return push_reply(L, l, reply);
}

static int redis_close_method(lua_State *L)
{
	struct redis_link *l = luaL_checkudata(L, 1, REDIS_MT);
	if (l->role) {
		redis_link_close(l);
		l->role = NULL;
	}
	return 0;
}

/* Makes pulse.redis's metatable, and sets the module's (on top)
 * redis_queue_script: the source queue/redis.lua runs. */
void binding_redis_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
	    {"eval", redis_eval_method},
	    {"blocking", redis_blocking_method},
	    {"close", redis_close_method},
	    {NULL, NULL},
	};
	binding_new_metatable(L, REDIS_MT, methods, redis_close_method);
	lua_pushlstring(L, REDIS_STREAMS_SCRIPT, sizeof REDIS_STREAMS_SCRIPT - 1);
	lua_setfield(L, -2, "redis_queue_script");
}

const luaL_Reg binding_redis_functions[] = {
    {"redis", core_redis},
    {NULL, NULL},
};
