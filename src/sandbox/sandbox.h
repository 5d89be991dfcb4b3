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
	const char *log_path; /* NULL: no request log */
};

struct sandbox_config sandbox_default_config(void);

/* NULL on failure, with the reason in err. */
struct sandbox *sandbox_start(const struct sandbox_config *config, char *err, size_t errlen);
int sandbox_port(const struct sandbox *sandbox);
void sandbox_stop(struct sandbox *sandbox); /* NULL is fine */

/* Fills key with len - 1 random hex digits. Returns 0, or -1. */
int sandbox_random_key(char *key, size_t len);

#endif
