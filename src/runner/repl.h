/*
 * pulse-lua's interactive mode (repl.c), lua.c's doREPL.
 */
#ifndef PULSE_RUNNER_REPL_H
#define PULSE_RUNNER_REPL_H

#include <lua.h>

/* Reads, runs and prints lines until the end of input. */
void doREPL(lua_State *L);

#endif
