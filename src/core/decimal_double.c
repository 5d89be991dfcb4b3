#include "decimal_double.h"

#include <float.h>
#include <stdint.h>

/* Exact doubles: every power of ten up to 10^22 fits in 53 bits. */
static const double POWERS_OF_TEN[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define MAX_EXACT_POWER 22
#define MAX_EXACT_SIGNIFICAND ((uint64_t)1 << 53)
/* Places after the point the fast formatter tries: prices, ratings and
 * coordinates have at most six; past them the shortest formatter
 * (shortest_double.c) is quicker than more tries. */
#define FAST_PLACES 6

int decimal_double_exact(uint64_t significand, int exponent, int negative, double *out)
{
#if FLT_EVAL_METHOD != 0
	/* Extended precision rounds twice: the fast path is exact only where
	 * each operation rounds once, in double. */
	(void)significand;
	(void)exponent;
	(void)negative;
	(void)out;
	return 0;
#else
	if (significand == 0) {
		*out = negative ? -0.0 : 0.0;
		return 1;
	}
	if (significand > MAX_EXACT_SIGNIFICAND || exponent < -MAX_EXACT_POWER || exponent > MAX_EXACT_POWER)
		return 0;
	double value = (double)significand;
	value = exponent < 0 ? value / POWERS_OF_TEN[-exponent] : value * POWERS_OF_TEN[exponent];
	*out = negative ? -value : value;
	return 1;
#endif
}

size_t decimal_double_format_fast(double v, char *out)
{
#if FLT_EVAL_METHOD != 0
	(void)v;
	(void)out;
	return 0;
#else
	double size = v < 0 ? -v : v;
	/* Where %.15g writes no exponent. */
	if (!(size >= 1e-4 && size < 1e15))
		return 0;
	for (int places = 0; places <= FAST_PLACES; places++) {
		double scaled = size * POWERS_OF_TEN[places];
		/* Past 15 digits the nearest decimal of a place may not be the one
		 * %.16g and %.17g write: those are left to the shortest formatter. */
		if (scaled >= 1e15)
			return 0;
		uint64_t digits = (uint64_t)(scaled + 0.5);
		/* The decimal digits / 10^places reads back as this division,
		 * exact operands rounded once: v when it is v. */
		if ((double)digits / POWERS_OF_TEN[places] != size)
			continue;
		char reversed[24];
		int n = 0;
		do {
			reversed[n++] = (char)('0' + digits % 10);
			digits /= 10;
		} while (digits);
		while (n <= places) /* 0.000123: the zeros before the digits */
			reversed[n++] = '0';
		size_t len = 0;
		if (v < 0)
			out[len++] = '-';
		for (int i = n - 1; i >= 0; i--) {
			out[len++] = reversed[i];
			if (i == places && places > 0)
				out[len++] = '.';
		}
		return len;
	}
	return 0;
#endif
}
