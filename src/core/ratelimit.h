/*
 * The organization's token bucket as the client models it: LIMIT calls are
 * added every WINDOW seconds, up to BURST. It starts from the configured
 * policy and re-syncs from each response's headers. Plain data and
 * arithmetic: where the state is stored (this process, shared memory,
 * Redis) is a limiter backend's concern (limiter/limiter.h), and so is the
 * count of a process's requests in flight, which the functions below take
 * as an argument. Times are monotonic seconds.
 */
#ifndef PULSE_RATELIMIT_H
#define PULSE_RATELIMIT_H

#include "ratelimit_headers.h"

/*
 * A token's ticket: which take it was, in the order of the takes at the
 * bucket, so that answers, which come in any order when requests go at
 * once (a batch, or several processes sharing the bucket), are read for
 * what they are. 0 for an answer of no known take: read as the newest.
 */
typedef unsigned long long ratelimit_ticket;

struct ratelimit_state {
	double limit, window, burst;
	double tokens;      /* believed left in the bucket */
	double next_refill; /* when the next LIMIT tokens arrive */
	/* The lowest Remaining the server has said in this window (-1: none
	 * yet). Remaining only falls within a window, so the lowest is the
	 * newest word, in whatever order the answers came; the tokens are it
	 * less the requests still out, which it may not count. */
	double lowest_remaining;
	ratelimit_ticket last_ticket;   /* of the last take */
	ratelimit_ticket window_ticket; /* the first take of this window: answers to
	                                   older ones speak of the last window */
	double blocked_until;           /* a 429's wait: nothing is sent before it */
	double block_length;            /* how long that wait was, when it began */
	int reset_rounds_down;          /* the server once said Reset 0: it truncates */
	/* The tokens are the server's word (from a response), not a prediction:
	 * until then only one request at a time goes out to check. */
	int confirmed;
};

/* The least a 429 blocks for, whatever its headers say (seconds). */
#define RATELIMIT_MIN_429_WAIT 1.0
/* The longest block a shared state may hold (a day): a Retry-After past it
 * is not the server's word on this bucket. */
#define RATELIMIT_MAX_BLOCK 86400.0

void ratelimit_init(struct ratelimit_state *s, double limit, double window, double burst, double now);

/*
 * A bucket of a process's own, for when the shared bucket (limit per
 * window) is out of its reach: its share of the limit per window, at least
 * 1. With refill > 0 (the shared bucket's next refill as last seen, on its
 * phase), it starts empty, since the others may have spent the window
 * already: its first tokens come at the first refill after now on that
 * phase, and none before blocked_until. With refill 0 (nothing seen), it
 * starts full. window must be above 0 (a caller falls back to the policy
 * it was given when what it saw is none); the phase is not kept without.
 */
void ratelimit_init_share(struct ratelimit_state *s, double limit, double window, double share, double refill,
                          double blocked_until, double now);

/*
 * Takes a token and returns 0, or returns how long to sleep before asking
 * again, or RATELIMIT_AWAIT_RESPONSE: while the tokens are predicted (before
 * the first response, and after each refill the model expects), one request
 * at a time goes out and the others wait for its response, so that a
 * server whose bucket is not what the model thinks is never flooded.
 * in_flight: tokens taken whose responses have not come.
 */
#define RATELIMIT_AWAIT_RESPONSE (-1.0)
/* How soon to ask again when the tokens are held back only for requests in
 * flight (see ratelimit_take). */
#define RATELIMIT_RECHECK 0.05
/* held: tokens the take must leave, for callers ahead of it (core/lanes.h);
 * when only those remain, it asks again in RATELIMIT_RECHECK. */
double ratelimit_take(struct ratelimit_state *s, double now, int in_flight, double held,
                      ratelimit_ticket *ticket);

/* Adds the refills due by now (ratelimit_take does it first). */
void ratelimit_refill(struct ratelimit_state *s, double now);

/* A response came for the token of ticket; in_flight no longer counts it.
 * An answer to a take of the last window is read for its 429 and policy
 * only. Returns how many of o's values it ignored (a Reset past the
 * window). */
int ratelimit_observe(struct ratelimit_state *s, const struct ratelimit_observation *o, double now,
                      int in_flight, ratelimit_ticket ticket);

/* A response read by a bucket of one process's own that paces it at share
 * (0 to 1) of the organization's limit, while the bucket it shares with
 * others is out of reach: the server speaks of the whole organization's
 * bucket, which other processes spend too, so this one keeps to its share
 * of each window, in the server's phase (Reset), and stops for a 429. */
int ratelimit_observe_share(struct ratelimit_state *s, const struct ratelimit_observation *o, double share,
                            double now, int in_flight, ratelimit_ticket ticket);

/* A state read from where other processes write it (a shared file): every
 * value made one this arithmetic can use. A policy of nonsense (not finite,
 * below a thousandth, past 1e9) becomes the one given; tokens stay within the
 * bucket; no time may put the next refill more than a window away, or a
 * block further off than the longer of a window and the block's own
 * length (another process's clock, ahead of this one, writes such times).
 * Returns how many values it changed. */
int ratelimit_repair(struct ratelimit_state *s, double now, double limit, double window, double burst);

/* The bucket as it stands at now, refills included: reset and blocked are
 * seconds from now, remaining whole tokens. */
struct ratelimit_view {
	double limit, window, burst, remaining, reset, blocked;
};
struct ratelimit_view ratelimit_view(const struct ratelimit_state *s, double now);

#endif
