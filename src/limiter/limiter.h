/*
 * A limiter: where the organization's token bucket lives, behind one small
 * table of operations, so that the request path (net/exchange.c) is the
 * same whichever backend holds it: this process (local.c) now, memory
 * shared by the processes of a machine or a Redis server shared by many
 * machines later. The bucket arithmetic is core/ratelimit.c's; a backend
 * stores the state and applies it there.
 *
 * What belongs to this process stays in struct limiter, never in the
 * shared state: the tokens it has taken whose responses have not come
 * (in_flight), which the arithmetic needs to read a response's Remaining.
 */
#ifndef PULSE_LIMITER_H
#define PULSE_LIMITER_H

#include "core/ratelimit.h"

enum limiter_answer {
	LIMITER_TAKEN,  /* a token: send the request */
	LIMITER_WAIT,   /* no token yet: ask again after *wait seconds */
	LIMITER_AWAIT,  /* a request in flight is confirming the bucket: ask again after its response */
	LIMITER_FAILED, /* the backend could not answer: limiter_error says why; nothing was taken */
};

struct limiter;

/*
 * A backend. No operation blocks for long: the engine runs on the same
 * thread. A backend whose state is a round trip away answers take with a
 * short LIMITER_WAIT while it asks, or LIMITER_FAILED when it cannot.
 */
struct limiter_ops {
	enum limiter_answer (*take)(struct limiter *l, double now, double *wait);
	/* A taken token's request got no response; NULL: nothing to undo. */
	void (*cancel)(struct limiter *l);
	/* A response came for a taken token (in_flight no longer counts it).
	 * Returns how many of o's values it ignored as out of bounds. */
	int (*observe)(struct limiter *l, const struct ratelimit_observation *o, double now);
	struct ratelimit_view (*view)(struct limiter *l, double now);
	void (*close)(struct limiter *l); /* frees l */
};

struct limiter {
	const struct limiter_ops *ops;
	int refs;               /* limiter_release drops one; the last closes */
	int in_flight;          /* this process's tokens taken, responses not yet come */
	double ignored_headers; /* rate-limit values ignored as garbage, counted */
	char error[256];        /* why the last LIMITER_FAILED; never holds a secret */
};

/* What client:ratelimit() and res.rate show. */
struct limiter_view {
	struct ratelimit_view bucket;
	int in_flight;
};

/* Each counts in_flight, then asks the backend. */
enum limiter_answer limiter_take(struct limiter *l, double now, double *wait);
void limiter_cancel(struct limiter *l);
void limiter_observe(struct limiter *l, const struct ratelimit_observation *o, double now);
struct limiter_view limiter_view(struct limiter *l, double now);

/* Another reference, for a transfer that holds a token of l. */
struct limiter *limiter_retain(struct limiter *l);
void limiter_release(struct limiter *l); /* NULL is fine */

#endif
