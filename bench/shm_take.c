/*
 * The cost of a take from a shm: bucket, as the request path pays it: the
 * time limiter_take holds the caller, in PROCS processes at once, each
 * taking RATE times a second (0: as fast as it can) for SECONDS. The
 * bucket is confirmed with a policy too large to run out, so every take
 * is a real one; each token is cancelled at once, which is not timed.
 * Prints the percentiles of all the processes' takes together.
 *   build/bench/shm_take PROCS RATE SECONDS      (bench/shared_goodput.lua)
 */
#include "limiter/limiter.h"
#include "limiter/shm.h"
#include "util/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 2000000

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Confirms the bucket: one take, answered by a response that states a
 * policy no bench exhausts. */
static int confirm(struct limiter *l)
{
	double wait;
	limiter_ticket ticket;
	if (limiter_take(l, clock_monotonic(), NULL, &wait, &ticket) != LIMITER_TAKEN)
		return -1;
	struct ratelimit_observation o = {.has_policy = 1,
	                                  .policy = {.limit = 1e8, .window = 1, .burst = 1e8},
	                                  .has_remaining = 1,
	                                  .remaining = 1e8 - 1};
	limiter_observe(l, &o, clock_monotonic(), ticket);
	return 0;
}

/* One process's takes into samples; returns how many, and in *taken how
 * many of them gave a token. */
static long run(const char *path, double rate, double seconds, double *samples, long room, long *taken)
{
	char err[256];
	struct limiter *l = limiter_shm_open(path, "bench", 1e8, 1, 1e8, 0, err, sizeof err);
	if (!l || confirm(l) != 0) {
		fprintf(stderr, "shm_take: %s\n", l ? "the first take was refused" : err);
		exit(1);
	}
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	long period_ns = rate > 0 ? (long)(1e9 / rate) : 0;
	double end = clock_monotonic() + seconds;
	long n = 0;
	struct limiter_caller caller = {.lane = LANE_NORMAL};
	while (n < room && clock_monotonic() < end) {
		double wait;
		limiter_ticket ticket;
		double before = clock_monotonic();
		enum limiter_answer answer = limiter_take(l, before, &caller, &wait, &ticket);
		samples[n++] = clock_monotonic() - before;
		if (answer == LIMITER_TAKEN) {
			++*taken;
			limiter_cancel(l, ticket);
		}
		if (period_ns) {
			next.tv_nsec += period_ns;
			while (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	limiter_release(l);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: shm_take PROCS RATE SECONDS\n");
		return 2;
	}
	int procs = atoi(argv[1]);
	double rate = atof(argv[2]), seconds = atof(argv[3]);
	if (procs < 1 || procs > 64 || rate < 0 || seconds <= 0) {
		fprintf(stderr, "shm_take: PROCS 1-64, RATE >= 0, SECONDS > 0\n");
		return 2;
	}
	char path[] = "/tmp/pulse-shm-take-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("shm_take: mkstemp");
		return 1;
	}
	close(fd);
	unlink(path); /* the limiter makes it, 0600, as a user's would be */

	long room = MAX_SAMPLES / procs;
	size_t size = sizeof(double) * MAX_SAMPLES + sizeof(long) * 128;
	double *samples = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (samples == MAP_FAILED) {
		perror("shm_take: mmap");
		return 1;
	}
	long *counts = (long *)(samples + MAX_SAMPLES), *taken = counts + 64;
	for (int i = 0; i < procs; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			counts[i] = run(path, rate, seconds, samples + i * room, room, &taken[i]);
			_exit(0);
		}
	}
	int failed = 0;
	for (int i = 0; i < procs; i++) {
		int status;
		wait(&status);
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	unlink(path);
	if (failed)
		return 1;

	long total = 0, tokens = 0;
	for (int i = 0; i < procs; i++) { /* gather the samples at the front */
		for (long j = 0; j < counts[i]; j++)
			samples[total++] = samples[i * room + j];
		tokens += taken[i];
	}
	qsort(samples, (size_t)total, sizeof *samples, by_value);
	printf("procs %d rate %g takes %ld (tokens %ld) p50 %.2f p99 %.2f p99.9 %.2f max %.1f us\n", procs,
	       rate, total, tokens, 1e6 * samples[total / 2], 1e6 * samples[(long)(total * 0.99)],
	       1e6 * samples[(long)(total * 0.999)], 1e6 * samples[total - 1]);
	return 0;
}
