/*
 * The runner's Lua state. Its memory comes from a pool of small blocks
 * (core/block_pool.h), or from malloc when PULSE_MALLOC=system asks, so
 * that valgrind and AddressSanitizer see every block of Lua's on its own
 * (Python's PYTHONMALLOC=malloc). Panics and warnings behave as with
 * luaL_newstate, which cannot be given an allocator.
 */
#ifndef PULSE_RUNNER_STATE_H
#define PULSE_RUNNER_STATE_H

#include "util/block_pool.h"

#include <lua.h>

/* NULL when memory ran out. pool must outlive the state. */
lua_State *state_new(struct block_pool *pool);

/* lua_close, then the pool's memory back to the system. */
void state_close(lua_State *L, struct block_pool *pool);

#endif
