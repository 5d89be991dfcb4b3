/*
 * libFuzzer target: the rate-limit header parsers on arbitrary bytes, as
 * one value and as a whole header block, and the bucket model fed whatever
 * they accept: it must stay sane.
 */
#include "core/ratelimit.h"
#include "core/ratelimit_headers.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* What the parsers accept at all: syntax only. */
static void check_syntax(const struct ratelimit_observation *o)
{
	if (o->has_policy && !(o->policy.limit > 0 && isfinite(o->policy.limit) && o->policy.window >= 0))
		abort();
	if (o->has_retry_after && !(o->retry_after >= 0 && o->retry_after <= 1e9))
		abort();
}

/* What a response may make the client believe: every value within the
 * bounds of ratelimit_headers.h, so no wait past a day. */
static void check_bounds(const struct ratelimit_observation *o)
{
	const struct ratelimit_policy *p = &o->policy;
	if (o->has_policy &&
	    !(p->limit >= 1 && p->limit < RATELIMIT_MAX_CALLS && p->limit == floor(p->limit) &&
	      (p->burst == 0 || (p->burst >= 1 && p->burst < RATELIMIT_MAX_CALLS)) &&
	      (p->window == 0 || (p->window >= RATELIMIT_MIN_WINDOW && p->window <= RATELIMIT_MAX_WAIT))))
		abort();
	if (o->has_reset && !(o->reset >= 0 && o->reset <= RATELIMIT_MAX_WAIT))
		abort();
	if (o->has_retry_after && !(o->retry_after >= 0 && o->retry_after <= RATELIMIT_MAX_WAIT))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct ratelimit_observation block;
	ratelimit_read_response(size > 0 && data[0] & 2 ? 429 : 200, text, size, 1.7e9, &block);
	check_bounds(&block);

	struct ratelimit_observation o = {0};
	o.has_policy = ratelimit_parse_policy(text, size, &o.policy) == 0;
	o.has_remaining = ratelimit_parse_count(text, size, &o.remaining) == 0;
	o.has_reset = ratelimit_parse_count(text, size, &o.reset) == 0;
	o.has_retry_after = retry_after_parse(text, size, 1.7e9, &o.retry_after) == 0;
	o.rate_limited = size > 0 && data[0] & 1;
	check_syntax(&o);

	/* The bucket fed what a response says: it stays sane, and asks for no
	 * wait past a day (and the second a truncating Reset adds). */
	struct ratelimit_state s;
	ratelimit_init(&s, 60, 60, 60, 100);
	ratelimit_ticket ticket = 0;
	if (ratelimit_take(&s, 100, 0, 0, &ticket) != 0)
		abort(); /* a fresh bucket has a token */
	ratelimit_observe(&s, &block, 100.5, 0, ticket);
	double wait = ratelimit_take(&s, 101, 0, 0, &ticket);
	if (!(wait == RATELIMIT_AWAIT_RESPONSE || (wait >= 0 && wait <= RATELIMIT_MAX_WAIT + 1)) ||
	    !(s.tokens >= 0 && s.tokens <= s.burst))
		abort();
	return 0;
}
