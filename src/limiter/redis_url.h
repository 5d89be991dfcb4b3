/* A redis:// limiter URL, read: redis://[user:password@]host:port[/db][?bucket=name]. */
#ifndef PULSE_LIMITER_REDIS_URL_H
#define PULSE_LIMITER_REDIS_URL_H

#include <stddef.h>

struct redis_url {
	char host[256];
	int port;
	int db;
	char user[128], password[256]; /* "" when not given */
	char bucket[65];               /* "" when not given */
};

/* Returns 0, or -1 with why in err (which never holds the password). */
int redis_url_parse(const char *url, struct redis_url *out, char *err, size_t errlen);

#endif
