/*
 * The read-only objects a response hands to Lua (part of pulse.core): its
 * headers, looked up in the header block (header_block.h) on demand and in
 * any case, and the rate-limit view as that response left it. Every
 * request makes both, so each is one allocation; they are read far less
 * often, and pairs() on either gives a plain table's contents.
 */
#ifndef PULSE_LRESPONSE_H
#define PULSE_LRESPONSE_H

#include "ratelimit.h"

#include <lua.h>
#include <stddef.h>

/* Registers the metatables and pushes them, the headers' then the rate
 * objects': the binding passes them to the two functions below, which run
 * for every response (cheaper than finding them by name each time). Call
 * once from luaopen_pulse_core. */
void lresponse_open(lua_State *L);

/* Pushes a headers object holding a copy of block; mt: the index of the
 * headers' metatable. */
void lresponse_push_headers(lua_State *L, const char *block, size_t len, int mt);

/* The header block at arg: a headers object or a string (the specs'). */
const char *lresponse_check_block(lua_State *L, int arg, size_t *len);

/* Pushes the limiter's view at now as a rate object; mt: the index of the
 * rate objects' metatable. Reset and blocked are seconds from now. */
void lresponse_push_rate(lua_State *L, const struct ratelimit_state *live, double now, int mt);

/* The same view as a plain table. */
void lresponse_push_rate_table(lua_State *L, const struct ratelimit_state *live, double now);

/* Pushes v, as an integer when it is whole (60, not 60.0). */
void lresponse_push_number(lua_State *L, double v);

/* core.headers(block) -> a headers object: for specs and tools. */
int lresponse_core_headers(lua_State *L);

#endif
