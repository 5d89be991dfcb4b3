/*
 * pulse-sandbox's server: libmicrohttpd on one thread of its own, every
 * request handled by the Lua handler (handler.c). It bounds what a client
 * may send and how long it may take (connections.c), so that no client can
 * lock the others out.
 */
#include "sandbox.h"

#include "connections.h"
#include "handler.h"
#include "timer.h"
#include "util/buf.h"
#include "webhooks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* libmicrohttpd's memory for a connection: room for the largest URL and
 * header block the sandbox answers itself. Past it, libmicrohttpd answers
 * on its own (an HTML page). Pages are taken as they are used. */
#define CONNECTION_MEMORY (128 * 1024)

struct sandbox {
	struct MHD_Daemon *daemon;
	int listen_fd;
	struct handler handler;
	int port;
	char *tls_cert, *tls_key;

	struct connections connections;
	int in_flight, in_flight_max;
	struct handler_counters counters; /* the handler reads these */

	struct latency_timer timer;
	atomic_int suspended;      /* connections waiting out a latency */
	struct webhooks *webhooks; /* NULL without --webhook */
};

struct request {
	char *uri; /* as sent, query string included */
	struct buf body;
	struct MHD_Response *pending; /* ready, waiting out its latency */
	unsigned pending_status;
	int headers_seen;
	int too_large; /* the body passed SANDBOX_MAX_BODY: the rest is read and dropped */
};

struct sandbox_config sandbox_default_config(void)
{
	struct sandbox_config c = {0};
	c.limit = c.window = c.burst = 60;
	c.retry_after = "seconds";
	c.refill = "window";
	c.seed = 1;
	c.idle_timeout = 30;
	c.request_timeout = 10;
	c.centers = 3;
	c.guests = 200;
	c.reservation_hold = 600;
	c.guest_search = "org";
	c.webhook_verb = "POST";
	c.webhook_backoff_min = 30; /* webhooks.md: at least 30 seconds, at most 10 minutes */
	c.webhook_backoff_max = 600;
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

/* ---- the connections' and requests' lifecycles ------------------------------ */

static struct tracked *tracked_of(struct MHD_Connection *connection)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct sandbox *sb = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *info =
		    MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = info ? connections_opened(&sb->connections, info->connect_fd) : NULL;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		connections_closed(&sb->connections, *socket_context);
		*socket_context = NULL;
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
	struct sandbox *sb = cls;
	struct request *r = calloc(1, sizeof *r);
	if (r && !(r->uri = strdup(uri))) {
		free(r);
		r = NULL;
	}
	if (r && ++sb->in_flight > sb->in_flight_max)
		sb->in_flight_max = sb->in_flight;
	connections_receiving(&sb->connections, tracked_of(connection));
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
	struct sandbox *sb = cls;
	struct request *r = *req_cls;
	(void)code;
	connections_idle(&sb->connections, tracked_of(connection));
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

/* ---- answers the sandbox gives itself ------------------------------------------ */

static enum MHD_Result queue_error(struct MHD_Connection *connection, unsigned status, const char *code,
                                   const char *message)
{
	char body[512];
	snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, message);
	struct MHD_Response *response =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!response)
		return MHD_NO;
	MHD_add_response_header(response, "Content-Type", "application/json");
	enum MHD_Result rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *size = cls;
	(void)kind;
	*size += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
	return MHD_YES;
}

/* The answer to a request past the sandbox's bounds (status 0: none),
 * given when its headers are in, before any of its body is read. */
static unsigned over_bounds(struct MHD_Connection *connection, const struct request *r, const char **message)
{
	if (strlen(r->uri) > SANDBOX_MAX_URL) {
		*message = "the URL is longer than 8 KiB";
		return 414;
	}
	size_t headers = 0;
	MHD_get_connection_values(connection, MHD_HEADER_KIND, add_header_size, &headers);
	if (headers > SANDBOX_MAX_HEADERS) {
		*message = "the request headers are larger than 32 KiB";
		return 431;
	}
	const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
	if (length && strtoull(length, NULL, 10) > SANDBOX_MAX_BODY) {
		*message = "the body is larger than 1 MiB";
		return 413;
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------------- */

/* Sends (or holds back, for a latency fault) what the handler answered. */
static enum MHD_Result answer(struct sandbox *sb, struct MHD_Connection *connection, struct request *r,
                              const struct handler_answer *a)
{
	if (a->drop)
		return MHD_NO; /* closes the connection with no response */
	if (a->delay > 0) {
		r->pending = a->response;
		r->pending_status = a->status;
		atomic_fetch_add(&sb->suspended, 1);
		MHD_suspend_connection(connection);
		if (latency_timer_schedule(&sb->timer, connection, a->delay) != 0)
			MHD_resume_connection(connection); /* no memory for the timer: answer now */
		return MHD_YES;
	}
	enum MHD_Result rc = MHD_queue_response(connection, a->status, a->response);
	MHD_destroy_response(a->response);
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
		const char *message;
		unsigned status = over_bounds(connection, r, &message);
		return status ? queue_error(connection, status, "too_large", message) : MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* A body sent in chunks, with no length said up front, is read
		 * to its end and dropped past the bound: its answer can only come
		 * then. The request timeout bounds how long that takes. */
		if (!r->too_large && r->body.len + *upload_data_size > SANDBOX_MAX_BODY) {
			r->too_large = 1;
			buf_free(&r->body);
		}
		if (!r->too_large && buf_append(&r->body, upload_data, *upload_data_size) != 0)
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	connections_received(&sb->connections, tracked_of(connection));
	if (r->too_large)
		return queue_error(connection, 413, "too_large", "the body is larger than 1 MiB");
	struct handler_request req = {
	    .connection = connection,
	    .method = method,
	    .path = path,
	    .uri = r->uri,
	    .body = r->body.data,
	    .body_len = r->body.len,
	    .connection_id = connections_id(tracked_of(connection)),
	};
	struct handler_answer a;
	if (handler_call(&sb->handler, &req, &a) != 0)
		return queue_error(connection, 500, "sandbox_bug", "handler failed");
	return answer(sb, connection, r, &a);
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
	int failed = ferror(f) || !b.data || buf_putc(&b, '\0') != 0;
	fclose(f);
	if (failed) {
		buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* The listening socket on 127.0.0.1:port, made here rather than by
 * libmicrohttpd so that a failure says the system's reason. */
static int listen_on(int port, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The cap on open connections: the configured one, else what the
 * open-files limit leaves after a margin for the process's own files. */
static int connection_cap(const struct sandbox_config *config)
{
	if (config->max_connections > 0)
		return config->max_connections;
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
		return 1000;
	long cap = (long)limit.rlim_cur - 64;
	return cap < 16 ? 16 : cap > 100000 ? 100000 : (int)cap;
}

static int start_daemon(struct sandbox *sb, const struct sandbox_config *config, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
	if (config->tls_cert)
		flags |= MHD_USE_TLS;
	/* libmicrohttpd's own cap stays above ours, so that ours (the oldest
	 * idle connection closed) comes first. */
	unsigned limit = (unsigned)sb->connections.max + 16;
	/* Every option in one array (callbacks as intptr_t, their closure in
	 * ptr_value, as MHD_OPTION_ARRAY takes them): pulse-lua loads
	 * libmicrohttpd lazily (mhd_dlopen.c), and a call of this one shape is
	 * what it can forward. */
	struct MHD_OptionItem options[] = {
	    {MHD_OPTION_LISTEN_SOCKET, sb->listen_fd, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, sb},
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, sb},
	    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, sb},
	    {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)ceil(config->idle_timeout), NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
	    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL},
	    {config->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, sb->tls_cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, sb->tls_key},
	    {MHD_OPTION_END, 0, NULL},
	};
	sb->daemon =
	    MHD_start_daemon(flags, 0, NULL, NULL, on_request, sb, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
	if (!sb->daemon) {
		snprintf(err, errlen, "cannot start serving on 127.0.0.1:%d%s", config->port,
		         config->tls_cert ? " (are the TLS certificate and key valid PEM?)" : "");
		return -1;
	}
	sb->listen_fd = -1; /* libmicrohttpd's now */
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(sb->daemon, MHD_DAEMON_INFO_BIND_PORT);
	sb->port = info ? info->port : config->port;
	return 0;
}

/* The webhook deliveries of config's URLs, if it has any. */
static int start_webhooks(struct sandbox *sb, const struct sandbox_config *config, char *err, size_t errlen,
                          int *bad_option)
{
	if (config->webhook_count == 0)
		return 0;
	struct webhook_target targets[SANDBOX_MAX_WEBHOOKS];
	for (int i = 0; i < config->webhook_count && i < SANDBOX_MAX_WEBHOOKS; i++) {
		const char *why;
		if (webhook_target_parse(config->webhooks[i], &targets[i], &why) != 0) {
			snprintf(err, errlen, "--webhook %s", why);
			*bad_option = 1;
			return -1;
		}
	}
	int count =
	    config->webhook_count < SANDBOX_MAX_WEBHOOKS ? config->webhook_count : SANDBOX_MAX_WEBHOOKS;
	sb->webhooks = webhooks_start(targets, count, config->webhook_verb, config->webhook_backoff_min,
	                              config->webhook_backoff_max);
	if (!sb->webhooks) {
		snprintf(err, errlen, "cannot start the webhook deliveries");
		return -1;
	}
	return 0;
}

/* What the configuration needs before serving, each checked with a
 * message of its own: the handler (faults, log), the TLS files, a key. */
static int prepare(struct sandbox *sb, const struct sandbox_config *config, char *err, size_t errlen,
                   int *bad_option)
{
	sb->counters = (struct handler_counters){&sb->connections.opened, &sb->connections.open,
	                                         &sb->in_flight, &sb->in_flight_max};
	if (start_webhooks(sb, config, err, errlen, bad_option) != 0)
		return -1;
	if (handler_open(&sb->handler, config, &sb->counters, sb->webhooks, err, errlen) != 0) {
		/* the handler names the option it refused */
		*bad_option = strncmp(err, "--faults", 8) == 0 || strncmp(err, "--collection", 12) == 0 ||
		              strncmp(err, "--replay", 8) == 0;
		return -1;
	}
	if (config->tls_cert) {
		if (!(sb->tls_cert = read_file(config->tls_cert)) ||
		    !(sb->tls_key = read_file(config->tls_key))) {
			snprintf(err, errlen, "cannot read %s: %s",
			         sb->tls_cert ? config->tls_key : config->tls_cert, strerror(errno));
			return -1;
		}
	}
	if (config->key_count == 0) {
		snprintf(err, errlen,
		         "no key: give --api-key KEY or --api-key-file FILE, or set PULSE_SANDBOX_API_KEY or "
		         "PULSE_API_KEY");
		return -1;
	}
	return 0;
}

struct sandbox *sandbox_start(const struct sandbox_config *config, char *err, size_t errlen, int *bad_option)
{
	int unused;
	bad_option = bad_option ? bad_option : &unused;
	*bad_option = 0;
	struct sandbox *sb = calloc(1, sizeof *sb);
	if (!sb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sb->listen_fd = -1;
	sb->connections.max = connection_cap(config);
	if (prepare(sb, config, err, errlen, bad_option) != 0)
		goto fail;
	if (latency_timer_start(&sb->timer) != 0 ||
	    connections_start(&sb->connections, sb->connections.max, config->request_timeout) != 0) {
		snprintf(err, errlen, "cannot start the sandbox's threads");
		goto fail;
	}
	if ((sb->listen_fd = listen_on(config->port, err, errlen)) < 0 ||
	    start_daemon(sb, config, err, errlen) != 0)
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
	/* Give the daemon's thread a moment to answer them, not more: a stop
	 * must not wait on anything a client holds. */
	for (int i = 0; i < 200 && atomic_load(&sb->suspended) > 0; i++) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	if (sb->daemon)
		MHD_stop_daemon(sb->daemon);
	if (sb->listen_fd >= 0)
		close(sb->listen_fd);
	connections_stop(&sb->connections);
	handler_close(&sb->handler);
	webhooks_stop(sb->webhooks);
	free(sb->tls_cert);
	free(sb->tls_key);
	free(sb);
}
