#include "sandbox.h"

#include "core/buf.h"
#include "core/clock.h"
#include "embed/modules.h"
#include "timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int luaopen_cjson(lua_State *L);

struct sandbox {
	struct MHD_Daemon *daemon;
	lua_State *L; /* only ever touched from the daemon's thread */
	int handler;  /* registry reference */
	int port;
	char *tls_cert, *tls_key;

	unsigned long connections_opened;
	int in_flight, in_flight_max;

	struct latency_timer timer;
	atomic_int suspended; /* connections waiting out a latency */
};

struct request {
	char *uri; /* as sent, query string included */
	struct buf body;
	struct MHD_Response *pending; /* ready, waiting out its latency */
	unsigned pending_status;
	int headers_seen;
};

struct sandbox_config sandbox_default_config(void)
{
	struct sandbox_config c = {0};
	c.limit = c.window = c.burst = 60;
	c.retry_after = "seconds";
	c.refill = "window";
	c.seed = 1;
	return c;
}

int sandbox_random_key(char *key, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[64];
	size_t n = len - 1;
	if (len == 0 || n > sizeof bytes || getrandom(bytes, n, 0) != (ssize_t)n)
		return -1;
	for (size_t i = 0; i < n; i++)
		key[i] = hex[bytes[i] & 15];
	key[n] = '\0';
	return 0;
}

/* ---- what Lua sees of the server ------------------------------------------ */

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
	struct sandbox *sb = lua_touserdata(L, lua_upvalueindex(1));
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)sb->connections_opened);
	lua_setfield(L, -2, "connections_opened");
	lua_pushinteger(L, sb->in_flight);
	lua_setfield(L, -2, "in_flight");
	lua_pushinteger(L, sb->in_flight_max);
	lua_setfield(L, -2, "in_flight_max");
	return 1;
}

static int native_reset_counters(lua_State *L)
{
	struct sandbox *sb = lua_touserdata(L, lua_upvalueindex(1));
	sb->in_flight_max = sb->in_flight;
	return 0;
}

static void push_config(lua_State *L, const struct sandbox_config *c)
{
	lua_createtable(L, 0, 8);
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
	lua_pushboolean(L, c->tls_cert != NULL);
	lua_setfield(L, -2, "tls");
}

/* Runs require("pulse.sandbox").new(config) and keeps the handler it returns. */
static int open_handler(lua_State *L)
{
	struct sandbox *sb = lua_touserdata(L, 1);
	const struct sandbox_config *config = lua_touserdata(L, 2);
	luaL_openlibs(L);
	modules_install(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_cjson);
	lua_setfield(L, -2, "cjson");
	lua_pop(L, 1);

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_newtable(L);
	lua_pushcfunction(L, native_now);
	lua_setfield(L, -2, "now");
	lua_pushcfunction(L, native_wall);
	lua_setfield(L, -2, "wall");
	lua_pushlightuserdata(L, sb);
	lua_pushcclosure(L, native_counters, 1);
	lua_setfield(L, -2, "counters");
	lua_pushlightuserdata(L, sb);
	lua_pushcclosure(L, native_reset_counters, 1);
	lua_setfield(L, -2, "reset_counters");
	lua_setfield(L, -2, "pulse.sandbox.native");
	lua_pop(L, 1);

	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.sandbox");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "new");
	push_config(L, config);
	lua_call(L, 1, 1);
	luaL_checktype(L, -1, LUA_TFUNCTION);
	return 1;
}

/* ---- requests --------------------------------------------------------------- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	struct sandbox *sb = cls;
	(void)connection;
	struct request *r = calloc(1, sizeof *r);
	if (r && !(r->uri = strdup(uri))) {
		free(r);
		r = NULL;
	}
	if (r && ++sb->in_flight > sb->in_flight_max)
		sb->in_flight_max = sb->in_flight;
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
	struct sandbox *sb = cls;
	struct request *r = *req_cls;
	(void)connection;
	(void)code;
	if (!r)
		return;
	sb->in_flight--;
	if (r->pending)
		MHD_destroy_response(r->pending);
	buf_free(&r->body);
	free(r->uri);
	free(r);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct sandbox *sb = cls;
	(void)connection;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = (void *)(uintptr_t)++sb->connections_opened;
}

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

static void push_request(lua_State *L, struct MHD_Connection *connection, const char *method,
                         const char *path, const struct request *r)
{
	lua_createtable(L, 0, 8);
	lua_pushstring(L, method);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, path);
	lua_setfield(L, -2, "path");
	const char *query = strchr(r->uri, '?');
	lua_pushstring(L, query ? query + 1 : "");
	lua_setfield(L, -2, "raw_query");
	lua_newtable(L);
	MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, add_to_table, L);
	lua_setfield(L, -2, "query");
	lua_newtable(L);
	MHD_get_connection_values(connection, MHD_HEADER_KIND, add_to_table, L);
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, r->body.data ? r->body.data : "", r->body.len);
	lua_setfield(L, -2, "body");
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	lua_pushinteger(L, info ? (lua_Integer)(uintptr_t)info->socket_context : 0);
	lua_setfield(L, -2, "connection");
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	int loopback = 0;
	if (info && info->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)info->client_addr;
		loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	lua_pushboolean(L, loopback);
	lua_setfield(L, -2, "loopback");
}

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

static enum MHD_Result queue_text(struct MHD_Connection *connection, unsigned status, const char *text)
{
	struct MHD_Response *response =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!response)
		return MHD_NO;
	MHD_add_response_header(response, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *path,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct sandbox *sb = cls;
	struct request *r = *req_cls;
	(void)version;
	if (!r)
		return MHD_NO;
	if (r->pending) { /* back from its latency */
		struct MHD_Response *response = r->pending;
		r->pending = NULL;
		atomic_fetch_sub(&sb->suspended, 1);
		enum MHD_Result rc = MHD_queue_response(connection, r->pending_status, response);
		MHD_destroy_response(response);
		return rc;
	}
	if (!r->headers_seen) { /* MHD's first call comes before any body */
		r->headers_seen = 1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (buf_append(&r->body, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}

	lua_State *L = sb->L;
	int top = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, sb->handler);
	push_request(L, connection, method, path, r);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
		fprintf(stderr, "pulse-sandbox: handler failed: %s\n", lua_tostring(L, -1));
		lua_settop(L, top);
		return queue_text(connection, 500,
		                  "{\"error\":{\"code\":\"sandbox_bug\",\"message\":\"handler failed\"}}");
	}
	lua_getfield(L, -1, "drop");
	int drop = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (drop) {
		lua_settop(L, top);
		return MHD_NO; /* closes the connection with no response */
	}
	lua_getfield(L, -1, "delay");
	double delay = lua_tonumber(L, -1);
	lua_pop(L, 1);
	unsigned status;
	struct MHD_Response *response = build_response(L, &status);
	lua_settop(L, top);
	if (!response)
		return MHD_NO;
	if (delay > 0) {
		r->pending = response;
		r->pending_status = status;
		atomic_fetch_add(&sb->suspended, 1);
		MHD_suspend_connection(connection);
		if (latency_timer_schedule(&sb->timer, connection, delay) != 0)
			MHD_resume_connection(connection); /* no memory for the timer: answer now */
		return MHD_YES;
	}
	enum MHD_Result rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

/* ---- start and stop ------------------------------------------------------------ */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&b, chunk, n) != 0)
			break;
	int failed = ferror(f) || !b.data;
	fclose(f);
	if (failed) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int start_daemon(struct sandbox *sb, const struct sandbox_config *config, char *err, size_t errlen)
{
	struct sockaddr_in addr = {0};
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)config->port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	if (config->tls_cert) {
		sb->tls_cert = read_file(config->tls_cert);
		sb->tls_key = read_file(config->tls_key);
		if (!sb->tls_cert || !sb->tls_key) {
			snprintf(err, errlen, "cannot read the TLS certificate or key file");
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls[] = {
	    {MHD_OPTION_HTTPS_MEM_CERT, 0, sb->tls_cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, sb->tls_key},
	    {MHD_OPTION_END, 0, NULL},
	};
	sb->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, sb, MHD_OPTION_SOCK_ADDR, &addr,
	                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, sb, MHD_OPTION_NOTIFY_COMPLETED,
	                              on_completed, sb, MHD_OPTION_NOTIFY_CONNECTION, on_connection, sb,
	                              MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_ARRAY,
	                              config->tls_cert ? tls : tls + 2, MHD_OPTION_END);
	if (!sb->daemon) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1:%d%s", config->port,
		         config->tls_cert ? " (or the TLS certificate and key are not valid PEM)" : "");
		return -1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(sb->daemon, MHD_DAEMON_INFO_BIND_PORT);
	sb->port = info ? info->port : config->port;
	return 0;
}

struct sandbox *sandbox_start(const struct sandbox_config *config, char *err, size_t errlen)
{
	struct sandbox *sb = calloc(1, sizeof *sb);
	if (!sb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sb->handler = LUA_NOREF;

	if (!(sb->L = luaL_newstate())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	lua_pushcfunction(sb->L, open_handler);
	lua_pushlightuserdata(sb->L, sb);
	lua_pushlightuserdata(sb->L, (void *)config);
	if (lua_pcall(sb->L, 2, 1, 0) != LUA_OK) {
		snprintf(err, errlen, "%s", lua_tostring(sb->L, -1));
		goto fail;
	}
	sb->handler = luaL_ref(sb->L, LUA_REGISTRYINDEX);
	if (latency_timer_start(&sb->timer) != 0) {
		snprintf(err, errlen, "cannot start the latency timer thread");
		goto fail;
	}
	if (start_daemon(sb, config, err, errlen) != 0)
		goto fail;
	return sb;
fail:
	sandbox_stop(sb);
	return NULL;
}

int sandbox_port(const struct sandbox *sb)
{
	return sb->port;
}

void sandbox_stop(struct sandbox *sb)
{
	if (!sb)
		return;
	latency_timer_stop(&sb->timer); /* it resumes every delayed connection */
	/* Give the daemon's thread a moment to answer them. */
	for (int i = 0; i < 2000 && atomic_load(&sb->suspended) > 0; i++) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	if (sb->daemon)
		MHD_stop_daemon(sb->daemon);
	if (sb->L)
		lua_close(sb->L);
	free(sb->tls_cert);
	free(sb->tls_key);
	free(sb);
}
