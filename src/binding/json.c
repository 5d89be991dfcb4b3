/*
 * JSON for Lua on the codec of core/: json_decode builds Lua values from
 * the parser's events, json_encode walks Lua values into core's writers.
 * Arrays decode with the array metatable (an upvalue), so that [] stays [].
 */
#include "binding.h"

#include "core/json_decode.h"
#include "core/json_encode.h"
#include "util/buf.h"

#include <stdint.h>
#include <string.h>

#define BUFFER_MT "pulse.buffer"
#define KEY_CACHE 64 /* a power of 2 */

/* ---- decoding ----------------------------------------------------------- */

/* What decoding remembers across calls, as the pages of an API come with
 * the same keys and shapes again and again:
 * - the object keys decoded last, by a hash of their bytes: pushing one
 *   from here skips Lua's hashing and interning of its bytes. A slot's
 *   text is that of the Lua string at index slot + 1 of the userdata's
 *   user value, alive as long as it is there;
 * - the size of the last object and array at each of the first depths:
 *   the first one there in the next document is made that size, as the
 *   others are made the size of the one before them (struct decoder).
 *   Capped, so that one large document costs the next little. */
#define SHAPE_DEPTHS 16
#define SHAPE_CAP 64

struct decode_memory {
	struct {
		const char *text;
		size_t len;
	} slot[KEY_CACHE];
	int fields[SHAPE_DEPTHS], items[SHAPE_DEPTHS];
};

void binding_json_memory(lua_State *L)
{
	struct decode_memory *memory = lua_newuserdatauv(L, sizeof *memory, 1);
	memset(memory, 0, sizeof *memory);
	lua_createtable(L, KEY_CACHE, 0);
	lua_setiuservalue(L, -2, 1);
}

struct decoder {
	lua_State *L;
	int array_mt;                           /* stack index */
	lua_Integer length[JSON_MAX_DEPTH + 1]; /* per open container: items so far, or -1 for objects */
	int fields[JSON_MAX_DEPTH + 1];         /* per open object: its fields so far */
	/* The size of the last object and array closed at each depth: the next
	 * one there is made that size, since the records of a list share a
	 * shape, and a table grown key by key is rehashed at every power of 2.
	 * The first at a depth is made the size the last document's had. */
	int last_fields[JSON_MAX_DEPTH + 1], last_items[JSON_MAX_DEPTH + 1];
	int depth;
	int reached; /* the deepest depth so far: the arrays are set up to it, not zeroed whole */
	int keys_at; /* the stack index of the key cache's strings */
	struct decode_memory *memory;
};

/* Opens a container one level deeper. */
static void descend(struct decoder *d)
{
	if (++d->depth > d->reached) {
		d->reached = d->depth;
		int remembered = d->depth < SHAPE_DEPTHS;
		d->last_fields[d->depth] = remembered ? d->memory->fields[d->depth] : 0;
		d->last_items[d->depth] = remembered ? d->memory->items[d->depth] : 0;
	}
}

static void push_span(lua_State *L, const struct json_token *token)
{
	if (!token->escaped) {
		lua_pushlstring(L, token->text, token->len);
		return;
	}
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, token->len);
	luaL_pushresultsize(&b, json_unescape(token->text, token->len, out));
}

/* Whether a key's len (at least 1) bytes are those of the cached text: a
 * key is a few bytes, and libc's memcmp is a call and a dispatch for
 * each. Loads that overlap cover 1 to 16 bytes. */
static int same_key(const char *a, const char *b, size_t len)
{
	if (len > 16)
		return memcmp(a, b, len) == 0;
	if (len >= 8) {
		uint64_t a0, b0, a1, b1;
		memcpy(&a0, a, 8), memcpy(&b0, b, 8);
		memcpy(&a1, a + len - 8, 8), memcpy(&b1, b + len - 8, 8);
		return a0 == b0 && a1 == b1;
	}
	if (len >= 4) {
		uint32_t a0, b0, a1, b1;
		memcpy(&a0, a, 4), memcpy(&b0, b, 4);
		memcpy(&a1, a + len - 4, 4), memcpy(&b1, b + len - 4, 4);
		return a0 == b0 && a1 == b1;
	}
	return a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1];
}

/* Pushes an object's key, from the keys met last when it is one of them. */
static void push_key(struct decoder *d, const struct json_token *token)
{
	size_t len = token->len;
	const char *text = token->text;
	if (token->escaped || len == 0) {
		push_span(d->L, token);
		return;
	}
	unsigned slot = (unsigned)(len * 7 + (unsigned char)text[0] * 31 + (unsigned char)text[len - 1]) &
	                (KEY_CACHE - 1);
	if (d->memory->slot[slot].len == len && same_key(d->memory->slot[slot].text, text, len)) {
		lua_rawgeti(d->L, d->keys_at, slot + 1);
		return;
	}
	lua_pushlstring(d->L, text, len);
	lua_pushvalue(d->L, -1);
	lua_rawseti(d->L, d->keys_at, slot + 1);
	d->memory->slot[slot].text = lua_tostring(d->L, -1);
	d->memory->slot[slot].len = len;
}

/* Stores the value on top into the container below it (and its key). */
static void attach(struct decoder *d)
{
	if (d->depth == 0)
		return; /* the document itself: it stays on the stack */
	if (d->length[d->depth] < 0) {
		lua_rawset(d->L, -3);
		d->fields[d->depth]++;
	} else
		lua_rawseti(d->L, -2, ++d->length[d->depth]);
}

static int on_json_event(void *ctx, enum json_event event, const struct json_token *token)
{
	struct decoder *d = ctx;
	lua_State *L = d->L;
	switch (event) {
	case JSON_NULL:
		lua_pushlightuserdata(L, NULL);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, event == JSON_TRUE);
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)token->integer);
		break;
	case JSON_NUMBER:
		lua_pushnumber(L, token->number);
		break;
	case JSON_STRING:
		push_span(L, token);
		break;
	case JSON_KEY:
		push_key(d, token);
		return 0; /* the value comes next */
	case JSON_OBJECT_BEGIN:
		/* Each open container holds at most itself, a key and a value on
		 * the stack: room for the next level is made as it opens. */
		if (!lua_checkstack(L, 4))
			return 1;
		descend(d);
		lua_createtable(L, 0, d->last_fields[d->depth]);
		d->length[d->depth] = -1;
		d->fields[d->depth] = 0;
		return 0;
	case JSON_ARRAY_BEGIN:
		if (!lua_checkstack(L, 4))
			return 1;
		descend(d);
		lua_createtable(L, d->last_items[d->depth], 0);
		lua_pushvalue(L, d->array_mt);
		lua_setmetatable(L, -2);
		d->length[d->depth] = 0;
		return 0;
	case JSON_OBJECT_END:
		d->last_fields[d->depth] = d->fields[d->depth];
		d->depth--;
		break;
	case JSON_ARRAY_END:
		d->last_items[d->depth] = (int)d->length[d->depth];
		d->depth--;
		break;
	}
	attach(d);
	return 0;
}

static int capped(int size)
{
	return size < SHAPE_CAP ? size : SHAPE_CAP;
}

/* The sizes the document's last containers had, for the next one. */
static void remember_shapes(const struct decoder *d)
{
	for (int depth = 1; depth <= d->reached && depth < SHAPE_DEPTHS; depth++) {
		d->memory->fields[depth] = capped(d->last_fields[depth]);
		d->memory->items[depth] = capped(d->last_items[depth]);
	}
}

/* json_decode(text) -> value, or nil and a reason */
static int core_json_decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	lua_settop(L, 1);
	lua_pushvalue(L, UP_ARRAY_MT);
	lua_getiuservalue(L, UP_JSON_MEMORY, 1);
	struct decoder d; /* its arrays are set up as the parse goes deeper */
	d.L = L;
	d.array_mt = 2;
	d.keys_at = 3;
	d.memory = lua_touserdata(L, UP_JSON_MEMORY);
	d.depth = d.reached = 0;
	struct json_error err = {0};
	int rc = json_parse(text, len, on_json_event, &d, &err);
	if (rc == 0) {
		remember_shapes(&d);
		return 1;
	}
	lua_pushnil(L);
	if (rc > 0)
		lua_pushliteral(L, "JSON nested too deeply for the Lua stack");
	else
		lua_pushfstring(L, "%s at byte %d", err.reason, (int)err.offset + 1);
	return 2;
}

/* ---- encoding ----------------------------------------------------------- */

#define ENCODE_MAX_DEPTH 256

struct encoder {
	lua_State *L;
	struct buf *out;
	int array_mt;
	const char *error;
	/* The tables being written, outermost first: a table met again among
	 * them is a cycle. A stack, not a registry table: no hashing per table. */
	const void *path[ENCODE_MAX_DEPTH + 1];
	int depth;
};

static int encode_value(struct encoder *e, int idx, int depth);

static int encode_fail(struct encoder *e, const char *fmt, const char *arg)
{
	e->error = lua_pushfstring(e->L, fmt, arg);
	return -1;
}

static int oom(struct encoder *e)
{
	e->error = "out of memory";
	return -1;
}

/* Sets *n and returns 1 when every key is an integer 1..n; else fails,
 * naming why. */
static int array_size(struct encoder *e, int idx, lua_Integer *n)
{
	lua_State *L = e->L;
	lua_Integer count = 0, max = 0;
	int strings = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING) {
			strings++;
		} else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
			count++;
			if (lua_tointeger(L, -1) > max)
				max = lua_tointeger(L, -1);
		} else {
			return encode_fail(e, "cannot encode a table key of type %s", luaL_typename(L, -1));
		}
	}
	if (strings && count)
		return encode_fail(e, "cannot encode a table that mixes string and integer keys%s", "");
	if (count && max != count)
		return encode_fail(e, "cannot encode a sparse array%s (use pulse.null for holes)", "");
	*n = count;
	return count > 0;
}

/* The n items of the array at idx. */
static int encode_array(struct encoder *e, int idx, lua_Integer n, int depth)
{
	lua_State *L = e->L;
	if (buf_putc(e->out, '[') != 0)
		return oom(e);
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1 && buf_putc(e->out, ',') != 0)
			return oom(e);
		lua_rawgeti(L, idx, i);
		if (encode_value(e, lua_gettop(L), depth + 1) != 0)
			return -1;
		lua_pop(L, 1);
	}
	return buf_putc(e->out, ']') != 0 ? oom(e) : 0;
}

/* The table at idx as an object, in one walk: lua_next has put its first
 * key, a string, and that key's value on the stack. A key that is not a
 * string fails the encoding (the text so far is thrown away). */
static int encode_object(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	if (buf_putc(e->out, '{') != 0)
		return oom(e);
	int first = 1;
	do {
		if (lua_type(L, -2) != LUA_TSTRING) {
			if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > 0)
				return encode_fail(
				    e, "cannot encode a table that mixes string and integer keys%s", "");
			return encode_fail(e, "cannot encode a table key of type %s", luaL_typename(L, -2));
		}
		size_t klen;
		const char *key = lua_tolstring(L, -2, &klen);
		if ((!first && buf_putc(e->out, ',') != 0) || json_write_string(e->out, key, klen) != 0 ||
		    buf_putc(e->out, ':') != 0)
			return oom(e);
		first = 0;
		if (encode_value(e, lua_gettop(L), depth + 1) != 0)
			return -1;
		lua_pop(L, 1);
	} while (lua_next(L, idx));
	return buf_putc(e->out, '}') != 0 ? oom(e) : 0;
}

/* The table at idx as an array in one walk, while lua_next hands out the
 * keys 1, 2, 3... in order, as it does for a list (its array part);
 * lua_next has put the first key, not a string, and its value on the
 * stack. Any other key sends it the long way: the text so far is dropped,
 * the keys are checked in a walk of their own, and the items go by index. */
static int encode_list(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	size_t start = e->out->len;
	if (buf_putc(e->out, '[') != 0)
		return oom(e);
	lua_Integer next = 1;
	do {
		if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) != next) {
			lua_pop(L, 2);
			buf_truncate(e->out, start);
			lua_Integer n;
			int rc = array_size(e, idx, &n);
			return rc > 0 ? encode_array(e, idx, n, depth) : rc;
		}
		if (next++ > 1 && buf_putc(e->out, ',') != 0)
			return oom(e);
		if (encode_value(e, lua_gettop(L), depth + 1) != 0)
			return -1;
		lua_pop(L, 1);
	} while (lua_next(L, idx));
	return buf_putc(e->out, ']') != 0 ? oom(e) : 0;
}

static int encode_table(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	if (depth > ENCODE_MAX_DEPTH)
		return encode_fail(e, "cannot encode tables nested deeper than %s levels", "256");
	if (!lua_checkstack(L, 6))
		return oom(e);
	const void *self = lua_topointer(L, idx);
	for (int i = 0; i < e->depth; i++)
		if (e->path[i] == self)
			return encode_fail(e, "cannot encode a cyclic table%s", "");
	e->path[e->depth++] = self;

	int rc;
	int has_mt = lua_getmetatable(L, idx);
	int marked = has_mt && lua_rawequal(L, -1, e->array_mt);
	if (has_mt)
		lua_pop(L, 1);
	lua_pushnil(L);
	if (marked) {
		lua_pop(L, 1);
		rc = encode_array(e, idx, (lua_Integer)lua_rawlen(L, idx), depth);
	} else if (!lua_next(L, idx)) {
		rc = buf_append_str(e->out, "{}") != 0 ? oom(e) : 0;
	} else if (lua_type(L, -2) == LUA_TSTRING) {
		rc = encode_object(e, idx, depth);
	} else {
		rc = encode_list(e, idx, depth);
	}
	if (rc != 0)
		return rc;
	e->depth--;
	return 0;
}

/* An object that lists its fields under pairs() (res.headers, res.rate)
 * encodes as the table they make. Its __pairs is on the stack; popped. */
static int encode_listed(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	if (!lua_checkstack(L, 8))
		return oom(e);
	lua_pushvalue(L, idx);
	lua_call(L, 1, 3); /* iterator, state, control */
	lua_newtable(L);
	int fields = lua_gettop(L), control = fields - 1;
	for (;;) {
		lua_pushvalue(L, fields - 3);
		lua_pushvalue(L, fields - 2);
		lua_pushvalue(L, control);
		lua_call(L, 2, 2);
		if (lua_isnil(L, -2)) {
			lua_pop(L, 2);
			break;
		}
		lua_copy(L, -2, control);
		lua_rawset(L, fields);
	}
	int rc = encode_table(e, fields, depth);
	lua_settop(L, fields - 4);
	return rc;
}

static int encode_value(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	int rc = 0;
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		rc = buf_append_str(e->out, "null");
		break;
	case LUA_TBOOLEAN:
		rc = buf_append_str(e->out, lua_toboolean(L, idx) ? "true" : "false");
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			rc = json_write_integer(e->out, (long long)lua_tointeger(L, idx));
		} else if ((rc = json_write_double(e->out, (double)lua_tonumber(L, idx))) == -2) {
			return encode_fail(e, "cannot encode %s: JSON has no NaN or infinity",
			                   lua_tostring(L, idx));
		}
		break;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		rc = json_write_string(e->out, s, len);
		break;
	}
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == NULL) {
			rc = buf_append_str(e->out, "null");
			break;
		}
		return encode_fail(e, "cannot encode a %s", "light userdata");
	case LUA_TTABLE:
		return encode_table(e, idx, depth);
	case LUA_TUSERDATA:
		if (luaL_getmetafield(L, idx, "__pairs") != LUA_TNIL)
			return encode_listed(e, idx, depth);
		return encode_fail(e, "cannot encode a %s", luaL_typename(L, idx));
	default:
		return encode_fail(e, "cannot encode a %s", luaL_typename(L, idx));
	}
	return rc == 0 ? 0 : oom(e);
}

static int buffer_gc(lua_State *L)
{
	buf_free(luaL_checkudata(L, 1, BUFFER_MT));
	return 0;
}

/* json_encode(value) -> text, or nil and a reason */
static int core_json_encode(lua_State *L)
{
	luaL_checkany(L, 1);
	lua_settop(L, 1);
	lua_pushvalue(L, UP_ARRAY_MT); /* 2 */
	/* In a userdata so that a memory error raised mid-way cannot leak it. */
	struct buf *out = lua_newuserdatauv(L, sizeof *out, 0);
	memset(out, 0, sizeof *out);
	luaL_setmetatable(L, BUFFER_MT);
	struct encoder e = {.L = L, .out = out, .array_mt = 2};
	if (encode_value(&e, 1, 0) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, e.error);
		return 2;
	}
	lua_pushlstring(L, out->data, out->len);
	buf_free(out);
	return 1;
}

const luaL_Reg binding_json_functions[] = {
    {"json_decode", core_json_decode},
    {"json_encode", core_json_encode},
    {NULL, NULL},
};

void binding_json_open(lua_State *L)
{
	luaL_newmetatable(L, BUFFER_MT);
	lua_pushcfunction(L, buffer_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
}
