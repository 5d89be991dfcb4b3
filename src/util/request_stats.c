#include "request_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void request_stats_record(struct request_stats *s, int requests, double elapsed, size_t received, size_t sent)
{
	s->requests += requests;
	s->bytes_received += (double)received;
	s->bytes_sent += (double)sent;
	s->latency[s->latency_next] = elapsed;
	s->latency_next = (s->latency_next + 1) % REQUEST_STATS_WINDOW;
	if (s->latency_count < REQUEST_STATS_WINDOW)
		s->latency_count++;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void request_stats_latencies(const struct request_stats *s, const double *p, double *out, size_t n)
{
	size_t count = s->latency_count;
	double sorted[REQUEST_STATS_WINDOW];
	memcpy(sorted, s->latency, count * sizeof *sorted);
	qsort(sorted, count, sizeof *sorted, by_value);
	for (size_t i = 0; i < n; i++) {
		size_t rank = (size_t)ceil((double)count * p[i]);
		out[i] = count == 0 ? -1 : sorted[rank < 1 ? 0 : rank - 1];
	}
}
