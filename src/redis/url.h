/* A Redis URL, read: redis://[user:password@]host:port[/db][?PARAM=name],
 * where PARAM is the one parameter its user takes (the limiter's bucket=,
 * the queue's stream=). */
#ifndef PULSE_REDIS_URL_H
#define PULSE_REDIS_URL_H

#include <stddef.h>

struct redis_url {
	char host[256];
	int port;
	int db;
	char user[128], password[256]; /* "" when not given */
	char name[65];                 /* PARAM's value; "" when not given */
};

/* Returns 0, or -1 with why in err (which never holds the password). */
int redis_url_parse(const char *url, const char *param, struct redis_url *out, char *err, size_t errlen);

#endif
