/*
 * Many transfers in flight on one thread: a libcurl multi handle and a
 * pool of easy handles. Connections are shared by every transfer (and
 * multiplexed over HTTP/2 where the server offers it). Each transfer is set
 * up from a transport (transport.h), so a request is the same request here
 * as on the synchronous path. Knows nothing of Lua, retries or limits.
 */
#ifndef PULSE_ENGINE_H
#define PULSE_ENGINE_H

#include "transport.h"

struct engine;

struct engine *engine_new(void); /* NULL when out of memory */
void engine_free(struct engine *e);

/* Starts a transfer, counted in t's stats when it ends (t is kept alive
 * until then); returns its id (>= 0), or -1 when out of memory. context
 * and tag are the caller's, kept with the transfer (engine_take_context). */
int engine_start(struct engine *e, struct transport *t, const struct http_request *req, void *context,
                 unsigned long long tag);

/* Transfer id's context (and *tag), which it then forgets: NULL when the
 * transfer is released, or its context was taken already. */
void *engine_take_context(struct engine *e, int id, unsigned long long *tag);

/*
 * Moves transfers along; when none has finished, sleeps in poll(2) for at
 * most timeout seconds, waking as soon as one does. Returns 0, or -1 when
 * libcurl's multi interface failed.
 */
int engine_poll(struct engine *e, double timeout);

/* A finished transfer's id, or -1 when none is waiting to be collected. */
int engine_next_done(struct engine *e);

/* The response of a finished transfer; valid until engine_release. */
const struct http_response *engine_response(const struct engine *e, int id);

/* Ends a transfer, finished or not, and frees its slot for reuse. */
void engine_release(struct engine *e, int id);

/* One more than the highest id a transfer may have had: for walking them. */
int engine_ids(const struct engine *e);

/* Transfers started and not yet released. */
int engine_active(const struct engine *e);

#endif
