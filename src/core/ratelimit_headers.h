/*
 * Parsers for the rate-limit response headers. Each takes the raw field
 * value (not NUL-terminated) and returns 0 with the result filled in, or
 * -1 when the value is malformed: then the caller must ignore it.
 */
#ifndef PULSE_RATELIMIT_HEADERS_H
#define PULSE_RATELIMIT_HEADERS_H

#include <stddef.h>

struct ratelimit_policy {
	double limit;  /* calls per window */
	double window; /* seconds; 0 when the value gave none */
	double burst;  /* bucket size; 0 when the value gave none */
};

/*
 * A quota policy: "60;w=60;b=60" (Organization-RateLimit-Limit, and
 * RateLimit-Policy), or the IETF drafts' "10, 10;w=1" (RateLimit-Limit):
 * a Structured Fields list whose first member carrying w= is the policy,
 * or, with none, its first member's bare limit.
 */
int ratelimit_parse_policy(const char *value, size_t len, struct ratelimit_policy *out);

/* RateLimit-Remaining and RateLimit-Reset: a non-negative integer. */
int ratelimit_parse_count(const char *value, size_t len, double *out);

/*
 * Retry-After (RFC 9110 section 10.2.3): delta-seconds, or an HTTP-date
 * (IMF-fixdate, RFC 850 or asctime form) turned into seconds from now_epoch.
 * A date in the past gives 0. ratelimit_read_response counts from the
 * response's Date instead, when it has one.
 */
int retry_after_parse(const char *value, size_t len, double now_epoch, double *delay);

/* What one response said; each has_ flag tells whether its field is valid. */
struct ratelimit_observation {
	int has_policy, has_remaining, has_reset, has_retry_after;
	struct ratelimit_policy policy;
	double remaining, reset, retry_after;
	int rate_limited; /* the status was 429 */
	int ignored;      /* fields present but malformed or out of bounds */
};

/*
 * The bounds of a sane value; past them a value is ignored like garbage,
 * so that no header can make the client wait past a day or model a bucket
 * it can never take from: limit and burst whole numbers from 1 to below
 * 1e9 (the rate_limit option's own bounds), a window from 1 s to a day,
 * Reset and Retry-After at most a day (Reset also at most the window:
 * ratelimit_observe checks that, knowing the window).
 */
#define RATELIMIT_MAX_CALLS 1e9
#define RATELIMIT_MIN_WINDOW 1.0
#define RATELIMIT_MAX_WAIT 86400.0

/*
 * Reads a response's status and header block (header_block.h) into o. The
 * policy comes from the first of Organization-RateLimit-Limit,
 * RateLimit-Policy and RateLimit-Limit present; a malformed value, or one
 * outside the bounds above, leaves its has_ flag 0 and counts in ignored.
 */
void ratelimit_read_response(long status, const char *block, size_t len, double now_epoch,
                             struct ratelimit_observation *o);

#endif
