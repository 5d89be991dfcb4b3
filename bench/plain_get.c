/*
 * The baseline of the transport benchmark: N sequential GETs on one reused
 * libcurl handle, the same headers pulse-lua sends, the body counted and
 * dropped. Prints the elapsed seconds.
 *   plain_get URL N
 */
#include "plain.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: plain_get URL N\n");
		return 2;
	}
	long n = atol(argv[2]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *easy = curl_easy_init();
	struct curl_slist *headers = pulse_headers();
	size_t total = 0;
	curl_easy_setopt(easy, CURLOPT_URL, argv[1]);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, count_bytes);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &total);
	double start = seconds();
	for (long i = 0; i < n; i++) {
		long status = 0;
		if (curl_easy_perform(easy) != CURLE_OK ||
		    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
			fprintf(stderr, "plain_get: request %ld failed (status %ld)\n", i, status);
			return 1;
		}
	}
	printf("%.6f\n", seconds() - start);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	curl_global_cleanup();
	return total > 0 ? 0 : 1;
}
