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

/* Calls each(status, ctx) for every bucket of the file at path. Returns
 * the number of buckets, or -1 with why in err. */
int limiter_shm_status(const char *path, void (*each)(const struct limiter_bucket_status *, void *),
                       void *ctx, char *err, size_t errlen);

/* Forgets the bucket called name (NULL: every bucket) of the file at path:
 * the next take starts it afresh. Returns how many it forgot, or -1. */
int limiter_shm_reset(const char *path, const char *name, char *err, size_t errlen);

#endif
