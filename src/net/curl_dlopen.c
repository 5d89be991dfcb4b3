/*
 * libcurl, loaded when first used rather than at exec: linking it costs
 * pulse-lua's start-up ~8 ms (the dynamic loader relocating its 30-odd
 * libraries, perf: 58% of a start in ld.so), and a script that only
 * computes never needs it. The runner links this file instead of
 * -lcurl; it defines the libcurl functions the net layer calls, each
 * resolved with dlsym on first use. pulse/core.so, the module, links
 * libcurl as usual.
 *
 * A libcurl that cannot be loaded fails the way libcurl itself fails:
 * curl_global_init returns an error, and the init functions NULL.
 */
#include "util/lazy_library.h"

/* The definitions below are functions, not the type-checking macros
 * curl.h makes of some under GCC. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	curl_version_info_data *(*version_info)(CURLversion);
} real;

static int loaded; /* 1: every function resolved; -1: libcurl is not there */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	const struct lazy_symbol symbols[] = {
	    {(void **)&real.global_init, "curl_global_init"},
	    {(void **)&real.easy_init, "curl_easy_init"},
	    {(void **)&real.easy_cleanup, "curl_easy_cleanup"},
	    {(void **)&real.easy_setopt, "curl_easy_setopt"},
	    {(void **)&real.easy_getinfo, "curl_easy_getinfo"},
	    {(void **)&real.easy_perform, "curl_easy_perform"},
	    {(void **)&real.easy_strerror, "curl_easy_strerror"},
	    {(void **)&real.slist_append, "curl_slist_append"},
	    {(void **)&real.slist_free_all, "curl_slist_free_all"},
	    {(void **)&real.multi_init, "curl_multi_init"},
	    {(void **)&real.multi_cleanup, "curl_multi_cleanup"},
	    {(void **)&real.multi_setopt, "curl_multi_setopt"},
	    {(void **)&real.multi_add_handle, "curl_multi_add_handle"},
	    {(void **)&real.multi_remove_handle, "curl_multi_remove_handle"},
	    {(void **)&real.multi_perform, "curl_multi_perform"},
	    {(void **)&real.multi_poll, "curl_multi_poll"},
	    {(void **)&real.multi_info_read, "curl_multi_info_read"},
	    {(void **)&real.version_info, "curl_version_info"},
	};
	loaded = lazy_library_load("libcurl.so.4", symbols, sizeof symbols / sizeof *symbols) ? 1 : -1;
}

/* Whether libcurl is there, loading it on the first call. */
static int ready(void)
{
	pthread_once(&once, load);
	return loaded == 1;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? real.global_init(flags) : CURLE_FAILED_INIT;
}

curl_version_info_data *curl_version_info(CURLversion age)
{
	static curl_version_info_data missing = {.version = "(libcurl.so.4 not found)"};
	return ready() ? real.version_info(age) : &missing;
}

/* The functions below run only after curl_global_init succeeded, or on
 * what the init functions returned: libcurl is loaded by then. */

CURL *curl_easy_init(void)
{
	return ready() ? real.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *curl)
{
	real.easy_cleanup(curl);
}

/* An option's one argument, by the type libcurl numbers it with. */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	va_start(ap, option);
	CURLcode rc;
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = real.easy_setopt(curl, option, va_arg(ap, long));
	else if (option >= CURLOPTTYPE_OFF_T && option < CURLOPTTYPE_BLOB)
		rc = real.easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else /* data, string, list, blob and function pointers: one pointer */
		rc = real.easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	CURLcode rc = real.easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *curl)
{
	return real.easy_perform(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? real.easy_strerror(code) : "libcurl.so.4 not found";
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? real.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list)
		real.slist_free_all(list);
}

CURLM *curl_multi_init(void)
{
	return ready() ? real.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
	return real.multi_cleanup(multi);
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
	va_list ap;
	va_start(ap, option);
	CURLMcode rc;
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = real.multi_setopt(multi, option, va_arg(ap, long));
	else if (option >= CURLOPTTYPE_OFF_T)
		rc = real.multi_setopt(multi, option, va_arg(ap, curl_off_t));
	else
		rc = real.multi_setopt(multi, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
	return real.multi_add_handle(multi, curl);
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
	return real.multi_remove_handle(multi, curl);
}

CURLMcode curl_multi_perform(CURLM *multi, int *running)
{
	return real.multi_perform(multi, running);
}

CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd extra[], unsigned n, int ms, int *numfds)
{
	return real.multi_poll(multi, extra, n, ms, numfds);
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *left)
{
	return real.multi_info_read(multi, left);
}
