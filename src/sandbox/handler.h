/*
 * The Lua side of the sandbox: pulse.sandbox's handler in a Lua state of
 * its own, called once per request (server.c), on libmicrohttpd's thread.
 */
#ifndef PULSE_SANDBOX_HANDLER_H
#define PULSE_SANDBOX_HANDLER_H

#include "sandbox.h"
#include "webhooks.h"

#include <lua.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdio.h>

struct handler {
	lua_State *L;
	int ref; /* the handler function, in the registry */
};

/* The server's counters the handler reports (/_sandbox/stats). */
struct handler_counters {
	const unsigned long *connections_opened;
	const int *connections_open;
	const int *in_flight;
	int *in_flight_max; /* reset to in_flight by /_sandbox/reset */
};

/* Returns 0, or -1 with why in err (a bad --faults or --log, say).
 * webhooks (or NULL) delivers the API's events. */
int handler_open(struct handler *h, const struct sandbox_config *config,
                 const struct handler_counters *counters, struct webhooks *webhooks, char *err,
                 size_t errlen);
void handler_close(struct handler *h); /* safe on one that failed to open */

/* Writes the table of the API's operations the sandbox emulates (for
 * --help). Returns 0, or -1 (said on stderr). */
int handler_print_endpoints(FILE *out);

struct handler_request {
	struct MHD_Connection *connection; /* for its headers, query and address */
	const char *method, *path, *uri;   /* uri: as sent, query string included */
	const char *body;
	size_t body_len;
	unsigned long connection_id;
};

/* What the handler answered: a response to send (after delay seconds), or
 * drop: close the connection with none. */
struct handler_answer {
	struct MHD_Response *response; /* the caller's to destroy */
	unsigned status;
	double delay;
	int drop;
};

/* Returns 0, or -1 when the handler failed (said on stderr) or memory ran out. */
int handler_call(struct handler *h, const struct handler_request *req, struct handler_answer *out);

#endif
