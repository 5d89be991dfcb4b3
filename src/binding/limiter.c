/*
 * The limiter object: core.ratelimit(limit, window, burst [, now]) makes
 * one over this process's bucket (limiter/local.h). Its methods are the
 * limiter's operations, for the client's waits and for the specs, which
 * step time by hand (now).
 */
#include "binding.h"

#include "core/clock.h"
#include "limiter/local.h"

struct limiter_box {
	struct limiter *limiter;
};

struct limiter *binding_check_limiter(lua_State *L, int arg)
{
	struct limiter_box *box = binding_check_object(L, arg, UP_LIMITER_MT, LIMITER_MT);
	return box->limiter;
}

struct limiter *binding_opt_limiter(lua_State *L, int arg)
{
	return lua_isnil(L, arg) ? NULL : binding_check_limiter(L, arg);
}

static double check_positive(lua_State *L, int arg)
{
	lua_Number v = luaL_checknumber(L, arg);
	luaL_argcheck(L, v > 0 && v < 1e9, arg, "must be a number above 0 and below 1e9");
	return (double)v;
}

/* The clock, or a time the caller gives: the specs step time by hand. */
static double opt_now(lua_State *L, int arg)
{
	return lua_isnoneornil(L, arg) ? clock_monotonic() : (double)luaL_checknumber(L, arg);
}

/* core.ratelimit(limit, window, burst [, now]) */
static int core_ratelimit(lua_State *L)
{
	double limit = check_positive(L, 1), window = check_positive(L, 2), burst = check_positive(L, 3);
	double now = opt_now(L, 4);
	struct limiter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	box->limiter = NULL;
	binding_set_metatable(L, UP_LIMITER_MT);
	if (!(box->limiter = limiter_local_new(limit, window, burst, now)))
		return luaL_error(L, "out of memory");
	return 1;
}

static int limiter_gc(lua_State *L)
{
	struct limiter_box *box = luaL_checkudata(L, 1, LIMITER_MT);
	limiter_release(box->limiter); /* a transfer holding a token keeps it alive */
	box->limiter = NULL;
	return 0;
}

int binding_push_no_token(lua_State *L, enum limiter_answer answer, double wait, const struct limiter *l)
{
	if (answer == LIMITER_FAILED) { /* as a failure that took no time, sent nothing */
		lua_pushnil(L);
		lua_pushliteral(L, "limiter");
		lua_pushstring(L, l->error);
		lua_pushnumber(L, 0);
		lua_pushinteger(L, 0);
		return 5;
	}
	lua_pushboolean(L, 0);
	lua_pushnumber(L, answer == LIMITER_AWAIT ? -1.0 : wait);
	return 2;
}

/* rl:take([now]) -> 0 when a token was taken, else seconds to wait, or -1:
 * wait for the response of a request in flight (the tokens are
 * unconfirmed); or nil, "limiter", why. */
static int limiter_take_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	double wait;
	switch (limiter_take(l, opt_now(L, 2), &wait)) {
	case LIMITER_TAKEN:
		lua_pushnumber(L, 0);
		return 1;
	case LIMITER_AWAIT:
		lua_pushnumber(L, -1);
		return 1;
	case LIMITER_WAIT:
		lua_pushnumber(L, wait);
		return 1;
	case LIMITER_FAILED:
		break;
	}
	lua_pushnil(L);
	lua_pushliteral(L, "limiter");
	lua_pushstring(L, l->error);
	return 3;
}

/* rl:cancel(): a taken token's request got no response. */
static int limiter_cancel_method(lua_State *L)
{
	limiter_cancel(binding_check_limiter(L, 1));
	return 0;
}

/* rl:observe(status, headers [, now]) -> retry_after or nil, the rate view
 * after it. headers: a headers object, or a header block string. */
static int limiter_observe_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	lua_Integer status = luaL_checkinteger(L, 2);
	size_t len;
	const char *block = binding_check_block(L, 3, &len);
	struct exchange_outcome out;
	exchange_observe(l, (long)status, block, len, opt_now(L, 4), &out);
	if (out.has_retry_after)
		lua_pushnumber(L, out.retry_after);
	else
		lua_pushnil(L);
	binding_push_rate(L, &out.rate);
	return 2;
}

/* rl:view([now]) -> the model, as a table of numbers (reset and blocked:
 * seconds from now) */
static int limiter_view_method(lua_State *L)
{
	struct limiter_view v = limiter_view(binding_check_limiter(L, 1), opt_now(L, 2));
	binding_push_rate_table(L, &v);
	return 1;
}

/* rl:ignored_headers() -> how many rate-limit values it ignored as garbage */
static int limiter_ignored_method(lua_State *L)
{
	binding_push_number(L, binding_check_limiter(L, 1)->ignored_headers);
	return 1;
}

const luaL_Reg binding_limiter_functions[] = {
    {"ratelimit", core_ratelimit},
    {NULL, NULL},
};

const luaL_Reg binding_limiter_methods[] = {
    {"take", limiter_take_method},
    {"observe", limiter_observe_method},
    {"cancel", limiter_cancel_method},
    {"view", limiter_view_method},
    {"ignored_headers", limiter_ignored_method},
    {NULL, NULL},
};

void binding_limiter_metatable(lua_State *L, int mt)
{
	lua_pushcfunction(L, limiter_gc);
	lua_setfield(L, mt, "__gc");
}
