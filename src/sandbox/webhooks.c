#include "webhooks.h"

#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long a wait inside an attempt lasts before it looks at the stop flag. */
#define STOP_CHECK_MS 100

struct target {
	struct webhook_target where;
	int failures_in_a_row;
	int deactivated;
};

struct delivery {
	int target;
	char *body;
	size_t len;
	int attempt; /* attempts made */
	double due;  /* monotonic */
	struct delivery *next;
};

struct webhooks {
	struct target *targets;
	int count;
	char verb[8];
	double backoff_min, backoff_max;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stopping;
	struct delivery *queue;       /* under lock */
	struct webhook_counts counts; /* under lock */
};

/* Waits up to the deadline for fd to be ready for events; 1 when it is, 0
 * when the deadline passed or the sandbox is stopping, -1 on error. */
static int wait_for(struct webhooks *w, int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - clock_monotonic();
		if (left <= 0 || atomic_load(&w->stopping))
			return 0;
		int ms = left * 1000 < STOP_CHECK_MS ? (int)(left * 1000) + 1 : STOP_CHECK_MS;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* A connected non-blocking socket to t, or -1. */
static int connect_to(struct webhooks *w, const struct webhook_target *t, double deadline)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *found;
	if (getaddrinfo(t->host, t->port, &hints, &found) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *a = found; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		int error = 0;
		socklen_t size = sizeof error;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
		    (errno != EINPROGRESS || wait_for(w, fd, POLLOUT, deadline) != 1 ||
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(found);
	return fd;
}

static int send_all(struct webhooks *w, int fd, const char *data, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_for(w, fd, POLLOUT, deadline) != 1)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* The status a receiver answered d with, or -1 when none came in time. */
static int attempt(struct webhooks *w, const struct delivery *d)
{
	const struct webhook_target *t = &w->targets[d->target].where;
	double deadline = clock_monotonic() + WEBHOOK_ATTEMPT_SECONDS;
	int fd = connect_to(w, t, deadline);
	if (fd < 0)
		return -1;
	char head[1600];
	int head_len =
	    snprintf(head, sizeof head,
	             "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: pulse-sandbox\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	             w->verb, t->path, t->host, t->port, d->len);
	int status = -1;
	if (head_len > 0 && (size_t)head_len < sizeof head &&
	    send_all(w, fd, head, (size_t)head_len, deadline) == 0 &&
	    send_all(w, fd, d->body, d->len, deadline) == 0) {
		char answer[256];
		size_t have = 0;
		while (have < sizeof answer && wait_for(w, fd, POLLIN, deadline) == 1) {
			ssize_t n = recv(fd, answer + have, sizeof answer - have, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0)
				break;
			have += (size_t)n;
			int s = webhook_status_of(answer, have);
			if (s != 0) {
				status = s;
				break;
			}
		}
	}
	close(fd);
	return status;
}

/* The wait before the attempt after the nth. */
static double backoff(const struct webhooks *w, int n)
{
	double wait = w->backoff_min * pow(2, n - 1);
	return wait < w->backoff_max ? wait : w->backoff_max;
}

/* Settles d after an attempt that answered status (-1: none), under the
 * lock: requeued, or freed. */
static void settle(struct webhooks *w, struct delivery *d, int status)
{
	struct target *t = &w->targets[d->target];
	if (status >= 200 && status <= 299) {
		t->failures_in_a_row = 0;
		w->counts.delivered++;
		free(d->body);
		free(d);
		return;
	}
	w->counts.failed_attempts++;
	if (++t->failures_in_a_row >= WEBHOOK_DEACTIVATE_AFTER && !t->deactivated) {
		t->deactivated = 1;
		w->counts.deactivated++;
		fprintf(stderr, "pulse-sandbox: webhook %d (%s:%s) deactivated after %d failures in a row\n",
		        d->target + 1, t->where.host, t->where.port, WEBHOOK_DEACTIVATE_AFTER);
	}
	if (t->deactivated || d->attempt > WEBHOOK_RETRIES) {
		w->counts.given_up++;
		free(d->body);
		free(d);
		return;
	}
	d->due = clock_monotonic() + backoff(w, d->attempt);
	d->next = w->queue;
	w->queue = d;
	w->counts.pending++;
}

/* Takes the delivery due first off the queue, or NULL; *next_due: when
 * the first one not due yet is (0: none). Under the lock. */
static struct delivery *take_due(struct webhooks *w, double now, double *next_due)
{
	struct delivery **first = NULL;
	for (struct delivery **link = &w->queue; *link; link = &(*link)->next)
		if (!first || (*link)->due < (*first)->due)
			first = link;
	*next_due = 0;
	if (!first)
		return NULL;
	if ((*first)->due > now) {
		*next_due = (*first)->due;
		return NULL;
	}
	struct delivery *d = *first;
	*first = d->next;
	w->counts.pending--;
	return d;
}

static void *run(void *arg)
{
	struct webhooks *w = arg;
	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->stopping)) {
		double next_due;
		struct delivery *d = take_due(w, clock_monotonic(), &next_due);
		if (!d) {
			if (next_due == 0) {
				pthread_cond_wait(&w->wake, &w->lock);
			} else {
				struct timespec until = {.tv_sec = (time_t)next_due,
				                         .tv_nsec =
				                             (long)((next_due - floor(next_due)) * 1e9)};
				pthread_cond_timedwait(&w->wake, &w->lock, &until);
			}
			continue;
		}
		if (w->targets[d->target].deactivated) {
			w->counts.given_up++;
			free(d->body);
			free(d);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		d->attempt++;
		int status = attempt(w, d);
		pthread_mutex_lock(&w->lock);
		settle(w, d, status);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct webhooks *webhooks_start(const struct webhook_target *targets, int count, const char *verb,
                                double backoff_min, double backoff_max)
{
	struct webhooks *w = calloc(1, sizeof *w);
	if (!w || !(w->targets = calloc((size_t)count, sizeof *w->targets))) {
		free(w);
		return NULL;
	}
	for (int i = 0; i < count; i++)
		w->targets[i].where = targets[i];
	w->count = count;
	snprintf(w->verb, sizeof w->verb, "%s", verb);
	w->backoff_min = backoff_min;
	w->backoff_max = backoff_max;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&w->lock, NULL);
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w->targets);
		free(w);
		return NULL;
	}
	return w;
}

int webhooks_send(struct webhooks *w, const char *body, size_t len)
{
	pthread_mutex_lock(&w->lock);
	int rc = 0;
	for (int i = 0; i < w->count && rc == 0; i++) {
		struct delivery *d = calloc(1, sizeof *d);
		char *copy = d ? malloc(len ? len : 1) : NULL;
		if (!copy) {
			free(d);
			rc = -1;
			break;
		}
		memcpy(copy, body, len);
		*d = (struct delivery){
		    .target = i, .body = copy, .len = len, .due = clock_monotonic(), .next = w->queue};
		w->queue = d;
		w->counts.pending++;
	}
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void webhooks_counts(struct webhooks *w, struct webhook_counts *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->counts;
	pthread_mutex_unlock(&w->lock);
}

void webhooks_stop(struct webhooks *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->stopping, 1);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (w->queue) {
		struct delivery *d = w->queue;
		w->queue = d->next;
		free(d->body);
		free(d);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->targets);
	free(w);
}
