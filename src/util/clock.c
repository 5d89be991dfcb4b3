#include "clock.h"

#include <stdlib.h>
#include <time.h>

static double seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_monotonic(void)
{
	return seconds(CLOCK_MONOTONIC);
}

/* $PULSE_TEST_CLOCK_OFFSET (seconds) moves this process's wall clock: how
 * the specs stand in for a machine whose clock is off, on the real code
 * path and under the sanitizers, where faketime cannot go. Read once. */
static double wall_offset(void)
{
	static int read;
	static double offset;
	if (!read) {
		const char *s = getenv("PULSE_TEST_CLOCK_OFFSET");
		offset = s ? strtod(s, NULL) : 0;
		read = 1;
	}
	return offset;
}

double clock_epoch(void)
{
	return seconds(CLOCK_REALTIME) + wall_offset();
}
