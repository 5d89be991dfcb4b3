/*
 * Ctrl-C (SIGINT) and SIGTERM under pulse-lua. The transfer or sleep in
 * progress stops at once (transport_interrupt), and the running Lua code
 * raises the interrupt object: a batch turns it into one line saying what
 * was done ("interrupted: 60 of 200 done; 3 writes may have been
 * applied"). The runner prints that line, with no traceback, and exits
 * with 128 + the signal's number, as curl, Python and Node do, so that
 * cron and systemd see a job stopped cleanly.
 */
#ifndef PULSE_RUNNER_INTERRUPT_H
#define PULSE_RUNNER_INTERRUPT_H

#include <lua.h>

/* Makes the interrupt object and sets it as the field "interrupt" of the
 * table on top of L's stack (pulse.runner, where pulse's Lua code finds
 * it). */
void interrupt_open(lua_State *L);

/* From now on SIGINT and SIGTERM interrupt L; disarm restores the
 * default actions. */
void interrupt_arm(lua_State *L);
void interrupt_disarm(void);

/* The signal that interrupted the program, or 0. */
int interrupt_signal(void);

/* Forgets the signal received: the prompt's Ctrl-C stopped one line, and
 * the session goes on (and ends with its own status). */
void interrupt_forget(void);

/* Whether the value at idx is an interrupt: the interrupt object, or a
 * pulse error of kind "interrupted" made of it. */
int interrupt_is(lua_State *L, int idx);

/* The line to print for the interrupt at idx. */
const char *interrupt_message(lua_State *L, int idx);

#endif
