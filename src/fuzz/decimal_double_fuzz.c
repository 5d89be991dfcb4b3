/* libFuzzer target, both ways: every number of a JSON document read by
 * the fast path (decimal_double_fast) reads as strtod reads it, bit for
 * bit, where the fast path takes it; and every number strtod reads is
 * written by json_write_double (the fast formatter, or snprintf) as text
 * that reads back to it, the fast formatter's as %.15g's. json_parse
 * decides what is a number. */
#include "core/decimal_double.h"
#include "core/json_decode.h"
#include "core/json_encode.h"
#include "util/buf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_event(void *ctx, enum json_event event, const struct json_token *token)
{
	(void)ctx;
	if (event != JSON_NUMBER && event != JSON_INTEGER)
		return 0;
	char copy[512];
	if (token->len >= sizeof copy)
		abort(); /* json_parse refuses numbers this long */
	memcpy(copy, token->text, token->len);
	copy[token->len] = '\0';
	double slow = strtod(copy, NULL);
	double fast;
	if (decimal_double_fast(token->text, token->len, &fast) && memcmp(&fast, &slow, sizeof fast) != 0)
		abort();
	char text[32], reference[32];
	size_t len = decimal_double_format_fast(slow, text);
	if (len > 0) {
		text[len] = '\0';
		snprintf(reference, sizeof reference, "%.15g", slow);
		if (strcmp(text, reference) != 0)
			abort();
	}
	struct buf b = {0};
	if (isfinite(slow) && json_write_double(&b, slow) == 0) {
		char *written = strndup(b.data, b.len);
		double back = written ? strtod(written, NULL) : slow;
		free(written);
		if (back != slow)
			abort();
	}
	buf_free(&b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error err;
	json_parse((const char *)data, size, on_event, NULL, &err);
	return 0;
}
