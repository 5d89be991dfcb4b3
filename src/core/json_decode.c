#include "json_decode.h"
#include "decimal_double.h"
#include "json_plain.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	const char *p;
	const char *end;
	const char *start;
	json_handler handler;
	void *ctx;
	struct json_error *err;
	int depth;
};

/* A number token longer than this is not one a server sends on purpose. */
#define MAX_NUMBER_LEN 400

static int fail(struct parser *ps, const char *reason)
{
	ps->err->offset = (size_t)(ps->p - ps->start);
	ps->err->reason = reason;
	return -1;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int emit(struct parser *ps, enum json_event event, const struct json_token *token)
{
	static const struct json_token none;
	return ps->handler(ps->ctx, event, token ? token : &none);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long read_hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hex_value(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static int parse_string(struct parser *ps, enum json_event event)
{
	struct json_token token = {0};
	ps->p++; /* opening quote */
	token.text = ps->p;
	/* Plain text 8 bytes at a time, a value's bytes being mostly that, up
	 * to the first byte that is not. */
	for (; ps->end - ps->p >= 8; ps->p += 8) {
		uint64_t flags = json_unplain_flags(ps->p);
		if (flags) {
			ps->p += json_plain_before(flags);
			break;
		}
	}
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20)
			return fail(ps, "control character in string");
		if (c != '\\') {
			ps->p++;
			continue;
		}
		token.escaped = 1;
		if (ps->end - ps->p < 2)
			return fail(ps, "unterminated string");
		char e = ps->p[1];
		if (e == 'u') {
			if (ps->end - ps->p < 6 || read_hex4(ps->p + 2) < 0)
				return fail(ps, "bad \\u escape");
			ps->p += 6;
		} else if (strchr("\"\\/bfnrt", e) && e != '\0') {
			ps->p += 2;
		} else {
			return fail(ps, "bad escape in string");
		}
	}
	if (ps->p >= ps->end)
		return fail(ps, "unterminated string");
	token.len = (size_t)(ps->p - token.text);
	ps->p++; /* closing quote */
	return emit(ps, event, &token);
}

/* Digits that fit a uint64_t whatever they are. */
#define MAX_SUMMED_DIGITS 19
/* An exponent past this is no fast case whatever its digits say; capped,
 * the sum cannot overflow an int. */
#define EXPONENT_LIMIT 100000

/* Adds the digits at p to *sum and returns the end of them: the text is
 * summed as it is scanned, not read again to convert it. No check a digit:
 * a sum of more than MAX_SUMMED_DIGITS wraps and is not used. */
static inline const char *sum_digits(const char *p, const char *end, uint64_t *sum)
{
	uint64_t s = *sum;
	for (; p < end && (unsigned)(*p - '0') < 10; p++)
		s = s * 10 + (unsigned)(*p - '0');
	*sum = s;
	return p;
}

static int parse_number(struct parser *ps)
{
	const char *from = ps->p, *end = ps->end, *p = from;
	int negative = *p == '-', integral = 1;
	p += negative;
	const char *digits = p;
	uint64_t significand = 0;
	if (p < end && *p == '0')
		p++;
	else if ((p = sum_digits(p, end, &significand)) == digits) {
		ps->p = p;
		return fail(ps, "bad number");
	}
	/* The significant digits summed (not the sum: it may have wrapped to
	 * 0), and the power of ten that scales them. */
	int summed = *digits == '0' ? 0 : (int)(p - digits), exponent = 0;
	if (p < end && *p == '.') {
		integral = 0;
		const char *fraction = ++p;
		if (summed == 0)
			while (p < end && *p == '0') /* 0.00x: a zero moves the point, adds no digit */
				p++;
		const char *significant = p;
		p = sum_digits(p, end, &significand);
		if (p == fraction) {
			ps->p = p;
			return fail(ps, "bad number fraction");
		}
		summed += (int)(p - significant);
		exponent = -(int)(p - fraction);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integral = 0;
		p++;
		int exponent_negative = 0;
		if (p < end && (*p == '+' || *p == '-'))
			exponent_negative = *p++ == '-';
		const char *exponent_digits = p;
		int written = 0;
		for (; p < end && (unsigned)(*p - '0') < 10; p++)
			if (written < EXPONENT_LIMIT)
				written = written * 10 + (*p - '0');
		if (p == exponent_digits) {
			ps->p = p;
			return fail(ps, "bad number exponent");
		}
		exponent += exponent_negative ? -written : written;
	}
	ps->p = p;
	size_t len = (size_t)(ps->p - from);
	if (len > MAX_NUMBER_LEN)
		return fail(ps, "number too long");

	struct json_token token = {0};
	token.text = from;
	token.len = len;
	/* An integer of up to 18 digits cannot overflow: summed already,
	 * without strtoll's locale and errno. Longer ones go the careful way. */
	if (integral && ps->p - digits <= 18) {
		token.integer = negative ? -(long long)significand : (long long)significand;
		return emit(ps, JSON_INTEGER, &token);
	}
	if (!integral && summed <= MAX_SUMMED_DIGITS &&
	    decimal_double_exact(significand, exponent, negative, &token.number))
		return emit(ps, JSON_NUMBER, &token);
	/* The input need not be NUL-terminated, and strtod needs it to be. */
	char copy[MAX_NUMBER_LEN + 1];
	memcpy(copy, from, len);
	copy[len] = '\0';
	if (integral) {
		errno = 0;
		token.integer = strtoll(copy, NULL, 10);
		if (errno != ERANGE)
			return emit(ps, JSON_INTEGER, &token);
	}
	token.number = strtod(copy, NULL);
	return emit(ps, JSON_NUMBER, &token);
}

static int parse_literal(struct parser *ps, const char *word, enum json_event event)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->p += n;
	return emit(ps, event, NULL);
}

static int parse_value(struct parser *ps);

static int parse_container(struct parser *ps, int is_object)
{
	char close = is_object ? '}' : ']';
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "nested too deeply");
	ps->p++;
	int rc = emit(ps, is_object ? JSON_OBJECT_BEGIN : JSON_ARRAY_BEGIN, NULL);
	if (rc)
		return rc;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return emit(ps, is_object ? JSON_OBJECT_END : JSON_ARRAY_END, NULL);
	}
	for (;;) {
		if (is_object) {
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return fail(ps, "expected a string key");
			if ((rc = parse_string(ps, JSON_KEY)))
				return rc;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return fail(ps, "expected ':'");
			ps->p++;
		}
		if ((rc = parse_value(ps)))
			return rc;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return emit(ps, is_object ? JSON_OBJECT_END : JSON_ARRAY_END, NULL);
		}
		return fail(ps, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static int parse_value(struct parser *ps)
{
	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
		return parse_container(ps, 1);
	case '[':
		return parse_container(ps, 0);
	case '"':
		return parse_string(ps, JSON_STRING);
	case 't':
		return parse_literal(ps, "true", JSON_TRUE);
	case 'f':
		return parse_literal(ps, "false", JSON_FALSE);
	case 'n':
		return parse_literal(ps, "null", JSON_NULL);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		return fail(ps, "unexpected character");
	}
}

int json_parse(const char *text, size_t len, json_handler handler, void *ctx, struct json_error *err)
{
	struct parser ps = {text, text + len, text, handler, ctx, err, 0};
	int rc = parse_value(&ps);
	if (rc)
		return rc;
	skip_space(&ps);
	if (ps.p != ps.end)
		return fail(&ps, "trailing characters after the value");
	return 0;
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static char simple_escape(char e)
{
	switch (e) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return e; /* '"', '\\' and '/' stand for themselves */
	}
}

size_t json_unescape(const char *span, size_t len, char *out)
{
	const char *p = span, *end = span + len;
	size_t n = 0;
	while (p < end) {
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		if (p[1] != 'u') {
			out[n++] = simple_escape(p[1]);
			p += 2;
			continue;
		}
		unsigned long cp = (unsigned long)read_hex4(p + 2);
		p += 6;
		/* A high surrogate followed by a low one is one code point; a lone
		 * surrogate cannot be UTF-8, so it becomes U+FFFD. */
		if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
			long low = read_hex4(p + 2);
			if (low >= 0xDC00 && low <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
				p += 6;
			}
		}
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xFFFD;
		n += put_utf8(out + n, cp);
	}
	return n;
}
