#include "connections.h"

#include "util/clock.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

/* FRESH: opened, no request line yet. It counts as idle for the cap, and
 * as receiving for the request timeout: libmicrohttpd's idle timeout
 * restarts with every byte, so a client sending its first request line a
 * byte at a time would otherwise never be timed. */
enum state { FRESH, IDLE, RECEIVING, HANDLING };

struct tracked {
	int fd;
	unsigned long id;
	enum state state;
	double since; /* when the state began (monotonic) */
	int shut;     /* shut down by us: libmicrohttpd closes it next */
	struct tracked *older, *newer;
};

/* Ends a connection from outside libmicrohttpd's thread: shutdown(2) makes
 * its next read or write fail, and libmicrohttpd closes it; the descriptor
 * stays libmicrohttpd's, so it is never one reused by another. */
static void shut(struct tracked *t)
{
	if (!t->shut) {
		shutdown(t->fd, SHUT_RDWR);
		t->shut = 1;
	}
}

static void *sweep(void *arg)
{
	struct connections *cx = arg;
	pthread_mutex_lock(&cx->lock);
	while (!cx->stopping) {
		double now = clock_monotonic();
		for (struct tracked *t = cx->oldest; t; t = t->newer)
			if ((t->state == FRESH || t->state == RECEIVING) &&
			    now - t->since > cx->request_timeout)
				shut(t);
		struct timespec next;
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_nsec += 250000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cx->wake, &cx->lock, &next);
	}
	pthread_mutex_unlock(&cx->lock);
	return NULL;
}

int connections_start(struct connections *cx, int max, double request_timeout)
{
	cx->max = max;
	cx->request_timeout = request_timeout;
	pthread_mutex_init(&cx->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cx->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&cx->sweeper, NULL, sweep, cx) != 0)
		return -1;
	cx->running = 1;
	return 0;
}

void connections_stop(struct connections *cx)
{
	if (!cx->running)
		return;
	pthread_mutex_lock(&cx->lock);
	cx->stopping = 1;
	pthread_cond_signal(&cx->wake);
	pthread_mutex_unlock(&cx->lock);
	pthread_join(cx->sweeper, NULL);
	cx->running = 0;
	/* libmicrohttpd, stopped after this, said each connection closed. */
	pthread_cond_destroy(&cx->wake);
	pthread_mutex_destroy(&cx->lock);
}

struct tracked *connections_opened(struct connections *cx, int fd)
{
	struct tracked *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->fd = fd;
	t->state = FRESH;
	t->since = clock_monotonic();
	pthread_mutex_lock(&cx->lock);
	if (cx->open >= cx->max)
		for (struct tracked *old = cx->oldest; old; old = old->newer)
			if ((old->state == IDLE || old->state == FRESH) && !old->shut) {
				shut(old);
				break;
			}
	t->id = ++cx->opened;
	t->older = cx->newest;
	if (cx->newest)
		cx->newest->newer = t;
	else
		cx->oldest = t;
	cx->newest = t;
	cx->open++;
	pthread_mutex_unlock(&cx->lock);
	return t;
}

void connections_closed(struct connections *cx, struct tracked *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&cx->lock);
	if (t->older)
		t->older->newer = t->newer;
	else
		cx->oldest = t->newer;
	if (t->newer)
		t->newer->older = t->older;
	else
		cx->newest = t->older;
	cx->open--;
	pthread_mutex_unlock(&cx->lock);
	free(t);
}

unsigned long connections_id(const struct tracked *t)
{
	return t ? t->id : 0;
}

static void set_state(struct connections *cx, struct tracked *t, enum state state)
{
	if (!t)
		return;
	pthread_mutex_lock(&cx->lock);
	/* A first request is timed from the connection's opening. */
	if (!(t->state == FRESH && state == RECEIVING))
		t->since = clock_monotonic();
	t->state = state;
	pthread_mutex_unlock(&cx->lock);
}

void connections_receiving(struct connections *cx, struct tracked *t)
{
	set_state(cx, t, RECEIVING);
}

void connections_received(struct connections *cx, struct tracked *t)
{
	set_state(cx, t, HANDLING);
}

void connections_idle(struct connections *cx, struct tracked *t)
{
	set_state(cx, t, IDLE);
}
