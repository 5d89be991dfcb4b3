/*
 * The limiter of many machines: the bucket in a Redis server (limiter =
 * "redis://[user:password@]host:port[/db][?bucket=name]"), each step a
 * script run in Redis (redis_bucket.lua), atomic and on Redis' clock. A
 * take and an observe are one round trip each. The script is loaded again
 * when Redis forgot it (NOSCRIPT); a bucket Redis lost (a restart, a
 * FLUSHALL) starts again unconfirmed and learns from the next response.
 *
 * A round trip blocks the calling thread (the engine's, in tasks) for as
 * long as it takes: on a LAN, a fraction of a millisecond; at most the
 * timeout. When Redis cannot be reached, a take fails naming Redis, or,
 * with a fallback share, paces this process alone at that share of the
 * limit until Redis is back.
 */
#ifndef PULSE_LIMITER_REDIS_H
#define PULSE_LIMITER_REDIS_H

#include "limiter.h"

#include <stddef.h>

struct redis_limiter_options {
	const char *url;
	const char *bucket;          /* used when the URL names none */
	double limit, window, burst; /* the starting policy of a new bucket */
	double timeout;              /* seconds, to connect and for each round trip */
	double fallback_share;       /* 0: fail when Redis is away */
};

/* NULL on failure, with why in err (never the password). A Redis that is
 * down is no failure here: the first take says so. */
struct limiter *limiter_redis_open(const struct redis_limiter_options *o, char *err, size_t errlen);

/* --status and --reset, as shm.h's: the bucket named by the URL's
 * bucket=, or bucket. */
int limiter_redis_status(const char *url, const char *bucket,
                         void (*each)(const struct limiter_bucket_status *, void *), void *ctx, char *err,
                         size_t errlen);
int limiter_redis_reset(const char *url, const char *bucket, char *err, size_t errlen);

#endif
