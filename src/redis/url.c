#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies the len bytes of s, percent-decoded, into out (size bytes).
 * Returns 0, or -1 when it does not fit or an escape is broken. */
static int decode(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			char hex[3] = {0};
			if (i + 2 >= len)
				return -1;
			memcpy(hex, s + i + 1, 2);
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end || hex[0] == '+' || hex[0] == '-')
				return -1;
			c = (char)v;
			i += 2;
		}
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

int redis_url_parse(const char *url, const char *param, struct redis_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->port = 6379;
	if (strncmp(url, "rediss://", 9) == 0)
		return fail(
		    err, errlen,
		    "rediss:// (Redis over TLS) needs hiredis 1.0 or later; this one (0.14) has no TLS");
	if (strncmp(url, "redis://", 8) != 0)
		return fail(err, errlen, "a Redis URL starts with redis://");
	const char *p = url + 8;
	const char *end = p + strcspn(p, "/?");
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *user_end = colon ? colon : at;
		if (decode(p, (size_t)(user_end - p), out->user, sizeof out->user) != 0 ||
		    (colon &&
		     decode(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password) != 0))
			return fail(err, errlen,
			            "the user or password of the Redis URL is too long or badly escaped");
		p = at + 1;
	}
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *host_end = colon ? colon : end;
	if (host_end == p || (size_t)(host_end - p) >= sizeof out->host)
		return fail(err, errlen, "the Redis URL names no host");
	memcpy(out->host, p, (size_t)(host_end - p));
	if (colon) {
		char *stop;
		long port = strtol(colon + 1, &stop, 10);
		if (stop != end || port < 1 || port > 65535)
			return fail(err, errlen, "the Redis URL's port is not a number from 1 to 65535");
		out->port = (int)port;
	}
	p = end;
	if (*p == '/') {
		char *stop;
		long db = strtol(p + 1, &stop, 10);
		if ((*stop && *stop != '?') || db < 0 || db > 1000000) /* "/" alone is database 0 */
			return fail(err, errlen, "the Redis URL's database is not a number");
		out->db = (int)db;
		p = stop;
	}
	if (*p == '?') {
		size_t n = strlen(param);
		if (strncmp(p + 1, param, n) != 0 || p[1 + n] != '=') {
			snprintf(err, errlen, "the Redis URL takes one query parameter, %s=NAME", param);
			return -1;
		}
		if (decode(p + 2 + n, strlen(p + 2 + n), out->name, sizeof out->name) != 0 || !out->name[0]) {
			snprintf(err, errlen, "%s= takes a name of 1 to 64 bytes", param);
			return -1;
		}
	} else if (*p) {
		return fail(err, errlen, "the Redis URL has something after its database");
	}
	return 0;
}
