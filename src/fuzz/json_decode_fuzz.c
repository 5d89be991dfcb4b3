/* libFuzzer target: json_parse and json_unescape on arbitrary bytes. */
#include "core/json_decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tally {
	int depth;
};

static int on_event(void *ctx, enum json_event event, const struct json_token *token)
{
	struct tally *t = ctx;
	if (event == JSON_OBJECT_BEGIN || event == JSON_ARRAY_BEGIN)
		t->depth++;
	if (event == JSON_OBJECT_END || event == JSON_ARRAY_END)
		t->depth--;
	if (t->depth < 0 || t->depth > JSON_MAX_DEPTH)
		abort();
	if ((event == JSON_STRING || event == JSON_KEY) && token->escaped) {
		char *out = malloc(token->len ? token->len : 1);
		if (!out)
			return 1;
		/* Unescaping must never write more than the escaped span. */
		if (json_unescape(token->text, token->len, out) > token->len)
			abort();
		free(out);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally t = {0};
	struct json_error err;
	int rc = json_parse((const char *)data, size, on_event, &t, &err);
	if (rc == 0 && t.depth != 0)
		abort(); /* a complete document closes what it opens */
	if (rc < 0 && err.offset > size)
		abort();
	return 0;
}
