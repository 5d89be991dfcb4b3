/*
 * A shared library opened when first needed rather than linked: pulse-lua
 * loads libcurl and libmicrohttpd this way (net/curl_dlopen.c,
 * sandbox/mhd_dlopen.c), to keep them off every start.
 */
#ifndef PULSE_LAZY_LIBRARY_H
#define PULSE_LAZY_LIBRARY_H

#include <stddef.h>

/* One function to resolve: where its address goes, and its name. */
struct lazy_symbol {
	void **slot;
	const char *name;
};

/* Opens soname and fills each of the count slots. Returns 1, or 0 when the
 * library or one of the functions is not there. */
int lazy_library_load(const char *soname, const struct lazy_symbol *symbols, size_t count);

#endif
