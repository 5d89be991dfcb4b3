/*
 * Where a server of ours listens, as a user writes it: "PORT" (loopback),
 * "HOST:PORT" with HOST an IPv4 address or "localhost", or "[::1]:PORT".
 * A pure function (a fuzz target's): no socket is made here.
 */
#ifndef PULSE_LISTEN_ADDRESS_H
#define PULSE_LISTEN_ADDRESS_H

#include <netinet/in.h>
#include <sys/socket.h>

struct listen_address {
	struct sockaddr_storage addr; /* a sockaddr_in or a sockaddr_in6, port set */
	socklen_t len;
};

/* Reads spec. Returns 0, or -1 with *why (a static string) saying what is
 * wrong. Port 0 asks for a free one. */
int listen_address_parse(const char *spec, struct listen_address *out, const char **why);

#endif
