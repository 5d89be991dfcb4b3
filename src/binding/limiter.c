/*
 * The limiter object: core.ratelimit(limit, window, burst [, now]) makes
 * one over this process's bucket (limiter/local.h). Its methods are the
 * limiter's operations, for the client's waits and for the specs, which
 * step time by hand (now).
 */
#include "binding.h"

#include "limiter/local.h"
#include "limiter/redis.h"
#include "limiter/shm.h"
#include "util/clock.h"
#include "util/sha256.h"

#include <string.h>

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

static double opt_number_field(lua_State *L, int idx, const char *name, double dflt)
{
	lua_getfield(L, idx, name);
	double v = lua_isnil(L, -1) ? dflt : (double)luaL_checknumber(L, -1);
	lua_pop(L, 1);
	return v;
}

/* core.ratelimit_share{ limit, window, share [, refill, blocked_until, now] }
 * -> a limiter of this process's whose bucket is share of a shared one out
 * of reach, as the shm: and Redis limiters pace alone (core/ratelimit.h:
 * ratelimit_init_share). */
static int core_ratelimit_share(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	double limit = opt_number_field(L, 1, "limit", 0), window = opt_number_field(L, 1, "window", 0);
	double share = opt_number_field(L, 1, "share", 0);
	luaL_argcheck(L, limit > 0 && window > 0, 1, "limit and window must be above 0");
	luaL_argcheck(L, share > 0 && share <= 1, 1, "share must be above 0 and at most 1");
	double now = opt_number_field(L, 1, "now", clock_monotonic());
	double refill = opt_number_field(L, 1, "refill", 0),
	       blocked_until = opt_number_field(L, 1, "blocked_until", 0);
	struct limiter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	box->limiter = NULL;
	binding_set_metatable(L, UP_LIMITER_MT);
	if (!(box->limiter = limiter_local_share(limit, window, share, refill, blocked_until, now)))
		return luaL_error(L, "out of memory");
	return 1;
}

static const char *string_field(lua_State *L, int idx, const char *name)
{
	lua_getfield(L, idx, name);
	const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
	lua_pop(L, 1); /* alive in the table */
	return s;
}

/*
 * core.limiter{url =, bucket =, limit =, window =, burst =, timeout =,
 * fallback_share =} -> a limiter shared with other processes: url is
 * "shm:<path>" or "redis://..."; bucket names the organization's bucket
 * (a redis:// URL's bucket= wins). Raises, saying why, when it cannot.
 */
static int core_limiter(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *url = string_field(L, 1, "url"), *bucket = string_field(L, 1, "bucket");
	luaL_argcheck(L, url != NULL, 1, "url missing");
	double limit = opt_number_field(L, 1, "limit", 60), window = opt_number_field(L, 1, "window", 60);
	double burst = opt_number_field(L, 1, "burst", limit);
	struct limiter_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	box->limiter = NULL;
	binding_set_metatable(L, UP_LIMITER_MT);
	char err[512];
	if (strncmp(url, "shm:", 4) == 0) {
		luaL_argcheck(L, bucket != NULL, 1, "bucket missing");
		box->limiter = limiter_shm_open(url + 4, bucket, limit, window, burst,
		                                opt_number_field(L, 1, "fallback_share", 0), err, sizeof err);
	} else {
		struct redis_limiter_options o = {
		    .url = url,
		    .bucket = bucket,
		    .limit = limit,
		    .window = window,
		    .burst = burst,
		    .timeout = opt_number_field(L, 1, "timeout", 30),
		    .fallback_share = opt_number_field(L, 1, "fallback_share", 0),
		};
		box->limiter = limiter_redis_open(&o, err, sizeof err);
	}
	if (!box->limiter)
		return luaL_error(L, "%s", err);
	return 1;
}

/* Sets reserve and waiting = {interactive =, normal =, bulk =} on the
 * table on top. */
static void push_lanes_fields(lua_State *L, const struct limiter_lanes *lanes)
{
	binding_push_number(L, lanes->reserve);
	lua_setfield(L, -2, "reserve");
	lua_createtable(L, 0, LANES);
	for (int lane = 0; lane < LANES; lane++) {
		lua_pushinteger(L, lanes->waiting[lane]);
		lua_setfield(L, -2, lanes_name(lane));
	}
	lua_setfield(L, -2, "waiting");
}

static void push_status(const struct limiter_bucket_status *st, void *ctx)
{
	lua_State *L = ctx;
	lua_createtable(L, 0, 8);
	struct limiter_view v = {.bucket = st->bucket, .in_flight = st->in_flight};
	binding_push_rate_table(L, &v);
	lua_setfield(L, -2, "rate");
	lua_pushstring(L, st->name);
	lua_setfield(L, -2, "name");
	lua_pushboolean(L, st->confirmed);
	lua_setfield(L, -2, "confirmed");
	lua_pushinteger(L, st->workers);
	lua_setfield(L, -2, "workers");
	binding_push_number(L, st->observed);
	lua_setfield(L, -2, "observed");
	lua_pushinteger(L, st->last_status);
	lua_setfield(L, -2, "last_status");
	lua_pushinteger(L, st->recovered);
	lua_setfield(L, -2, "recovered");
	lua_pushinteger(L, st->clock_disagreements);
	lua_setfield(L, -2, "clock_disagreements");
	binding_push_number(L, st->clock_disagreement);
	lua_setfield(L, -2, "clock_disagreement");
	lua_pushinteger(L, st->repaired);
	lua_setfield(L, -2, "repaired");
	push_lanes_fields(L, &st->lanes);
	binding_push_number(L, st->rate_limited);
	lua_setfield(L, -2, "rate_limited");
	lua_createtable(L, st->processes, 0);
	for (int i = 0; i < st->processes; i++) {
		lua_createtable(L, 0, 2);
		lua_pushstring(L, st->process[i].name);
		lua_setfield(L, -2, "name");
		lua_createtable(L, 0, LANES);
		for (int lane = 0; lane < LANES; lane++) {
			binding_push_number(L, st->process[i].taken[lane]);
			lua_setfield(L, -2, lanes_name(lane));
		}
		lua_setfield(L, -2, "taken");
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "processes");
	lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}

/* core.limiter_status(url [, bucket]) -> a list of buckets' states, or nil
 * and why */
static int core_limiter_status(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1), *bucket = luaL_optstring(L, 2, NULL);
	char err[512];
	lua_newtable(L);
	int n = strncmp(url, "shm:", 4) == 0
	            ? limiter_shm_status(url + 4, push_status, L, err, sizeof err)
	            : limiter_redis_status(url, bucket, push_status, L, err, sizeof err);
	if (n < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	return 1;
}

/* core.limiter_reset(url [, bucket]) -> how many buckets it forgot, or nil
 * and why */
static int core_limiter_reset(lua_State *L)
{
	const char *url = luaL_checkstring(L, 1), *bucket = luaL_optstring(L, 2, NULL);
	char err[512];
	int n = strncmp(url, "shm:", 4) == 0 ? limiter_shm_reset(url + 4, bucket, err, sizeof err)
	                                     : limiter_redis_reset(url, bucket, err, sizeof err);
	if (n < 0) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushinteger(L, n);
	return 1;
}

/* core.sha256(text) -> its digest in hex: names that do not show what
 * they are made of (a bucket's, from the key). */
static int core_sha256(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	char hex[65];
	sha256_hex(text, len, hex);
	lua_pushstring(L, hex);
	return 1;
}

static int limiter_gc(lua_State *L)
{
	struct limiter_box *box = luaL_checkudata(L, 1, LIMITER_MT);
	limiter_release(box->limiter); /* a transfer holding a token keeps it alive */
	box->limiter = NULL;
	return 0;
}

int binding_no_token(lua_State *L, enum limiter_answer answer, double wait, const struct limiter *l)
{
	if (answer == LIMITER_FAILED) /* a failure that took no time, sent nothing */
		return binding_push_failure(L, "limiter", l->error, 0, 0);
	lua_pushboolean(L, 0);
	lua_pushnumber(L, answer == LIMITER_AWAIT ? -1.0 : wait);
	return 2;
}

/* The lane named at arg (nil: normal). */
static int check_lane(lua_State *L, int arg)
{
	int lane = lua_isnoneornil(L, arg) ? LANE_NORMAL : lanes_parse(luaL_checkstring(L, arg));
	if (lane < 0)
		luaL_argerror(L, arg, "a lane is \"interactive\", \"normal\" or \"bulk\"");
	return lane;
}

/* rl:take([now [, lane [, place]]]) -> 0 and the token's ticket when a
 * token was taken, else seconds to wait, or -1: wait for the response of
 * a request in flight (the tokens are unconfirmed), and the caller's place
 * in line, to bring back to its next take (0: none; without a lane, a
 * one-off ask, placed nowhere); or nil, "limiter", why. */
static int limiter_take_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	struct limiter_caller caller = {.lane = check_lane(L, 3),
	                                .place = (lanes_place)luaL_optinteger(L, 4, 0)};
	int one_off = lua_isnoneornil(L, 3);
	double wait;
	limiter_ticket ticket;
	switch (limiter_take(l, opt_now(L, 2), one_off ? NULL : &caller, &wait, &ticket)) {
	case LIMITER_TAKEN:
		lua_pushnumber(L, 0);
		lua_pushinteger(L, (lua_Integer)ticket);
		return 2;
	case LIMITER_AWAIT:
		lua_pushnumber(L, -1);
		lua_pushinteger(L, (lua_Integer)caller.place);
		return 2;
	case LIMITER_WAIT:
		lua_pushnumber(L, wait);
		lua_pushinteger(L, (lua_Integer)caller.place);
		return 2;
	case LIMITER_FAILED:
		break;
	}
	lua_pushnil(L);
	lua_pushliteral(L, "limiter");
	lua_pushstring(L, l->error);
	return 3;
}

/* rl:leave(place): a caller told to wait gives up its place in line. */
static int limiter_leave_method(lua_State *L)
{
	struct limiter_caller caller = {.place = (lanes_place)luaL_checkinteger(L, 2)};
	limiter_leave(binding_check_limiter(L, 1), &caller);
	return 0;
}

/* rl:set_reserve(share) -> true, or nil and why: the share (0 to 1) of
 * each window's tokens bulk takes leave for interactive ones, kept with
 * the bucket for every process sharing it. */
static int limiter_set_reserve_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	if (limiter_set_reserve(l, (double)luaL_checknumber(L, 2), clock_monotonic()) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, l->error);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

/* rl:claim(name, lease) -> true when the fetch of name is this process's
 * (for lease seconds), false while another live process holds it; nil
 * and why when the store could not answer. */
static int limiter_claim_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	size_t len;
	const char *name = luaL_checklstring(L, 2, &len);
	luaL_argcheck(L, len > 0 && len <= 64, 2, "a claim's name takes 1 to 64 bytes");
	double lease = (double)luaL_checknumber(L, 3);
	luaL_argcheck(L, lease > 0 && lease <= 3600, 3, "a lease is above 0 and at most an hour");
	int mine = limiter_claim(l, name, lease, clock_monotonic());
	if (mine < 0) {
		lua_pushnil(L);
		lua_pushstring(L, l->error);
		return 2;
	}
	lua_pushboolean(L, mine);
	return 1;
}

/* rl:unclaim(name): the fetch is done (its answer stored). */
static int limiter_unclaim_method(lua_State *L)
{
	limiter_unclaim(binding_check_limiter(L, 1), luaL_checkstring(L, 2));
	return 0;
}

/* rl:cancel([ticket]): a taken token's request got no response. */
static int limiter_cancel_method(lua_State *L)
{
	limiter_cancel(binding_check_limiter(L, 1), (limiter_ticket)luaL_optinteger(L, 2, 0));
	return 0;
}

/* rl:observe(status, headers [, now [, ticket]]) -> retry_after or nil,
 * the rate view after it. headers: a headers object, or a header block
 * string. */
static int limiter_observe_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	lua_Integer status = luaL_checkinteger(L, 2);
	size_t len;
	const char *block = binding_check_block(L, 3, &len);
	struct exchange_outcome out;
	exchange_observe(l, (limiter_ticket)luaL_optinteger(L, 5, 0), (long)status, block, len, opt_now(L, 4),
	                 &out);
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

/* rl:lanes([now]) -> {reserve =, waiting = {interactive =, normal =, bulk =}}
 * of the bucket, in every process sharing it; or nil, why */
static int limiter_lanes_method(lua_State *L)
{
	struct limiter *l = binding_check_limiter(L, 1);
	struct limiter_lanes lanes;
	if (limiter_lanes(l, opt_now(L, 2), &lanes) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, l->error);
		return 2;
	}
	lua_createtable(L, 0, 2);
	push_lanes_fields(L, &lanes);
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
    {"ratelimit_share", core_ratelimit_share},
    {"limiter", core_limiter},
    {"limiter_status", core_limiter_status},
    {"limiter_reset", core_limiter_reset},
    {"sha256", core_sha256},
    {NULL, NULL},
};

const luaL_Reg binding_limiter_methods[] = {
    {"take", limiter_take_method},
    {"observe", limiter_observe_method},
    {"cancel", limiter_cancel_method},
    {"leave", limiter_leave_method},
    {"claim", limiter_claim_method},
    {"unclaim", limiter_unclaim_method},
    {"set_reserve", limiter_set_reserve_method},
    {"view", limiter_view_method},
    {"lanes", limiter_lanes_method},
    {"ignored_headers", limiter_ignored_method},
    {NULL, NULL},
};

void binding_limiter_metatable(lua_State *L, int mt)
{
	lua_pushcfunction(L, limiter_gc);
	lua_setfield(L, mt, "__gc");
}
