#include "metrics_server.h"

#include "util/buf.h"
#include "util/listen_address.h"
#include "util/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct metrics_server {
	struct MHD_Daemon *daemon;
};

static enum MHD_Result answer(struct MHD_Connection *connection, unsigned status, const char *type,
                              const char *text, size_t len)
{
	struct MHD_Response *response =
	    MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!response)
		return MHD_NO;
	MHD_add_response_header(response, "Content-Type", type);
	enum MHD_Result rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *path,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	(void)cls, (void)version, (void)upload_data, (void)req_cls;
	static const char text[] = "text/plain; charset=utf-8";
	if (*upload_data_size > 0) { /* a body nobody asked for: dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(path, "/metrics") != 0)
		return answer(connection, 404, text, "not found: the metrics are at /metrics\n", 39);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer(connection, 405, text, "GET /metrics\n", 13);
	struct buf out = {0};
	if (metrics_write(&out) != 0) {
		buf_free(&out);
		return answer(connection, 500, text, "out of memory\n", 14);
	}
	enum MHD_Result rc = answer(connection, 200, "text/plain; version=0.0.4; charset=utf-8",
	                            out.data ? out.data : "", out.len);
	buf_free(&out);
	return rc;
}

/* The socket listening on a, made here so that a failure says the
 * system's reason; -1 with err. */
static int listen_on(const struct listen_address *a, const char *spec, char *err, size_t errlen)
{
	int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (const struct sockaddr *)&a->addr, a->len) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "--metrics %s: cannot listen: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Where fd listens, as a URL of /metrics. */
static void url_of(int fd, char *url, size_t len)
{
	struct sockaddr_storage addr;
	socklen_t addr_len = sizeof addr;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) == 0) {
		if (addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&addr;
			inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
			port = ntohs(a6->sin6_port);
			snprintf(url, len, "http://[%s]:%u/metrics", host, port);
			return;
		}
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&addr;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
		port = ntohs(a4->sin_port);
	}
	snprintf(url, len, "http://%s:%u/metrics", host, port);
}

struct metrics_server *metrics_server_start(const char *spec, char *url, size_t url_len, char *err,
                                            size_t errlen)
{
	struct listen_address a;
	const char *why;
	if (listen_address_parse(spec, &a, &why) != 0) {
		snprintf(err, errlen, "--metrics %s: %s", spec, why);
		return NULL;
	}
	int fd = listen_on(&a, spec, err, errlen);
	if (fd < 0)
		return NULL;
	url_of(fd, url, url_len);
	struct metrics_server *s = calloc(1, sizeof *s);
	/* One options array: the shape mhd_dlopen.c forwards. */
	struct MHD_OptionItem options[] = {
	    {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL},
	    {MHD_OPTION_CONNECTION_LIMIT, 64, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	if (s)
		s->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, NULL,
		                             MHD_OPTION_ARRAY, options, MHD_OPTION_END);
	if (!s || !s->daemon) {
		snprintf(err, errlen, "--metrics %s: cannot start serving (is libmicrohttpd installed?)",
		         spec);
		close(fd);
		free(s);
		return NULL;
	}
	return s;
}

void metrics_server_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}
