#include "exchange.h"

#include "core/ratelimit_headers.h"
#include "util/clock.h"

void exchange_observe(struct limiter *l, limiter_ticket ticket, long status, const char *block, size_t len,
                      double now, struct exchange_outcome *out)
{
	struct ratelimit_observation o;
	ratelimit_read_response(status, block, len, clock_epoch(), &o);
	limiter_observe(l, &o, now, ticket);
	out->observed = 1;
	out->has_retry_after = o.has_retry_after;
	out->retry_after = o.retry_after;
	out->rate = limiter_view(l, now);
}

/* Settles the token l gave for res: observed on a response, given back on
 * a failure. */
static void settle(struct limiter *l, limiter_ticket ticket, const struct http_response *res,
                   struct exchange_outcome *out)
{
	out->response = res;
	out->observed = 0;
	if (!l)
		return;
	if (res->failure != TRANSPORT_OK) {
		limiter_cancel(l, ticket);
		return;
	}
	exchange_observe(l, ticket, res->status, res->headers.data ? res->headers.data : "", res->headers.len,
	                 clock_monotonic(), out);
}

enum limiter_answer exchange_perform(struct limiter *l, struct limiter_caller *caller, struct transport *t,
                                     const struct http_request *req, struct http_response *res,
                                     struct exchange_outcome *out, double *wait)
{
	*wait = 0;
	limiter_ticket ticket = 0;
	if (l) {
		enum limiter_answer answer = limiter_take(l, clock_monotonic(), caller, wait, &ticket);
		if (answer != LIMITER_TAKEN)
			return answer;
	}
	transport_perform(t, req, res);
	settle(l, ticket, res, out);
	return LIMITER_TAKEN;
}

enum limiter_answer exchange_start(struct engine *e, struct limiter *l, struct limiter_caller *caller,
                                   struct transport *t, const struct http_request *req, int *id, double *wait)
{
	*wait = 0;
	if (!l) {
		*id = engine_start(e, t, req, NULL, 0);
		return LIMITER_TAKEN;
	}
	limiter_ticket ticket;
	enum limiter_answer answer = limiter_take(l, clock_monotonic(), caller, wait, &ticket);
	if (answer != LIMITER_TAKEN)
		return answer;
	*id = engine_start(e, t, req, limiter_retain(l), ticket);
	if (*id < 0) {
		limiter_cancel(l, ticket);
		limiter_release(l);
	}
	return answer;
}

int exchange_collect(struct engine *e, struct exchange_outcome *out)
{
	int id = engine_next_done(e);
	if (id < 0)
		return -1;
	limiter_ticket ticket = 0;
	struct limiter *l = engine_take_context(e, id, &ticket);
	settle(l, ticket, engine_response(e, id), out);
	limiter_release(l);
	return id;
}

void exchange_cancel(struct engine *e, int id)
{
	limiter_ticket ticket = 0;
	struct limiter *l = engine_take_context(e, id, &ticket);
	if (l) {
		limiter_cancel(l, ticket);
		limiter_release(l);
	}
	engine_release(e, id);
}

void exchange_cancel_all(struct engine *e)
{
	for (int id = 0; id < engine_ids(e); id++)
		exchange_cancel(e, id);
}
