/*
 * The write queue's journal: one append-only file of records (record.h),
 * shared by the processes that push to a queue and the one that drains it.
 * Whoever reads or appends holds the journal's lock (flock), so a reader
 * never mistakes a record being written for a torn one. Compaction writes
 * a new file and renames it over the old: the others find the path's file
 * changed when they next lock, and read the new one from its start.
 */
#ifndef PULSE_QUEUE_JOURNAL_H
#define PULSE_QUEUE_JOURNAL_H

#include "core/buf.h"

#include <stdint.h>
#include <sys/types.h>

/* A journal's first bytes: a file without them is not one, and is never
 * cut short as if it were a torn journal. */
#define JOURNAL_MAGIC "pulse-queue 1\n"
#define JOURNAL_MAGIC_LEN (sizeof JOURNAL_MAGIC - 1)

struct journal {
	int fd;
	char *path;
	dev_t dev;
	ino_t ino;
};

/* Each returns 0, or -1 with errno set, unless it says otherwise. */

/* Opens (creating, 0600) the journal at path; 1 (errno unset) when the
 * file there is not a journal. */
int journal_open(struct journal *j, const char *path);
void journal_close(struct journal *j);

/* Takes the lock, waiting for it. 1 when the file was replaced since the
 * last lock (compacted): offsets into the old one mean nothing now. -1
 * with EINVAL when the file now at the path is not a journal. */
int journal_lock(struct journal *j);
void journal_unlock(struct journal *j);

/* Under the lock: calls each(payload, len, ctx) for the records from
 * offset from on (0: the first), then cuts off a torn tail. *end is the
 * offset after the last whole record. */
typedef void (*journal_each)(const unsigned char *payload, size_t len, void *ctx);
int journal_read(struct journal *j, uint64_t from, journal_each each, void *ctx, uint64_t *end);

/* Frames payload as a record at the end of out. */
int journal_frame(struct buf *out, const void *payload, size_t len);

/* Under the lock: appends framed records (journal_frame's) at the end; on
 * a failed write the file is cut back to where it ended. */
int journal_append(struct journal *j, const struct buf *framed);

/* Makes what was appended durable (fdatasync). */
int journal_sync(struct journal *j);

/* Under the lock: the journal becomes framed records, durably (a new file
 * fsynced, renamed over the old, the directory fsynced); the lock stays
 * held, on the new file. */
int journal_replace(struct journal *j, const struct buf *framed);

#endif
