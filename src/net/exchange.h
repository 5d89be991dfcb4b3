/*
 * One request's lifecycle, in plain C: take a token from the limiter,
 * perform the request (here, or started on the engine and collected
 * later), read the rate-limit headers of its response into the limiter,
 * and hand back the outcome. Every request of the client goes this way,
 * so a new stage of the lifecycle is added here once. The binding makes
 * one call of this file per crossing, down and up.
 */
#ifndef PULSE_EXCHANGE_H
#define PULSE_EXCHANGE_H

#include "engine.h"
#include "limiter/limiter.h"
#include "transport.h"

/* What a request came to: its response (or failure), and what the
 * limiter made of it. */
struct exchange_outcome {
	const struct http_response *response;
	int observed; /* a response came and a limiter read it: what follows is set */
	int has_retry_after;
	double retry_after; /* seconds, as the response's Retry-After said */
	struct limiter_view rate;
};

/*
 * Takes a token from l (none when l is NULL) for caller (its lane and
 * place in line, which the take updates), performs req on t into res and
 * settles the token: returns LIMITER_TAKEN with *out filled. Otherwise
 * nothing was sent, and the answer is the limiter's, with *wait.
 */
enum limiter_answer exchange_perform(struct limiter *l, struct limiter_caller *caller, struct transport *t,
                                     const struct http_request *req, struct http_response *res,
                                     struct exchange_outcome *out, double *wait);

/*
 * Takes a token from l (none when l is NULL) and starts req on e; the
 * transfer holds the token until it is collected or cancelled, so none is
 * lost. Returns
 * LIMITER_TAKEN with *id the transfer's (-1 when out of memory: the token
 * is given back); otherwise the limiter's answer, with *wait.
 */
enum limiter_answer exchange_start(struct engine *e, struct limiter *l, struct limiter_caller *caller,
                                   struct transport *t, const struct http_request *req, int *id,
                                   double *wait);

/* The next finished transfer's id, its token settled and *out filled
 * (valid until engine_release of the id); -1 when none is done. */
int exchange_collect(struct engine *e, struct exchange_outcome *out);

/* Ends transfer id, done or not, giving back a token it still holds. */
void exchange_cancel(struct engine *e, int id);
void exchange_cancel_all(struct engine *e);

/* A response came for the token ticket taken from l: reads the rate-limit
 * fields of its header block into l, and fills *out's limiter part. */
void exchange_observe(struct limiter *l, limiter_ticket ticket, long status, const char *block, size_t len,
                      double now, struct exchange_outcome *out);

#endif
