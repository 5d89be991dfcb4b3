/*
 * The transport object: core.transport(options) makes one, a libcurl easy
 * handle with its connections, options, key and counters. t:send takes
 * the request path's synchronous exchange (net/exchange.h).
 */
#include "binding.h"

#include <string.h>

struct transport_box {
	struct transport *transport;
	struct http_response response;     /* buffers reused from request to request */
	struct request_stats closed_stats; /* the transport's, kept when it closed */
};

static struct transport_box *check_box(lua_State *L, int arg)
{
	struct transport_box *box = binding_check_object(L, arg, UP_TRANSPORT_MT, TRANSPORT_MT);
	if (!box->transport)
		luaL_error(L, "the client is closed");
	return box;
}

struct transport *binding_check_transport(lua_State *L, int arg)
{
	return check_box(L, arg)->transport;
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

/* A byte count: a whole number above 0 (the Lua layer checked it). */
static size_t opt_size(lua_State *L, int idx, const char *field, size_t dflt)
{
	lua_getfield(L, idx, field);
	size_t n = lua_isnil(L, -1) ? dflt : (size_t)luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	return n;
}

static const char *opt_string(lua_State *L, int idx, const char *field)
{
	lua_getfield(L, idx, field);
	const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
	lua_pop(L, 1); /* the string stays alive in the options table */
	return s;
}

/* core.transport{ timeout, connect_timeout, verify, ca_file, proxy, user_agent } */
static int core_transport(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct transport_options options = {
	    .connect_timeout_ms = opt_milliseconds(L, 1, "connect_timeout", 30000),
	    .timeout_ms = opt_milliseconds(L, 1, "timeout", 80000),
	    .max_body = opt_size(L, 1, "max_body", TRANSPORT_DEFAULT_MAX_BODY),
	    .ca_file = opt_string(L, 1, "ca_file"),
	    .proxy = opt_string(L, 1, "proxy"),
	    .user_agent = opt_string(L, 1, "user_agent"),
	};
	lua_getfield(L, 1, "verify");
	options.verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);

	struct transport_box *box = lua_newuserdatauv(L, sizeof *box, 0);
	memset(box, 0, sizeof *box);
	binding_set_metatable(L, UP_TRANSPORT_MT);
	box->transport = transport_new();
	if (!box->transport || transport_set_options(box->transport, &options) != 0)
		/* The version says "(libcurl.so.4 not found)" when the runner
		 * could not load it (net/curl_dlopen.c). */
		return luaL_error(L, "cannot set up libcurl %s (is libcurl4 installed? out of memory?)",
		                  transport_library_version());
	return 1;
}

/* t:close(), also __gc and __close: safe to call twice. */
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

/* t:stats([latency]) -> { requests, bytes_received, bytes_sent [, latency =
 * { p50, p90, p99 } in seconds, nil ones when nothing was timed] }; also
 * once closed. */
static int transport_stats_method(lua_State *L)
{
	struct transport_box *box = luaL_checkudata(L, 1, TRANSPORT_MT);
	const struct request_stats *s = box->transport ? transport_stats(box->transport) : &box->closed_stats;
	lua_createtable(L, 0, 4);
	binding_push_number(L, s->requests);
	lua_setfield(L, -2, "requests");
	binding_push_number(L, s->bytes_received);
	lua_setfield(L, -2, "bytes_received");
	binding_push_number(L, s->bytes_sent);
	lua_setfield(L, -2, "bytes_sent");
	if (!lua_toboolean(L, 2))
		return 1;
	static const char *const names[] = {"p50", "p90", "p99"};
	static const double quantiles[] = {0.5, 0.9, 0.99};
	double latency[3];
	request_stats_latencies(s, quantiles, latency, 3);
	lua_createtable(L, 0, 3);
	for (size_t i = 0; i < 3; i++)
		if (latency[i] >= 0) {
			binding_push_number(L, latency[i]);
			lua_setfield(L, -2, names[i]);
		}
	lua_setfield(L, -2, "latency");
	return 1;
}

static int transport_set_key_method(lua_State *L)
{
	struct transport *t = binding_check_transport(L, 1);
	const char *key = luaL_checkstring(L, 2);
	if (transport_set_key(t, luaL_optstring(L, 3, "Api-key"), key) != 0)
		return luaL_error(L, "out of memory");
	return 0;
}

/* The request fields of a hop, by name. */
enum hop_field { HOP_OTHER, HOP_METHOD, HOP_URL, HOP_HEADERS, HOP_BODY, HOP_JSON_BODY, HOP_FOREIGN };

static enum hop_field hop_field_of(const char *k, size_t len)
{
	switch (len) {
	case 3:
		return memcmp(k, "url", 3) == 0 ? HOP_URL : HOP_OTHER;
	case 4:
		return memcmp(k, "body", 4) == 0 ? HOP_BODY : HOP_OTHER;
	case 6:
		return memcmp(k, "method", 6) == 0 ? HOP_METHOD : HOP_OTHER;
	case 7:
		return memcmp(k, "headers", 7) == 0   ? HOP_HEADERS
		       : memcmp(k, "foreign", 7) == 0 ? HOP_FOREIGN
		                                      : HOP_OTHER;
	case 9:
		return memcmp(k, "json_body", 9) == 0 ? HOP_JSON_BODY : HOP_OTHER;
	default:
		return HOP_OTHER;
	}
}

/* The string value at the top, or an error naming the field. */
static const char *check_string(lua_State *L, const char *field, size_t *len)
{
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "a request's %s must be a string, got %s", field, luaL_typename(L, -1));
	return lua_tolstring(L, -1, len);
}

/* The header lines at the top (a list of "Name: value" strings) into lines. */
static void check_headers(lua_State *L, struct http_request *req, const char *lines[MAX_HEADER_LINES])
{
	if (!lua_istable(L, -1))
		luaL_error(L, "a request's headers must be a list of lines, got %s", luaL_typename(L, -1));
	lua_Integer n = luaL_len(L, -1);
	if (n > MAX_HEADER_LINES)
		luaL_error(L, "a request has more than %d headers", MAX_HEADER_LINES);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "a request's header line %d is not a string", (int)i);
		lines[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1); /* still referenced by the list */
	}
	req->headers = lines;
	req->header_count = (size_t)n;
}

/* The hop's fields into req, in one pass over the hop (a plain hop has
 * three fields: reading each field by name cost more than the walk).
 * Every string stays referenced by the hop. */
static void read_hop(lua_State *L, int hop, struct http_request *req, const char *lines[MAX_HEADER_LINES])
{
	lua_pushnil(L);
	while (lua_next(L, hop)) {
		enum hop_field f = HOP_OTHER;
		if (lua_type(L, -2) == LUA_TSTRING) {
			size_t len;
			const char *key = lua_tolstring(L, -2, &len);
			f = hop_field_of(key, len);
		}
		switch (f) {
		case HOP_METHOD:
			req->method = check_string(L, "method", NULL);
			break;
		case HOP_URL:
			req->url = check_string(L, "url", NULL);
			break;
		case HOP_BODY:
			req->body = check_string(L, "body", &req->body_len);
			break;
		case HOP_HEADERS:
			check_headers(L, req, lines);
			break;
		case HOP_JSON_BODY:
			req->json_body = lua_toboolean(L, -1);
			break;
		case HOP_FOREIGN:
			req->omit_key = lua_toboolean(L, -1);
			break;
		case HOP_OTHER:
			break;
		}
		lua_pop(L, 1);
	}
}

int binding_call_field(lua_State *L, int idx, enum call_key k)
{
	lua_rawgeti(L, UP_CALL_KEYS, k);
	return lua_rawget(L, idx);
}

static double call_number(lua_State *L, int idx, enum call_key k, const char *name)
{
	int type = binding_call_field(L, idx, k);
	double n = type == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
	if (type != LUA_TNUMBER && type != LUA_TNIL)
		luaL_error(L, "a request's %s must be a number, got %s", name, luaL_typename(L, -1));
	lua_pop(L, 1);
	return n;
}

/* A plain hop's string field k (method or url), or NULL; left pushed. */
static const char *plain_string(lua_State *L, int hop, enum call_key k)
{
	return binding_call_field(L, hop, k) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
}

struct http_request binding_check_call(lua_State *L, int call, const char *lines[MAX_HEADER_LINES])
{
	luaL_checktype(L, call, LUA_TTABLE);
	call = lua_absindex(L, call);
	int top = lua_gettop(L);
	struct http_request req = {.timeout_ms =
	                               (long)(call_number(L, call, CALL_TIMEOUT, "timeout") * 1000.0)};
	/* The hop: what goes out on this attempt (the call itself for a
	 * tool's one-off request). It stays referenced by the call, and each
	 * string read from it by the hop: the values pushed are left on the
	 * stack until the end, one pop for all. */
	int hop = call;
	if (binding_call_field(L, call, CALL_HOP) != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		hop = top + 1;
	}
	/* A plain hop (request.plain_hop: the gate's) is a method and a URL,
	 * idempotent, nothing more: read those two alone. */
	if (binding_call_field(L, hop, CALL_PLAIN) == LUA_TBOOLEAN && lua_toboolean(L, -1)) {
		req.method = plain_string(L, hop, CALL_METHOD);
		req.url = plain_string(L, hop, CALL_URL);
	} else {
		req.max_body = (size_t)call_number(L, call, CALL_MAX_BODY, "max_body");
		req.fresh_connection = lua_toboolean(L, (binding_call_field(L, call, CALL_FRESH), -1));
		read_hop(L, hop, &req, lines);
	}
	/* A traced call, or one a response hook hears, has libcurl's phases
	 * read (plain ones too). */
	req.phases = binding_call_field(L, call, CALL_PHASES) == LUA_TTABLE ||
	             binding_call_field(L, call, CALL_TRACE) == LUA_TUSERDATA;
	lua_settop(L, top);
	if (!req.method || !req.url)
		luaL_error(L, "a request needs a method and a url (strings)");
	return req;
}

struct limiter_caller binding_check_caller(lua_State *L, int call)
{
	struct limiter_caller caller = {.lane = LANE_NORMAL};
	int type = binding_call_field(L, call, CALL_LANE);
	lua_Integer lane = lua_tointeger(L, -1);
	if (type != LUA_TNIL && (!lua_isinteger(L, -1) || lane < 0 || lane >= LANES))
		luaL_error(L, "a request's lane must be 0, 1 or 2 (interactive, normal, bulk)");
	if (type != LUA_TNIL)
		caller.lane = (int)lane;
	caller.place =
	    (lanes_place)(binding_call_field(L, call, CALL_PLACE) == LUA_TNUMBER ? lua_tointeger(L, -1) : 0);
	lua_pop(L, 2);
	return caller;
}

void binding_keep_place(lua_State *L, int call, lanes_place before, lanes_place after)
{
	if (after == before)
		return;
	lua_rawgeti(L, UP_CALL_KEYS, CALL_PLACE);
	if (after)
		lua_pushinteger(L, (lua_Integer)after);
	else
		lua_pushnil(L);
	lua_rawset(L, call);
}

void binding_fill_phases(lua_State *L, int call, const struct http_response *res)
{
	if (!res->phases_read)
		return;
	if (binding_call_field(L, call, CALL_PHASES) != LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	const struct http_phases *p = &res->phases;
	const double values[] = {p->dns,   p->connect,  p->tls,      p->first_byte,
	                         p->total, p->bytes_in, p->bytes_out};
	for (int i = 0; i < (int)(sizeof values / sizeof values[0]); i++) {
		lua_pushnumber(L, values[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pop(L, 1);
}

/* Performs the call at arg call under limiter l (or none): its outcome,
 * or what binding_no_token gives. */
static int exchange(lua_State *L, struct limiter *l, int call)
{
	struct transport_box *box = check_box(L, 1);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = binding_check_call(L, call, lines);
	struct limiter_caller caller = binding_check_caller(L, call);
	lanes_place before = caller.place;
	struct exchange_outcome out;
	double wait;
	enum limiter_answer answer =
	    exchange_perform(l, &caller, box->transport, &req, &box->response, &out, &wait);
	binding_keep_place(L, call, before, caller.place);
	if (answer != LIMITER_TAKEN)
		return binding_no_token(L, answer, wait, l);
	int at = lua_absindex(L, call);
	binding_fill_phases(L, at, out.response);
	binding_trace_attempt(L, at, out.response, out.observed ? &out.rate : NULL);
	return binding_push_outcome(L, &out);
}

/*
 * t:perform(call) -> status, headers, body, elapsed, transmissions
 *                 or nil, failure, message, elapsed, transmissions
 * One request, outside any limiter (for tools and specs): call is a table
 * with method, url [, headers, body, json_body, foreign, timeout, max_body,
 * fresh].
 */
static int transport_perform_method(lua_State *L)
{
	return exchange(L, NULL, 2);
}

/*
 * t:send(limiter, call)
 *   -> false, wait: no token, nothing sent (wait -1: until a response)
 *   -> the outcome (binding.h: binding_push_outcome), which Call:record
 *      names
 * Take, perform and observe in one call: no error can come between taking
 * a token and settling it, and a request crosses into C once.
 */
static int transport_send_method(lua_State *L)
{
	return exchange(L, binding_opt_limiter(L, 2), 3);
}

const luaL_Reg binding_transport_functions[] = {
    {"transport", core_transport},
    {NULL, NULL},
};

const luaL_Reg binding_transport_methods[] = {
    {"perform", transport_perform_method}, {"send", transport_send_method}, {"stats", transport_stats_method},
    {"set_key", transport_set_key_method}, {"close", transport_close},      {NULL, NULL},
};

void binding_transport_metatable(lua_State *L, int mt)
{
	lua_pushcfunction(L, transport_close);
	lua_setfield(L, mt, "__gc");
	lua_pushcfunction(L, transport_close);
	lua_setfield(L, mt, "__close");
}
