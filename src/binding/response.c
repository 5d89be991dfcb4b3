/*
 * What a response hands to Lua: the values of an exchange's outcome, and
 * two read-only objects, its headers (looked up in the header block on
 * demand, in any case) and the rate-limit view as that response left it.
 * Every request makes both, so each is one allocation; they are read far
 * less often, and pairs() on either gives a plain table's contents.
 */
#include "binding.h"

#include "util/header_block.h"

#include <math.h>
#include <string.h>

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

void binding_push_headers(lua_State *L, const char *block, size_t len)
{
	struct headers_box *box = lua_newuserdatauv(L, sizeof *box + len, 0);
	box->len = len;
	if (len)
		memcpy(box->block, block, len);
	binding_set_metatable(L, UP_HEADERS_MT);
}

const char *binding_check_block(lua_State *L, int arg, size_t *len)
{
	struct headers_box *box = luaL_testudata(L, arg, HEADERS_MT);
	if (box) {
		*len = box->len;
		return box->block;
	}
	return luaL_checklstring(L, arg, len);
}

/* core.headers(block) -> a headers object: for specs and tools. */
static int core_headers(lua_State *L)
{
	size_t len;
	const char *block = luaL_checklstring(L, 1, &len);
	binding_push_headers(L, block, len);
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

/* The field names, in the order of rate_number's. */
static const char *const rate_fields[] = {"limit", "window", "burst", "remaining", "reset", "blocked"};
#define RATE_NUMBERS (sizeof rate_fields / sizeof *rate_fields)

static double rate_number(const struct limiter_view *v, size_t i)
{
	const struct ratelimit_view *b = &v->bucket;
	const double numbers[RATE_NUMBERS] = {b->limit,     b->window, b->burst,
	                                      b->remaining, b->reset,  b->blocked};
	return numbers[i];
}

void binding_push_rate_table(lua_State *L, const struct limiter_view *v)
{
	lua_createtable(L, 0, RATE_NUMBERS + 1);
	for (size_t i = 0; i < RATE_NUMBERS; i++) {
		binding_push_number(L, rate_number(v, i));
		lua_setfield(L, -2, rate_fields[i]);
	}
	lua_pushinteger(L, v->in_flight);
	lua_setfield(L, -2, "in_flight");
}

void binding_push_rate(lua_State *L, const struct limiter_view *v)
{
	struct limiter_view *box = lua_newuserdatauv(L, sizeof *box, 0);
	*box = *v;
	binding_set_metatable(L, UP_RATE_MT);
}

static int rate_index(lua_State *L)
{
	const struct limiter_view *v = luaL_checkudata(L, 1, RATE_MT);
	const char *name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
	for (size_t i = 0; i < RATE_NUMBERS; i++)
		if (strcmp(name, rate_fields[i]) == 0) {
			binding_push_number(L, rate_number(v, i));
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
	const struct limiter_view *v = luaL_checkudata(L, 1, RATE_MT);
	lua_pushcfunction(L, next_field);
	binding_push_rate_table(L, v);
	lua_pushnil(L);
	return 3;
}

static int rate_tostring(lua_State *L)
{
	const struct limiter_view *v = luaL_checkudata(L, 1, RATE_MT);
	const struct ratelimit_view *b = &v->bucket;
	lua_pushfstring(
	    L, "pulse.rate(limit %f, window %f, burst %f, remaining %f, reset %f, blocked %f, in flight %I)",
	    b->limit, b->window, b->burst, b->remaining, b->reset, b->blocked, (lua_Integer)v->in_flight);
	return 1;
}

/* ---- an exchange's outcome ------------------------------------------------ */

const char *binding_failure_name(enum transport_failure failure)
{
	switch (failure) {
	case TRANSPORT_NO_CONNECTION:
		return "no_connection";
	case TRANSPORT_TLS:
		return "tls";
	case TRANSPORT_CERTIFICATE:
		return "certificate";
	case TRANSPORT_TOO_LARGE:
		return "too_large";
	case TRANSPORT_TIMEOUT:
		return "timeout";
	case TRANSPORT_USAGE:
		return "usage";
	case TRANSPORT_NO_MEMORY:
		return "no_memory";
	case TRANSPORT_INTERRUPTED:
		return "interrupted";
	default:
		return "network";
	}
}

int binding_push_failure(lua_State *L, const char *failure, const char *message, double elapsed,
                         int transmissions)
{
	lua_pushnil(L);
	lua_pushstring(L, failure);
	lua_pushstring(L, message);
	lua_pushnumber(L, elapsed);
	lua_pushinteger(L, transmissions);
	return 5;
}

int binding_push_outcome(lua_State *L, const struct exchange_outcome *out)
{
	const struct http_response *res = out->response;
	if (res->failure == TRANSPORT_NO_MEMORY)
		return luaL_error(L, "out of memory");
	if (res->failure != TRANSPORT_OK)
		return binding_push_failure(L, binding_failure_name(res->failure), res->message, res->elapsed,
		                            res->transmissions);
	lua_pushinteger(L, res->status);
	binding_push_headers(L, res->headers.data ? res->headers.data : "", res->headers.len);
	lua_pushlstring(L, res->body.data ? res->body.data : "", res->body.len);
	lua_pushnumber(L, res->elapsed);
	lua_pushinteger(L, res->transmissions);
	if (!out->observed)
		return 5;
	if (out->has_retry_after)
		lua_pushnumber(L, out->retry_after);
	else
		lua_pushnil(L);
	binding_push_rate(L, &out->rate);
	return 7;
}

const luaL_Reg binding_response_functions[] = {
    {"headers", core_headers},
    {NULL, NULL},
};

void binding_response_metatables(lua_State *L, int headers_mt, int rate_mt)
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
	lua_pushvalue(L, headers_mt);
	luaL_setfuncs(L, headers, 0);
	lua_pushvalue(L, rate_mt);
	luaL_setfuncs(L, rate, 0);
	lua_pop(L, 2);
}
