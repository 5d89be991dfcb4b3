/*
 * A limiter: where the organization's token bucket lives, behind one small
 * table of operations, so that the request path (net/exchange.c) is the
 * same whichever backend holds it: this process (local.c), a file mapped
 * by the processes of a machine (shm.c) or a Redis server shared by many
 * machines (redis.c). The bucket arithmetic is core/ratelimit.c's (and its
 * port in redis_bucket.lua); a backend stores the state and applies it.
 *
 * What belongs to this process stays in struct limiter, never in the
 * shared state: the tokens it has taken whose responses have not come
 * (in_flight), which the arithmetic needs to read a response's Remaining.
 */
#ifndef PULSE_LIMITER_H
#define PULSE_LIMITER_H

#include "core/lanes.h"
#include "core/ratelimit.h"

enum limiter_answer {
	LIMITER_TAKEN,  /* a token: send the request */
	LIMITER_WAIT,   /* no token yet: ask again after *wait seconds */
	LIMITER_AWAIT,  /* a request in flight is confirming the bucket: ask again after its response */
	LIMITER_FAILED, /* the backend could not answer: limiter_error says why; nothing was taken */
};

struct limiter;

/* A token's ticket (core/ratelimit.h): 0 from a backend that gives none. */
typedef ratelimit_ticket limiter_ticket;

/* Who asks for a token: its lane (core/lanes.h), and its place in the
 * bucket's line, which a take told to wait sets and the next one brings
 * back (0: none). A take given no caller asks once, in the normal lane,
 * and takes no place. */
struct limiter_caller {
	int lane;
	lanes_place place;
};
#define LIMITER_LANE(caller) ((caller) ? (caller)->lane : LANE_NORMAL)
#define LIMITER_PLACE(caller) ((caller) ? &(caller)->place : NULL)

/* A bucket's lanes: the reserve, and the callers waiting in each lane. */
struct limiter_lanes {
	double reserve;
	int waiting[LANES];
};

/*
 * A backend. The engine runs on the same thread, so an operation blocks
 * for at most one round trip to where the state lives (redis.c: a
 * loopback or LAN round trip, bounded by connect_timeout when the server
 * is gone); LIMITER_FAILED when it cannot answer.
 */
struct limiter_ops {
	enum limiter_answer (*take)(struct limiter *l, double now, struct limiter_caller *caller,
	                            double *wait, limiter_ticket *ticket);
	/* A caller told to wait gives up its place without a token. */
	void (*leave)(struct limiter *l, lanes_place place);
	/* The share of each window held for interactive takes, kept with the
	 * bucket so that every process sharing it agrees. 0, or -1 with why
	 * in l->error. */
	int (*set_reserve)(struct limiter *l, double share, double now);
	/* Claims the fetch of name (a digest, at most 64 bytes) for this
	 * process, for lease seconds, so that the processes sharing the
	 * bucket fetch one answer once: 1 when it is this process's, 0 while
	 * another live process holds it, -1 when the store could not answer.
	 * NULL: a limiter of one process's own claims everything. */
	int (*claim)(struct limiter *l, const char *name, double lease, double now);
	void (*unclaim)(struct limiter *l, const char *name);
	/* A taken token's request got no response; NULL: nothing to undo. */
	void (*cancel)(struct limiter *l, limiter_ticket ticket);
	/* A response came for a taken token (in_flight no longer counts it).
	 * Returns how many of o's values it ignored as out of bounds. */
	int (*observe)(struct limiter *l, const struct ratelimit_observation *o, double now,
	               limiter_ticket ticket);
	struct ratelimit_view (*view)(struct limiter *l, double now);
	/* The bucket's lanes now, in every process sharing it: 0, or -1 with
	 * why in l->error. */
	int (*lanes)(struct limiter *l, double now, struct limiter_lanes *out);
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

/* A process using a bucket, for --top: its name ("pid 1234" on shm:, the
 * worker's id on Redis) and the tokens it took, by lane, since it began. */
struct limiter_process {
	char name[48];
	double taken[LANES];
};
#define LIMITER_STATUS_PROCESSES 32

/* What --status shows of one bucket. */
struct limiter_bucket_status {
	char name[65];
	struct ratelimit_view bucket;
	int confirmed;   /* the tokens are the server's word, not a guess */
	int in_flight;   /* tokens out, of every worker */
	int workers;     /* processes using it now */
	double observed; /* seconds since the last response was read (-1: none) */
	int last_status; /* of that response */
	int recovered;   /* shm: times a process died holding the file's lock */
	/* shm: times a process found the clock last written ahead of its own,
	 * and by how much the last time (seconds); values of the file found
	 * out of bounds and set right. */
	int clock_disagreements;
	double clock_disagreement;
	int repaired;
	struct limiter_lanes lanes;
	double rate_limited; /* answers of 429 read since the bucket was made or reset */
	int processes;       /* of process[], the first LIMITER_STATUS_PROCESSES using it */
	struct limiter_process process[LIMITER_STATUS_PROCESSES];
};

/* A bucket's answer to a take (core/ratelimit.h's: 0, seconds to wait, or
 * RATELIMIT_AWAIT_RESPONSE) as a limiter's, *wait set for LIMITER_WAIT:
 * the one mapping every backend uses. */
enum limiter_answer limiter_answer_of(double bucket_wait, double *wait);

/* Each counts in_flight, then asks the backend. */
enum limiter_answer limiter_take(struct limiter *l, double now, struct limiter_caller *caller, double *wait,
                                 limiter_ticket *ticket);
void limiter_leave(struct limiter *l, struct limiter_caller *caller);
int limiter_set_reserve(struct limiter *l, double share, double now);
int limiter_claim(struct limiter *l, const char *name, double lease, double now);
void limiter_unclaim(struct limiter *l, const char *name);
void limiter_cancel(struct limiter *l, limiter_ticket ticket);
void limiter_observe(struct limiter *l, const struct ratelimit_observation *o, double now,
                     limiter_ticket ticket);
struct limiter_view limiter_view(struct limiter *l, double now);
int limiter_lanes(struct limiter *l, double now, struct limiter_lanes *out);

/* Another reference, for a transfer that holds a token of l. */
struct limiter *limiter_retain(struct limiter *l);
void limiter_release(struct limiter *l); /* NULL is fine */

#endif
