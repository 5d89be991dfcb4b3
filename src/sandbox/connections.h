/*
 * The sandbox's connections, tracked so that abusive clients cannot lock
 * others out: a request that does not arrive in time (a slow-loris client,
 * headers or body a byte at a time) is cut off, and at the cap the oldest
 * idle connection is closed to make room for a new one. libmicrohttpd
 * closes idle connections after its own timeout.
 */
#ifndef PULSE_SANDBOX_CONNECTIONS_H
#define PULSE_SANDBOX_CONNECTIONS_H

#include <microhttpd.h>
#include <pthread.h>

struct tracked;

struct connections {
	pthread_mutex_t lock;
	struct tracked *oldest, *newest; /* open connections, in the order they opened */
	int open, max;
	double request_timeout;
	unsigned long opened; /* in all, for /_sandbox/stats */
	pthread_t sweeper;
	pthread_cond_t wake;
	int running, stopping;
};

/* Returns 0, or -1 when the sweeping thread cannot start. */
int connections_start(struct connections *cx, int max, double request_timeout);
void connections_stop(struct connections *cx); /* safe on one never started */

/* A connection opened (fd: its socket): its record, or NULL when out of
 * memory. At the cap, the oldest idle connection is shut down first. */
struct tracked *connections_opened(struct connections *cx, int fd);
void connections_closed(struct connections *cx, struct tracked *t);

/* The connection's number, from 1 in the order they opened. */
unsigned long connections_id(const struct tracked *t);

/* A request began to arrive on t; it was all received; it was answered. */
void connections_receiving(struct connections *cx, struct tracked *t);
void connections_received(struct connections *cx, struct tracked *t);
void connections_idle(struct connections *cx, struct tracked *t);

#endif
