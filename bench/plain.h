/*
 * What the plain C baselines (plain_get.c, plain_multi.c) share: the header
 * lines pulse-lua sends, a write callback that counts and drops the body,
 * and the clock.
 */
#ifndef PULSE_BENCH_PLAIN_H
#define PULSE_BENCH_PLAIN_H

#include <curl/curl.h>
#include <stdio.h>
#include <time.h>

static inline size_t count_bytes(char *data, size_t size, size_t n, void *total)
{
	(void)data;
	*(size_t *)total += size * n;
	return size * n;
}

/* The header lines pulse-lua sends, in its order: the server sees the same
 * request from both. */
static struct curl_slist *pulse_headers(void)
{
	char agent[128];
	snprintf(agent, sizeof agent, "User-Agent: pulse-lua/bench libcurl/%s Lua/5.4",
	         curl_version_info(CURLVERSION_NOW)->version);
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	headers = curl_slist_append(headers, agent);
	return curl_slist_append(headers, "Authorization: Api-key bench-key");
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#endif
