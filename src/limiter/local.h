/* The limiter of one process: the bucket in its own memory. */
#ifndef PULSE_LIMITER_LOCAL_H
#define PULSE_LIMITER_LOCAL_H

#include "limiter.h"

/* A limiter starting from this policy at now, with one reference; NULL
 * when out of memory. */
struct limiter *limiter_local_new(double limit, double window, double burst, double now);

/* A limiter whose bucket is share of a shared one out of reach, as
 * ratelimit_init_share (core/ratelimit.h) starts it; NULL when out of
 * memory. */
struct limiter *limiter_local_share(double limit, double window, double share, double refill,
                                    double blocked_until, double now);

#endif
