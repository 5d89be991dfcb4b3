/*
 * The plain-C rules the Lua layer asks for by name: the retry decision
 * (core/retry.h) and the rate-limit header parsers (core/ratelimit_headers.h).
 */
#include "binding.h"

#include "core/ratelimit_headers.h"
#include "core/retry.h"
#include "util/clock.h"

static int field_int(lua_State *L, const char *name)
{
	lua_getfield(L, 1, name);
	int v = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static double field_number(lua_State *L, const char *name, int *present)
{
	lua_getfield(L, 1, name);
	if (present)
		*present = lua_isnumber(L, -1);
	double v = (double)lua_tonumber(L, -1);
	lua_pop(L, 1);
	return v;
}

/* core.retry_decide{outcome=, status=, idempotent=, attempt=, elapsed=, retry_after=,
 *                   max_attempts=, max_elapsed=, base=, cap=, random=, first_contact=}
 *   -> retry (boolean), wait, reason, over_budget (the server's wait ends
 *      past max_elapsed: wait is that wait) */
static int core_retry_decide(lua_State *L)
{
	static const char *const outcomes[] = {"status",  "no_connection", "certificate", "timeout",
	                                       "network", "final",         NULL};
	luaL_checktype(L, 1, LUA_TTABLE);
	struct retry_input in = {0};
	lua_getfield(L, 1, "outcome");
	in.outcome = (enum retry_outcome)luaL_checkoption(L, -1, "status", outcomes);
	lua_pop(L, 1);
	in.status = field_int(L, "status");
	lua_getfield(L, 1, "idempotent");
	in.idempotent = lua_toboolean(L, -1);
	lua_getfield(L, 1, "first_contact");
	in.first_contact = lua_toboolean(L, -1);
	lua_pop(L, 2);
	in.attempt = field_int(L, "attempt");
	in.max_attempts = field_int(L, "max_attempts");
	in.elapsed = field_number(L, "elapsed", NULL);
	in.retry_after = field_number(L, "retry_after", &in.has_retry_after);
	in.max_elapsed = field_number(L, "max_elapsed", NULL);
	in.base = field_number(L, "base", NULL);
	in.cap = field_number(L, "cap", NULL);
	in.random = field_number(L, "random", NULL);
	struct retry_decision d = retry_decide(&in);
	lua_pushboolean(L, d.retry);
	lua_pushnumber(L, d.wait);
	if (d.reason)
		lua_pushstring(L, d.reason);
	else
		lua_pushnil(L);
	lua_pushboolean(L, d.over_budget);
	return 4;
}

/* core.parse_policy(value) -> limit, window, burst (0: absent), or nil */
static int core_parse_policy(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	struct ratelimit_policy p;
	if (ratelimit_parse_policy(v, len, &p) != 0)
		return 0;
	binding_push_number(L, p.limit);
	binding_push_number(L, p.window);
	binding_push_number(L, p.burst);
	return 3;
}

/* core.parse_count(value) -> number, or nil */
static int core_parse_count(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	double n;
	if (ratelimit_parse_count(v, len, &n) != 0)
		return 0;
	binding_push_number(L, n);
	return 1;
}

/* core.parse_retry_after(value [, now_epoch]) -> seconds, or nil */
static int core_parse_retry_after(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	double now = (double)luaL_optnumber(L, 2, clock_epoch());
	double delay;
	if (retry_after_parse(v, len, now, &delay) != 0)
		return 0;
	lua_pushnumber(L, delay);
	return 1;
}

const luaL_Reg binding_policy_functions[] = {
    {"retry_decide", core_retry_decide},
    {"parse_policy", core_parse_policy},
    {"parse_count", core_parse_count},
    {"parse_retry_after", core_parse_retry_after},
    {NULL, NULL},
};
