/*
 * The baseline of the transport benchmark: N sequential GETs on one reused
 * libcurl handle, the same headers pulse-lua sends, the body counted and
 * dropped. Prints the elapsed seconds.
 *   plain_get URL N
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t count_bytes(char *data, size_t size, size_t n, void *total)
{
	(void)data;
	*(size_t *)total += size * n;
	return size * n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: plain_get URL N\n");
		return 2;
	}
	long n = atol(argv[2]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *easy = curl_easy_init();
	/* The header lines pulse-lua sends, in its order: the server sees the
	 * same request from both. */
	char agent[128];
	snprintf(agent, sizeof agent, "User-Agent: pulse-lua/bench libcurl/%s Lua/5.4",
	         curl_version_info(CURLVERSION_NOW)->version);
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	headers = curl_slist_append(headers, agent);
	headers = curl_slist_append(headers, "Authorization: Api-key bench-key");
	size_t total = 0;
	curl_easy_setopt(easy, CURLOPT_URL, argv[1]);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, count_bytes);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &total);
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < n; i++) {
		long status = 0;
		if (curl_easy_perform(easy) != CURLE_OK ||
		    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
			fprintf(stderr, "plain_get: request %ld failed (status %ld)\n", i, status);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("%.6f\n", (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	curl_global_cleanup();
	return total > 0 ? 0 : 1;
}
