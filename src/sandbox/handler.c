/*
 * The sandbox's Lua side: a Lua state of its own running pulse.sandbox's
 * handler, the request turned into a Lua table and the handler's answer
 * into a libmicrohttpd response. Only the daemon's thread touches it.
 */
#include "handler.h"

#include "embed/modules.h"
#include "options.h"
#include "util/clock.h"

#include <arpa/inet.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int luaopen_cjson(lua_State *L);

static int native_now(lua_State *L)
{
	lua_pushnumber(L, clock_monotonic());
	return 1;
}

static int native_wall(lua_State *L)
{
	lua_pushnumber(L, clock_epoch());
	return 1;
}

static int native_counters(lua_State *L)
{
	const struct handler_counters *c = lua_touserdata(L, lua_upvalueindex(1));
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, (lua_Integer)*c->connections_opened);
	lua_setfield(L, -2, "connections_opened");
	lua_pushinteger(L, *c->connections_open);
	lua_setfield(L, -2, "connections_open");
	lua_pushinteger(L, *c->in_flight);
	lua_setfield(L, -2, "in_flight");
	lua_pushinteger(L, *c->in_flight_max);
	lua_setfield(L, -2, "in_flight_max");
	return 1;
}

static int native_reset_counters(lua_State *L)
{
	const struct handler_counters *c = lua_touserdata(L, lua_upvalueindex(1));
	*c->in_flight_max = *c->in_flight;
	return 0;
}

/* native.parse_rate_limit("L/W/B") -> limit, window, burst; or nil, why:
 * the command line's rules, for POST /_sandbox/reset. */
static int native_parse_rate_limit(lua_State *L)
{
	struct sandbox_config c;
	const char *why;
	if (sandbox_parse_rate_limit(luaL_checkstring(L, 1), &c, &why) != 0) {
		lua_pushnil(L);
		lua_pushstring(L, why);
		return 2;
	}
	lua_pushnumber(L, c.limit);
	lua_pushnumber(L, c.window);
	lua_pushnumber(L, c.burst);
	return 3;
}

/* native.send_webhook(text): queues an event's envelope for every
 * --webhook URL; false when memory is short. */
static int native_send_webhook(lua_State *L)
{
	struct webhooks *w = lua_touserdata(L, lua_upvalueindex(1));
	size_t len;
	const char *body = luaL_checklstring(L, 1, &len);
	lua_pushboolean(L, webhooks_send(w, body, len) == 0);
	return 1;
}

/* native.webhook_counts(): what the deliveries came to (/_sandbox/stats). */
static int native_webhook_counts(lua_State *L)
{
	struct webhook_counts c;
	webhooks_counts(lua_touserdata(L, lua_upvalueindex(1)), &c);
	lua_createtable(L, 0, 5);
	lua_pushinteger(L, (lua_Integer)c.delivered);
	lua_setfield(L, -2, "delivered");
	lua_pushinteger(L, (lua_Integer)c.failed_attempts);
	lua_setfield(L, -2, "failed_attempts");
	lua_pushinteger(L, (lua_Integer)c.given_up);
	lua_setfield(L, -2, "given_up");
	lua_pushinteger(L, c.pending);
	lua_setfield(L, -2, "pending");
	lua_pushinteger(L, c.deactivated);
	lua_setfield(L, -2, "deactivated");
	return 1;
}

static void push_config(lua_State *L, const struct sandbox_config *c)
{
	lua_createtable(L, 0, 16);
	lua_createtable(L, c->key_count, 0);
	for (int i = 0; i < c->key_count; i++) {
		lua_pushstring(L, c->keys[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "keys");
	lua_pushnumber(L, c->limit);
	lua_setfield(L, -2, "limit");
	lua_pushnumber(L, c->window);
	lua_setfield(L, -2, "window");
	lua_pushnumber(L, c->burst);
	lua_setfield(L, -2, "burst");
	lua_pushstring(L, c->retry_after ? c->retry_after : "seconds");
	lua_setfield(L, -2, "retry_after");
	lua_pushstring(L, c->refill ? c->refill : "window");
	lua_setfield(L, -2, "refill");
	lua_pushinteger(L, c->seed);
	lua_setfield(L, -2, "seed");
	lua_pushstring(L, c->faults);
	lua_setfield(L, -2, "faults");
	lua_pushstring(L, c->log_path);
	lua_setfield(L, -2, "log_path");
	lua_pushstring(L, c->collection);
	lua_setfield(L, -2, "collection");
	lua_pushstring(L, c->replay);
	lua_setfield(L, -2, "replay");
	lua_pushboolean(L, c->tls_cert != NULL);
	lua_setfield(L, -2, "tls");
	lua_pushinteger(L, c->centers);
	lua_setfield(L, -2, "centers");
	lua_pushinteger(L, c->guests);
	lua_setfield(L, -2, "guests");
	lua_pushnumber(L, c->reservation_hold);
	lua_setfield(L, -2, "reservation_hold");
	lua_pushstring(L, c->guest_search);
	lua_setfield(L, -2, "guest_search");
}

/* The standard libraries, the embedded modules and lua-cjson in L. */
static void open_modules(lua_State *L)
{
	luaL_openlibs(L);
	modules_install(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_cjson);
	lua_setfield(L, -2, "cjson");
	lua_pop(L, 1);
}

/* Runs require("pulse.sandbox.handler").new(config) and returns the handler it
 * makes; raises what new raises (a bad option, say). */
static int open_handler(lua_State *L)
{
	const struct handler_counters *counters = lua_touserdata(L, 1);
	const struct sandbox_config *config = lua_touserdata(L, 2);
	struct webhooks *webhooks = lua_touserdata(L, 3);
	open_modules(L);

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_newtable(L);
	lua_pushcfunction(L, native_now);
	lua_setfield(L, -2, "now");
	lua_pushcfunction(L, native_wall);
	lua_setfield(L, -2, "wall");
	lua_pushlightuserdata(L, (void *)counters);
	lua_pushcclosure(L, native_counters, 1);
	lua_setfield(L, -2, "counters");
	lua_pushlightuserdata(L, (void *)counters);
	lua_pushcclosure(L, native_reset_counters, 1);
	lua_setfield(L, -2, "reset_counters");
	lua_pushcfunction(L, native_parse_rate_limit);
	lua_setfield(L, -2, "parse_rate_limit");
	if (webhooks) {
		lua_pushlightuserdata(L, webhooks);
		lua_pushcclosure(L, native_send_webhook, 1);
		lua_setfield(L, -2, "send_webhook");
		lua_pushlightuserdata(L, webhooks);
		lua_pushcclosure(L, native_webhook_counts, 1);
		lua_setfield(L, -2, "webhook_counts");
	}
	lua_setfield(L, -2, "pulse.sandbox.native");
	lua_pop(L, 1);

	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.sandbox.handler");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "new");
	push_config(L, config);
	lua_call(L, 1, 1);
	luaL_checktype(L, -1, LUA_TFUNCTION);
	return 1;
}

/* Pushes require("pulse.sandbox.api").endpoints(). */
static int endpoints_text(lua_State *L)
{
	open_modules(L);
	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.sandbox.api");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "endpoints");
	lua_call(L, 0, 1);
	return 1;
}

int handler_print_endpoints(FILE *out)
{
	lua_State *L = luaL_newstate();
	if (!L)
		return -1;
	lua_pushcfunction(L, endpoints_text);
	int rc = lua_pcall(L, 0, 1, 0) == LUA_OK ? 0 : -1;
	fputs(lua_tostring(L, -1), rc == 0 ? out : stderr);
	lua_close(L);
	return rc;
}

int handler_open(struct handler *h, const struct sandbox_config *config,
                 const struct handler_counters *counters, struct webhooks *webhooks, char *err, size_t errlen)
{
	h->ref = LUA_NOREF;
	if (!(h->L = luaL_newstate())) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	lua_pushcfunction(h->L, open_handler);
	lua_pushlightuserdata(h->L, (void *)counters);
	lua_pushlightuserdata(h->L, (void *)config);
	lua_pushlightuserdata(h->L, webhooks);
	if (lua_pcall(h->L, 3, 1, 0) != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(h->L, -1));
		return -1;
	}
	h->ref = luaL_ref(h->L, LUA_REGISTRYINDEX);
	return 0;
}

void handler_close(struct handler *h)
{
	if (h->L)
		lua_close(h->L);
	h->L = NULL;
}

/* ---- a request, into Lua -------------------------------------------------------- */

static enum MHD_Result add_to_table(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	lua_State *L = cls;
	(void)kind;
	luaL_Buffer name;
	luaL_buffinit(L, &name);
	for (const char *c = key; *c; c++)
		luaL_addchar(&name, (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c));
	luaL_pushresult(&name);
	lua_pushstring(L, value ? value : "");
	lua_rawset(L, -3);
	return MHD_YES;
}

static void push_request(lua_State *L, const struct handler_request *req)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, req->method);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, req->path);
	lua_setfield(L, -2, "path");
	const char *query = strchr(req->uri, '?');
	lua_pushstring(L, query ? query + 1 : "");
	lua_setfield(L, -2, "raw_query");
	lua_newtable(L);
	MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, add_to_table, L);
	lua_setfield(L, -2, "query");
	lua_newtable(L);
	MHD_get_connection_values(req->connection, MHD_HEADER_KIND, add_to_table, L);
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, req->body ? req->body : "", req->body_len);
	lua_setfield(L, -2, "body");
	lua_pushinteger(L, (lua_Integer)req->connection_id);
	lua_setfield(L, -2, "connection");
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	int loopback = 0;
	if (info && info->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)info->client_addr;
		loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	lua_pushboolean(L, loopback);
	lua_setfield(L, -2, "loopback");
}

/* ---- the answer, out of Lua ------------------------------------------------------ */

/* Builds the response that the Lua handler's answer (on top) describes. */
static struct MHD_Response *build_response(lua_State *L, unsigned *status)
{
	lua_getfield(L, -1, "status");
	*status = (unsigned)lua_tointeger(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, -1, "body");
	size_t len = 0;
	const char *body = lua_tolstring(L, -1, &len);
	struct MHD_Response *response =
	    MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
	lua_pop(L, 1);
	if (!response)
		return NULL;
	lua_getfield(L, -1, "headers");
	if (lua_istable(L, -1)) {
		for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
			lua_rawgeti(L, -1, 1);
			lua_rawgeti(L, -2, 2);
			const char *name = lua_tostring(L, -2), *value = lua_tostring(L, -1);
			if (name && value)
				MHD_add_response_header(response, name, value);
			lua_pop(L, 3);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return response;
}

int handler_call(struct handler *h, const struct handler_request *req, struct handler_answer *out)
{
	lua_State *L = h->L;
	int top = lua_gettop(L);
	*out = (struct handler_answer){0};
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->ref);
	if (!lua_checkstack(L, 8)) {
		lua_settop(L, top);
		return -1;
	}
	push_request(L, req);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
		fprintf(stderr, "pulse-sandbox: handler failed: %s\n", lua_tostring(L, -1));
		lua_settop(L, top);
		return -1;
	}
	lua_getfield(L, -1, "drop");
	out->drop = lua_toboolean(L, -1);
	lua_getfield(L, -2, "delay");
	out->delay = lua_tonumber(L, -1);
	lua_pop(L, 2);
	if (!out->drop)
		out->response = build_response(L, &out->status);
	lua_settop(L, top);
	return out->drop || out->response ? 0 : -1;
}
