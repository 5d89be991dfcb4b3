/* A Redis reply (hiredis' tree of it) as Lua values, for the queue's
 * connection (redis.c); apart so that the fuzz target reaches it. */
#ifndef PULSE_BINDING_REDIS_REPLY_H
#define PULSE_BINDING_REDIS_REPLY_H

#include <hiredis.h>
#include <lua.h>

/* Pushes reply: nil as false (it may sit in an array), integers as
 * integers, strings, statuses and errors as strings, arrays as tables.
 * Returns 0; or -1, pushing nothing, for arrays nested deeper than 8. */
int binding_push_redis_reply(lua_State *L, const redisReply *reply);

#endif
