/*
 * The limiter of the processes of one machine: the buckets in a file that
 * every process naming it maps (limiter = "shm:<path>"). A robust,
 * process-shared mutex guards them, so a process killed at any point,
 * holding the lock included, costs the others at most one token and never
 * wedges them; the tokens a dead process had out are given back when its
 * death is seen. Times are the machine's monotonic clock, which every
 * process shares.
 */
#ifndef PULSE_LIMITER_SHM_H
#define PULSE_LIMITER_SHM_H

#include "limiter.h"

#include <stddef.h>

/* A limiter on the bucket called name (at most 64 bytes) in the file at
 * path, made (0600) when missing; a new bucket starts from this policy,
 * and checks it with a first request, as every bucket does. What the file
 * holds is checked before it is used (anyone who may write the file may
 * write nonsense in it, or another process's clock may run ahead); a file
 * cut short under the mapping is never touched again: the process then
 * paces alone at fallback_share of the limit, or (0) fails each take.
 * NULL on failure, with why in err (a file that is not ours, another
 * version). */
struct limiter *limiter_shm_open(const char *path, const char *name, double limit, double window,
                                 double burst, double fallback_share, char *err, size_t errlen);

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
};

/* Calls each(status, ctx) for every bucket of the file at path. Returns
 * the number of buckets, or -1 with why in err. */
int limiter_shm_status(const char *path, void (*each)(const struct limiter_bucket_status *, void *),
                       void *ctx, char *err, size_t errlen);

/* Forgets the bucket called name (NULL: every bucket) of the file at path:
 * the next take starts it afresh. Returns how many it forgot, or -1. */
int limiter_shm_reset(const char *path, const char *name, char *err, size_t errlen);

#endif
