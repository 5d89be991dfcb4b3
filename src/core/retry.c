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
	struct retry_decision d = {0, 0, reason, 0};
	return d;
}

static struct retry_decision retry(double wait, const char *reason)
{
	struct retry_decision d = {1, wait, reason, 0};
	return d;
}

/* A wait the server asked for is waited in full or not at all: one that
 * would end past max_elapsed stops the retries now, saying how long. */
static struct retry_decision server_wait(const struct retry_input *in, double wait, const char *reason)
{
	if (in->elapsed + wait > in->max_elapsed) {
		struct retry_decision d = {0, wait, "the server asked to wait past retry.max_elapsed", 1};
		return d;
	}
	return retry(wait, reason);
}

/* The time left to wait before the last attempt must start. */
static double time_left(const struct retry_input *in)
{
	return in->max_elapsed - RETRY_LAST_ATTEMPT_LEAD - in->elapsed;
}

/* A backoff of ours is shortened to leave room for a last attempt, so
 * that the budget is spent, not abandoned. */
static struct retry_decision backoff(const struct retry_input *in, const char *reason)
{
	if (in->attempt >= in->max_attempts)
		return stop("retry.max_attempts reached");
	double left = time_left(in);
	if (left < 0)
		return stop("retry.max_elapsed reached");
	return retry(fmin(retry_backoff(in->attempt, in->base, in->cap, in->random), left), reason);
}

static struct retry_decision after_status(const struct retry_input *in)
{
	switch (in->status) {
	case 429:
		/* Always retried: the rate limiter holds the next attempt until the
		 * server's wait is over, so no wait is added here. */
		return server_wait(in, in->has_retry_after ? in->retry_after : 0, "rate limited (429)");
	case 503: {
		/* A traffic spike, usually over within minutes: max_elapsed bounds it,
		 * not max_attempts. Retry-After is honoured, but a server repeating
		 * "Retry-After: 0" still gets the growing backoff, not a hammering. */
		double left = time_left(in);
		double ours =
		    fmin(retry_backoff(in->attempt, in->base, in->cap, in->random), left > 0 ? left : 0);
		if (in->has_retry_after)
			return server_wait(in, fmax(in->retry_after, ours),
			                   "unavailable (503), server asked to wait");
		if (left < 0)
			return stop("retry.max_elapsed reached");
		return retry(ours, "unavailable (503)");
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

struct retry_decision retry_decide(const struct retry_input *in)
{
	switch (in->outcome) {
	case OUTCOME_NO_CONNECTION:
		if (in->first_contact)
			return stop("no response from this server yet: is base_url right?");
		return backoff(in, "could not connect");
	case OUTCOME_CERTIFICATE:
		return stop(in->first_contact ? "certificate refused: is base_url right?"
		                              : "certificate refused");
	case OUTCOME_TIMEOUT:
		return in->idempotent ? backoff(in, "timed out")
		                      : stop("timed out; not idempotent, may have been applied");
	case OUTCOME_NETWORK:
		return in->idempotent ? backoff(in, "connection failed")
		                      : stop("connection failed; not idempotent, may have been applied");
	case OUTCOME_FINAL:
		return stop(NULL);
	case OUTCOME_STATUS:
		break;
	}
	return after_status(in);
}
