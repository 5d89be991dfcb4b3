/*
 * Priorities on a token bucket: which of the callers waiting for a token
 * takes the next one. A caller asks in a lane (interactive, normal, bulk);
 * one that is told to wait takes a place in the bucket's line, a short
 * table kept beside the bucket wherever it lives (this process, a shared
 * file; redis_bucket.lua keeps the same in Redis), so that every process
 * sees who waits ahead of it. A take leaves one token for each caller
 * waiting ahead of it: in a higher lane, or come earlier in its own.
 *
 * A reserve is a share of each window's tokens that bulk takes may not
 * spend, kept for interactive ones, until shortly before the next refill:
 * the server refills its bucket in one step, so a reserve unspent then
 * would be lost, and bulk spends it.
 *
 * Plain data and arithmetic, no locking: a limiter backend holds its lock
 * around these calls. Times are monotonic seconds.
 */
#ifndef PULSE_LANES_H
#define PULSE_LANES_H

#include "ratelimit.h"

enum lane { LANE_INTERACTIVE, LANE_NORMAL, LANE_BULK, LANES };

/* Places in a bucket's line; a caller that finds it full waits unplaced,
 * behind every placed one, unless it comes before the last of them. */
#define LANES_PLACES 128

/* A waiter not back this long after the wait it was told is gone (a
 * process killed, a call given up without leaving). */
#define LANES_GRACE 2.0

/* A reserve is let go this long before the refill, or a tenth of the
 * window if that is shorter. */
#define LANES_RELEASE 1.0

/* A caller's place in the line: 0 for none. Places count up from 1 to
 * LANES_LAST_PLACE (2^48: Redis scores them beside their lane in a
 * double), which no line reaches in the life of a machine; past it, the
 * line starts again. */
typedef unsigned long long lanes_place;
#define LANES_LAST_PLACE (1ULL << 48)

struct lanes_waiter {
	lanes_place place; /* 0: free */
	int lane;
	int owner;    /* the backend's: a shared file's worker slot */
	double lapse; /* a waiter not back by then is gone */
};

struct lanes {
	lanes_place last_place;
	double reserve; /* the share of each window's tokens held for interactive takes, 0 to 1 */
	double reserve_left;
	ratelimit_ticket reserve_window; /* the bucket's window_ticket reserve_left counts for */
	int waiting;                     /* places taken (some may have lapsed) */
	struct lanes_waiter waiters[LANES_PLACES];
};

/* The lane called name ("interactive", "normal", "bulk"), or -1. */
int lanes_parse(const char *name);
const char *lanes_name(int lane);

/*
 * ratelimit_take for a caller in lane, at *place in the line (0: none
 * yet), owner the backend's: takes a token and returns 0, leaving the
 * line; or returns the wait (or RATELIMIT_AWAIT_RESPONSE) with *place the
 * caller's, to bring to its next take. place NULL: a caller that will not
 * come back (a one-off ask) takes no place.
 */
double lanes_take(struct lanes *q, struct ratelimit_state *s, double now, int in_flight, int lane, int owner,
                  lanes_place *place, ratelimit_ticket *ticket);

/* The caller at place stops waiting without a token. */
void lanes_leave(struct lanes *q, lanes_place place);

/* Every place of owner goes (its process is gone). */
void lanes_forget_owner(struct lanes *q, int owner);

/* Callers waiting in each lane now. */
void lanes_count(struct lanes *q, double now, int counts[LANES]);

/* A line read from where other processes write it (a shared file): every
 * value made one lanes_take can use. Returns how many it changed. */
int lanes_repair(struct lanes *q, double now, double window);

#endif
