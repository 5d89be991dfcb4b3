/*
 * The sandbox's webhook deliveries (--webhook URL): each event the API
 * emulation records is sent to every URL, by the verb chosen, on a thread
 * of its own so that no request waits for a receiver. As webhooks.md
 * describes the API's: an attempt waits 10 seconds for an answer; a failed
 * one (no 2xx) is sent again up to 5 times, the waits growing from the
 * backoff's minimum to its maximum; after 20 failures in a row a URL is
 * deactivated (for the life of the process).
 */
#ifndef PULSE_SANDBOX_WEBHOOKS_H
#define PULSE_SANDBOX_WEBHOOKS_H

#include "webhook_target.h"

#include <stddef.h>

#define WEBHOOK_ATTEMPT_SECONDS 10
#define WEBHOOK_RETRIES 5
#define WEBHOOK_DEACTIVATE_AFTER 20

struct webhooks;

struct webhook_counts {
	unsigned long delivered;       /* attempts a receiver answered 2xx */
	unsigned long failed_attempts; /* attempts that failed */
	unsigned long given_up;        /* events dropped: retries spent, or the URL deactivated */
	int pending;                   /* deliveries waiting to be (re)sent */
	int deactivated;               /* URLs deactivated */
};

/* Starts delivering to count targets (copied) by verb (POST, PUT or
 * PATCH), the waits between attempts from backoff_min doubling up to
 * backoff_max seconds. NULL when memory or a thread is short. */
struct webhooks *webhooks_start(const struct webhook_target *targets, int count, const char *verb,
                                double backoff_min, double backoff_max);

/* Queues body (JSON, len bytes, copied) for every target. Returns 0, or -1
 * when memory is short. */
int webhooks_send(struct webhooks *w, const char *body, size_t len);

void webhooks_counts(struct webhooks *w, struct webhook_counts *out);

/* Stops at once, whatever is pending (an attempt in flight is cut short). */
void webhooks_stop(struct webhooks *w); /* NULL is fine */

#endif
