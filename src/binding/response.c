#include "lresponse.h"

#include "header_block.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#define HEADERS_MT "pulse.headers"
#define RATE_MT "pulse.rate"

/* The iterator pairs() returns: next over the table it built. */
static int next_field(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 2);
	if (lua_next(L, 1))
		return 2;
	lua_pushnil(L);
	return 1;
}

/* ---- headers ----------------------------------------------------------- */

struct headers_box {
	size_t len;
	char block[];
};

void lresponse_push_headers(lua_State *L, const char *block, size_t len, int mt)
{
	mt = lua_absindex(L, mt);
	struct headers_box *box = lua_newuserdatauv(L, sizeof *box + len, 0);
	box->len = len;
	if (len)
		memcpy(box->block, block, len);
	lua_pushvalue(L, mt);
	lua_setmetatable(L, -2);
}

const char *lresponse_check_block(lua_State *L, int arg, size_t *len)
{
	struct headers_box *box = luaL_testudata(L, arg, HEADERS_MT);
	if (box) {
		*len = box->len;
		return box->block;
	}
	return luaL_checklstring(L, arg, len);
}

int lresponse_core_headers(lua_State *L)
{
	size_t len;
	const char *block = luaL_checklstring(L, 1, &len);
	luaL_getmetatable(L, HEADERS_MT);
	lresponse_push_headers(L, block, len, -1);
	return 1;
}

static void push_lower(lua_State *L, const char *s, size_t len)
{
	luaL_Buffer b;
	char *out = luaL_buffinitsize(L, &b, len);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + ('a' - 'A') : s[i]);
	luaL_pushresultsize(&b, len);
}

/* headers[name]: the field's value in any spelling of its name, the values
 * of repeated lines joined with ", " (RFC 9110 section 5.3); nil if absent. */
static int headers_index(lua_State *L)
{
	struct headers_box *box = luaL_checkudata(L, 1, HEADERS_MT);
	size_t name_len, pos = 0;
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &name_len) : NULL;
	if (!name)
		return 0;
	push_lower(L, name, name_len);
	name = lua_tostring(L, -1);
	int found = 0;
	struct header_field f;
	luaL_Buffer value;
	luaL_buffinit(L, &value);
	while (header_block_next(box->block, box->len, &pos, &f)) {
		if (f.name_len != name_len || !header_field_is(&f, name))
			continue;
		if (found++)
			luaL_addstring(&value, ", ");
		luaL_addlstring(&value, f.value, f.value_len);
	}
	luaL_pushresult(&value);
	if (!found)
		lua_pushnil(L);
	return 1;
}

/* pairs(headers): every field, names lower-cased, repeats joined. */
static int headers_pairs(lua_State *L)
{
	struct headers_box *box = luaL_checkudata(L, 1, HEADERS_MT);
	size_t pos = 0;
	struct header_field f;
	lua_pushcfunction(L, next_field);
	lua_newtable(L);
	while (header_block_next(box->block, box->len, &pos, &f)) {
		push_lower(L, f.name, f.name_len);
		lua_pushvalue(L, -1);
		if (lua_rawget(L, -3) == LUA_TSTRING) {
			lua_pushliteral(L, ", ");
			lua_pushlstring(L, f.value, f.value_len);
			lua_concat(L, 3);
		} else {
			lua_pop(L, 1);
			lua_pushlstring(L, f.value, f.value_len);
		}
		lua_rawset(L, -3);
	}
	lua_pushnil(L);
	return 3;
}

/* The block as received: "Name: value" lines. Response headers never hold
 * the API key. */
static int headers_tostring(lua_State *L)
{
	struct headers_box *box = luaL_checkudata(L, 1, HEADERS_MT);
	lua_pushlstring(L, box->block, box->len);
	return 1;
}

/* ---- the rate-limit view ----------------------------------------------- */

struct rate_view {
	double limit, window, burst, remaining, reset, blocked;
	lua_Integer in_flight;
};

/* The field names, in the order of struct rate_view's doubles. */
static const char *const rate_fields[] = {"limit", "window", "burst", "remaining", "reset", "blocked"};
#define RATE_NUMBERS (sizeof rate_fields / sizeof *rate_fields)

static struct rate_view view_at(const struct ratelimit_state *live, double now)
{
	struct ratelimit_state s = ratelimit_at(live, now);
	return (struct rate_view){
	    .limit = s.limit,
	    .window = s.window,
	    .burst = s.burst,
	    .remaining = floor(s.tokens),
	    .reset = s.next_refill > now ? s.next_refill - now : 0,
	    .blocked = s.blocked_until > now ? s.blocked_until - now : 0,
	    .in_flight = s.in_flight,
	};
}

static double view_number(const struct rate_view *v, size_t i)
{
	const double numbers[RATE_NUMBERS] = {v->limit,     v->window, v->burst,
	                                      v->remaining, v->reset,  v->blocked};
	return numbers[i];
}

void lresponse_push_number(lua_State *L, double v)
{
	lua_Integer i;
	if (lua_numbertointeger(v, &i) && (double)i == v)
		lua_pushinteger(L, i);
	else
		lua_pushnumber(L, v);
}

static void push_view_table(lua_State *L, const struct rate_view *v)
{
	lua_createtable(L, 0, RATE_NUMBERS + 1);
	for (size_t i = 0; i < RATE_NUMBERS; i++) {
		lresponse_push_number(L, view_number(v, i));
		lua_setfield(L, -2, rate_fields[i]);
	}
	lua_pushinteger(L, v->in_flight);
	lua_setfield(L, -2, "in_flight");
}

void lresponse_push_rate(lua_State *L, const struct ratelimit_state *live, double now, int mt)
{
	mt = lua_absindex(L, mt);
	struct rate_view *box = lua_newuserdatauv(L, sizeof *box, 0);
	*box = view_at(live, now);
	lua_pushvalue(L, mt);
	lua_setmetatable(L, -2);
}

void lresponse_push_rate_table(lua_State *L, const struct ratelimit_state *live, double now)
{
	struct rate_view v = view_at(live, now);
	push_view_table(L, &v);
}

static int rate_index(lua_State *L)
{
	const struct rate_view *v = luaL_checkudata(L, 1, RATE_MT);
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
	for (size_t i = 0; i < RATE_NUMBERS; i++)
		if (strcmp(name, rate_fields[i]) == 0) {
			lresponse_push_number(L, view_number(v, i));
			return 1;
		}
	if (strcmp(name, "in_flight") == 0) {
		lua_pushinteger(L, v->in_flight);
		return 1;
	}
	return 0;
}

static int rate_pairs(lua_State *L)
{
	const struct rate_view *v = luaL_checkudata(L, 1, RATE_MT);
	lua_pushcfunction(L, next_field);
	push_view_table(L, v);
	lua_pushnil(L);
	return 3;
}

static int rate_tostring(lua_State *L)
{
	const struct rate_view *v = luaL_checkudata(L, 1, RATE_MT);
	lua_pushfstring(
	    L, "pulse.rate(limit %f, window %f, burst %f, remaining %f, reset %f, blocked %f, in flight %I)",
	    v->limit, v->window, v->burst, v->remaining, v->reset, v->blocked, v->in_flight);
	return 1;
}

void lresponse_open(lua_State *L)
{
	static const luaL_Reg headers[] = {
	    {"__index", headers_index},
	    {"__pairs", headers_pairs},
	    {"__tostring", headers_tostring},
	    {NULL, NULL},
	};
	static const luaL_Reg rate[] = {
	    {"__index", rate_index},
	    {"__pairs", rate_pairs},
	    {"__tostring", rate_tostring},
	    {NULL, NULL},
	};
	luaL_newmetatable(L, HEADERS_MT);
	luaL_setfuncs(L, headers, 0);
	luaL_newmetatable(L, RATE_MT);
	luaL_setfuncs(L, rate, 0);
}
