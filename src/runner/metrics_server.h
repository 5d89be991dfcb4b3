/*
 * pulse-lua --metrics ADDR:PORT: the process's metrics (util/metrics.h)
 * served over HTTP at /metrics, from libmicrohttpd's own thread, for the
 * life of the run: a Lua state cannot answer while a script holds it, and
 * the counters are atomics any thread may read.
 */
#ifndef PULSE_RUNNER_METRICS_SERVER_H
#define PULSE_RUNNER_METRICS_SERVER_H

#include <stddef.h>

struct metrics_server;

/* Serves on spec (util/listen_address.h's forms). NULL on failure, with
 * why in err. *url is set to where it answers ("http://127.0.0.1:9464/metrics"). */
struct metrics_server *metrics_server_start(const char *spec, char *url, size_t url_len, char *err,
                                            size_t errlen);

void metrics_server_stop(struct metrics_server *s); /* NULL is fine */

#endif
