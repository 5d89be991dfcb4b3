#include "local.h"

#include <stdlib.h>

struct local_limiter {
	struct limiter base; /* first: a struct limiter * is a struct local_limiter * */
	struct ratelimit_state bucket;
	struct lanes line; /* the tasks of this process waiting */
};

static struct local_limiter *of(struct limiter *l)
{
	return (struct local_limiter *)l;
}

static struct ratelimit_state *bucket_of(struct limiter *l)
{
	return &of(l)->bucket;
}

static enum limiter_answer local_take(struct limiter *l, double now, struct limiter_caller *caller,
                                      double *wait, limiter_ticket *ticket)
{
	return limiter_answer_of(lanes_take(&of(l)->line, bucket_of(l), now, l->in_flight,
	                                    LIMITER_LANE(caller), 0, LIMITER_PLACE(caller), ticket),
	                         wait);
}

static void local_leave(struct limiter *l, lanes_place place)
{
	lanes_leave(&of(l)->line, place);
}

static int local_set_reserve(struct limiter *l, double share, double now)
{
	(void)now;
	of(l)->line.reserve = share;
	of(l)->line.reserve_window = 0; /* counted afresh at the next take */
	return 0;
}

static int local_observe(struct limiter *l, const struct ratelimit_observation *o, double now,
                         limiter_ticket ticket)
{
	return ratelimit_observe(bucket_of(l), o, now, l->in_flight, ticket);
}

static struct ratelimit_view local_view(struct limiter *l, double now)
{
	return ratelimit_view(bucket_of(l), now);
}

static int local_lanes(struct limiter *l, double now, struct limiter_lanes *out)
{
	out->reserve = of(l)->line.reserve;
	lanes_count(&of(l)->line, now, out->waiting);
	return 0;
}

static void local_close(struct limiter *l)
{
	free(l);
}

static const struct limiter_ops local_ops = {
    .take = local_take,
    .leave = local_leave,
    .set_reserve = local_set_reserve,
    .cancel = NULL, /* a token spent is spent: the server may have counted it */
    .observe = local_observe,
    .view = local_view,
    .lanes = local_lanes,
    .close = local_close,
};

struct limiter *limiter_local_new(double limit, double window, double burst, double now)
{
	struct local_limiter *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->base.ops = &local_ops;
	l->base.refs = 1;
	ratelimit_init(&l->bucket, limit, window, burst, now);
	return &l->base;
}

struct limiter *limiter_local_share(double limit, double window, double share, double refill,
                                    double blocked_until, double now)
{
	struct limiter *base = limiter_local_new(limit, window, limit, now);
	if (base)
		ratelimit_init_share(&((struct local_limiter *)base)->bucket, limit, window, share, refill,
		                     blocked_until, now);
	return base;
}
