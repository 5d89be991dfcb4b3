/*
 * libFuzzer target: record_next and record_walk (queue/record.c), which
 * read a write queue's journal back after a crash, whatever the disk
 * kept. Scanning never reads outside the buffer, every record it accepts
 * lies inside it, and framing a payload then scanning it gives the
 * payload back. A walk accounts for every byte once, in order (records,
 * damage, then the torn tail it leaves), also over three framed records
 * whose middle one has a bit flipped, where the first still reads whole.
 */
#include "queue/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Where a walk has got to, and how many records it gave. */
struct walked {
	const unsigned char *base;
	size_t at;
	size_t records;
};

static void walked_record(const unsigned char *payload, size_t len, void *ctx)
{
	struct walked *w = ctx;
	if (payload != w->base + w->at + RECORD_HEADER)
		abort();
	w->at += RECORD_HEADER + len;
	w->records++;
}

static void walked_damage(size_t offset, size_t len, void *ctx)
{
	struct walked *w = ctx;
	if (offset != w->at || len == 0)
		abort();
	w->at += len;
}

static size_t walk(const unsigned char *buf, size_t len, struct walked *w)
{
	*w = (struct walked){buf, 0, 0};
	struct record_walk callbacks = {walked_record, walked_damage, w};
	size_t kept = record_walk(buf, len, &callbacks);
	if (kept != w->at || kept > len)
		abort();
	return kept;
}

/* Three records framed from data's thirds, the middle one's bit flipped
 * (chosen by data): the walk still accounts for every byte, and the first
 * record is read. (That the third is found again is the specs' to show:
 * a payload made to hold a record of its own can hide it.) */
static void flip_middle(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	size_t third = size / 3, lens[3] = {third, third, size - 2 * third};
	size_t total = 3 * RECORD_HEADER + size, at = 0;
	unsigned char *framed = malloc(total);
	if (!framed)
		return;
	const uint8_t *part = data;
	size_t middle = 0;
	for (int i = 0; i < 3; i++) {
		if (i == 1)
			middle = at;
		record_header(framed + at, part, lens[i]);
		memcpy(framed + at + RECORD_HEADER, part, lens[i]);
		at += RECORD_HEADER + lens[i];
		part += lens[i];
	}
	size_t bit = data[0] % ((RECORD_HEADER + lens[1]) * 8);
	framed[middle + bit / 8] ^= (unsigned char)(1u << (bit % 8));
	struct walked w;
	walk(framed, total, &w);
	if (w.records < 1)
		abort();
	free(framed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walked w;
	walk(data, size, &w);
	flip_middle(data, size);

	size_t at = 0;
	for (;;) {
		const unsigned char *payload;
		size_t len, record_size;
		enum record_scan scan = record_next(data + at, size - at, &payload, &len, &record_size);
		if (scan != RECORD_WHOLE)
			break;
		if (record_size != RECORD_HEADER + len || record_size > size - at ||
		    payload != data + at + RECORD_HEADER)
			abort();
		at += record_size;
	}

	unsigned char *framed = malloc(RECORD_HEADER + size + 1);
	if (!framed)
		return 0;
	record_header(framed, data, size);
	memcpy(framed + RECORD_HEADER, data, size);
	const unsigned char *payload;
	size_t len, record_size;
	if (record_next(framed, RECORD_HEADER + size, &payload, &len, &record_size) != RECORD_WHOLE ||
	    len != size || memcmp(payload, data, size) != 0)
		abort();
	/* Cut short by one byte, it is torn, never a shorter record. */
	if (size > 0 &&
	    record_next(framed, RECORD_HEADER + size - 1, &payload, &len, &record_size) != RECORD_TORN)
		abort();
	free(framed);
	return 0;
}
