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
	s->block_length = 0;
	s->reset_rounds_down = 0;
	s->confirmed = 0;
	s->lowest_remaining = -1;
	s->last_ticket = 0;
	s->window_ticket = 1;
}

void ratelimit_init_share(struct ratelimit_state *s, double limit, double window, double share, double refill,
                          double blocked_until, double now)
{
	double own = fmax(1, floor(limit * share));
	ratelimit_init(s, own, window, own, now);
	if (refill <= 0)
		return;
	if (refill <= now) /* on the phase: the first refill after now */
		refill = window > 0 ? refill + (floor((now - refill) / window) + 1) * window : now;
	s->tokens = 0;
	s->next_refill = refill;
	s->blocked_until = blocked_until;
}

/* The bucket enters a new window: the takes from the next on belong to it. */
static void new_window(struct ratelimit_state *s)
{
	s->lowest_remaining = -1;
	s->window_ticket = s->last_ticket + 1;
}

void ratelimit_refill(struct ratelimit_state *s, double now)
{
	if (now < s->next_refill)
		return;
	double periods = floor((now - s->next_refill) / s->window) + 1;
	s->tokens = fmin(s->burst, s->tokens + periods * s->limit);
	s->next_refill += periods * s->window;
	s->confirmed = 0;
	new_window(s);
}

double ratelimit_take(struct ratelimit_state *s, double now, int in_flight, double held,
                      ratelimit_ticket *ticket)
{
	if (now < s->blocked_until)
		return s->blocked_until - now;
	ratelimit_refill(s, now);
	if (!s->confirmed && in_flight > 0)
		return RATELIMIT_AWAIT_RESPONSE;
	if (s->tokens >= 1 + held) {
		s->tokens -= 1;
		*ticket = ++s->last_ticket;
		return 0;
	}
	if (s->tokens >= 1) /* held for callers ahead, who take them soon */
		return RATELIMIT_RECHECK;
	double wait = s->next_refill - now;
	/* The server said tokens remain, and they are held back for requests
	 * out, which it may have counted already: their answers can free some
	 * before the refill, so ask again soon rather than at it (a worker sent
	 * to sleep till the refill cost a shared job its last window). */
	if (in_flight > 0 && s->lowest_remaining >= 1 && wait > RATELIMIT_RECHECK)
		wait = RATELIMIT_RECHECK;
	return wait;
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
static void apply_reset(struct ratelimit_state *s, double reset, double now, ratelimit_ticket ticket)
{
	if (reset == 0)
		s->reset_rounds_down = 1;
	double due = now + reset + (s->reset_rounds_down ? 1 : 0);
	if (fabs(due - s->next_refill) < 1) {
		s->next_refill = fmin(due, s->next_refill);
		return;
	}
	/* The server refilled before the model expected: this answer and the
	 * later takes are of its new window. */
	if (due > s->next_refill + s->window / 2) {
		s->lowest_remaining = -1;
		s->window_ticket = ticket ? ticket : s->last_ticket + 1;
	}
	s->next_refill = due;
}

int ratelimit_observe(struct ratelimit_state *s, const struct ratelimit_observation *o, double now,
                      int in_flight, ratelimit_ticket ticket)
{
	if (o->has_policy)
		apply_policy(s, &o->policy);
	/* An answer to a take of the last window: its Remaining and Reset are
	 * old news, and it does not confirm this window's tokens. */
	int current = ticket == 0 || ticket >= s->window_ticket;
	/* A refill further off than a window cannot be: the value is garbage. */
	int reset_sane = o->has_reset && o->reset <= s->window;
	if (current) {
		s->confirmed = 1;
		if (reset_sane)
			apply_reset(s, o->reset, now, ticket);
		if (o->has_remaining) {
			if (s->lowest_remaining < 0 || o->remaining < s->lowest_remaining)
				s->lowest_remaining = o->remaining;
			/* The server may not have counted the requests still out. */
			double left = s->lowest_remaining - in_flight;
			s->tokens = fmin(s->burst, left > 0 ? left : 0);
		}
	}
	if (o->rate_limited) {
		double wait = o->has_retry_after      ? o->retry_after
		              : current && reset_sane ? o->reset
		                                      : s->window;
		/* "0" from whole-second headers means under a second: retrying at
		 * once would only draw another 429. */
		if (wait < RATELIMIT_MIN_429_WAIT)
			wait = RATELIMIT_MIN_429_WAIT;
		s->tokens = 0;
		s->lowest_remaining = 0;
		if (now + wait > s->blocked_until) {
			s->blocked_until = now + wait;
			s->block_length = wait;
		}
		/* Retry-After is the server's word on when calls come back. */
		s->next_refill = now + wait;
	}
	return o->has_reset && !reset_sane;
}

int ratelimit_observe_share(struct ratelimit_state *s, const struct ratelimit_observation *o, double share,
                            double now, int in_flight, ratelimit_ticket ticket)
{
	struct ratelimit_observation mine = *o;
	mine.policy.limit = fmax(1, floor(o->policy.limit * share));
	mine.policy.burst = o->policy.burst > 0 ? fmax(1, floor(o->policy.burst * share)) : 0;
	mine.has_remaining = 0;
	return ratelimit_observe(s, &mine, now, in_flight, ticket);
}

/* A policy value: from a thousandth to 1e9 (a window shorter than a
 * millisecond would make a refill's count of windows overflow). */
static int sane_rate(double v)
{
	return isfinite(v) && v >= 1e-3 && v <= 1e9;
}

/* Sets *v to to when it is not already, counting the change in *changed. */
static void set(double *v, double to, int *changed)
{
	if (*v != to) {
		*v = to;
		(*changed)++;
	}
}

int ratelimit_repair(struct ratelimit_state *s, double now, double limit, double window, double burst)
{
	int changed = 0;
	if (!sane_rate(s->limit) || !sane_rate(s->window) || !sane_rate(s->burst)) {
		set(&s->limit, limit, &changed);
		set(&s->window, window, &changed);
		set(&s->burst, burst, &changed);
	}
	if (!isfinite(s->tokens) || s->tokens < 0)
		set(&s->tokens, 0, &changed);
	if (s->tokens > s->burst)
		set(&s->tokens, s->burst, &changed);
	if (!isfinite(s->next_refill) || s->next_refill > now + s->window)
		set(&s->next_refill, now + s->window, &changed);
	/* A million windows ago: the bucket is full by now (and counting the
	 * windows between would lose the time to rounding). */
	if (s->next_refill < now - 1e6 * s->window) {
		set(&s->next_refill, now + s->window, &changed);
		set(&s->tokens, s->burst, &changed);
	}
	if (!isfinite(s->lowest_remaining))
		set(&s->lowest_remaining, -1, &changed);
	if (!isfinite(s->block_length) || s->block_length < 0 || s->block_length > RATELIMIT_MAX_BLOCK)
		set(&s->block_length, 0, &changed);
	double longest = fmax(s->window, s->block_length);
	if (!isfinite(s->blocked_until) || s->blocked_until > now + longest)
		set(&s->blocked_until, now + longest, &changed);
	return changed;
}

struct ratelimit_view ratelimit_view(const struct ratelimit_state *live, double now)
{
	struct ratelimit_state s = *live;
	ratelimit_refill(&s, now);
	return (struct ratelimit_view){
	    .limit = s.limit,
	    .window = s.window,
	    .burst = s.burst,
	    .remaining = floor(s.tokens),
	    .reset = s.next_refill > now ? s.next_refill - now : 0,
	    .blocked = s.blocked_until > now ? s.blocked_until - now : 0,
	};
}
