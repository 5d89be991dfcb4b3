#include "interrupt.h"

#include "net/transport.h"

#include <lauxlib.h>
#include <signal.h>
#include <string.h>

static lua_State *armed;
static volatile sig_atomic_t received;
static const char interrupt_key = 'i'; /* its address keys the object in the registry */

/* What the interrupt says as a string: a script that caught it in pcall
 * and prints it shows the signal, not an address. */
static int interrupt_tostring(lua_State *L)
{
	lua_getfield(L, 1, "signal");
	const char *signal_name = lua_tostring(L, -1);
	lua_pushfstring(L, "pulse: interrupted by %s", signal_name ? signal_name : "a signal");
	return 1;
}

void interrupt_open(lua_State *L)
{
	lua_createtable(L, 0, 2);
	lua_pushliteral(L, "interrupted");
	lua_setfield(L, -2, "message");
	lua_createtable(L, 0, 2);
	lua_pushliteral(L, "pulse.interrupt");
	lua_setfield(L, -2, "__name");
	lua_pushcfunction(L, interrupt_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &interrupt_key);
	lua_setfield(L, -2, "interrupt");
}

/* The hook the signal sets: the first Lua instruction after it raises the
 * interrupt object, naming the signal. */
static void raise_interrupt(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &interrupt_key);
	lua_pushstring(L, received == SIGTERM ? "SIGTERM" : "SIGINT");
	lua_setfield(L, -2, "signal");
	lua_error(L);
}

static void on_signal(int sig)
{
	received = sig;
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* A transfer or a rate-limit sleep runs in C, where the hook cannot
	 * reach: tell the transport too, or a signal waits for a timeout. */
	transport_interrupt();
	if (armed)
		lua_sethook(armed, raise_interrupt, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void interrupt_arm(lua_State *L)
{
	armed = L;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

void interrupt_disarm(void)
{
	armed = NULL;
	if (!received) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
}

int interrupt_signal(void)
{
	return received;
}

void interrupt_forget(void)
{
	received = 0;
}

int interrupt_is(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &interrupt_key);
	int is = lua_rawequal(L, idx, -1);
	lua_pop(L, 1);
	if (!is && lua_type(L, idx) == LUA_TTABLE) {
		lua_getfield(L, idx, "kind");
		is = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "interrupted") == 0;
		lua_pop(L, 1);
	}
	return is;
}

const char *interrupt_message(lua_State *L, int idx)
{
	lua_getfield(L, idx, "message");
	const char *message = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "interrupted";
	lua_pop(L, 1); /* the string stays alive in the object */
	return message;
}
