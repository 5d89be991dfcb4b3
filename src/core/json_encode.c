#include "json_encode.h"
#include "decimal_double.h"
#include "json_plain.h"
#include "shortest_double.h"

#include <math.h>
#include <string.h>

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* The length of the run of bytes at the start of s that need no escape. */
static size_t plain_run(const char *s, size_t len)
{
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t flags = json_unplain_flags(s + i);
		if (flags) {
			i += json_plain_before(flags);
			break;
		}
	}
	while (i < len && !needs_escape((unsigned char)s[i]))
		i++;
	return i;
}

/* s from its first byte that needs an escape on. */
static int write_escaped(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* bytes that need no escape, copied in one go */
	for (size_t i = 0; i < len; i++) {
		i += plain_run(s + i, len - i);
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i];
		if (buf_append(b, s + run, i - run) != 0)
			return -1;
		run = i + 1;
		char esc[7] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if (buf_append(b, esc, n) != 0)
			return -1;
	}
	return buf_append(b, s + run, len - run);
}

int json_write_string(struct buf *b, const char *s, size_t len)
{
	/* Room for the quotes and the text as it is, which is all of it for
	 * nearly every string: then one copy, no appends. */
	if (buf_reserve(b, len + 2) != 0)
		return -1;
	size_t plain = plain_run(s, len);
	char *out = b->data + b->len;
	out[0] = '"';
	memcpy(out + 1, s, plain);
	b->len += 1 + plain;
	if (plain < len && write_escaped(b, s + plain, len - plain) != 0)
		return -1;
	return buf_putc(b, '"');
}

int json_write_double(struct buf *b, double v)
{
	if (!isfinite(v))
		return -2;
	char text[32];
	/* Prices and the like (few places, no exponent) cost under half as
	 * much the fast way; either gives the text %.15g, %.16g or %.17g
	 * would. */
	size_t len = decimal_double_format_fast(v, text);
	if (len == 0)
		len = shortest_double_text(v, text);
	return buf_append(b, text, len);
}

int json_write_integer(struct buf *b, long long v)
{
	/* Digits from the end, without snprintf's format parsing. */
	char text[24];
	char *end = text + sizeof text;
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	char *p = decimal_digits(u, end);
	if (v < 0)
		*--p = '-';
	return buf_append(b, p, (size_t)(end - p));
}
