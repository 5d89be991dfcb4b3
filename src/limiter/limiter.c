#include "limiter.h"

#include <stddef.h>
#include <stdio.h>

enum limiter_answer limiter_answer_of(double bucket_wait, double *wait)
{
	if (bucket_wait == 0)
		return LIMITER_TAKEN;
	if (bucket_wait == RATELIMIT_AWAIT_RESPONSE)
		return LIMITER_AWAIT;
	*wait = bucket_wait;
	return LIMITER_WAIT;
}

enum limiter_answer limiter_take(struct limiter *l, double now, struct limiter_caller *caller, double *wait,
                                 limiter_ticket *ticket)
{
	*wait = 0;
	*ticket = 0;
	enum limiter_answer answer = l->ops->take(l, now, caller, wait, ticket);
	if (answer == LIMITER_TAKEN)
		l->in_flight++;
	return answer;
}

void limiter_leave(struct limiter *l, struct limiter_caller *caller)
{
	if (caller->place != 0)
		l->ops->leave(l, caller->place);
	caller->place = 0;
}

int limiter_set_reserve(struct limiter *l, double share, double now)
{
	if (!(share >= 0 && share <= 1)) {
		snprintf(l->error, sizeof l->error, "a reserve is a share of the limit, from 0 to 1");
		return -1;
	}
	return l->ops->set_reserve(l, share, now);
}

int limiter_claim(struct limiter *l, const char *name, double lease, double now)
{
	return l->ops->claim ? l->ops->claim(l, name, lease, now) : 1;
}

void limiter_unclaim(struct limiter *l, const char *name)
{
	if (l->ops->unclaim)
		l->ops->unclaim(l, name);
}

void limiter_cancel(struct limiter *l, limiter_ticket ticket)
{
	if (l->in_flight > 0)
		l->in_flight--;
	if (l->ops->cancel)
		l->ops->cancel(l, ticket);
}

void limiter_observe(struct limiter *l, const struct ratelimit_observation *o, double now,
                     limiter_ticket ticket)
{
	if (l->in_flight > 0)
		l->in_flight--;
	l->ignored_headers += o->ignored + l->ops->observe(l, o, now, ticket);
}

struct limiter_view limiter_view(struct limiter *l, double now)
{
	return (struct limiter_view){.bucket = l->ops->view(l, now), .in_flight = l->in_flight};
}

int limiter_lanes(struct limiter *l, double now, struct limiter_lanes *out)
{
	*out = (struct limiter_lanes){0};
	return l->ops->lanes(l, now, out);
}

struct limiter *limiter_retain(struct limiter *l)
{
	l->refs++;
	return l;
}

void limiter_release(struct limiter *l)
{
	if (l && --l->refs == 0)
		l->ops->close(l);
}
