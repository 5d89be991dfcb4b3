/* libFuzzer target, both ways: every number of a JSON document reads as
 * strtod (or, for an integer, strtoll) reads it, bit for bit, whether the
 * parser took its fast path or not; and every number strtod reads, and
 * the double of the input's first 8 bytes, is written by
 * json_write_double (the fast formatter, or the shortest) as text that
 * reads back to it: the fast formatter's as %.15g's, the shortest's as
 * the first of %.15g, %.16g and %.17g that reads back, or shorter where
 * that is longer than needed (subnormals, powers of two). json_parse
 * decides what is a number. */
#include "core/decimal_double.h"
#include "core/json_decode.h"
#include "core/json_encode.h"
#include "core/shortest_double.h"
#include "util/buf.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_shortest(double v)
{
	if (!isfinite(v))
		return;
	char text[32], reference[32];
	size_t len = shortest_double_text(v, text);
	text[len] = '\0';
	double back = strtod(text, NULL);
	if (memcmp(&back, &v, sizeof v) != 0 && !(v == 0 && back == 0))
		abort();
	for (int precision = 15; precision <= 17; precision++) {
		snprintf(reference, sizeof reference, "%.*g", precision, v);
		if (strtod(reference, NULL) == v)
			break;
	}
	int frexp_exponent;
	int lopsided = frexp(fabs(v), &frexp_exponent) == 0.5 || fabs(v) < DBL_MIN;
	if (lopsided ? len > strlen(reference) : strcmp(text, reference) != 0)
		abort();
}

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
	check_shortest(slow);
	if (event == JSON_NUMBER ? memcmp(&token->number, &slow, sizeof slow) != 0
	                         : token->integer != strtoll(copy, NULL, 10))
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
	if (size >= sizeof(double)) {
		double v;
		memcpy(&v, data, sizeof v);
		check_shortest(v);
	}
	struct json_error err;
	json_parse((const char *)data, size, on_event, NULL, &err);
	return 0;
}
