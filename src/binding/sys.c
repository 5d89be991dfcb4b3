/* Time, sleep and the terminal, for the scheduler and the progress bar. */
#include "binding.h"

#include "util/clock.h"
#include "util/stop_signal.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int core_now(lua_State *L)
{
	lua_pushnumber(L, clock_monotonic());
	return 1;
}

/* core.isatty(fd) -> whether the descriptor is a terminal */
static int core_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int core_sleep(lua_State *L)
{
	lua_Number seconds = luaL_checknumber(L, 1);
	if (!(seconds > 0))
		return 0;
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
	/* A signal cuts the sleep short only when it is an interrupt. */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !transport_interrupted())
		;
	return 0;
}

/* core.file_stamp(path) -> a string that changes when the file does (its
 * inode, size and modification time), or nil and why: for a key file,
 * read again only when rotated. */
static int core_file_stamp(lua_State *L)
{
	struct stat st;
	if (stat(luaL_checkstring(L, 1), &st) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, strerror(errno));
		return 2;
	}
	lua_pushfstring(L, "%I/%I/%I.%I", (lua_Integer)st.st_ino, (lua_Integer)st.st_size,
	                (lua_Integer)st.st_mtim.tv_sec, (lua_Integer)st.st_mtim.tv_nsec);
	return 1;
}

/* core.stop_arm(), core.stop_disarm(), core.stop_signal() -> "SIGTERM",
 * "SIGINT" or nil: a graceful stop (core/stop_signal.h), for a drain. */
static int core_stop_arm(lua_State *L)
{
	(void)L;
	stop_signal_arm();
	return 0;
}

static int core_stop_disarm(lua_State *L)
{
	(void)L;
	stop_signal_disarm();
	return 0;
}

static int core_stop_signal(lua_State *L)
{
	int sig = stop_signal_received();
	if (sig == 0)
		return 0;
	lua_pushstring(L, sig == SIGTERM ? "SIGTERM" : "SIGINT");
	return 1;
}

const luaL_Reg binding_sys_functions[] = {
    {"now", core_now},
    {"isatty", core_isatty},
    {"sleep", core_sleep},
    {"file_stamp", core_file_stamp},
    {"stop_arm", core_stop_arm},
    {"stop_disarm", core_stop_disarm},
    {"stop_signal", core_stop_signal},
    {NULL, NULL},
};
