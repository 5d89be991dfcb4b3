/*
 * The shape of the best Lua peer, Lua-cURLv3 with lua-cjson (neither
 * packaged for Lua 5.4): plain C on libcurl's multi interface, C requests
 * at a time, each body gathered and decoded by lua-cjson through the Lua
 * C API into a Lua state, as a Lua-cURLv3 script calling cjson.decode in
 * its write callback's end would. The same headers pulse-lua sends.
 * Prints the elapsed seconds.
 *   cjson_multi URL N C
 */
#include "plain.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

int luaopen_cjson(lua_State *L);

struct body {
	char *data;
	size_t len, cap;
};

static size_t gather(char *data, size_t size, size_t n, void *userdata)
{
	struct body *b = userdata;
	size_t add = size * n;
	if (b->len + add > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + add)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, add);
	b->len += add;
	return add;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: cjson_multi URL N C\n");
		return 2;
	}
	long n = atol(argv[2]), c = atol(argv[3]);
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	luaL_requiref(L, "cjson", luaopen_cjson, 0);
	lua_getfield(L, -1, "decode"); /* kept at index 2 */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	struct curl_slist *headers = pulse_headers();
	long started = 0, finished = 0;
	CURL **handles = calloc((size_t)c, sizeof *handles);
	struct body *bodies = calloc((size_t)c, sizeof *bodies);
	double start = seconds();
	for (long i = 0; i < c && started < n; i++, started++) {
		handles[i] = curl_easy_init();
		curl_easy_setopt(handles[i], CURLOPT_URL, argv[1]);
		curl_easy_setopt(handles[i], CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(handles[i], CURLOPT_ACCEPT_ENCODING, "");
		curl_easy_setopt(handles[i], CURLOPT_WRITEFUNCTION, gather);
		curl_easy_setopt(handles[i], CURLOPT_WRITEDATA, &bodies[i]);
		curl_easy_setopt(handles[i], CURLOPT_PRIVATE, &bodies[i]);
		curl_multi_add_handle(multi, handles[i]);
	}
	while (finished < n) {
		int running, left;
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *easy = msg->easy_handle;
			long status = 0;
			struct body *b;
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
			curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&b);
			if (msg->data.result != CURLE_OK || status != 200) {
				fprintf(stderr, "cjson_multi: a request failed (status %ld)\n", status);
				return 1;
			}
			lua_pushvalue(L, 2);
			lua_pushlstring(L, b->data, b->len);
			if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
				fprintf(stderr, "cjson_multi: the body is not a JSON object\n");
				return 1;
			}
			lua_pop(L, 1);
			b->len = 0;
			finished++;
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
	for (long i = 0; i < c; i++) {
		curl_easy_cleanup(handles[i]);
		free(bodies[i].data);
	}
	free(handles);
	free(bodies);
	curl_slist_free_all(headers);
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	lua_close(L);
	return 0;
}
