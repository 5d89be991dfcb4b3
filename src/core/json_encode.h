/* The parts of writing JSON that need no Lua: strings and numbers. */
#ifndef PULSE_JSON_ENCODE_H
#define PULSE_JSON_ENCODE_H

#include "util/buf.h"

#include <stddef.h>

/* Appends s as a quoted JSON string. Returns 0, or -1 when out of memory. */
int json_write_string(struct buf *b, const char *s, size_t len);

/*
 * Appends the shortest text that reads back as exactly this double.
 * Returns 0, -1 when out of memory, or -2 for NaN and infinities, which
 * JSON cannot carry.
 */
int json_write_double(struct buf *b, double v);

int json_write_integer(struct buf *b, long long v);

#endif
