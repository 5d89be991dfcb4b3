/*
 * The sandbox pulse-lua carries inside: started for --sandbox (the client
 * pointed at it through the environment), and for pulse.sandbox.start, a
 * Lua API for users' own test suites (pulse.runner.start_sandbox).
 */
#ifndef PULSE_RUNNER_SANDBOX_H
#define PULSE_RUNNER_SANDBOX_H

#include "args.h"

#include <lua.h>

struct sandbox;

/* Starts the sandbox --sandbox and its options ask for, with a fresh key,
 * and points PULSE_BASE_URL and PULSE_API_KEY at it. NULL on failure,
 * said on stderr. */
struct sandbox *runner_sandbox_start(const struct options *o);

/* Adds start_sandbox to the table on top of L's stack (pulse.runner):
 * start_sandbox{rate_limit =, faults =, seed =} -> handle, url, key, where
 * handle:stop() (also its __gc) stops it. */
void runner_sandbox_open(lua_State *L);

#endif
