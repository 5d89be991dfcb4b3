/*
 * The shortest decimal that reads back as a double, by Giulietti's
 * Schubfach method: the rounding interval of v scaled by one power of ten
 * (a 126-bit table entry and two 64-bit multiplications) holds at most one
 * number of the fewest digits, or two next to each other of one digit
 * more, the nearer of which is v's. No loop over precisions, no strtod to
 * check, no snprintf.
 */
#ifndef PULSE_CORE_SHORTEST_DOUBLE_H
#define PULSE_CORE_SHORTEST_DOUBLE_H

#include <stddef.h>
#include <stdint.h>

/* v finite and not zero (either sign ignored): sets *digits (at most 17
 * digits, no trailing zero) and *exponent so that digits * 10^exponent is
 * the shortest decimal that reads back as |v|, the nearest to |v| of the
 * shortest (ties to an even last digit). */
void shortest_double(double v, uint64_t *digits, int *exponent);

/* Writes the decimal digits of v so that they end just before end (20
 * bytes at most), two at a time from the last; returns where they start. */
char *decimal_digits(uint64_t v, char *end);

/* The text %.15g, %.16g or %.17g writes for v, whichever is the first that
 * reads back as v: the shortest digits, in %g's form at precision
 * max(15, their count). Writes at most 25 bytes to out (no NUL) and returns
 * the length. v finite. */
size_t shortest_double_text(double v, char *out);

#endif
