/*
 * The sandbox's latency timer: a thread that resumes connections which
 * libmicrohttpd suspended to hold their answer back, each when its delay
 * is over, so that a slow answer holds up no other connection.
 */
#ifndef PULSE_SANDBOX_TIMER_H
#define PULSE_SANDBOX_TIMER_H

#include <microhttpd.h>
#include <pthread.h>

struct delayed;

struct latency_timer {
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct delayed *delayed; /* under lock */
	int stopping;            /* under lock */
};

/* Returns 0, or -1 when the thread cannot start. */
int latency_timer_start(struct latency_timer *t);

/* Resumes connection after delay seconds. Returns 0, or -1 when out of
 * memory (the caller resumes it at once). */
int latency_timer_schedule(struct latency_timer *t, struct MHD_Connection *connection, double delay);

/* Resumes every connection still waiting (libmicrohttpd aborts when
 * stopped with connections suspended), then ends the thread. Safe on a
 * timer that never started. */
void latency_timer_stop(struct latency_timer *t);

#endif
