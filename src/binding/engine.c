/*
 * The engine object: this Lua state's libcurl multi handle, made on first
 * use (core.engine()). Tasks start their requests on it and the scheduler
 * collects them; the tokens the transfers hold are the exchange's
 * (net/exchange.h), so none is lost when a run is abandoned. The engine's
 * user value holds each transfer's call table, by id, until it ends: the
 * call's strings are the transfer's request.
 */
#include "binding.h"

/* Room for this many transfers' calls in the array part: an id is a slot
 * number, reused, and a call in the hash part would cost an insertion
 * each time its slot is taken again. */
#define PENDING_ROOM 64

struct engine_box {
	struct engine *engine;
};

static struct engine *check_engine(lua_State *L, int arg)
{
	struct engine_box *box = binding_check_object(L, arg, UP_ENGINE_MT, ENGINE_MT);
	if (!box->engine)
		luaL_error(L, "the engine is closed");
	return box->engine;
}

/* core.engine() -> this Lua state's engine, made on first use */
static int core_engine(lua_State *L)
{
	if (lua_getfield(L, UP_STATE, "engine") != LUA_TNIL)
		return 1;
	struct engine_box *box = lua_newuserdatauv(L, sizeof *box, 1);
	box->engine = NULL;
	binding_set_metatable(L, UP_ENGINE_MT);
	lua_createtable(L, PENDING_ROOM, 0);
	lua_setiuservalue(L, -2, 1);
	if (!(box->engine = engine_new()))
		return luaL_error(L, "cannot set up libcurl's multi interface (out of memory?)");
	lua_pushvalue(L, -1);
	lua_setfield(L, UP_STATE, "engine");
	return 1;
}

static int engine_gc(lua_State *L)
{
	struct engine_box *box = luaL_checkudata(L, 1, ENGINE_MT);
	if (box->engine)
		exchange_cancel_all(box->engine);
	engine_free(box->engine);
	box->engine = NULL;
	return 0;
}

/* Sets (value at the top, popped) the call of transfer id (from 0) of the
 * engine at index 1: at id + 1, in the array part. */
static void set_pending(lua_State *L, int id)
{
	lua_getiuservalue(L, 1, 1);
	lua_insert(L, -2);
	lua_rawseti(L, -2, id + 1);
	lua_pop(L, 1);
}

/*
 * e:start(transport, limiter, call)
 *   -> the transfer's id: started, holding its token
 *   -> false, wait: no token, nothing started, as t:send gives them
 *   -> nil, "limiter", why: the limiter failed, nothing started
 * e:collect() settles the token, e:cancel(id) gives it back.
 */
static int engine_start_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	struct transport *t = binding_check_transport(L, 2);
	struct limiter *l = binding_opt_limiter(L, 3);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = binding_check_call(L, 4, lines);
	struct limiter_caller caller = binding_check_caller(L, 4);
	lanes_place before = caller.place;
	int id;
	double wait;
	enum limiter_answer answer = exchange_start(e, l, &caller, t, &req, &id, &wait);
	binding_keep_place(L, 4, before, caller.place);
	if (answer != LIMITER_TAKEN)
		return binding_no_token(L, answer, wait, l);
	if (id < 0)
		return luaL_error(L, "out of memory starting a transfer");
	lua_pushvalue(L, 4);
	set_pending(L, id);
	lua_pushinteger(L, id);
	return 1;
}

/* e:poll(timeout) -> false at once when no transfer is active; else moves
 * transfers along, sleeping at most timeout seconds, and returns true */
static int engine_poll_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	int active = engine_active(e) > 0;
	if (active && engine_poll(e, (double)luaL_optnumber(L, 2, 0)) != 0)
		return luaL_error(L, "libcurl's multi interface failed");
	lua_pushboolean(L, active);
	return 1;
}

/* e:collect() -> the id of a finished transfer, its call, then its
 * outcome as t:send gives it (its token settled); nothing when none is
 * done. */
static int engine_collect_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	struct exchange_outcome out;
	int id = exchange_collect(e, &out);
	if (id < 0)
		return 0;
	if (out.response->failure == TRANSPORT_NO_MEMORY) {
		engine_release(e, id);
		return luaL_error(L, "out of memory");
	}
	/* Raising while pushing leaves the slot to e:cancel_all(). */
	lua_settop(L, 1);
	lua_pushinteger(L, id);
	lua_getiuservalue(L, 1, 1);
	lua_rawgeti(L, 3, id + 1);
	lua_pushnil(L);
	lua_rawseti(L, 3, id + 1);
	lua_remove(L, 3);
	if (lua_istable(L, 3)) {
		binding_fill_phases(L, 3, out.response);
		binding_trace_attempt(L, 3, out.response, out.observed ? &out.rate : NULL);
	}
	int n = binding_push_outcome(L, &out);
	engine_release(e, id); /* out is not to be read after */
	return 2 + n;
}

/* e:cancel(id): ends a transfer, giving its token back. */
static int engine_cancel_method(lua_State *L)
{
	int id = (int)luaL_checkinteger(L, 2);
	exchange_cancel(check_engine(L, 1), id);
	lua_pushnil(L);
	set_pending(L, id);
	return 0;
}

/* e:cancel_all(): ends every transfer, giving each one's token back; for a
 * run that failed, when nobody will collect them. */
static int engine_cancel_all_method(lua_State *L)
{
	exchange_cancel_all(check_engine(L, 1));
	lua_createtable(L, PENDING_ROOM, 0);
	lua_setiuservalue(L, 1, 1);
	return 0;
}

const luaL_Reg binding_engine_functions[] = {
    {"engine", core_engine},
    {NULL, NULL},
};

const luaL_Reg binding_engine_methods[] = {
    {"start", engine_start_method},           {"poll", engine_poll_method},
    {"collect", engine_collect_method},       {"cancel", engine_cancel_method},
    {"cancel_all", engine_cancel_all_method}, {NULL, NULL},
};

void binding_engine_metatable(lua_State *L, int mt)
{
	lua_pushcfunction(L, engine_gc);
	lua_setfield(L, mt, "__gc");
}
