#include "request_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void request_stats_record(struct request_stats *s, double elapsed, size_t received, size_t sent)
{
	s->requests++;
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

double request_stats_latency(const struct request_stats *s, double p)
{
	size_t n = s->latency_count;
	if (n == 0)
		return -1;
	double sorted[REQUEST_STATS_WINDOW];
	memcpy(sorted, s->latency, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, by_value);
	size_t rank = (size_t)ceil((double)n * p);
	return sorted[rank < 1 ? 0 : rank - 1];
}
