/*
 * libFuzzer target: listen_address_parse (util/listen_address.c), which
 * reads the ADDR:PORT a user gives pulse-lua --metrics. An address taken
 * is IPv4 or IPv6 with its length set to match; one refused says why.
 */
#include "util/listen_address.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	struct listen_address a;
	const char *why = NULL;
	if (listen_address_parse(copy, &a, &why) == 0) {
		int family = a.addr.ss_family;
		if (!(family == AF_INET && a.len == sizeof(struct sockaddr_in)) &&
		    !(family == AF_INET6 && a.len == sizeof(struct sockaddr_in6)))
			abort();
	} else if (why == NULL || why[0] == '\0') {
		abort();
	}
	free(copy);
	return 0;
}
