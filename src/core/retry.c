#include "retry.h"

#include <math.h>
#include <stddef.h>

double retry_backoff(int attempt, double base, double cap, double random)
{
	double ceiling = base * pow(2, attempt > 1 ? attempt - 1 : 0);
	return random * fmin(cap, ceiling);
}

static struct retry_decision stop(const char *reason)
{
	struct retry_decision d = {0, 0, reason};
	return d;
}

/* A wait that would run past max_elapsed ends the retries now, not later. */
static struct retry_decision wait_then_retry(const struct retry_input *in, double wait, const char *reason)
{
	if (in->elapsed + wait > in->max_elapsed)
		return stop("retry.max_elapsed would be exceeded");
	struct retry_decision d = {1, wait, reason};
	return d;
}

static struct retry_decision backoff(const struct retry_input *in, const char *reason)
{
	if (in->attempt >= in->max_attempts)
		return stop("retry.max_attempts reached");
	return wait_then_retry(in, retry_backoff(in->attempt, in->base, in->cap, in->random), reason);
}

struct retry_decision retry_decide(const struct retry_input *in)
{
	switch (in->outcome) {
	case OUTCOME_NO_CONNECTION:
		return backoff(in, "could not connect");
	case OUTCOME_TIMEOUT:
		return in->idempotent ? backoff(in, "timed out")
		                      : stop("timed out; not idempotent, may have been applied");
	case OUTCOME_NETWORK:
		return in->idempotent ? backoff(in, "connection failed")
		                      : stop("connection failed; not idempotent, may have been applied");
	case OUTCOME_STATUS:
		break;
	}
	switch (in->status) {
	case 429:
		/* Always retried: the rate limiter holds the next attempt until the
		 * server's wait is over, so no wait is added here. */
		return wait_then_retry(in, in->has_retry_after ? in->retry_after : 0, "rate limited (429)");
	case 503: {
		/* A traffic spike, usually over within minutes: max_elapsed bounds it,
		 * not max_attempts. Retry-After is honoured, but a server repeating
		 * "Retry-After: 0" still gets the growing backoff, not a hammering. */
		double backoff = retry_backoff(in->attempt, in->base, in->cap, in->random);
		if (in->has_retry_after)
			return wait_then_retry(in, fmax(in->retry_after, backoff),
			                       "unavailable (503), server asked to wait");
		return wait_then_retry(in, backoff, "unavailable (503)");
	}
	case 502:
	case 504:
		return in->idempotent
		           ? backoff(in, in->status == 502 ? "bad gateway (502)" : "gateway timeout (504)")
		           : stop("gateway error; not idempotent, may have been applied");
	default:
		return stop(NULL);
	}
}
