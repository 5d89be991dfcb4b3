/*
 * How pulse-lua calls Lua and reports errors (calls.c): lua.c's helpers,
 * shared by the main file, the REPL and the sandbox option.
 */
#ifndef PULSE_RUNNER_CALLS_H
#define PULSE_RUNNER_CALLS_H

#include <lua.h>

/* The program's name for messages; NULL while the REPL runs. */
extern const char *progname;

/* Prints msg on stderr, after pname: when given. */
void l_message(const char *pname, const char *msg);

/* Prints the error on the stack, when status is not LUA_OK. */
int report(lua_State *L, int status);

/* Calls the function below narg arguments with a traceback handler, and
 * Ctrl-C (SIGINT) or SIGTERM interrupting it (interrupt.h). */
int docall(lua_State *L, int narg, int nres);

#endif
