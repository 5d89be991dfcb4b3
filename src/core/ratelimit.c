#include "ratelimit.h"

#include <math.h>

void ratelimit_init(struct ratelimit_state *s, double limit, double window, double burst, double now)
{
	s->limit = limit;
	s->window = window;
	s->burst = burst;
	s->tokens = burst;
	s->next_refill = now + window;
	s->blocked_until = 0;
	s->reset_rounds_down = 0;
	s->confirmed = 0;
}

static void refill(struct ratelimit_state *s, double now)
{
	if (now < s->next_refill)
		return;
	double periods = floor((now - s->next_refill) / s->window) + 1;
	s->tokens = fmin(s->burst, s->tokens + periods * s->limit);
	s->next_refill += periods * s->window;
	s->confirmed = 0;
}

double ratelimit_take(struct ratelimit_state *s, double now, int in_flight)
{
	if (now < s->blocked_until)
		return s->blocked_until - now;
	refill(s, now);
	if (!s->confirmed && in_flight > 0)
		return RATELIMIT_AWAIT_RESPONSE;
	if (s->tokens >= 1) {
		s->tokens -= 1;
		return 0;
	}
	return s->next_refill - now;
}

static void apply_policy(struct ratelimit_state *s, const struct ratelimit_policy *p)
{
	s->limit = p->limit;
	if (p->window > 0)
		s->window = p->window;
	/* Without b the bucket holds one window's worth. */
	s->burst = p->burst > 0 ? p->burst : s->limit;
	if (s->tokens > s->burst)
		s->tokens = s->burst;
}

/*
 * Reset is whole seconds, so now + Reset is the refill time give or take
 * one second. A server that rounds up makes it an upper bound, tightened by
 * each later reading of the same period; one that rounds down (it says 0
 * before the refill) needs the extra second to stay on the late side.
 */
static void apply_reset(struct ratelimit_state *s, double reset, double now)
{
	if (reset == 0)
		s->reset_rounds_down = 1;
	double due = now + reset + (s->reset_rounds_down ? 1 : 0);
	if (fabs(due - s->next_refill) < 1)
		s->next_refill = fmin(due, s->next_refill);
	else
		s->next_refill = due;
}

int ratelimit_observe(struct ratelimit_state *s, const struct ratelimit_observation *o, double now,
                      int in_flight)
{
	s->confirmed = 1;
	if (o->has_policy)
		apply_policy(s, &o->policy);
	/* A refill further off than a window cannot be: the value is garbage. */
	int reset_sane = o->has_reset && o->reset <= s->window;
	if (reset_sane)
		apply_reset(s, o->reset, now);
	if (o->has_remaining) {
		/* The server may not have counted the requests still in flight. */
		double left = o->remaining - in_flight;
		s->tokens = fmin(s->burst, left > 0 ? left : 0);
	}
	if (o->rate_limited) {
		double wait = o->has_retry_after ? o->retry_after : reset_sane ? o->reset : s->window;
		/* "0" from whole-second headers means under a second: retrying at
		 * once would only draw another 429. */
		if (wait < RATELIMIT_MIN_429_WAIT)
			wait = RATELIMIT_MIN_429_WAIT;
		s->tokens = 0;
		if (now + wait > s->blocked_until)
			s->blocked_until = now + wait;
		/* Retry-After is the server's word on when calls come back. */
		s->next_refill = now + wait;
	}
	return o->has_reset && !reset_sane;
}

struct ratelimit_view ratelimit_view(const struct ratelimit_state *live, double now)
{
	struct ratelimit_state s = *live;
	refill(&s, now);
	return (struct ratelimit_view){
	    .limit = s.limit,
	    .window = s.window,
	    .burst = s.burst,
	    .remaining = floor(s.tokens),
	    .reset = s.next_refill > now ? s.next_refill - now : 0,
	    .blocked = s.blocked_until > now ? s.blocked_until - now : 0,
	};
}
