/*
 * Decimals and doubles both ways without strtod and snprintf where the
 * answer is exact by construction (Clinger's fast path): a significand of
 * at most 2^53 and a power of ten of at most 22 are both doubles, and one
 * IEEE multiplication or division of two doubles is correctly rounded.
 * Number documents (prices, coordinates, ratings) are nearly all of this
 * kind; the rest go the careful way.
 */
#ifndef PULSE_CORE_DECIMAL_DOUBLE_H
#define PULSE_CORE_DECIMAL_DOUBLE_H

#include <stddef.h>
#include <stdint.h>

/* Sets *out to significand x 10^exponent, negated when negative, and
 * returns 1 when the fast path applies (significand at most 2^53, the
 * power at most 22 either way, or a zero significand); else returns 0,
 * for strtod to do. */
int decimal_double_exact(uint64_t significand, int exponent, int negative, double *out);

/* The text of v with the fewest digits after the point that reads back as
 * v, when v is at least 1e-4 and below 1e15 in size and that text has at
 * most 15 significant digits and 6 places: then it is the text %.15g
 * writes (one decimal of 15 digits lies within half an ulp of v at the
 * most). Writes it to out (at least 24 bytes, no NUL) and returns its
 * length; 0 when v is none of these, for shortest_double_text to do. */
size_t decimal_double_format_fast(double v, char *out);

#endif
