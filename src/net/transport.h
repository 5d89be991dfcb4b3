/*
 * One HTTP exchange at a time over a libcurl easy handle whose connections
 * stay open between requests. Knows nothing of Lua, JSON or retries.
 */
#ifndef PULSE_TRANSPORT_H
#define PULSE_TRANSPORT_H

#include "util/buf.h"
#include "util/request_stats.h"

#include <curl/curl.h>
#include <stddef.h>

struct transport_options {
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_body;        /* bytes of a response body, after decompression */
	int verify;             /* TLS peer and host verification */
	const char *ca_file;    /* NULL: the system's CA store */
	const char *proxy;      /* NULL: none beyond libcurl's environment rules */
	const char *user_agent; /* NULL: pulse-lua/<v> libcurl/<v> Lua/5.4 */
};

struct http_request {
	const char *method;
	const char *url;
	const char *const *headers; /* "Name: value" lines */
	size_t header_count;
	const char *body; /* NULL: no body */
	size_t body_len;
	int json_body; /* adds Content-Type: application/json */
	/* libcurl silently sends a request again when a reused connection dies
	 * before any response byte: harmless for idempotent methods, a duplicate
	 * write otherwise. A new connection is never retried that way. */
	int fresh_connection;
	long timeout_ms; /* 0: the transport's */
	size_t max_body; /* 0: the transport's */
	/* Send no Authorization: a redirect to another origin must not carry
	 * the key. */
	int omit_key;
	int phases; /* read libcurl's timing phases into the response's */
};

/* What libcurl measured of one transmission, in seconds from its start
 * (its time_namelookup, time_connect, time_appconnect, time_starttransfer,
 * time_total: a phase a reused connection skips is 0), and the bytes
 * that went each way (head and body). */
struct http_phases {
	double dns, connect, tls, first_byte, total;
	double bytes_in, bytes_out;
};

/* max_body unless the client says otherwise: 64 MiB. */
#define TRANSPORT_DEFAULT_MAX_BODY ((size_t)64 << 20)

/* The most a response's header block may hold, and one of its lines. */
#define TRANSPORT_MAX_HEADER_LINE (64 * 1024)
#define TRANSPORT_MAX_HEADER_BLOCK (256 * 1024)

enum transport_failure {
	TRANSPORT_OK,
	TRANSPORT_NO_CONNECTION, /* DNS or a refused connection: the request never left */
	TRANSPORT_TLS,           /* the TLS handshake failed: never left either */
	TRANSPORT_CERTIFICATE,   /* the server's certificate was refused: never left */
	TRANSPORT_TIMEOUT,
	TRANSPORT_NETWORK,
	TRANSPORT_TOO_LARGE, /* the body passed max_body: reading stopped there */
	TRANSPORT_USAGE,     /* a bad URL or option: no request was made */
	TRANSPORT_NO_MEMORY,
	TRANSPORT_INTERRUPTED, /* transport_interrupt() was called */
};

struct http_response {
	long status;
	struct buf headers; /* "Name: value" lines of the final response, '\n'-separated */
	struct buf body;
	double elapsed; /* seconds */
	/* Times the request was sent: more than 1 when libcurl sent it again
	 * by itself, on a new connection, after a reused one died. */
	int transmissions;
	long request_size;              /* bytes of request head libcurl sent, all transmissions */
	size_t max_body;                /* this request's bound */
	enum transport_failure refused; /* what a callback refused, else TRANSPORT_OK */
	enum transport_failure failure;
	char message[256]; /* the failure, for people; never holds the key */
	int method;        /* the request's, as util/metrics.h counts it */
	int phases_read;   /* the request asked for phases: they are set */
	struct http_phases phases;
};

struct transport;

/* NULL when memory or libcurl's global set-up failed. */
struct transport *transport_new(void);

/*
 * Drops a reference to t: its creator's, or one a transfer took with
 * transport_retain. The last one frees it, wiping the key.
 */
void transport_free(struct transport *t);

/* Another reference to t, for a transfer that may outlive its creator's. */
struct transport *transport_retain(struct transport *t);

/* Every request made from t, on its own handle or the engine's. */
const struct request_stats *transport_stats(const struct transport *t);

/* Counts a transfer made on another handle from t's set-up (the engine's). */
void transport_count(struct transport *t, const struct http_response *res, size_t body_len);

/* Returns 0, or -1 when out of memory. */
int transport_set_options(struct transport *t, const struct transport_options *options);
/* The Authorization line: scheme (a token the caller checked, "Api-key"
 * or "apikey") and key. Returns 0, or -1 when out of memory. */
int transport_set_key(struct transport *t, const char *scheme, const char *key);

/* Fills res (its buffers reused, cleared first). Returns res->failure. */
enum transport_failure transport_perform(struct transport *t, const struct http_request *req,
                                         struct http_response *res);

void http_response_free(struct http_response *res);

/* Header lines that several transfers may use at once. */
struct shared_headers;

/*
 * What an easy handle was last set up with (all zero: nothing yet), so that
 * what a request shares with the one before is not set again: every option
 * goes through libcurl's option switch, and a URL is copied each time.
 */
struct easy_setup {
	unsigned long generation; /* of the transport's fixed options; 0: none */
	char *url;                /* a copy */
	long timeout_ms;
	int fresh_connection;
	int plain_get; /* set up for a GET without a body */
	const struct http_response *res;
};
void easy_setup_free(struct easy_setup *setup);

/*
 * For the engine (engine.h), which runs many transfers on other easy
 * handles: sets easy up for req with t's options and key, as setup says it
 * was set up last (and updates setup). *headers gets the transfer's
 * reference to its header lines (t's own when the request adds none; they
 * outlive a key rotation), for transport_free_headers once the transfer is
 * over. Returns 0, or -1 when out of memory.
 */
int transport_setup(const struct transport *t, CURL *easy, struct easy_setup *setup,
                    const struct http_request *req, struct http_response *res,
                    struct shared_headers **headers);
void transport_free_headers(struct shared_headers *headers);

/* Fills res's status, timing and failure from a finished transfer. */
void transport_finish(CURL *easy, CURLcode rc, struct http_response *res);

const char *transport_library_version(void);

/*
 * An interrupt (the runner's SIGINT handler; async-signal-safe): transfers
 * in progress end with TRANSPORT_INTERRUPTED instead of running to their
 * timeout. transport_interrupted reads it; each new transfer clears it.
 */
void transport_interrupt(void);
int transport_interrupted(void);

/* libcurl's global set-up, once per process. Returns 0, or -1. */
int transport_library_init(void);

#endif
