/*
 * The baseline of the concurrency benchmark: N GETs through libcurl's multi
 * interface, C at a time, each finished handle reused for the next
 * request; the same headers pulse-lua sends; bodies counted and dropped.
 * Prints the elapsed seconds.
 *   plain_multi URL N C
 */
#include "plain.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: plain_multi URL N C\n");
		return 2;
	}
	long n = atol(argv[2]), c = atol(argv[3]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	struct curl_slist *headers = pulse_headers();
	size_t total = 0;
	long started = 0, finished = 0;
	CURL **handles = calloc((size_t)c, sizeof *handles);
	double start = seconds();
	for (long i = 0; i < c && started < n; i++, started++) {
		handles[i] = curl_easy_init();
		curl_easy_setopt(handles[i], CURLOPT_URL, argv[1]);
		curl_easy_setopt(handles[i], CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(handles[i], CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, count_bytes);
		curl_easy_setopt(handles[i], CURLOPT_WRITEDATA, &total);
		curl_multi_add_handle(multi, handles[i]);
	}
	while (finished < n) {
		int running, left;
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			if (msg->data.result != CURLE_OK || status != 200) {
				fprintf(stderr, "plain_multi: a request failed (status %ld)\n", status);
				return 1;
			}
			finished++;
			CURL *easy = msg->easy_handle;
			curl_multi_remove_handle(multi, easy);
			if (started < n) {
				started++;
				curl_multi_add_handle(multi, easy);
			}
		}
		if (finished < n)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	printf("%.6f\n", seconds() - start);
	for (long i = 0; i < c; i++)
		curl_easy_cleanup(handles[i]);
	free(handles);
	curl_slist_free_all(headers);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	return total > 0 ? 0 : 1;
}
