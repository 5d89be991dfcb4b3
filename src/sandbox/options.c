#include "options.h"

#include "sandbox.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* text as a finite number, all of it; -1 when it is not one. */
static int number(const char *text, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int whole(double v, double min, double below)
{
	return v >= min && v < below && v == floor(v);
}

int sandbox_parse_rate_limit(const char *text, struct sandbox_config *c, const char **why)
{
	*why = "takes LIMIT/WINDOW/BURST: LIMIT and BURST whole numbers from 1 to below 1e9, WINDOW "
	       "seconds from 1 to 86400";
	char part[3][64];
	const char *p = text;
	for (int i = 0; i < 3; i++) {
		size_t n = 0;
		while (*p && *p != '/' && n < sizeof part[i] - 1)
			part[i][n++] = *p++;
		part[i][n] = '\0';
		if ((i < 2 && *p != '/') || (i == 2 && *p))
			return -1;
		if (i < 2)
			p++;
	}
	double limit, window, burst;
	if (number(part[0], &limit) || number(part[1], &window) || number(part[2], &burst))
		return -1;
	if (!whole(limit, 1, 1e9) || !whole(burst, 1, 1e9) || !(window >= 1 && window <= 86400))
		return -1;
	c->limit = limit;
	c->window = window;
	c->burst = burst;
	return 0;
}

int sandbox_parse_port(const char *text, int *port, const char **why)
{
	double v;
	*why = "takes a port number from 0 (any free one) to 65535";
	if (number(text, &v) || !whole(v, 0, 65536))
		return -1;
	*port = (int)v;
	return 0;
}

int sandbox_parse_seed(const char *text, long *seed, const char **why)
{
	char *end;
	*why = "takes a whole number";
	errno = 0;
	long v = strtol(text, &end, 10);
	if (end == text || *end || errno)
		return -1;
	*seed = v;
	return 0;
}

int sandbox_parse_seconds(const char *text, double *seconds, const char **why)
{
	double v;
	*why = "takes seconds from 0.1 to 86400";
	if (number(text, &v) || !(v >= 0.1 && v <= 86400))
		return -1;
	*seconds = v;
	return 0;
}

int sandbox_parse_count(const char *text, int *count, const char **why)
{
	double v;
	*why = "takes a whole number from 1 to 999999";
	if (number(text, &v) || !whole(v, 1, 1e6))
		return -1;
	*count = (int)v;
	return 0;
}

int sandbox_parse_backoff(const char *text, double *min, double *max, const char **why)
{
	*why = "takes MIN:MAX, seconds from 0.01 to 86400, MIN at most MAX";
	const char *colon = strchr(text, ':');
	if (!colon || colon - text >= 64)
		return -1;
	char first[64];
	memcpy(first, text, (size_t)(colon - text));
	first[colon - text] = '\0';
	double a, b;
	if (number(first, &a) || number(colon + 1, &b) || !(a >= 0.01 && b <= 86400 && a <= b))
		return -1;
	*min = a;
	*max = b;
	return 0;
}
