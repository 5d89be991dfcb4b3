/* Private files, for the response cache's directory: made 0700 and 0600
 * whatever the umask, and written whole or not at all, so that processes
 * sharing the directory never read half an entry. */
#include "binding.h"

#include "core/clock.h"
#include "core/fd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(lua_State *L, const char *what, const char *path)
{
	lua_pushnil(L);
	lua_pushfstring(L, "%s %s: %s", what, path, strerror(errno));
	return 2;
}

/* core.private_dir(path) -> true, or nil and why: the directory, made
 * 0700 when missing; one that exists is used as it is. */
static int core_private_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct stat st;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return fail(L, "cannot make", path);
	if (stat(path, &st) != 0)
		return fail(L, "cannot read", path);
	if (!S_ISDIR(st.st_mode)) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s is not a directory", path);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.write_private(path, data) -> true, or nil and why: data into a new
 * 0600 file beside path, then renamed over it. */
static int core_write_private(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	size_t len;
	const char *data = luaL_checklstring(L, 2, &len);
	char temp[4096];
	if (snprintf(temp, sizeof temp, "%s.%ld.%.0f.tmp", path, (long)getpid(), clock_monotonic() * 1e9) >=
	    (int)sizeof temp) {
		lua_pushnil(L);
		lua_pushstring(L, "path too long");
		return 2;
	}
	int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(L, "cannot create", temp);
	if (fd_write_all(fd, data, len) != 0) {
		int saved = errno;
		close(fd);
		unlink(temp);
		errno = saved;
		return fail(L, "cannot write", temp);
	}
	if (close(fd) != 0 || rename(temp, path) != 0) {
		int saved = errno;
		unlink(temp);
		errno = saved;
		return fail(L, "cannot write", path);
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* core.epoch() -> seconds since the Unix epoch, with a fraction: for ages
 * that processes sharing a cache directory agree on. */
static int core_epoch(lua_State *L)
{
	lua_pushnumber(L, clock_epoch());
	return 1;
}

const luaL_Reg binding_files_functions[] = {
    {"private_dir", core_private_dir},
    {"write_private", core_write_private},
    {"epoch", core_epoch},
    {NULL, NULL},
};
