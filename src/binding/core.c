/*
 * pulse.core: the Lua binding. It converts between Lua values and the C
 * structs of transport.h, json_decode.h and json_encode.h; policy lives on
 * either side of it, never in it.
 */
#include "buf.h"
#include "clock.h"
#include "engine.h"
#include "header_block.h"
#include "json_decode.h"
#include "json_encode.h"
#include "lresponse.h"
#include "ratelimit.h"
#include "ratelimit_headers.h"
#include "retry.h"
#include "transport.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRANSPORT_MT "pulse.transport"
#define BUFFER_MT "pulse.buffer"
#define RATELIMIT_MT "pulse.ratelimit"
#define ENGINE_MT "pulse.engine"

/*
 * Every function of pulse.core and of its objects shares these upvalues:
 * the module's state (the engine, once made) and the metatables. An object
 * is told by comparing its metatable with one: finding the metatable in
 * the registry by name (luaL_checkudata) took about 1.5k instructions of a
 * batched request, five lookups a request.
 */
#define UP_STATE lua_upvalueindex(1)
#define UP_TRANSPORT_MT lua_upvalueindex(2)
#define UP_ENGINE_MT lua_upvalueindex(3)
#define UP_RATELIMIT_MT lua_upvalueindex(4)
#define UP_HEADERS_MT lua_upvalueindex(5)
#define UP_RATE_MT lua_upvalueindex(6)
#define UP_ARRAY_MT lua_upvalueindex(7) /* marks the arrays JSON decodes to */
#define SHARED_UPVALUES 7

/* The userdata at arg, whose metatable must be the one at index mt; else
 * raises luaL_checkudata's error, naming tname. (Called from a function
 * without the shared upvalues, it still checks, by name.) */
static void *check_object(lua_State *L, int arg, int mt, const char *tname)
{
	void *p = lua_touserdata(L, arg);
	if (p && lua_getmetatable(L, arg)) {
		int same = lua_rawequal(L, -1, mt);
		lua_pop(L, 1);
		if (same)
			return p;
	}
	return luaL_checkudata(L, arg, tname);
}

/* Gives the userdata at the top the metatable at index mt. */
static void set_metatable(lua_State *L, int mt)
{
	lua_pushvalue(L, mt);
	lua_setmetatable(L, -2);
}

/* ---- transport ------------------------------------------------------- */

struct transport_box {
	struct transport *transport;
	struct http_response response;     /* buffers reused from request to request */
	struct request_stats closed_stats; /* the transport's, kept when it closed */
};

/* The transport at arg, which must not be closed. */
static struct transport_box *check_transport(lua_State *L, int arg)
{
	struct transport_box *box = check_object(L, arg, UP_TRANSPORT_MT, TRANSPORT_MT);
	if (!box->transport)
		luaL_error(L, "the client is closed");
	return box;
}

static long opt_milliseconds(lua_State *L, int idx, const char *field, long dflt)
{
	lua_getfield(L, idx, field);
	long ms = dflt;
	if (!lua_isnil(L, -1))
		ms = (long)(luaL_checknumber(L, -1) * 1000.0);
	lua_pop(L, 1);
	return ms;
}

static const char *opt_string(lua_State *L, int idx, const char *field)
{
	lua_getfield(L, idx, field);
	const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
	lua_pop(L, 1); /* the string stays alive in the options table */
	return s;
}

static int core_transport(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct transport_options options = {
	    .connect_timeout_ms = opt_milliseconds(L, 1, "connect_timeout", 30000),
	    .timeout_ms = opt_milliseconds(L, 1, "timeout", 80000),
	    .ca_file = opt_string(L, 1, "ca_file"),
	    .proxy = opt_string(L, 1, "proxy"),
	    .user_agent = opt_string(L, 1, "user_agent"),
	};
	lua_getfield(L, 1, "verify");
	options.verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);

	struct transport_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	memset(box, 0, sizeof *box);
	set_metatable(L, UP_TRANSPORT_MT);
	box->transport = transport_new();
	if (!box->transport || transport_set_options(box->transport, &options) != 0)
		return luaL_error(L, "cannot set up libcurl (out of memory?)");
	return 1;
}

static int transport_close(lua_State *L)
{
	struct transport_box *box = luaL_checkudata(L, 1, TRANSPORT_MT);
	if (box->transport)
		box->closed_stats = *transport_stats(box->transport);
	transport_free(box->transport);
	box->transport = NULL;
	http_response_free(&box->response);
	return 0;
}

static void set_field_number(lua_State *L, const char *name, double v)
{
	lresponse_push_number(L, v);
	lua_setfield(L, -2, name);
}

/* t:stats([latency]) -> { requests, bytes_received, bytes_sent [, latency =
 * { p50, p90, p99 } in seconds, nil ones when nothing was timed] }; also
 * once closed. */
static int transport_stats_method(lua_State *L)
{
	struct transport_box *box = luaL_checkudata(L, 1, TRANSPORT_MT);
	const struct request_stats *s = box->transport ? transport_stats(box->transport) : &box->closed_stats;
	lua_createtable(L, 0, 4);
	set_field_number(L, "requests", s->requests);
	set_field_number(L, "bytes_received", s->bytes_received);
	set_field_number(L, "bytes_sent", s->bytes_sent);
	if (!lua_toboolean(L, 2))
		return 1;
	static const char *const names[] = {"p50", "p90", "p99"};
	static const double quantiles[] = {0.5, 0.9, 0.99};
	double latency[3];
	request_stats_latencies(s, quantiles, latency, 3);
	lua_createtable(L, 0, 3);
	for (size_t i = 0; i < 3; i++)
		if (latency[i] >= 0)
			set_field_number(L, names[i], latency[i]);
	lua_setfield(L, -2, "latency");
	return 1;
}

static int transport_set_key_method(lua_State *L)
{
	struct transport_box *box = check_transport(L, 1);
	if (transport_set_key(box->transport, luaL_checkstring(L, 2)) != 0)
		return luaL_error(L, "out of memory");
	return 0;
}

static const char *failure_name(enum transport_failure failure)
{
	switch (failure) {
	case TRANSPORT_NO_CONNECTION:
		return "no_connection";
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

/*
 * t:perform(method, url, headers, body, json_body, timeout, fresh_connection)
 *   -> status, headers (lresponse.h), body, elapsed, connections_made
 *   or nil, failure, message, elapsed
 */
#define MAX_HEADER_LINES 64

/* Reads (method, url, headers, body, json_body, timeout, fresh_connection)
 * from the stack at first; lines holds the header pointers. */
static struct http_request check_request(lua_State *L, int first, const char *lines[MAX_HEADER_LINES])
{
	struct http_request req = {
	    .method = luaL_checkstring(L, first),
	    .url = luaL_checkstring(L, first + 1),
	    .json_body = lua_toboolean(L, first + 4),
	    .timeout_ms = (long)(luaL_optnumber(L, first + 5, 0) * 1000.0),
	    .fresh_connection = lua_toboolean(L, first + 6),
	};
	int headers = first + 2;
	if (!lua_isnoneornil(L, headers)) {
		luaL_checktype(L, headers, LUA_TTABLE);
		lua_Integer n = luaL_len(L, headers);
		luaL_argcheck(L, n <= MAX_HEADER_LINES, headers, "more than 64 headers");
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, headers, i);
			lines[i - 1] = luaL_checkstring(L, -1);
			lua_pop(L, 1); /* still referenced by the table */
		}
		req.headers = lines;
		req.header_count = (size_t)n;
	}
	if (!lua_isnoneornil(L, first + 3))
		req.body = luaL_checklstring(L, first + 3, &req.body_len);
	return req;
}

/* status, headers, body, elapsed, connections_made; or nil, failure, message, elapsed */
static int push_result(lua_State *L, const struct http_response *res)
{
	if (res->failure == TRANSPORT_NO_MEMORY)
		return luaL_error(L, "out of memory");
	if (res->failure != TRANSPORT_OK) {
		lua_pushnil(L);
		lua_pushstring(L, failure_name(res->failure));
		lua_pushstring(L, res->message);
		lua_pushnumber(L, res->elapsed);
		return 4;
	}
	lua_pushinteger(L, res->status);
	lresponse_push_headers(L, res->headers.data ? res->headers.data : "", res->headers.len,
	                       UP_HEADERS_MT);
	lua_pushlstring(L, res->body.data ? res->body.data : "", res->body.len);
	lua_pushnumber(L, res->elapsed);
	lua_pushinteger(L, res->connections_made);
	return 5;
}

static int transport_perform_method(lua_State *L)
{
	struct transport_box *box = check_transport(L, 1);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = check_request(L, 2, lines);

	transport_perform(box->transport, &req, &box->response);
	return push_result(L, &box->response);
}

/* ---- the engine: many transfers in flight ------------------------------ */

/*
 * Its user values, tables by transfer id:
 * 1. the limiter (pulse.ratelimit) whose token the transfer holds, settled
 *    when the transfer is collected or cancelled;
 * 2. for a transfer started with a sink, its route: at ROUTE_KEY(id, 0..3)
 *    the sink, the tag and entry to file its outcome under there, and
 *    whether the entry wants its body raw (true, else nil).
 */
struct engine_box {
	struct engine *engine;
};

#define ENGINE_HOLDERS 1
#define ENGINE_ROUTES 2
#define ROUTE_FIELDS 4
#define ROUTE_KEY(id, field) ((lua_Integer)(id)*ROUTE_FIELDS + (field) + 1)
#define ROUTE_RAW 3

/* A sink's slots per outcome: tag, entry, then status, headers, body,
 * elapsed, retry_after, rate (nil, failure, message, elapsed for none);
 * for a raw entry's success, fewer: tag, false, body, res. */
#define OUTCOME_SLOTS 8
#define SUCCESS_SLOTS 4

static struct engine *check_engine(lua_State *L, int arg)
{
	struct engine_box *box = check_object(L, arg, UP_ENGINE_MT, ENGINE_MT);
	if (!box->engine)
		luaL_error(L, "the engine is closed");
	return box->engine;
}

/* Pushes the limiter whose token transfer id (of the engine at arg 1)
 * holds, or nil, and forgets it; returns its state or NULL. It stays on
 * the stack, so alive, while the caller settles it. */
static struct ratelimit_state *push_holder(lua_State *L, int id)
{
	lua_getiuservalue(L, 1, ENGINE_HOLDERS);
	lua_rawgeti(L, -1, id);
	lua_pushnil(L);
	lua_rawseti(L, -3, id);
	lua_remove(L, -2);
	return lua_touserdata(L, -1);
}

/* Pushes transfer id's route (its ROUTE_FIELDS values) and forgets it;
 * returns 0, having pushed nothing, when it has none. */
static int push_route(lua_State *L, int id)
{
	lua_getiuservalue(L, 1, ENGINE_ROUTES);
	int routes = lua_gettop(L);
	if (lua_rawgeti(L, routes, ROUTE_KEY(id, 0)) == LUA_TNIL) {
		lua_pop(L, 2);
		return 0;
	}
	for (int field = 0; field < ROUTE_FIELDS; field++) {
		if (field > 0)
			lua_rawgeti(L, routes, ROUTE_KEY(id, field));
		lua_pushnil(L);
		lua_rawseti(L, routes, ROUTE_KEY(id, field));
	}
	lua_remove(L, routes);
	return 1;
}

static int push_settled(lua_State *L, struct ratelimit_state *s, const struct http_response *res);

/* core.engine() -> this Lua state's engine, made on first use */
static int core_engine(lua_State *L)
{
	if (lua_getfield(L, UP_STATE, "engine") != LUA_TNIL)
		return 1;
	struct engine_box *box = lua_newuserdatauv(L, sizeof *box, 2);
	box->engine = NULL;
	set_metatable(L, UP_ENGINE_MT);
	lua_newtable(L);
	lua_setiuservalue(L, -2, ENGINE_HOLDERS);
	lua_newtable(L);
	lua_setiuservalue(L, -2, ENGINE_ROUTES);
	if (!(box->engine = engine_new()))
		return luaL_error(L, "cannot set up libcurl's multi interface (out of memory?)");
	lua_pushvalue(L, -1);
	lua_setfield(L, UP_STATE, "engine");
	return 1;
}

static int engine_gc(lua_State *L)
{
	struct engine_box *box = luaL_checkudata(L, 1, ENGINE_MT);
	engine_free(box->engine);
	box->engine = NULL;
	return 0;
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

/* Moves the slots values on top of the stack into the sink at index sink,
 * after those filed there; returns whether it was empty before. */
static int file_slots(lua_State *L, int sink, int slots)
{
	lua_getfield(L, sink, "n");
	lua_Integer filled = lua_tointeger(L, -1);
	lua_pop(L, 1);
	for (int slot = slots; slot >= 1; slot--)
		lua_rawseti(L, sink, filled + slot);
	lua_pushinteger(L, filled + slots);
	lua_setfield(L, sink, "n");
	return filled == 0;
}

/* Files a routed transfer's outcome: route at index route, then the n
 * values of its response (RESPONSE_VALUES) or failure; a response's
 * connection count is left out. */
static int file_outcome(lua_State *L, int route, int n)
{
	int values = route + ROUTE_FIELDS;
	lua_pushvalue(L, route + 1);
	lua_pushvalue(L, route + 2);
	for (int i = 0; i < OUTCOME_SLOTS - 2; i++) {
		int from = i < 4 ? i : i + 1; /* past the connection count */
		if (from < n)
			lua_pushvalue(L, values + from);
		else
			lua_pushnil(L);
	}
	return file_slots(L, route, OUTCOME_SLOTS);
}

/* What a settled response comes to in Lua: push_result's 5, then
 * push_observation's retry_after and rate view. */
#define RESPONSE_VALUES 7

/* Whether res is a success (2xx, as errors.is_success says) that a request
 * wanting its body raw (raw) needs nothing more for. */
static int is_raw_success(const struct http_response *res, int raw)
{
	return raw && res->failure == TRANSPORT_OK && res->status >= 200 && res->status <= 299;
}

/* Pushes the res of a success on a first attempt sent at once, as
 * init.lua's response() makes it, from the RESPONSE_VALUES at index
 * values: status, headers, body, elapsed, connections, retry_after, rate. */
static void push_first_res(lua_State *L, int values)
{
	lua_createtable(L, 0, 7);
	lua_pushvalue(L, values);
	lua_setfield(L, -2, "status");
	lua_pushvalue(L, values + 1);
	lua_setfield(L, -2, "headers");
	lua_pushinteger(L, 1);
	lua_setfield(L, -2, "attempts");
	lua_pushinteger(L, 0);
	lua_setfield(L, -2, "waited");
	lua_pushvalue(L, values + 3);
	lua_setfield(L, -2, "elapsed");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "from_cache");
	lua_pushvalue(L, values + 6);
	lua_setfield(L, -2, "rate");
}

/* Files a raw entry's success whole: tag, false, the body and its res. The
 * batch records it as it is. */
static int file_success(lua_State *L, int route)
{
	int values = route + ROUTE_FIELDS;
	lua_pushvalue(L, route + 1);
	lua_pushboolean(L, 0);
	lua_pushvalue(L, values + 2);
	push_first_res(L, values);
	return file_slots(L, route, SUCCESS_SLOTS);
}

/*
 * e:collect() -> id, then what t:perform returns, then for a response the
 * limiter's retry_after and rate view (as rl:send); nothing when no
 * transfer is done. The transfer's token is settled either way.
 * A transfer started with a sink is not returned: its outcome is filed in
 * the sink (see OUTCOME_SLOTS, sink.n counting the slots) and e:collect()
 * goes on to the next; it returns false and the sink when the sink was
 * empty, so that whoever waits on it is woken once, not per transfer.
 */
static int engine_collect_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	/* The most a transfer's filing holds: holder, route, id, its values,
	 * then the slots filed and what building them takes. */
	luaL_checkstack(L, 2 + ROUTE_FIELDS + RESPONSE_VALUES + OUTCOME_SLOTS + 4, "collecting transfers");
	int id;
	while ((id = engine_next_done(e)) >= 0) {
		const struct http_response *res = engine_response(e, id);
		struct ratelimit_state *holder = push_holder(L, id);
		int routed = push_route(L, id);
		if (res->failure == TRANSPORT_NO_MEMORY) { /* raise with the slot freed, the token back */
			if (holder)
				ratelimit_cancel(holder);
			engine_release(e, id);
			return luaL_error(L, "out of memory");
		}
		/* push_settled settles the token before anything can raise (out
		 * of memory); the slot, whose response the values are made from,
		 * is released after. Raising in between fails the run, whose
		 * e:cancel_all() releases it. */
		if (!routed)
			lua_pushinteger(L, id);
		int n = holder ? push_settled(L, holder, res) : push_result(L, res);
		int route = lua_gettop(L) - n - ROUTE_FIELDS + 1; /* when routed */
		int whole = routed && n == RESPONSE_VALUES &&
		            is_raw_success(res, lua_toboolean(L, route + ROUTE_RAW));
		engine_release(e, id); /* res is not to be read after */
		if (!routed)
			return n + 1;
		if (whole ? file_success(L, route) : file_outcome(L, route, n)) {
			lua_pushboolean(L, 0);
			lua_pushvalue(L, route);
			return 2;
		}
		lua_settop(L, 1);
	}
	return 0;
}

/* Ends transfer id, giving its token back (holders: the index of the
 * holders' table), and forgets its holder. */
static void cancel_transfer(lua_State *L, struct engine *e, int holders, int id)
{
	if (lua_rawgeti(L, holders, id) != LUA_TNIL)
		ratelimit_cancel(lua_touserdata(L, -1));
	lua_pop(L, 1);
	lua_pushnil(L);
	lua_rawseti(L, holders, id);
	engine_release(e, id);
}

/* e:cancel_all(): ends every transfer, giving each one's token back; for a
 * run that failed, when nobody will collect them. */
static int engine_cancel_all_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	lua_getiuservalue(L, 1, ENGINE_HOLDERS);
	int holders = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, holders)) {
		lua_pop(L, 1);
		cancel_transfer(L, e, holders, (int)lua_tointeger(L, -1));
	}
	engine_release_all(e); /* collected, their tokens settled, when collecting raised */
	lua_newtable(L);
	lua_setiuservalue(L, 1, ENGINE_ROUTES);
	return 0;
}

/* e:cancel_routed(sink): ends the transfers routed to sink, giving their
 * tokens back; for a batch that an error ended, in a run that goes on. */
static int engine_cancel_routed_method(lua_State *L)
{
	struct engine *e = check_engine(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_getiuservalue(L, 1, ENGINE_ROUTES);  /* 3 */
	lua_getiuservalue(L, 1, ENGINE_HOLDERS); /* 4 */
	lua_pushnil(L);
	while (lua_next(L, 3)) {
		lua_Integer key = lua_tointeger(L, -2);
		if ((key - 1) % ROUTE_FIELDS == 0 && lua_rawequal(L, -1, 2)) { /* a route's sink field */
			int id = (int)((key - 1) / ROUTE_FIELDS);
			cancel_transfer(L, e, 4, id);
			for (int field = 0; field < ROUTE_FIELDS; field++) {
				lua_pushnil(L);
				lua_rawseti(L, 3, ROUTE_KEY(id, field));
			}
		}
		lua_pop(L, 1);
	}
	return 0;
}

/* ---- JSON decoding ---------------------------------------------------- */

struct decoder {
	lua_State *L;
	int array_mt;                           /* stack index */
	lua_Integer length[JSON_MAX_DEPTH + 1]; /* per open container: items so far, or -1 for objects */
	int depth;
};

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

/* Stores the value on top into the container below it (and its key). */
static void attach(struct decoder *d)
{
	if (d->depth == 0)
		return; /* the document itself: it stays on the stack */
	if (d->length[d->depth] < 0)
		lua_rawset(d->L, -3);
	else
		lua_rawseti(d->L, -2, ++d->length[d->depth]);
}

static int on_json_event(void *ctx, enum json_event event, const struct json_token *token)
{
	struct decoder *d = ctx;
	lua_State *L = d->L;
	if (!lua_checkstack(L, 4))
		return 1;
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
		push_span(L, token);
		return 0; /* the value comes next */
	case JSON_OBJECT_BEGIN:
	case JSON_ARRAY_BEGIN:
		lua_newtable(L);
		if (event == JSON_ARRAY_BEGIN) {
			lua_pushvalue(L, d->array_mt);
			lua_setmetatable(L, -2);
		}
		d->length[++d->depth] = event == JSON_ARRAY_BEGIN ? 0 : -1;
		return 0;
	case JSON_OBJECT_END:
	case JSON_ARRAY_END:
		d->depth--;
		break;
	}
	attach(d);
	return 0;
}

/* json_decode(text) -> value, or nil and a reason */
static int core_json_decode(lua_State *L)
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	lua_settop(L, 1);
	lua_pushvalue(L, UP_ARRAY_MT);
	struct decoder d = {.L = L, .array_mt = 2, .depth = 0};
	struct json_error err = {0};
	int rc = json_parse(text, len, on_json_event, &d, &err);
	if (rc == 0)
		return 1;
	lua_pushnil(L);
	if (rc > 0)
		lua_pushliteral(L, "JSON nested too deeply for the Lua stack");
	else
		lua_pushfstring(L, "%s at byte %d", err.reason, (int)err.offset + 1);
	return 2;
}

/* ---- JSON encoding ---------------------------------------------------- */

#define ENCODE_MAX_DEPTH 256

struct encoder {
	lua_State *L;
	struct buf *out;
	int seen; /* stack index of the table of tables being written */
	int array_mt;
	const char *error;
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

/* 1 when every key is an integer 1..n (n > 0), 0 when every key is a string. */
static int classify_table(struct encoder *e, int idx, lua_Integer *n)
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

static int encode_table(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	if (depth > ENCODE_MAX_DEPTH)
		return encode_fail(e, "cannot encode tables nested deeper than %s levels", "256");
	if (!lua_checkstack(L, 6))
		return oom(e);
	lua_pushvalue(L, idx);
	if (lua_rawget(L, e->seen) != LUA_TNIL)
		return encode_fail(e, "cannot encode a cyclic table%s", "");
	lua_pop(L, 1);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, e->seen);

	int is_array;
	lua_Integer n = 0;
	int has_mt = lua_getmetatable(L, idx);
	int marked = has_mt && lua_rawequal(L, -1, e->array_mt);
	if (has_mt)
		lua_pop(L, 1);
	if (marked) {
		is_array = 1;
		n = (lua_Integer)lua_rawlen(L, idx);
	} else if ((is_array = classify_table(e, idx, &n)) < 0) {
		return -1;
	}

	if (is_array) {
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
		if (buf_putc(e->out, ']') != 0)
			return oom(e);
	} else {
		int first = 1;
		if (buf_putc(e->out, '{') != 0)
			return oom(e);
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			size_t klen;
			const char *key = lua_tolstring(L, -2, &klen); /* a string: checked above */
			if ((!first && buf_putc(e->out, ',') != 0) ||
			    json_write_string(e->out, key, klen) != 0 || buf_putc(e->out, ':') != 0)
				return oom(e);
			first = 0;
			if (encode_value(e, lua_gettop(L), depth + 1) != 0)
				return -1;
			lua_pop(L, 1);
		}
		if (buf_putc(e->out, '}') != 0)
			return oom(e);
	}
	lua_pushvalue(L, idx);
	lua_pushnil(L);
	lua_rawset(L, e->seen);
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
	lua_newtable(L);               /* 3: tables being written, to catch cycles */
	/* In a userdata so that a memory error raised mid-way cannot leak it. */
	struct buf *out = lua_newuserdatauv(L, sizeof *out, 0);
	memset(out, 0, sizeof *out);
	luaL_setmetatable(L, BUFFER_MT);
	struct encoder e = {.L = L, .out = out, .seen = 3, .array_mt = 2};
	if (encode_value(&e, 1, 0) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, e.error);
		return 2;
	}
	lua_pushlstring(L, out->data, out->len);
	buf_free(out);
	return 1;
}

/* ---- time ------------------------------------------------------------- */

static int core_now(lua_State *L)
{
	lua_pushnumber(L, clock_monotonic());
	return 1;
}

/* core.isatty(fd) -> whether the descriptor is a terminal */
static int core_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int core_sleep(lua_State *L)
{
	lua_Number seconds = luaL_checknumber(L, 1);
	if (!(seconds > 0))
		return 0;
	struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
	/* A signal cuts the sleep short only when it is an interrupt. */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !transport_interrupted())
		;
	return 0;
}

/* ---- rate limiting and retries ----------------------------------------- */

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
	struct ratelimit_state *s = lua_newuserdatauv(L, sizeof *s, 0);
	ratelimit_init(s, limit, window, burst, now);
	set_metatable(L, UP_RATELIMIT_MT);
	return 1;
}

static struct ratelimit_state *check_ratelimit(lua_State *L)
{
	return check_object(L, 1, UP_RATELIMIT_MT, RATELIMIT_MT);
}

/* rl:take([now]) -> 0 when a token was taken, else seconds to wait, or -1:
 * wait for the response of a request in flight (the tokens are unconfirmed). */
static int ratelimit_take_method(lua_State *L)
{
	lua_pushnumber(L, ratelimit_take(check_ratelimit(L), opt_now(L, 2)));
	return 1;
}

static int ratelimit_cancel_method(lua_State *L)
{
	ratelimit_cancel(check_ratelimit(L));
	return 0;
}

/* A response came for a taken token: reads the rate-limit headers of its
 * header block into *o and applies them. Raises nothing. */
static void observe(struct ratelimit_state *s, long status, const char *block, size_t len, double now,
                    struct ratelimit_observation *o)
{
	ratelimit_read_response(status, block, len, clock_epoch(), o);
	ratelimit_observe(s, o, now);
}

/* Pushes what observe found: the Retry-After (or nil), and the rate view of
 * s at now. */
static void push_observation(lua_State *L, const struct ratelimit_state *s,
                             const struct ratelimit_observation *o, double now)
{
	if (o->has_retry_after)
		lua_pushnumber(L, o->retry_after);
	else
		lua_pushnil(L);
	lresponse_push_rate(L, s, now, UP_RATE_MT);
}

/* rl:observe(status, headers [, now]) -> retry_after or nil, the rate view
 * after it. headers: a headers object, or a header block string. */
static int ratelimit_observe_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	lua_Integer status = luaL_checkinteger(L, 2);
	size_t len;
	const char *block = lresponse_check_block(L, 3, &len);
	double now = opt_now(L, 4);
	struct ratelimit_observation o;
	observe(s, (long)status, block, len, now, &o);
	push_observation(L, s, &o, now);
	return 2;
}

/* Settles the token s took for a finished request, given back on a
 * failure and observed on a response, before anything that may raise
 * (making the Lua values); then pushes what t:perform gives and, for a
 * response, its Retry-After and rate view. */
static int push_settled(lua_State *L, struct ratelimit_state *s, const struct http_response *res)
{
	if (res->failure != TRANSPORT_OK) {
		ratelimit_cancel(s);
		return push_result(L, res);
	}
	double now = clock_monotonic();
	struct ratelimit_observation o;
	observe(s, res->status, res->headers.data ? res->headers.data : "", res->headers.len, now, &o);
	int n = push_result(L, res);
	push_observation(L, s, &o, now);
	return n + 2;
}

/* Takes a token, performs req and settles the token: what rl:send gives. */
static int send_request(lua_State *L, struct ratelimit_state *s, struct transport_box *box,
                        const struct http_request *req)
{
	double wait = ratelimit_take(s, clock_monotonic());
	if (wait != 0) {
		lua_pushboolean(L, 0);
		lua_pushnumber(L, wait);
		return 2;
	}
	transport_perform(box->transport, req, &box->response);
	return push_settled(L, s, &box->response);
}

/*
 * rl:send(transport, method, url, headers, body, json_body, timeout, fresh)
 *   -> false, wait: no token, nothing sent; wait as rl:take() gives it
 *   -> what t:perform gives for a response, then retry_after and the rate view
 *   -> nil, failure, message, elapsed: none
 * take, perform and observe in one call: no error can come between taking
 * a token and settling it, and a request crosses into C once.
 */
static int ratelimit_send_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	struct transport_box *box = check_transport(L, 2);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = check_request(L, 3, lines);
	return send_request(L, s, box, &req);
}

/* Whether the request options at idx ask for nothing a method and a URL do
 * not give: nil, or a table with at most decode, a boolean. Sets *raw to
 * whether decode is false. */
static int plain_options(lua_State *L, int idx, int *raw)
{
	*raw = 0;
	if (lua_isnoneornil(L, idx))
		return 1;
	if (!lua_istable(L, idx))
		return 0;
	int plain = 1;
	lua_pushnil(L);
	while (plain && lua_next(L, idx)) {
		plain = lua_type(L, -1) == LUA_TBOOLEAN && lua_type(L, -2) == LUA_TSTRING &&
		        strcmp(lua_tostring(L, -2), "decode") == 0;
		if (plain)
			*raw = !lua_toboolean(L, -1);
		lua_pop(L, plain ? 1 : 2);
	}
	return plain;
}

/*
 * rl:send_plain(transport, method, url, opts) -> as rl:send, for a request
 * of an idempotent method with no body or headers of its own; or false
 * alone, nothing sent, when opts ask for more than decode; or, when opts
 * say decode = false and it succeeds, body and res: what the call returns.
 * The client's common call, checked and sent in one crossing into C.
 */
static int ratelimit_send_plain_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	struct transport_box *box = check_transport(L, 2);
	struct http_request req = {.method = luaL_checkstring(L, 3), .url = luaL_checkstring(L, 4)};
	int raw;
	if (!plain_options(L, 5, &raw)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	int n = send_request(L, s, box, &req);
	if (n != RESPONSE_VALUES || !is_raw_success(&box->response, raw))
		return n;
	int values = lua_gettop(L) - n + 1;
	lua_pushvalue(L, values + 2);
	push_first_res(L, values);
	return 2;
}

/* Takes a token and starts req on the engine at arg 2, the transfer
 * holding the token: what rl:start gives. With sink (a stack index, or 0
 * for none), the transfer is routed there with the two values above it
 * (tag and entry), and raw (whether the entry wants its body raw). */
static int start_request(lua_State *L, struct ratelimit_state *s, struct engine *e, struct transport_box *box,
                         const struct http_request *req, int sink, int raw)
{
	/* The tables, fetched before a token is taken: nothing raises after. */
	lua_getiuservalue(L, 2, ENGINE_HOLDERS);
	lua_getiuservalue(L, 2, ENGINE_ROUTES);
	double wait = ratelimit_take(s, clock_monotonic());
	if (wait != 0) {
		lua_pushboolean(L, 0);
		lua_pushnumber(L, wait);
		return 2;
	}
	int id = engine_start(e, box->transport, req);
	if (id < 0) {
		ratelimit_cancel(s);
		return luaL_error(L, "out of memory starting a transfer");
	}
	lua_pushvalue(L, 1);
	lua_rawseti(L, -3, id);
	for (int field = 0; sink && field < ROUTE_RAW; field++) {
		lua_pushvalue(L, sink + field);
		lua_rawseti(L, -2, ROUTE_KEY(id, field));
	}
	if (sink && raw) {
		lua_pushboolean(L, 1);
		lua_rawseti(L, -2, ROUTE_KEY(id, ROUTE_RAW));
	}
	lua_pushinteger(L, id);
	return 1;
}

/*
 * rl:start(engine, transport, method, url, headers, body, json_body, timeout,
 * fresh) -> the transfer's id, or false and the wait as rl:take() gives it.
 * The transfer holds the token: e:collect() settles it with the response,
 * e:cancel_all() gives it back, so a task ended mid-transfer cannot leak it.
 */
static int ratelimit_start_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	struct engine *e = check_engine(L, 2);
	struct transport_box *box = check_transport(L, 3);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = check_request(L, 4, lines);
	return start_request(L, s, e, box, &req, 0, 0);
}

/* rl:start_plain(engine, transport, method, url, opts) -> as rl:start, for
 * the requests rl:send_plain takes; false alone when opts ask for more. */
static int ratelimit_start_plain_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	struct engine *e = check_engine(L, 2);
	struct transport_box *box = check_transport(L, 3);
	struct http_request req = {.method = luaL_checkstring(L, 4), .url = luaL_checkstring(L, 5)};
	int raw;
	if (!plain_options(L, 6, &raw)) {
		lua_pushboolean(L, 0);
		return 1;
	}
	return start_request(L, s, e, box, &req, 0, 0);
}

/* Pushes entry[name], or entry[index] when that is nil or false (a batch
 * entry's two spellings); returns its type. */
static int push_entry_field(lua_State *L, int entry, const char *name, lua_Integer index)
{
	int type = lua_getfield(L, entry, name);
	if (lua_toboolean(L, -1))
		return type;
	lua_pop(L, 1);
	return lua_geti(L, entry, index);
}

/*
 * rl:start_entry(engine, transport, sink, tag, entry, urls, methods)
 *   -> the transfer's id, or false: nothing started
 * Starts a batch entry, { method, path, opts } or { method =, path =,
 * opts = }, as rl:start_plain would, when it is plain: its method a key
 * of methods, its path one of urls (whose value is its URL), its opts
 * plain. e:collect() files its outcome in sink under tag and entry (a
 * batch's requests end without a task resumed for each). False when the
 * entry is not plain, or not well formed, or no token came at once: the
 * caller takes it the full way, which says what is wrong.
 */
static int ratelimit_start_entry_method(lua_State *L)
{
	struct ratelimit_state *s = check_ratelimit(L);
	struct engine *e = check_engine(L, 2);
	struct transport_box *box = check_transport(L, 3);
	luaL_checktype(L, 4, LUA_TTABLE);
	luaL_checktype(L, 7, LUA_TTABLE);
	luaL_checktype(L, 8, LUA_TTABLE);
	lua_settop(L, 8);
	int raw = 0;
	/* 9: the method, 10: whether methods has it, 11: the URL, 12: opts */
	int plain = lua_type(L, 6) == LUA_TTABLE && push_entry_field(L, 6, "method", 1) == LUA_TSTRING;
	if (plain) {
		lua_pushvalue(L, 9);
		plain = lua_rawget(L, 8) != LUA_TNIL && lua_toboolean(L, 10) &&
		        push_entry_field(L, 6, "path", 2) == LUA_TSTRING && lua_rawget(L, 7) == LUA_TSTRING;
	}
	if (plain) {
		push_entry_field(L, 6, "opts", 3);
		plain = plain_options(L, 12, &raw);
	}
	if (!plain) {
		lua_pushboolean(L, 0);
		return 1;
	}
	struct http_request req = {.method = lua_tostring(L, 9), .url = lua_tostring(L, 11)};
	return start_request(L, s, e, box, &req, 4, raw);
}

/* rl:view([now]) -> the model, as a table of numbers (reset and blocked:
 * seconds from now) */
static int ratelimit_view_method(lua_State *L)
{
	lresponse_push_rate_table(L, check_ratelimit(L), opt_now(L, 2));
	return 1;
}

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
 *                   max_attempts=, max_elapsed=, base=, cap=, random=}
 *   -> retry (boolean), wait, reason */
static int core_retry_decide(lua_State *L)
{
	static const char *const outcomes[] = {"status", "no_connection", "timeout", "network", NULL};
	luaL_checktype(L, 1, LUA_TTABLE);
	struct retry_input in = {0};
	lua_getfield(L, 1, "outcome");
	in.outcome = (enum retry_outcome)luaL_checkoption(L, -1, "status", outcomes);
	lua_pop(L, 1);
	in.status = field_int(L, "status");
	lua_getfield(L, 1, "idempotent");
	in.idempotent = lua_toboolean(L, -1);
	lua_pop(L, 1);
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
	return 3;
}

/* core.parse_policy(value) -> limit, window, burst (0: absent), or nil */
static int core_parse_policy(lua_State *L)
{
	size_t len;
	const char *v = luaL_checklstring(L, 1, &len);
	struct ratelimit_policy p;
	if (ratelimit_parse_policy(v, len, &p) != 0)
		return 0;
	lresponse_push_number(L, p.limit);
	lresponse_push_number(L, p.window);
	lresponse_push_number(L, p.burst);
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
	lresponse_push_number(L, n);
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

/* ---- module ----------------------------------------------------------- */

/* Pushes a table of fns, each sharing the upvalues at base + 1 on. */
static void push_functions(lua_State *L, int base, const luaL_Reg *fns)
{
	lua_newtable(L);
	for (int i = 1; i <= SHARED_UPVALUES; i++)
		lua_pushvalue(L, base + i);
	luaL_setfuncs(L, fns, SHARED_UPVALUES);
}

/* Sets the metatable at index mt's __index to fns. */
static void set_methods(lua_State *L, int base, int mt, const luaL_Reg *fns)
{
	push_functions(L, base, fns);
	lua_setfield(L, mt, "__index");
}

int luaopen_pulse_core(lua_State *L)
{
	/* The shared upvalues, in their order (UP_...), above base. */
	int base = lua_gettop(L);
	lua_newtable(L); /* the module's state */
	luaL_newmetatable(L, TRANSPORT_MT);
	luaL_newmetatable(L, ENGINE_MT);
	luaL_newmetatable(L, RATELIMIT_MT);
	lresponse_open(L); /* the headers' and rates' metatables */
	lua_newtable(L);   /* the array metatable */
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__jsontype");

	static const luaL_Reg transport_methods[] = {
	    {"perform", transport_perform_method},
	    {"stats", transport_stats_method},
	    {"set_key", transport_set_key_method},
	    {"close", transport_close},
	    {NULL, NULL},
	};
	int mt = base + 2;
	set_methods(L, base, mt, transport_methods);
	lua_pushcfunction(L, transport_close);
	lua_setfield(L, mt, "__gc");
	lua_pushcfunction(L, transport_close);
	lua_setfield(L, mt, "__close");

	static const luaL_Reg engine_methods[] = {
	    {"poll", engine_poll_method},
	    {"collect", engine_collect_method},
	    {"cancel_all", engine_cancel_all_method},
	    {"cancel_routed", engine_cancel_routed_method},
	    {NULL, NULL},
	};
	mt = base + 3;
	set_methods(L, base, mt, engine_methods);
	lua_pushcfunction(L, engine_gc);
	lua_setfield(L, mt, "__gc");

	static const luaL_Reg ratelimit_methods[] = {
	    {"take", ratelimit_take_method},
	    {"observe", ratelimit_observe_method},
	    {"send", ratelimit_send_method},
	    {"send_plain", ratelimit_send_plain_method},
	    {"start", ratelimit_start_method},
	    {"start_plain", ratelimit_start_plain_method},
	    {"start_entry", ratelimit_start_entry_method},
	    {"cancel", ratelimit_cancel_method},
	    {"view", ratelimit_view_method},
	    {NULL, NULL},
	};
	set_methods(L, base, base + 4, ratelimit_methods);

	luaL_newmetatable(L, BUFFER_MT);
	lua_pushcfunction(L, buffer_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);

	static const luaL_Reg functions[] = {
	    {"transport", core_transport},
	    {"ratelimit", core_ratelimit},
	    {"engine", core_engine},
	    {"retry_decide", core_retry_decide},
	    {"parse_policy", core_parse_policy},
	    {"parse_count", core_parse_count},
	    {"parse_retry_after", core_parse_retry_after},
	    {"headers", lresponse_core_headers},
	    {"now", core_now},
	    {"isatty", core_isatty},
	    {"sleep", core_sleep},
	    {"json_decode", core_json_decode},
	    {"json_encode", core_json_encode},
	    {NULL, NULL},
	};
	push_functions(L, base, functions);
	lua_pushvalue(L, base + 7);
	lua_setfield(L, -2, "array_mt");
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_pushliteral(L, PULSE_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, transport_library_version());
	lua_setfield(L, -2, "curl_version");
	return 1;
}
