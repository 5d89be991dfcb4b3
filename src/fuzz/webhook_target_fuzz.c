/*
 * libFuzzer target: webhook_target_parse and webhook_status_of
 * (sandbox/webhook_target.c), which read a --webhook URL a user types and
 * the status line a receiver answers. A URL taken has a host, a port from
 * 1 to 65535 and a path starting with '/', each a terminated string that
 * fits; a status is 0, -1 or 100 to 599, and never needs more than the
 * bytes given.
 */
#include "sandbox/webhook_target.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_string(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	struct webhook_target t;
	const char *why;
	if (webhook_target_parse(copy, &t, &why) == 0) {
		check_string(t.host, sizeof t.host);
		check_string(t.port, sizeof t.port);
		check_string(t.path, sizeof t.path);
		long port = strtol(t.port, NULL, 10);
		if (t.host[0] == '\0' || t.path[0] != '/' || port < 1 || port > 65535)
			abort();
	}
	/* The answer as a receiver's bytes, exactly size of them (no '\0'). */
	char *answer = malloc(size ? size : 1);
	if (answer) {
		memcpy(answer, data, size);
		int status = webhook_status_of(answer, size);
		if (status != 0 && status != -1 && (status < 100 || status > 599))
			abort();
		free(answer);
	}
	free(copy);
	return 0;
}
