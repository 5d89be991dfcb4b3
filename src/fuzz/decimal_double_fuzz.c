/* libFuzzer target: every number of a JSON document read by the fast path
 * (decimal_double_fast) reads as strtod reads it, bit for bit, where the
 * fast path takes it; and what it reads prints back (%.17g) to the same
 * double. json_parse decides what is a number. */
#include "core/decimal_double.h"
#include "core/json_decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int on_event(void *ctx, enum json_event event, const struct json_token *token)
{
	(void)ctx;
	if (event != JSON_NUMBER && event != JSON_INTEGER)
		return 0;
	double fast;
	if (!decimal_double_fast(token->text, token->len, &fast))
		return 0;
	char copy[512];
	if (token->len >= sizeof copy)
		abort(); /* json_parse refuses numbers this long */
	memcpy(copy, token->text, token->len);
	copy[token->len] = '\0';
	double slow = strtod(copy, NULL);
	if (memcmp(&fast, &slow, sizeof fast) != 0)
		abort();
	char printed[32];
	snprintf(printed, sizeof printed, "%.17g", fast);
	double back = strtod(printed, NULL);
	if (memcmp(&fast, &back, sizeof fast) != 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_error err;
	json_parse((const char *)data, size, on_event, NULL, &err);
	return 0;
}
