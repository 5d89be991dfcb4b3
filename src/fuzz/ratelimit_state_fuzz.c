/*
 * libFuzzer target: ratelimit_repair (core/ratelimit.c), which makes a
 * bucket's state read from a shared file (the shm: limiter's, anyone's
 * with write access to it) one the arithmetic can use. Whatever the bytes,
 * after it a take's wait and the view are finite, never negative, and no
 * wait passes the longer of a window and the block's own length.
 */
#include "core/ratelimit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ratelimit_state s;
	if (size < sizeof s + sizeof(double))
		return 0;
	memcpy(&s, data, sizeof s);
	double now;
	memcpy(&now, data + sizeof s, sizeof now);
	if (!isfinite(now) || fabs(now) > 1e12)
		return 0;
	ratelimit_repair(&s, now, 60, 60, 60);
	/* Repaired twice is the same as once. */
	if (ratelimit_repair(&s, now, 60, 60, 60) != 0)
		abort();
	double longest = fmax(s.window, s.block_length);
	/* Times near now lose what the doubles cannot hold at its size. */
	double slack = 1e-9 * (fabs(now) + longest) + 1e-6;
	ratelimit_ticket ticket = 0;
	double wait = ratelimit_take(&s, now, 0, 0, &ticket);
	if (!isfinite(wait) || (wait < 0 && wait != RATELIMIT_AWAIT_RESPONSE) || wait > longest + slack)
		abort();
	struct ratelimit_view v = ratelimit_view(&s, now);
	if (!isfinite(v.remaining) || v.remaining < 0 || !(v.reset >= 0) || !(v.blocked >= 0) ||
	    v.reset > s.window + slack)
		abort();
	return 0;
}
