#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* OpenTelemetry's advised boundaries for http.client.request.duration. */
static const double BOUNDS[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
#define BUCKETS (sizeof BOUNDS / sizeof BOUNDS[0])

/* The status's class: 1xx to 5xx, or none (no response). */
#define CLASSES 6
static const char *const CLASS_NAMES[CLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
static const char *const METHOD_NAMES[METRICS_METHODS] = {"GET",    "POST", "PUT",   "PATCH",
                                                          "DELETE", "HEAD", "_OTHER"};

typedef _Atomic unsigned long long counter;

/* Durations in microseconds: an integer adds atomically. */
static struct {
	counter in_bucket[METRICS_METHODS][CLASSES][BUCKETS + 1]; /* the last: above every bound */
	counter sum_us[METRICS_METHODS][CLASSES];
	counter requests, rate_limited;
	counter events[METRICS_EVENTS]; /* METRICS_TOKEN_WAIT in microseconds */
} m;

static void add(counter *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long long get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static unsigned long long micros(double seconds)
{
	return seconds > 0 && seconds < 1e9 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0;
}

enum metrics_method metrics_method_of(const char *method)
{
	for (int i = 0; i < METRICS_OTHER; i++)
		if (strcmp(method, METHOD_NAMES[i]) == 0)
			return (enum metrics_method)i;
	return METRICS_OTHER;
}

void metrics_record_attempt(enum metrics_method method, long status, double seconds, int transmissions)
{
	int class = status >= 100 && status < 600 ? (int)(status / 100) : 0;
	size_t bucket = 0;
	while (bucket < BUCKETS && seconds > BOUNDS[bucket])
		bucket++;
	add(&m.in_bucket[method][class][bucket], 1);
	add(&m.sum_us[method][class], micros(seconds));
	add(&m.requests, transmissions > 1 ? (unsigned long long)transmissions : 1);
	if (status == 429)
		add(&m.rate_limited, 1);
}

void metrics_add(enum metrics_event event, double amount)
{
	add(&m.events[event], event == METRICS_TOKEN_WAIT ? micros(amount) : (unsigned long long)amount);
}

void metrics_reset(void)
{
	memset(&m, 0, sizeof m);
}

/* Appends one formatted line; 0 or -1. */
__attribute__((format(printf, 2, 3))) static int line(struct buf *out, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof text ? -1 : buf_append(out, text, (size_t)n);
}

static int counter_family(struct buf *out, const char *name, const char *help, double value)
{
	return line(out, "# HELP %s %s\n# TYPE %s counter\n%s %.17g\n", name, help, name, name, value);
}

static int histogram(struct buf *out)
{
	const char *name = "http_client_request_duration_seconds";
	if (line(out,
	         "# HELP %s Duration of the client's HTTP requests, each attempt.\n# TYPE %s histogram\n",
	         name, name) != 0)
		return -1;
	for (int method = 0; method < METRICS_METHODS; method++) {
		for (int class = 0; class < CLASSES; class ++) {
			unsigned long long counts[BUCKETS + 1], total = 0;
			for (size_t b = 0; b <= BUCKETS; b++)
				total += counts[b] = get(&m.in_bucket[method][class][b]);
			if (total == 0)
				continue;
			char labels[128];
			snprintf(labels, sizeof labels,
			         "http_request_method=\"%s\",http_response_status_class=\"%s\"",
			         METHOD_NAMES[method], CLASS_NAMES[class]);
			unsigned long long below = 0;
			for (size_t b = 0; b < BUCKETS; b++) {
				below += counts[b];
				if (line(out, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, BOUNDS[b],
				         below) != 0)
					return -1;
			}
			if (line(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n%s_sum{%s} %.6f\n%s_count{%s} %llu\n",
			         name, labels, total, name, labels,
			         (double)get(&m.sum_us[method][class]) / 1e6, name, labels, total) != 0)
				return -1;
		}
	}
	return 0;
}

int metrics_write(struct buf *out)
{
	double hits = (double)get(&m.events[METRICS_CACHE_HIT]);
	double shared = (double)get(&m.events[METRICS_SHARED]);
	double stale = (double)get(&m.events[METRICS_STALE]);
	if (histogram(out) != 0 ||
	    counter_family(out, "pulse_client_requests_total",
	                   "Requests sent, every transmission of every attempt.",
	                   (double)get(&m.requests)) != 0 ||
	    counter_family(out, "pulse_client_retries_total", "Attempts made again after a failure or a 429.",
	                   (double)get(&m.events[METRICS_RETRY])) != 0 ||
	    counter_family(out, "pulse_client_rate_limited_total", "Answers of 429 Too Many Requests.",
	                   (double)get(&m.rate_limited)) != 0 ||
	    counter_family(out, "pulse_client_token_wait_seconds_total",
	                   "Seconds requests waited for a token of the rate limit, added up.",
	                   (double)get(&m.events[METRICS_TOKEN_WAIT]) / 1e6) != 0 ||
	    counter_family(out, "pulse_client_cache_hits_total", "Answers from the response cache, fresh.",
	                   hits) != 0 ||
	    counter_family(out, "pulse_client_calls_shared_total",
	                   "Answers that rode along with an identical request already out.", shared) != 0 ||
	    counter_family(out, "pulse_client_calls_saved_total",
	                   "Answers given without a call: cache hits, stale answers served, shared answers.",
	                   hits + shared + stale) != 0)
		return -1;
	return 0;
}
