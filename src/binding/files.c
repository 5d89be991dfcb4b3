/* Private files, for the response cache's directory: made 0700 and 0600
 * whatever the umask, and written whole or not at all, so that processes
 * sharing the directory never read half an entry; read only when they are
 * this user's own (core/owned_file.h), and listed for pruning. */
#include "binding.h"

#include "util/clock.h"
#include "util/fd_io.h"
#include "util/owned_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
 * 0700 when missing; one that exists must be this user's, and no one
 * else's to write in. */
static int core_private_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *refusal;
	if (owned_dir(path, &refusal) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	if (!refusal)
		return fail(L, "cannot make", path);
	lua_pushnil(L);
	lua_pushfstring(L, "%s %s: refused", path, refusal);
	return 2;
}

/* core.read_private(path) -> its bytes; or nil, why and whether the file
 * was refused (not this user's own: a link, another's file, ...) rather
 * than missing or unreadable. */
static int core_read_private(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *refusal;
	int fd = owned_open(path, O_RDONLY, 0, &refusal);
	if (fd < 0) {
		lua_pushnil(L);
		lua_pushstring(L, refusal ? refusal : strerror(errno));
		lua_pushboolean(L, refusal != NULL);
		return 3;
	}
	struct stat st;
	char *data = NULL;
	int rc = fstat(fd, &st);
	if (rc == 0 && (data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		rc = -1;
	if (rc == 0)
		rc = fd_pread_all(fd, 0, data, (size_t)st.st_size);
	int saved = errno;
	close(fd);
	if (rc != 0) {
		free(data);
		errno = saved;
		return fail(L, "cannot read", path);
	}
	lua_pushlstring(L, data, (size_t)st.st_size);
	free(data);
	return 1;
}

/* core.list_dir(path) -> { { name =, size =, mtime =, mine = }... } of
 * the regular files in it (not following links; mine: this user's); or
 * nil and why. */
static int core_list_dir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	DIR *dir = opendir(path);
	if (!dir)
		return fail(L, "cannot list", path);
	lua_newtable(L);
	lua_Integer n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		struct stat st;
		if (fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		lua_createtable(L, 0, 4);
		lua_pushstring(L, e->d_name);
		lua_setfield(L, -2, "name");
		lua_pushinteger(L, (lua_Integer)st.st_size);
		lua_setfield(L, -2, "size");
		lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec / 1e9);
		lua_setfield(L, -2, "mtime");
		lua_pushboolean(L, st.st_uid == geteuid());
		lua_setfield(L, -2, "mine");
		lua_rawseti(L, -2, ++n);
	}
	closedir(dir);
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
    {"read_private", core_read_private},
    {"list_dir", core_list_dir},
    {"epoch", core_epoch},
    {NULL, NULL},
};
