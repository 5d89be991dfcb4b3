/*
 * pulse-sandbox's server: libmicrohttpd on one thread, with every request
 * handled by the Lua module pulse.sandbox in a Lua state of its own. Used by
 * the pulse-sandbox program and by pulse-lua --sandbox.
 */
#ifndef PULSE_SANDBOX_H
#define PULSE_SANDBOX_H

#include <stddef.h>

struct sandbox_config {
	int port; /* 0: a free one */
	const char *const *keys;
	int key_count;
	double limit, window, burst;
	const char *retry_after; /* "seconds" or "http-date" */
	const char *refill;      /* "window" (the API's) or "continuous" */
	long seed;
	const char *faults;   /* NULL, or a spec as pulse.sandbox.faults reads it */
	const char *tls_cert; /* PEM file paths; both or neither */
	const char *tls_key;
	const char *log_path;        /* NULL: no request log */
	const char *collection;      /* NULL, or a Postman collection whose examples it serves */
	const char *replay;          /* NULL, or a HAR recording whose exchanges it serves */
	int max_connections;         /* 0: what the open-files limit allows */
	double idle_timeout;         /* seconds a kept-alive connection may wait for a request */
	double request_timeout;      /* seconds a request may take to arrive, headers and body */
	int centers;                 /* the sample organization's centers (1 to 6) */
	int guests;                  /* and guests per center */
	double reservation_hold;     /* seconds a reserved slot is held */
	const char *guest_search;    /* "org" (across centers) or "center" (a center_id required) */
	const char *const *webhooks; /* URLs the API's events are delivered to */
	int webhook_count;
	const char *webhook_verb;                        /* POST, PUT or PATCH */
	double webhook_backoff_min, webhook_backoff_max; /* seconds between attempts */
};

/* The sample organization's size: centers, and guests per center. */
#define SANDBOX_MAX_CENTERS 6
#define SANDBOX_MAX_GUESTS 100000
#define SANDBOX_MAX_WEBHOOKS 16

/* The most a request may send: its body, its URL and its header block. */
#define SANDBOX_MAX_BODY (1024 * 1024)
#define SANDBOX_MAX_URL (8 * 1024)
#define SANDBOX_MAX_HEADERS (32 * 1024)

struct sandbox_config sandbox_default_config(void);

/* NULL on failure, with the reason in err; *bad_option (unless NULL) is
 * then 1 when an option's value was the reason (--faults), 0 otherwise. */
struct sandbox *sandbox_start(const struct sandbox_config *config, char *err, size_t errlen, int *bad_option);
int sandbox_port(const struct sandbox *sandbox);
void sandbox_stop(struct sandbox *sandbox); /* NULL is fine */

/* Fills key with len - 1 random hex digits. Returns 0, or -1. */
int sandbox_random_key(char *key, size_t len);

#endif
