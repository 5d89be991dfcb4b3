/*
 * What a transport's transfers add up to: requests made (every
 * transmission, failed or not), bytes of bodies received and sent, and the latencies of
 * the most recent requests, for percentiles. Counted in C on the request's
 * path, so that counting costs no Lua work per request.
 */
#ifndef PULSE_REQUEST_STATS_H
#define PULSE_REQUEST_STATS_H

#include <stddef.h>

#define REQUEST_STATS_WINDOW 1024 /* latencies kept */

struct request_stats {
	double requests, bytes_received, bytes_sent;
	double latency[REQUEST_STATS_WINDOW]; /* seconds; a ring, oldest overwritten */
	size_t latency_count, latency_next;
};

/* One transfer: requests transmissions (libcurl may send one again), its
 * time, and the bytes of its bodies. */
void request_stats_record(struct request_stats *s, int requests, double elapsed, size_t received,
                          size_t sent);

/* Fills out[i] with the p[i]-quantile (0 < p <= 1, nearest rank) of the
 * kept latencies, or -1 when none was recorded; one sort serves all n. */
void request_stats_latencies(const struct request_stats *s, const double *p, double *out, size_t n);

#endif
