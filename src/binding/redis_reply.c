#include "redis_reply.h"

#include <lauxlib.h>
#include <limits.h>

/* Nested arrays deeper than this are refused (the queue's replies have 3). */
#define MAX_DEPTH 8

static int push_at(lua_State *L, const redisReply *r, int depth)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		lua_pushinteger(L, (lua_Integer)r->integer);
		return 0;
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_ERROR:
		lua_pushlstring(L, r->str, r->len);
		return 0;
	case REDIS_REPLY_ARRAY:
		if (depth >= MAX_DEPTH || r->elements > INT_MAX)
			return -1;
		luaL_checkstack(L, 4, "a Redis reply");
		lua_createtable(L, (int)r->elements, 0);
		for (size_t i = 0; i < r->elements; i++) {
			if (push_at(L, r->element[i], depth + 1) != 0)
				return -1;
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		return 0;
	default: /* nil */
		lua_pushboolean(L, 0);
		return 0;
	}
}

int binding_push_redis_reply(lua_State *L, const redisReply *reply)
{
	int top = lua_gettop(L);
	if (push_at(L, reply, 0) != 0) {
		lua_settop(L, top);
		return -1;
	}
	return 0;
}
