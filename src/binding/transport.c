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
	if (transport_set_key(t, luaL_checkstring(L, 2)) != 0)
		return luaL_error(L, "out of memory");
	return 0;
}

/* A string field of the table at idx, or NULL for nil: still referenced by
 * the table when popped. */
static const char *field_string(lua_State *L, int idx, const char *field, size_t *len)
{
	const char *s = NULL;
	if (lua_getfield(L, idx, field) != LUA_TNIL) {
		if (!lua_isstring(L, -1))
			luaL_error(L, "a request's %s must be a string, got %s", field, luaL_typename(L, -1));
		s = lua_tolstring(L, -1, len);
	}
	lua_pop(L, 1);
	return s;
}

static int field_boolean(lua_State *L, int idx, const char *field)
{
	int b = lua_getfield(L, idx, field) != LUA_TNIL && lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

static double field_number(lua_State *L, int idx, const char *field)
{
	int is_number;
	lua_getfield(L, idx, field);
	double n = lua_tonumberx(L, -1, &is_number);
	if (!is_number && !lua_isnil(L, -1))
		luaL_error(L, "a request's %s must be a number, got %s", field, luaL_typename(L, -1));
	lua_pop(L, 1);
	return is_number ? n : 0;
}

/* The hop's header lines (a list of "Name: value" strings) into lines. */
static void hop_headers(lua_State *L, int hop, struct http_request *req, const char *lines[MAX_HEADER_LINES])
{
	if (lua_getfield(L, hop, "headers") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "a request's headers must be a list of lines, got %s", luaL_typename(L, -1));
	lua_Integer n = luaL_len(L, -1);
	if (n > MAX_HEADER_LINES)
		luaL_error(L, "a request has more than %d headers", MAX_HEADER_LINES);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, i);
		if (!lua_isstring(L, -1))
			luaL_error(L, "a request's header line %d is not a string", (int)i);
		lines[i - 1] = lua_tostring(L, -1);
		lua_pop(L, 1); /* still referenced by the list */
	}
	lua_pop(L, 1); /* the list, referenced by the hop */
	req->headers = lines;
	req->header_count = (size_t)n;
}

struct http_request binding_check_call(lua_State *L, int call, const char *lines[MAX_HEADER_LINES])
{
	luaL_checktype(L, call, LUA_TTABLE);
	/* The hop: what goes out on this attempt (the call itself for a
	 * tool's one-off request). It stays referenced by the call. */
	int hop = call;
	if (lua_getfield(L, call, "hop") != LUA_TNIL) {
		luaL_checktype(L, -1, LUA_TTABLE);
		hop = lua_gettop(L);
	}
	struct http_request req = {
	    .method = field_string(L, hop, "method", NULL),
	    .url = field_string(L, hop, "url", NULL),
	    .json_body = field_boolean(L, hop, "json_body"),
	    .omit_key = field_boolean(L, hop, "foreign"),
	    .fresh_connection = field_boolean(L, call, "fresh"),
	    .timeout_ms = (long)(field_number(L, call, "timeout") * 1000.0),
	    .max_body = (size_t)field_number(L, call, "max_body"),
	};
	if (!req.method || !req.url)
		luaL_error(L, "a request needs a method and a url (strings)");
	req.body = field_string(L, hop, "body", &req.body_len);
	hop_headers(L, hop, &req, lines);
	lua_pop(L, 1); /* the hop, or nil */
	return req;
}

/* Performs the call at arg call under limiter l (or none): true and the
 * outcome in the call, or what binding_no_token gives. */
static int exchange(lua_State *L, struct limiter *l, int call)
{
	struct transport_box *box = check_box(L, 1);
	const char *lines[MAX_HEADER_LINES];
	struct http_request req = binding_check_call(L, call, lines);
	struct exchange_outcome out;
	double wait;
	enum limiter_answer answer = exchange_perform(l, box->transport, &req, &box->response, &out, &wait);
	if (answer != LIMITER_TAKEN)
		return binding_no_token(L, call, answer, wait, l);
	binding_set_outcome(L, call, &out);
	lua_pushboolean(L, 1);
	return 1;
}

/*
 * t:perform(call) -> call, its outcome set
 * One request, outside any limiter (for tools and specs): call is a table
 * with method, url [, headers, body, json_body, foreign, timeout, max_body,
 * fresh].
 */
static int transport_perform_method(lua_State *L)
{
	exchange(L, NULL, 2);
	lua_settop(L, 2);
	return 1;
}

/*
 * t:send(limiter, call)
 *   -> true: the call's outcome is set (binding.h says which fields)
 *   -> false, wait: no token, nothing sent (wait -1: until a response)
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
