/*
 * The process's metrics: every request of every client, counted where it
 * ends (net/transport.c) and by the events the Lua layer tells (retries,
 * token waits, answers that saved a call), in atomic counters, so that a
 * thread of its own (the runner's --metrics server) reads them while the
 * script runs. Written out in the Prometheus text format, named after
 * OpenTelemetry's HTTP client conventions; no label holds an id or a URL.
 */
#ifndef PULSE_METRICS_H
#define PULSE_METRICS_H

#include "buf.h"

enum metrics_method {
	METRICS_GET,
	METRICS_POST,
	METRICS_PUT,
	METRICS_PATCH,
	METRICS_DELETE,
	METRICS_HEAD,
	METRICS_OTHER, /* OpenTelemetry's _OTHER */
	METRICS_METHODS
};

/* What the Lua layer counts: a retry, seconds waited for a token, an
 * answer from the cache, an answer shared with a twin, a stale answer
 * served; each but the wait saves a call. */
enum metrics_event {
	METRICS_RETRY,
	METRICS_TOKEN_WAIT,
	METRICS_CACHE_HIT,
	METRICS_SHARED,
	METRICS_STALE,
	METRICS_EVENTS
};

/* The method's slot: one of the five the API uses, HEAD, or other. */
enum metrics_method metrics_method_of(const char *method);

/* An attempt ended: status 0 when no response came; seconds it took;
 * transmissions libcurl made of it (a request resent on a new connection
 * counts twice). */
void metrics_record_attempt(enum metrics_method method, long status, double seconds, int transmissions);

/* Adds amount to an event's count (seconds for METRICS_TOKEN_WAIT). */
void metrics_add(enum metrics_event event, double amount);

/* Appends the Prometheus text of every counter to out: 0, or -1 when
 * memory ran out. */
int metrics_write(struct buf *out);

/* Zeroes every counter (the specs' fresh start). */
void metrics_reset(void);

#endif
