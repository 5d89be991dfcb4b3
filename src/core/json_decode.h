/*
 * A strict JSON (RFC 8259) parser that reports what it reads as events, so
 * the caller builds whatever values it likes. Plain C: it is fuzzed alone.
 */
#ifndef PULSE_JSON_DECODE_H
#define PULSE_JSON_DECODE_H

#include <stddef.h>

enum json_event {
	JSON_NULL,
	JSON_TRUE,
	JSON_FALSE,
	JSON_INTEGER, /* no fraction or exponent, and fits in long long */
	JSON_NUMBER,
	JSON_STRING, /* text/len is the raw, still escaped span */
	JSON_KEY,    /* likewise */
	JSON_OBJECT_BEGIN,
	JSON_OBJECT_END,
	JSON_ARRAY_BEGIN,
	JSON_ARRAY_END,
};

struct json_token {
	long long integer;
	double number;
	const char *text;
	size_t len;
	int escaped; /* the span holds backslash escapes */
};

/* Returns 0 to go on; anything else stops the parse and is returned. */
typedef int (*json_handler)(void *ctx, enum json_event event, const struct json_token *token);

struct json_error {
	size_t offset;
	const char *reason; /* static text */
};

#define JSON_MAX_DEPTH 512

/* Returns 0, -1 for malformed input (err filled), or the handler's value. */
int json_parse(const char *text, size_t len, json_handler handler, void *ctx, struct json_error *err);

/*
 * Writes the unescaped, UTF-8 form of a span that json_parse accepted into
 * out, which needs len bytes (unescaping never grows text), and returns
 * its length.
 */
size_t json_unescape(const char *span, size_t len, char *out);

#endif
