#include "limiter.h"

#include <stddef.h>

enum limiter_answer limiter_answer_of(double bucket_wait, double *wait)
{
	if (bucket_wait == 0)
		return LIMITER_TAKEN;
	if (bucket_wait == RATELIMIT_AWAIT_RESPONSE)
		return LIMITER_AWAIT;
	*wait = bucket_wait;
	return LIMITER_WAIT;
}

enum limiter_answer limiter_take(struct limiter *l, double now, double *wait, limiter_ticket *ticket)
{
	*wait = 0;
	*ticket = 0;
	enum limiter_answer answer = l->ops->take(l, now, wait, ticket);
	if (answer == LIMITER_TAKEN)
		l->in_flight++;
	return answer;
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
