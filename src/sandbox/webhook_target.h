/*
 * What the sandbox's webhook deliveries parse: a --webhook URL, and the
 * status line of a receiver's answer. Pure functions (the fuzz targets'),
 * no sockets: webhooks.c delivers.
 */
#ifndef PULSE_SANDBOX_WEBHOOK_TARGET_H
#define PULSE_SANDBOX_WEBHOOK_TARGET_H

#include <stddef.h>

struct webhook_target {
	char host[256];  /* a name, an IPv4 address, or an IPv6 one without its brackets */
	char port[6];    /* "80" when the URL names none */
	char path[1024]; /* from its '/', query included; "/" when the URL has none */
};

/* Reads url, http://HOST[:PORT][/PATH]. Returns 0, or -1 with *why
 * (a static string) saying what is wrong. */
int webhook_target_parse(const char *url, struct webhook_target *t, const char **why);

/* The status of an HTTP/1.x answer that starts buf ("HTTP/1.1 204 ..."),
 * once its status line is all in: 100 to 599; 0 while it may still come
 * (len too short); -1 when it is no status line. */
int webhook_status_of(const char *buf, size_t len);

#endif
