/*
 * HTTP-dates (RFC 9110 section 5.6.7) read into seconds since the epoch.
 */
#ifndef PULSE_UTIL_HTTP_DATE_H
#define PULSE_UTIL_HTTP_DATE_H

#include <stddef.h>

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime), spaces around it
 * allowed, as seconds since the epoch. Returns 0, or -1 when it is not
 * one. */
int http_date_parse(const char *value, size_t len, double *epoch);

#endif
