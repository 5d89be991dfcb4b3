/*
 * libFuzzer target: a Redis reply, as bytes off the wire, read by hiredis'
 * reader bounded as the connections bound it (redis/reader_limit.c), and
 * pushed as Lua values (binding/redis_reply.c): whatever Redis, or
 * something posing as it, sends, the walk pushes exactly one value or
 * nothing, and the reader never asks for more than the bound allows.
 */
#include "binding/redis_reply.h"
#include "redis/reader_limit.h"

#include <hiredis.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L)
		L = luaL_newstate();
	redisReader *reader = redisReaderCreate();
	if (!reader)
		return 0;
	redis_limit_reader(reader);
	if (redisReaderFeed(reader, (const char *)data, size) == REDIS_OK) {
		void *reply;
		while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply) {
			int top = lua_gettop(L);
			int rc = binding_push_redis_reply(L, reply);
			if (lua_gettop(L) != top + (rc == 0 ? 1 : 0))
				abort();
			lua_settop(L, top);
			freeReplyObject(reply);
		}
	}
	redisReaderFree(reader);
	return 0;
}
