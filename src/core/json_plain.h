/*
 * The bytes a JSON string holds as they are: not a quote, a backslash or a
 * control character. Looked for 8 at a time by the decoder (where a
 * string ends or escapes) and the encoder (what it must escape), alike.
 */
#ifndef PULSE_CORE_JSON_PLAIN_H
#define PULSE_CORE_JSON_PLAIN_H

#include <stdint.h>
#include <string.h>

/*
 * Flags (a byte's high bit) on the 8 bytes at s that may not be plain; 0
 * when all are. Each term is the classic "some byte is zero" test
 * (Hacker's Delight 6-1): it may flag bytes above the first it finds, as
 * a borrow runs upward, never below it, so the lowest flag is exact.
 */
static inline uint64_t json_unplain_flags(const char *s)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t w;
	memcpy(&w, s, sizeof w);
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
	return (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((w - ones * 0x20) & ~w)) &
	       highs;
}

/* How many bytes are plain before the first that is not, of a word whose
 * flags are not 0: its lowest flag's, where the first byte of a word is
 * its lowest; elsewhere 0, for the caller's byte loop to find which. */
static inline unsigned json_plain_before(uint64_t flags)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (unsigned)__builtin_ctzll(flags) / 8;
#else
	(void)flags;
	return 0;
#endif
}

#endif
