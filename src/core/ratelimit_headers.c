#include "ratelimit_headers.h"

#include "util/header_block.h"
#include "util/http_date.h"

#include <math.h>
#include <string.h>

/* Beyond this, a count or a date is garbage, not a server's intent. */
#define MAX_SECONDS 1e9

struct cursor {
	const char *p;
	const char *end;
};

static void skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static int at(const struct cursor *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A Structured Fields integer or decimal, non-negative (RFC 8941 3.3.1-2). */
static int parse_sf_number(struct cursor *c, double *out)
{
	double v = 0;
	int digits = 0;
	while (c->p < c->end && is_digit(*c->p)) {
		if (++digits > 15)
			return -1;
		v = v * 10 + (*c->p++ - '0');
	}
	if (digits == 0)
		return -1;
	if (at(c, '.')) {
		c->p++;
		double scale = 0.1;
		int fraction = 0;
		while (c->p < c->end && is_digit(*c->p)) {
			if (++fraction > 3)
				return -1;
			v += (*c->p++ - '0') * scale;
			scale /= 10;
		}
		if (fraction == 0)
			return -1;
	}
	*out = v;
	return 0;
}

static int is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '*';
}

/* Skips a parameter value we do not use: a token, string or number. */
static int skip_bare_item(struct cursor *c)
{
	if (at(c, '"')) {
		for (c->p++; c->p < c->end && *c->p != '"'; c->p++)
			if (*c->p == '\\' && ++c->p == c->end)
				return -1;
		if (!at(c, '"'))
			return -1;
		c->p++;
		return 0;
	}
	const char *from = c->p;
	while (c->p < c->end && *c->p != ';' && *c->p != ',' && *c->p != ' ' && *c->p != '\t')
		c->p++;
	return c->p > from ? 0 : -1;
}

/* One list member: a number with parameters; w and b are read, others skipped. */
static int parse_member(struct cursor *c, struct ratelimit_policy *m, int *has_window)
{
	memset(m, 0, sizeof *m);
	*has_window = 0;
	if (parse_sf_number(c, &m->limit) != 0)
		return -1;
	while (at(c, ';')) {
		c->p++;
		skip_ows(c);
		const char *key = c->p;
		while (c->p < c->end && is_key_char(*c->p))
			c->p++;
		size_t key_len = (size_t)(c->p - key);
		if (key_len == 0)
			return -1;
		if (!at(c, '='))
			continue; /* a boolean parameter */
		c->p++;
		int w = key_len == 1 && key[0] == 'w';
		int b = key_len == 1 && key[0] == 'b';
		if (w || b) {
			double v;
			if (parse_sf_number(c, &v) != 0 || v <= 0)
				return -1;
			if (w) {
				m->window = v;
				*has_window = 1;
			} else {
				m->burst = v;
			}
		} else if (skip_bare_item(c) != 0) {
			return -1;
		}
	}
	return 0;
}

int ratelimit_parse_policy(const char *value, size_t len, struct ratelimit_policy *out)
{
	struct cursor c = {value, value + len};
	struct ratelimit_policy first = {0}, chosen = {0};
	int found = 0, members = 0;
	skip_ows(&c);
	while (c.p < c.end) {
		struct ratelimit_policy m;
		int has_window;
		if (parse_member(&c, &m, &has_window) != 0)
			return -1;
		if (members++ == 0)
			first = m;
		if (has_window && !found) {
			chosen = m;
			found = 1;
		}
		skip_ows(&c);
		if (c.p == c.end)
			break;
		if (!at(&c, ','))
			return -1;
		c.p++;
		skip_ows(&c);
		if (c.p == c.end)
			return -1; /* a trailing comma */
	}
	if (members == 0)
		return -1;
	*out = found ? chosen : first;
	if (out->limit <= 0 || (out->burst > 0 && out->burst < 1))
		return -1;
	return 0;
}

int ratelimit_parse_count(const char *value, size_t len, double *out)
{
	struct cursor c = {value, value + len};
	skip_ows(&c);
	double v = 0;
	int digits = 0;
	while (c.p < c.end && is_digit(*c.p)) {
		if (++digits > 10)
			return -1;
		v = v * 10 + (*c.p++ - '0');
	}
	skip_ows(&c);
	if (digits == 0 || c.p != c.end || v > MAX_SECONDS)
		return -1;
	*out = v;
	return 0;
}

static void trim(struct cursor *c)
{
	skip_ows(c);
	while (c->end > c->p && (c->end[-1] == ' ' || c->end[-1] == '\t'))
		c->end--;
}

int retry_after_parse(const char *value, size_t len, double now_epoch, double *delay)
{
	struct cursor c = {value, value + len};
	trim(&c);
	if (c.p < c.end && is_digit(*c.p))
		return ratelimit_parse_count(c.p, (size_t)(c.end - c.p), delay);
	double epoch;
	if (http_date_parse(c.p, (size_t)(c.end - c.p), &epoch) != 0)
		return -1;
	double d = epoch - now_epoch;
	if (d > MAX_SECONDS)
		return -1;
	*delay = d > 0 ? d : 0;
	return 0;
}

/* Rate-limit values are a few dozen bytes; a longer one is malformed. */
#define MAX_VALUE 512

/* The fields read, in order of preference for the policy. */
enum field { ORG_LIMIT, POLICY, LIMIT, REMAINING, RESET, RETRY_AFTER, DATE, FIELDS };

#define NAME(text)                                                                                           \
	{                                                                                                    \
		text, sizeof text - 1                                                                        \
	}
static const struct {
	const char *text;
	size_t len; /* compared first: most fields differ in length */
} field_names[FIELDS] = {
    NAME("organization-ratelimit-limit"),
    NAME("ratelimit-policy"),
    NAME("ratelimit-limit"),
    NAME("ratelimit-remaining"),
    NAME("ratelimit-reset"),
    NAME("retry-after"),
    NAME("date"),
};
#undef NAME
#define FIELD_INITIALS "ord" /* the first letters of field_names */

/* A field's value: its only line's text in the block, or, when it came on
 * several lines, all of them joined in value (NULL when absent or too long). */
static const char *field_value(const char *block, size_t len, enum field which,
                               const struct header_field *first, int lines, char value[MAX_VALUE],
                               size_t *value_len)
{
	if (lines == 1) {
		*value_len = first->value_len;
		return first->value;
	}
	long n = header_block_get(block, len, field_names[which].text, value, MAX_VALUE);
	*value_len = n < 0 ? 0 : (size_t)n;
	return n < 0 ? NULL : value;
}

static int whole_calls(double n)
{
	return n >= 1 && n < RATELIMIT_MAX_CALLS && n == floor(n);
}

static int sane_policy(const struct ratelimit_policy *p)
{
	return whole_calls(p->limit) && (p->burst == 0 || whole_calls(p->burst)) &&
	       (p->window == 0 || (p->window >= RATELIMIT_MIN_WINDOW && p->window <= RATELIMIT_MAX_WAIT));
}

/* Whether a field that was there (present) was read (valid); counts it in
 * o->ignored when not. */
static int keep(struct ratelimit_observation *o, int present, int valid)
{
	if (present && !valid)
		o->ignored++;
	return present && valid;
}

void ratelimit_read_response(long status, const char *block, size_t len, double now_epoch,
                             struct ratelimit_observation *o)
{
	/* One pass over the block finds the fields: a response has a dozen
	 * fields and this runs for every one. */
	struct header_field f, first[FIELDS];
	int lines[FIELDS] = {0};
	size_t pos = 0;
	while (header_block_next_of(block, len, &pos, FIELD_INITIALS, &f))
		for (int i = 0; i < FIELDS; i++)
			if (f.name_len == field_names[i].len && header_field_is(&f, field_names[i].text) &&
			    lines[i]++ == 0)
				first[i] = f;

	*o = (struct ratelimit_observation){.rate_limited = status == 429};
	char value[MAX_VALUE];
	size_t n;
	const char *v;
	for (int i = ORG_LIMIT; i <= LIMIT; i++) {
		if (!lines[i])
			continue;
		v = field_value(block, len, (enum field)i, &first[i], lines[i], value, &n);
		o->has_policy =
		    keep(o, 1, v && ratelimit_parse_policy(v, n, &o->policy) == 0 && sane_policy(&o->policy));
		break;
	}
	if (lines[REMAINING]) {
		v = field_value(block, len, REMAINING, &first[REMAINING], lines[REMAINING], value, &n);
		o->has_remaining = keep(o, 1, v && ratelimit_parse_count(v, n, &o->remaining) == 0);
	}
	if (lines[RESET]) {
		v = field_value(block, len, RESET, &first[RESET], lines[RESET], value, &n);
		o->has_reset = keep(
		    o, 1, v && ratelimit_parse_count(v, n, &o->reset) == 0 && o->reset <= RATELIMIT_MAX_WAIT);
	}
	if (lines[RETRY_AFTER]) {
		/* A Retry-After date counts from the server's Date, when it sent
		 * one (RFC 9110 10.2.3): a client whose clock is off still waits
		 * as long as the server meant. */
		double server_now;
		if (lines[DATE] == 1 &&
		    http_date_parse(first[DATE].value, first[DATE].value_len, &server_now) == 0)
			now_epoch = server_now;
		v = field_value(block, len, RETRY_AFTER, &first[RETRY_AFTER], lines[RETRY_AFTER], value, &n);
		o->has_retry_after = keep(o, 1,
		                          v && retry_after_parse(v, n, now_epoch, &o->retry_after) == 0 &&
		                              o->retry_after <= RATELIMIT_MAX_WAIT);
	}
}
