#include "record.h"

#include "util/sha256.h"

#include <stdint.h>

static uint32_t checksum(const void *payload, size_t len)
{
	struct sha256 h;
	unsigned char digest[32];
	sha256_init(&h);
	sha256_update(&h, payload, len);
	sha256_final(&h, digest);
	return (uint32_t)digest[0] | (uint32_t)digest[1] << 8 | (uint32_t)digest[2] << 16 |
	       (uint32_t)digest[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void record_header(unsigned char header[RECORD_HEADER], const void *payload, size_t len)
{
	put_le32(header, (uint32_t)len);
	put_le32(header + 4, checksum(payload, len));
}

enum record_scan record_next(const unsigned char *buf, size_t len, const unsigned char **payload,
                             size_t *payload_len, size_t *size)
{
	if (len == 0)
		return RECORD_END;
	if (len < RECORD_HEADER)
		return RECORD_TORN;
	uint32_t n = get_le32(buf);
	if (n > RECORD_MAX_PAYLOAD || n > len - RECORD_HEADER)
		return RECORD_TORN;
	if (checksum(buf + RECORD_HEADER, n) != get_le32(buf + 4))
		return RECORD_TORN;
	*payload = buf + RECORD_HEADER;
	*payload_len = n;
	*size = RECORD_HEADER + (size_t)n;
	return RECORD_WHOLE;
}

/* The offset of the first whole record after at (len when none): where a
 * walk past damage picks up again. */
static size_t next_whole(const unsigned char *buf, size_t len, size_t at)
{
	for (size_t from = at + 1; from < len; from++) {
		const unsigned char *payload;
		size_t payload_len, size;
		if (record_next(buf + from, len - from, &payload, &payload_len, &size) == RECORD_WHOLE)
			return from;
	}
	return len;
}

/* Whether the bytes left are a record cut short: fewer than a header, or
 * fewer than the header says (a length past the bound is one too). */
static int cut_short(const unsigned char *buf, size_t len)
{
	if (len < RECORD_HEADER)
		return 1;
	uint32_t n = get_le32(buf);
	return n > RECORD_MAX_PAYLOAD || n > len - RECORD_HEADER;
}

size_t record_walk(const unsigned char *buf, size_t len, const struct record_walk *walk)
{
	size_t at = 0;
	while (at < len) {
		const unsigned char *payload;
		size_t payload_len, size;
		if (record_next(buf + at, len - at, &payload, &payload_len, &size) == RECORD_WHOLE) {
			walk->record(payload, payload_len, walk->ctx);
			at += size;
			continue;
		}
		size_t next = next_whole(buf, len, at);
		if (next == len && cut_short(buf + at, len - at))
			return at;
		walk->damage(at, next - at, walk->ctx);
		at = next;
	}
	return len;
}
