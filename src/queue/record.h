/*
 * The journal's framing: each record is an 8-byte header (the payload's
 * length, then a checksum of it: the first four bytes of its SHA-256, both
 * little-endian) and the payload. A crash can leave the last record torn
 * (cut short, or with bytes the disk never got): its checksum tells it
 * from a whole one, so recovery drops it rather than replaying garbage.
 * A disk can also damage a record in the middle (a flipped bit): then the
 * records after it are still whole, and a walk finds them again.
 */
#ifndef PULSE_QUEUE_RECORD_H
#define PULSE_QUEUE_RECORD_H

#include <stddef.h>

#define RECORD_HEADER 8
/* No entry needs more; a larger length is a torn or foreign header. */
#define RECORD_MAX_PAYLOAD (64u << 20)

enum record_scan {
	RECORD_WHOLE, /* a record: its payload is at *payload, *payload_len long */
	RECORD_END,   /* no bytes left */
	RECORD_TORN,  /* the bytes left do not start with a whole record */
};

/* Reads the record at the start of buf (len bytes); on RECORD_WHOLE,
 * *size is the record's size with its header. */
enum record_scan record_next(const unsigned char *buf, size_t len, const unsigned char **payload,
                             size_t *payload_len, size_t *size);

/* What a walk over a journal's bytes calls, in the order of the bytes:
 * record for each whole record, damage for each stretch of bytes that is
 * no record but has whole records after it (offset and length in buf). */
struct record_walk {
	void (*record)(const unsigned char *payload, size_t len, void *ctx);
	void (*damage)(size_t offset, size_t len, void *ctx);
	void *ctx;
};

/* Walks buf (len bytes). Returns how much of it holds records and
 * damage: what follows is a torn tail, a last record cut short (its
 * header, or its length, runs past the end), for the caller to cut off.
 * A last record of its full length whose checksum fails is damage, not a
 * torn tail: it was written whole, so it may have been acted on. */
size_t record_walk(const unsigned char *buf, size_t len, const struct record_walk *walk);

/* Writes the header of a record holding payload into header. */
void record_header(unsigned char header[RECORD_HEADER], const void *payload, size_t len);

#endif
