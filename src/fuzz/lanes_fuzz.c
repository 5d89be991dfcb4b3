/*
 * libFuzzer target: lanes_repair (core/lanes.c), which makes the line of
 * waiters read from a shared file (the shm: limiter's, anyone's with write
 * access to it) one lanes_take can use. Whatever the bytes, after it a
 * take in any lane ends, its wait is finite, the line's count of places
 * is what it holds, and a second repair changes nothing.
 */
#include "core/lanes.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_count(struct lanes *q, double now)
{
	int counts[LANES];
	lanes_count(q, now, counts);
	int sum = 0;
	for (int lane = 0; lane < LANES; lane++) {
		if (counts[lane] < 0)
			abort();
		sum += counts[lane];
	}
	if (sum != q->waiting || sum > LANES_PLACES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lanes q;
	struct ratelimit_state s;
	double now;
	if (size < sizeof q + sizeof s + sizeof now + 1)
		return 0;
	memcpy(&q, data, sizeof q);
	memcpy(&s, data + sizeof q, sizeof s);
	memcpy(&now, data + sizeof q + sizeof s, sizeof now);
	int lane = data[sizeof q + sizeof s + sizeof now] % LANES;
	if (!isfinite(now) || fabs(now) > 1e12)
		return 0;
	ratelimit_repair(&s, now, 60, 60, 60);
	lanes_repair(&q, now, s.window);
	if (lanes_repair(&q, now, s.window) != 0)
		abort();
	check_count(&q, now);
	lanes_place place = 0;
	ratelimit_ticket ticket = 0;
	for (int ask = 0; ask < 3; ask++) {
		double wait = lanes_take(&q, &s, now, ask, lane, 0, &place, &ticket);
		if (!isfinite(wait) || (wait < 0 && wait != RATELIMIT_AWAIT_RESPONSE))
			abort();
		if (wait == 0 && place != 0)
			abort();
		check_count(&q, now);
	}
	lanes_leave(&q, place);
	check_count(&q, now);
	if (lanes_repair(&q, now, s.window) != 0)
		abort();
	return 0;
}
