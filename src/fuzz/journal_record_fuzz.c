/*
 * libFuzzer target: record_next (queue/record.c), which reads a write
 * queue's journal back after a crash, whatever the disk kept. Scanning
 * never reads outside the buffer, every record it accepts lies inside it,
 * and framing a payload then scanning it gives the payload back.
 */
#include "queue/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
