/*
 * libFuzzer target: redis_url_parse (redis/url.c), which reads the Redis
 * URL a user types for the limiter or the queue. Every field it fills must be a string that
 * fits, the port a port; and its error never tells of the password.
 */
#include "redis/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_string(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort(); /* not terminated inside its field */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(size + 1);
	if (!url)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	struct redis_url u;
	char err[256];
	if (redis_url_parse(url, "bucket", &u, err, sizeof err) == 0) {
		check_string(u.host, sizeof u.host);
		check_string(u.user, sizeof u.user);
		check_string(u.password, sizeof u.password);
		check_string(u.name, sizeof u.name);
		if (u.port < 1 || u.port > 65535 || u.db < 0 || u.host[0] == '\0')
			abort();
	} else {
		check_string(err, sizeof err);
		/* The error never depends on the password's text: the same URL
		 * with another password (of the same length, unescaped) fails
		 * the same way. */
		char *at = NULL;
		if (strncmp(url, "redis://", 8) == 0) /* '@' ends the user part of the authority */
			at = memchr(url + 8, '@', strcspn(url + 8, "/?"));
		char *colon = at ? memchr(url + 8, ':', (size_t)(at - url - 8)) : NULL;
		if (colon && !memchr(colon, '%', (size_t)(at - colon))) {
			memset(colon + 1, 'Q', (size_t)(at - colon - 1));
			char other[256];
			if (redis_url_parse(url, "bucket", &u, other, sizeof other) != 0 &&
			    strcmp(err, other) != 0)
				abort();
		}
	}
	free(url);
	return 0;
}
