/* pulse.core's entry point, for programs that build the module in. */
#ifndef PULSE_CORE_H
#define PULSE_CORE_H

#include <lua.h>

int luaopen_pulse_core(lua_State *L);

#endif
