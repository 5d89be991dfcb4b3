/* The write queue's journal and drainer lock as userdata: pulse.journal
 * (queue/journal.h) and pulse.claim (queue/claim.h). The records' meaning
 * is the Lua queue's; here they are strings. */
#include "binding.h"

#include "queue/claim.h"
#include "queue/journal.h"

#include <errno.h>
#include <string.h>

#define JOURNAL_MT "pulse.journal"
#define CLAIM_MT "pulse.claim"

static int fail(lua_State *L, const char *what, const char *path)
{
	lua_pushnil(L);
	lua_pushfstring(L, "journal %s: %s: %s", path ? path : "", what, strerror(errno));
	return 2;
}

/* nil and why a file the queue keeps was refused (owned_file.h). */
static int refuse(lua_State *L, const char *path, const char *refusal)
{
	lua_pushnil(L);
	lua_pushfstring(
	    L, "%s %s: refused (the queue keeps only regular files of its own, never through a link)", path,
	    refusal);
	return 2;
}

static struct journal *check_journal(lua_State *L)
{
	struct journal *j = luaL_checkudata(L, 1, JOURNAL_MT);
	if (j->fd < 0)
		luaL_error(L, "the journal is closed");
	return j;
}

/* core.journal_open(path) -> journal, or nil and why */
static int core_journal_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct journal *j = lua_newuserdatauv(L, sizeof *j, 0);
	j->fd = -1;
	j->path = NULL;
	j->refusal = NULL;
	luaL_setmetatable(L, JOURNAL_MT);
	int rc = journal_open(j, path);
	if (rc < 0 && j->refusal)
		return refuse(L, path, j->refusal);
	if (rc < 0)
		return fail(L, "cannot open", path);
	if (rc > 0) {
		lua_pushnil(L);
		lua_pushfstring(
		    L, "%s is not a pulse queue journal (it does not start with \"%s\"): not touched", path,
		    "pulse-queue 1\\n");
		return 2;
	}
	return 1;
}

/* journal:lock() -> whether the file was replaced since the last lock */
static int journal_lock_method(lua_State *L)
{
	struct journal *j = check_journal(L);
	int replaced = journal_lock(j);
	if (replaced < 0 && errno == EINVAL) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s was replaced by a file that is not a pulse queue journal: not touched",
		                j->path);
		return 2;
	}
	if (replaced < 0 && j->refusal)
		return refuse(L, j->path, j->refusal);
	if (replaced < 0)
		return fail(L, "cannot lock", j->path);
	lua_pushboolean(L, replaced);
	return 1;
}

static int journal_unlock_method(lua_State *L)
{
	journal_unlock(check_journal(L));
	return 0;
}

struct collected {
	lua_State *L;
	lua_Integer n;
};

static void collect(const unsigned char *payload, size_t len, void *ctx)
{
	struct collected *c = ctx;
	lua_pushlstring(c->L, (const char *)payload, len);
	lua_rawseti(c->L, -2, ++c->n);
}

static void collect_damage(size_t offset, size_t len, void *ctx)
{
	struct collected *c = ctx;
	lua_createtable(c->L, 0, 2);
	lua_pushinteger(c->L, (lua_Integer)offset);
	lua_setfield(c->L, -2, "offset");
	lua_pushinteger(c->L, (lua_Integer)len);
	lua_setfield(c->L, -2, "length");
	lua_rawseti(c->L, -2, ++c->n);
}

/* journal:read(from) -> { payload or damage... }, and the end offset; or
 * nil and why. A damaged stretch is a table { offset =, length = } in its
 * place among the payloads; a torn tail is cut off on the way. */
static int journal_read_method(lua_State *L)
{
	struct journal *j = check_journal(L);
	lua_Integer from = luaL_checkinteger(L, 2);
	luaL_argcheck(L, from >= 0, 2, "offset must be >= 0");
	lua_newtable(L);
	struct collected c = {L, 0};
	struct record_walk walk = {collect, collect_damage, &c};
	uint64_t end;
	if (journal_read(j, (uint64_t)from, &walk, &end) != 0)
		return fail(L, "cannot read", j->path);
	lua_pushinteger(L, (lua_Integer)end);
	return 2;
}

/* The strings of the list at arg, framed as records into out. */
static int frame_list(lua_State *L, int arg, struct buf *out)
{
	luaL_checktype(L, arg, LUA_TTABLE);
	lua_Integer n = luaL_len(L, arg);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, arg, i);
		size_t len;
		const char *payload = lua_tolstring(L, -1, &len);
		if (!payload) {
			buf_free(out);
			return luaL_error(L, "record %d is not a string", (int)i);
		}
		if (journal_frame(out, payload, len) != 0) {
			buf_free(out);
			return luaL_error(L, "record %d: %s", (int)i, strerror(errno));
		}
		lua_pop(L, 1);
	}
	return 0;
}

/* Frames the list at 2 and hands it to write (append or replace): true,
 * or nil and why, naming what failed. */
static int write_framed(lua_State *L, int (*write)(struct journal *, const struct buf *), const char *what)
{
	struct journal *j = check_journal(L);
	struct buf framed = {0};
	frame_list(L, 2, &framed);
	int rc = write(j, &framed);
	int saved = errno;
	buf_free(&framed);
	errno = saved;
	if (rc != 0)
		return fail(L, what, j->path);
	lua_pushboolean(L, 1);
	return 1;
}

/* journal:append({ payload... }) -> true, or nil and why */
static int journal_append_method(lua_State *L)
{
	return write_framed(L, journal_append, "cannot write");
}

/* journal:sync() -> true, or nil and why */
static int journal_sync_method(lua_State *L)
{
	struct journal *j = check_journal(L);
	if (journal_sync(j) != 0)
		return fail(L, "cannot sync", j->path);
	lua_pushboolean(L, 1);
	return 1;
}

/* journal:replace({ payload... }) -> true, or nil and why */
static int journal_replace_method(lua_State *L)
{
	return write_framed(L, journal_replace, "cannot compact");
}

/* journal:path() -> the journal's real path (no symbolic link in it) */
static int journal_path_method(lua_State *L)
{
	lua_pushstring(L, check_journal(L)->path);
	return 1;
}

static int journal_close_method(lua_State *L)
{
	struct journal *j = luaL_checkudata(L, 1, JOURNAL_MT);
	journal_close(j); /* safe twice: it marks itself closed */
	return 0;
}

/* core.claim(path) -> claim; or nil, and the holder's pid (0: unknown);
 * or nil and why */
static int core_claim(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	int *fd = lua_newuserdatauv(L, sizeof *fd, 0);
	*fd = -1;
	luaL_setmetatable(L, CLAIM_MT);
	long holder = 0;
	const char *refusal;
	int rc = claim_take(path, fd, &holder, &refusal);
	if (rc < 0 && refusal)
		return refuse(L, path, refusal);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "cannot lock %s: %s", path, strerror(errno));
		return 2;
	}
	if (rc == 1) {
		lua_pushnil(L);
		lua_pushinteger(L, holder);
		return 2;
	}
	return 1;
}

static int claim_release_method(lua_State *L)
{
	int *fd = luaL_checkudata(L, 1, CLAIM_MT);
	claim_release(*fd);
	*fd = -1;
	return 0;
}

void binding_journal_metatables(lua_State *L)
{
	static const luaL_Reg journal_methods[] = {
	    {"lock", journal_lock_method},
	    {"unlock", journal_unlock_method},
	    {"read", journal_read_method},
	    {"append", journal_append_method},
	    {"sync", journal_sync_method},
	    {"replace", journal_replace_method},
	    {"path", journal_path_method},
	    {"close", journal_close_method},
	    {NULL, NULL},
	};
	static const luaL_Reg claim_methods[] = {{"release", claim_release_method}, {NULL, NULL}};
	binding_new_metatable(L, JOURNAL_MT, journal_methods, journal_close_method);
	binding_new_metatable(L, CLAIM_MT, claim_methods, claim_release_method);
}

const luaL_Reg binding_journal_functions[] = {
    {"journal_open", core_journal_open},
    {"claim", core_claim},
    {NULL, NULL},
};
