/*
 * Whether and when to send a request again. The rules are the product's;
 * the numbers in them (attempts, time, backoff) are the caller's options.
 */
#ifndef PULSE_RETRY_H
#define PULSE_RETRY_H

enum retry_outcome {
	OUTCOME_STATUS,        /* a response came: see status */
	OUTCOME_NO_CONNECTION, /* the request never reached the server (DNS, refused, TLS) */
	OUTCOME_CERTIFICATE,   /* the server's certificate was refused: never sent, never retried */
	OUTCOME_TIMEOUT,
	OUTCOME_NETWORK, /* the connection failed part-way: it may have been applied */
	OUTCOME_FINAL,   /* nothing a new attempt could change: a body too large, a redirect refused */
};

struct retry_input {
	enum retry_outcome outcome;
	int status;
	int idempotent; /* GET, HEAD, PUT, DELETE, OPTIONS, or the caller opted in */
	int attempt;    /* the attempt that just ended, from 1 */
	double elapsed; /* seconds since the first attempt began */
	/* No response has come yet from this origin (for this client): a
	 * failure to reach it is more likely a wrong base URL than an outage. */
	int first_contact;
	int has_retry_after;
	double retry_after;
	int max_attempts;
	double max_elapsed;
	double base, cap; /* exponential backoff, seconds */
	double random;    /* uniform in [0, 1): the jitter */
};

struct retry_decision {
	int retry;
	double wait;        /* before the next attempt (the rate limiter may add more) */
	const char *reason; /* static text: why it retries, or why it stops */
	/* Stopped because the server asked for a wait (wait) that would end
	 * past max_elapsed: the caller reports the wait, having slept none of it. */
	int over_budget;
};

/* A backoff of ours leaves the last attempt at least this long before
 * max_elapsed, so that it is tried, not given up (seconds). */
#define RETRY_LAST_ATTEMPT_LEAD 1.0

struct retry_decision retry_decide(const struct retry_input *in);

/* Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))). */
double retry_backoff(int attempt, double base, double cap, double random);

#endif
