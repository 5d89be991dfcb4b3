#include "shortest_double.h"

#include "pow10_table.h"

#include <math.h>
#include <string.h>

#define FRACTION_BITS 52
#define HIDDEN_BIT ((uint64_t)1 << FRACTION_BITS)
#define EXPONENT_MASK 0x7ff
#define EXPONENT_BIAS 1075 /* v = c 2^q with q = biased - 1075 */
#define Q_MIN (-1074)      /* the subnormals' q */
#define LOW_63 (((uint64_t)1 << 63) - 1)

/* The high 64 bits of a * b. */
static uint64_t high64(uint64_t a, uint64_t b, uint64_t *low)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;
	*low = (uint64_t)p;
	return (uint64_t)(p >> 64);
#else
	uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
	uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
	uint64_t middle = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
	*low = (middle << 32) | (p00 & 0xffffffffu);
	return p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32);
#endif
}

/* floor(x / 2^shift) for either sign, without relying on how >> treats a
 * negative number. */
static int floor_shift(int64_t x, int shift)
{
	return (int)(x >= 0 ? x >> shift : ~(~x >> shift));
}

/* floor(log10(2^e)), floor(log10(3/4 2^e)) and floor(log2(10^e)) by a
 * multiplication: tools/pow10_table.py checks each against exact
 * fractions over every e a double needs. */
static int floor_log10_pow2(int e)
{
	return floor_shift((int64_t)e * 661971961083, 41);
}

static int floor_log10_three_quarters_pow2(int e)
{
	return floor_shift((int64_t)e * 661971961083 - 274743187321, 41);
}

static int floor_log2_pow10(int e)
{
	return floor_shift((int64_t)e * 913124641741, 38);
}

/* g cp / 2^127 rounded to odd (its last bit set when anything was cut
 * off), g being the table's 126-bit entry: enough to compare a scaled
 * bound of the interval with 4 times a candidate exactly. */
static uint64_t scale_to_odd(const uint64_t g[2], uint64_t cp)
{
	uint64_t unused, y0;
	uint64_t x1 = high64(g[1], cp, &unused);
	uint64_t y1 = high64(g[0], cp, &y0);
	uint64_t z = (y0 >> 1) + x1;
	uint64_t scaled = y1 + (z >> 63);
	return scaled | (((z & LOW_63) + LOW_63) >> 63);
}

/* The shortest nearest decimal of c 2^q (c at least 3): digits s, k such
 * that s 10^k, s at most one digit longer than needed (its trailing zeros
 * are the caller's to drop). */
static void shortest_of(int q, uint64_t c, uint64_t *digits, int *exponent)
{
	/* An odd c's interval leaves its bounds out: they round to the even
	 * neighbours. */
	uint64_t open = c & 1;
	uint64_t cb = c << 2, cb_right = cb + 2, cb_left;
	int k;
	if (c != HIDDEN_BIT || q == Q_MIN) {
		cb_left = cb - 2;
		k = floor_log10_pow2(q);
	} else {
		/* A power of two: the gap below is half the gap above. */
		cb_left = cb - 1;
		k = floor_log10_three_quarters_pow2(q);
	}
	int h = q + floor_log2_pow10(-k) + 2;
	const uint64_t *g = POW10_G[k - POW10_K_MIN];
	/* v, its left and right bounds, times 4 10^-k */
	uint64_t vb = scale_to_odd(g, cb << h);
	uint64_t vb_left = scale_to_odd(g, cb_left << h);
	uint64_t vb_right = scale_to_odd(g, cb_right << h);
	uint64_t s = vb >> 2;
	*exponent = k;
	/* A decimal of fewer digits is a multiple of 10 here: 10 floor(s / 10)
	 * or the next (the interval, under 10 wide, holds one at most). s is
	 * below 10^17, where the high half of s times 0x19...a0 (2^64 / 10
	 * and a little) is floor(s / 10). Java's Double.toString keeps two
	 * digits at least and skips this below 100; JSON wants the fewest. */
	uint64_t unused;
	uint64_t shorter = 10 * high64(s, 0x19999999999999a0u, &unused);
	uint64_t longer = shorter + 10;
	int shorter_in = vb_left + open <= shorter << 2;
	int longer_in = (longer << 2) + open <= vb_right;
	if (shorter_in != longer_in) {
		*digits = shorter_in ? shorter : longer;
		return;
	}
	int s_in = vb_left + open <= s << 2;
	int next_in = ((s + 1) << 2) + open <= vb_right;
	if (s_in != next_in) {
		*digits = s_in ? s : s + 1;
		return;
	}
	/* Both: the nearer to v, an even one on a tie. */
	uint64_t middle = (2 * s + 1) << 1;
	*digits = vb < middle || (vb == middle && (s & 1) == 0) ? s : s + 1;
}

void shortest_double(double v, uint64_t *digits, int *exponent)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint64_t fraction = bits & (HIDDEN_BIT - 1);
	int biased = (int)(bits >> FRACTION_BITS) & EXPONENT_MASK;
	if (biased == 0 && fraction < 3) {
		/* The two smallest subnormals are too wide for shortest_of's one
		 * step: each interval holds several one-digit decimals. */
		*digits = fraction == 1 ? 5 : 1;
		*exponent = fraction == 1 ? -324 : -323;
		return;
	}
	uint64_t c = biased == 0 ? fraction : fraction | HIDDEN_BIT;
	int q = biased == 0 ? Q_MIN : biased - EXPONENT_BIAS;
	if (q < 0 && q > -FRACTION_BITS - 1 && ((c >> -q) << -q) == c) {
		/* An integer below 2^53: its own digits, with gaps of at most a
		 * half no other decimal as short reads back as it. */
		*digits = c >> -q;
		*exponent = 0;
	} else {
		shortest_of(q, c, digits, exponent);
	}
	/* Trailing zeros, eight, four, two and one at a time: a price's 16
	 * digits are mostly zeros. */
	static const struct {
		uint64_t power;
		int zeros;
	} STEPS[] = {{100000000, 8}, {10000, 4}, {100, 2}, {10, 1}};
	for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++) {
		while (*digits % STEPS[i].power == 0) {
			*digits /= STEPS[i].power;
			*exponent += STEPS[i].zeros;
		}
	}
}

char *decimal_digits(uint64_t v, char *end)
{
	static const char PAIRS[] =
	    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	    "8081828384858687888990919293949596979899";
	char *text = end;
	while (v >= 100) {
		text -= 2;
		memcpy(text, PAIRS + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		text -= 2;
		memcpy(text, PAIRS + 2 * v, 2);
	} else {
		*--text = (char)('0' + v);
	}
	return text;
}

size_t shortest_double_text(double v, char *out)
{
	size_t len = 0;
	if (signbit(v))
		out[len++] = '-';
	if (v == 0) {
		out[len++] = '0';
		return len;
	}
	uint64_t digits;
	int exponent;
	shortest_double(v, &digits, &exponent);
	char buffer[20];
	char *end = buffer + sizeof buffer, *text = decimal_digits(digits, end);
	int n = (int)(end - text);
	int lead = exponent + n - 1; /* the power of ten of the first digit */
	int precision = n > 15 ? n : 15;
	if (lead < -4 || lead >= precision) {
		out[len++] = text[0];
		if (n > 1) {
			out[len++] = '.';
			memcpy(out + len, text + 1, (size_t)n - 1);
			len += (size_t)n - 1;
		}
		out[len++] = 'e';
		out[len++] = lead < 0 ? '-' : '+';
		int size = lead < 0 ? -lead : lead;
		if (size >= 100)
			out[len++] = (char)('0' + size / 100);
		out[len++] = (char)('0' + size / 10 % 10);
		out[len++] = (char)('0' + size % 10);
	} else if (lead >= n - 1) {
		memcpy(out + len, text, (size_t)n);
		len += (size_t)n;
		for (int zeros = lead - n + 1; zeros > 0; zeros--)
			out[len++] = '0';
	} else if (lead >= 0) {
		memcpy(out + len, text, (size_t)lead + 1);
		len += (size_t)lead + 1;
		out[len++] = '.';
		memcpy(out + len, text + lead + 1, (size_t)(n - lead - 1));
		len += (size_t)(n - lead - 1);
	} else {
		out[len++] = '0';
		out[len++] = '.';
		for (int zeros = -lead - 1; zeros > 0; zeros--)
			out[len++] = '0';
		memcpy(out + len, text, (size_t)n);
		len += (size_t)n;
	}
	return len;
}
