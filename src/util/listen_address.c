#include "listen_address.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* The port at s, all of what is left: 0 to 65535, digits only. */
static int port_of(const char *s, unsigned short *port, const char **why)
{
	if (*s == '\0' || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s)) {
		*why = "the port must be a number from 0 to 65535";
		return -1;
	}
	long n = strtol(s, NULL, 10);
	if (n > 65535) {
		*why = "the port must be a number from 0 to 65535";
		return -1;
	}
	*port = (unsigned short)n;
	return 0;
}

int listen_address_parse(const char *spec, struct listen_address *out, const char **why)
{
	memset(out, 0, sizeof *out);
	unsigned short port;
	const char *colon = strrchr(spec, ':');
	if (spec[0] == '[') { /* [IPv6]:PORT */
		const char *close = strchr(spec, ']');
		char host[INET6_ADDRSTRLEN];
		size_t len = close ? (size_t)(close - spec - 1) : 0;
		if (!close || close[1] != ':' || len == 0 || len >= sizeof host) {
			*why = "an IPv6 address is written [ADDRESS]:PORT";
			return -1;
		}
		memcpy(host, spec + 1, len);
		host[len] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			*why = "not an IPv6 address";
			return -1;
		}
		if (port_of(close + 2, &port, why) != 0)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		out->len = sizeof *a;
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	out->len = sizeof *a;
	if (!colon) {
		if (port_of(spec, &port, why) != 0)
			return -1;
		a->sin_port = htons(port);
		return 0;
	}
	char host[16];
	size_t len = (size_t)(colon - spec);
	if (len == 0 || len >= sizeof host) {
		*why = "the host must be an IPv4 address, localhost, or [an IPv6 address]";
		return -1;
	}
	memcpy(host, spec, len);
	host[len] = '\0';
	if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, &a->sin_addr) != 1) {
		*why = "the host must be an IPv4 address, localhost, or [an IPv6 address]";
		return -1;
	}
	if (port_of(colon + 1, &port, why) != 0)
		return -1;
	a->sin_port = htons(port);
	return 0;
}
