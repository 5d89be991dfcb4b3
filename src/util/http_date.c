/*
 * HTTP-dates (RFC 9110 section 5.6.7), as Retry-After and Date carry them:
 * IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must
 * still read. Outside input: fuzzed through ratelimit_headers_fuzz.c.
 */
#include "http_date.h"

#include <string.h>

struct cursor {
	const char *p;
	const char *end;
};

static int at(const struct cursor *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int month_index(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (strncmp(s, months + 3 * i, 3) == 0)
			return i;
	return -1;
}

/* Reads exactly n digits. */
static int read_digits(struct cursor *c, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (c->p >= c->end || !is_digit(*c->p))
			return -1;
		v = v * 10 + (*c->p++ - '0');
	}
	*out = v;
	return 0;
}

static int expect(struct cursor *c, char ch)
{
	if (!at(c, ch))
		return -1;
	c->p++;
	return 0;
}

static int read_month(struct cursor *c, int *month)
{
	if (c->end - c->p < 3)
		return -1;
	char name[4] = {c->p[0], c->p[1], c->p[2], 0};
	c->p += 3;
	return (*month = month_index(name)) < 0 ? -1 : 0;
}

static int read_clock(struct cursor *c, int *h, int *m, int *s)
{
	if (read_digits(c, 2, h) || expect(c, ':') || read_digits(c, 2, m) || expect(c, ':') ||
	    read_digits(c, 2, s))
		return -1;
	return *h < 24 && *m < 60 && *s <= 60 ? 0 : -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's). */
static long days_from_civil(long y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The three forms of RFC 9110 5.6.7, after the day name. */
static int parse_http_date(struct cursor *c, double *epoch)
{
	int day, month, year, h, m, s;
	const char *comma = memchr(c->p, ',', (size_t)(c->end - c->p));
	if (comma) {
		c->p = comma + 1;
		if (expect(c, ' ') || read_digits(c, 2, &day))
			return -1;
		if (at(c, ' ')) { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			c->p++;
			if (read_month(c, &month) || expect(c, ' ') || read_digits(c, 4, &year))
				return -1;
		} else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
			if (expect(c, '-') || read_month(c, &month) || expect(c, '-') ||
			    read_digits(c, 2, &year))
				return -1;
			year += year < 70 ? 2000 : 1900;
		}
		if (expect(c, ' ') || read_clock(c, &h, &m, &s) || expect(c, ' '))
			return -1;
		if (c->end - c->p != 3 || memcmp(c->p, "GMT", 3) != 0)
			return -1;
		c->p += 3;
	} else { /* asctime: Sun Nov  6 08:49:37 1994 */
		if (c->end - c->p < 4)
			return -1;
		c->p += 3;
		if (expect(c, ' ') || read_month(c, &month) || expect(c, ' '))
			return -1;
		if (at(c, ' '))
			c->p++;
		if (c->p < c->end && is_digit(*c->p) && c->p + 1 < c->end && is_digit(c->p[1])) {
			if (read_digits(c, 2, &day))
				return -1;
		} else if (read_digits(c, 1, &day)) {
			return -1;
		}
		if (expect(c, ' ') || read_clock(c, &h, &m, &s) || expect(c, ' ') || read_digits(c, 4, &year))
			return -1;
		if (c->p != c->end)
			return -1;
	}
	if (day < 1 || day > 31)
		return -1;
	*epoch = (double)days_from_civil(year, month + 1, day) * 86400.0 + h * 3600 + m * 60 + s;
	return 0;
}

static void trim(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
	while (c->end > c->p && (c->end[-1] == ' ' || c->end[-1] == '\t'))
		c->end--;
}

int http_date_parse(const char *value, size_t len, double *epoch)
{
	struct cursor c = {value, value + len};
	trim(&c);
	return parse_http_date(&c, epoch);
}
