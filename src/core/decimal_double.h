/*
 * A JSON number's text to a double without strtod where the answer is
 * exact by construction (Clinger's fast path): a significand of at most
 * 2^53 and a power of ten of at most 22 are both doubles, and one IEEE
 * multiplication or division of two doubles is correctly rounded. Number
 * documents (prices, coordinates, ratings) are nearly all of this kind;
 * the rest go to strtod.
 */
#ifndef PULSE_CORE_DECIMAL_DOUBLE_H
#define PULSE_CORE_DECIMAL_DOUBLE_H

#include <stddef.h>

/* text (len bytes, not NUL-terminated) is a well-formed JSON number:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. Returns 1 and sets *out
 * to the correctly rounded double when the fast path applies, else 0. */
int decimal_double_fast(const char *text, size_t len, double *out);

#endif
