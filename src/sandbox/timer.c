#include "timer.h"

#include "util/clock.h"

#include <stdlib.h>
#include <time.h>

/* A response held back, due at a monotonic time. */
struct delayed {
	struct MHD_Connection *connection;
	double due;
	struct delayed *next;
};

/* Resumes the connections due by now; returns the earliest time still to
 * come, or 0 when none is left. Called under the lock. */
static double resume_due(struct latency_timer *t, double now)
{
	struct delayed **link = &t->delayed;
	double next_due = 0;
	while (*link) {
		struct delayed *d = *link;
		if (d->due <= now) {
			MHD_resume_connection(d->connection);
			*link = d->next;
			free(d);
			continue;
		}
		if (next_due == 0 || d->due < next_due)
			next_due = d->due;
		link = &d->next;
	}
	return next_due;
}

static void *run(void *arg)
{
	struct latency_timer *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stopping) {
		double next_due = resume_due(t, clock_monotonic());
		if (next_due == 0) {
			pthread_cond_wait(&t->wake, &t->lock);
		} else {
			struct timespec until = {(time_t)next_due,
			                         (long)((next_due - (double)(time_t)next_due) * 1e9)};
			pthread_cond_timedwait(&t->wake, &t->lock, &until);
		}
	}
	resume_due(t, 1e300); /* all of them */
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int latency_timer_start(struct latency_timer *t)
{
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&t->thread, NULL, run, t) != 0)
		return -1;
	t->running = 1;
	return 0;
}

int latency_timer_schedule(struct latency_timer *t, struct MHD_Connection *connection, double delay)
{
	struct delayed *d = malloc(sizeof *d);
	if (!d)
		return -1;
	d->connection = connection;
	d->due = clock_monotonic() + delay;
	pthread_mutex_lock(&t->lock);
	d->next = t->delayed;
	t->delayed = d;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void latency_timer_stop(struct latency_timer *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = 0;
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
}
