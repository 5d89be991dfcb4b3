/*
 * What pulse-lua's main file (pulse_lua.c) and its interactive mode
 * (repl.c) share: lua.c's helpers, split across the two files.
 */
#ifndef PULSE_RUNNER_REPL_H
#define PULSE_RUNNER_REPL_H

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

/* Reads, runs and prints lines until the end of input. */
void doREPL(lua_State *L);

#endif
