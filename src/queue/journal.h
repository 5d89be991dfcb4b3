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

#include "record.h"
#include "util/buf.h"

#include <stdint.h>
#include <sys/types.h>

/* A journal's first bytes: a file without them is not one, and is never
 * cut short as if it were a torn journal. */
#define JOURNAL_MAGIC "pulse-queue 1\n"
#define JOURNAL_MAGIC_LEN (sizeof JOURNAL_MAGIC - 1)

struct journal {
	int fd;
	char *path; /* the real path: no symbolic link in it */
	dev_t dev;
	ino_t ino;
	/* Why the file at the path was refused (owned_file.h), when a call
	 * failed for that: then errno is EPERM. */
	const char *refusal;
};

/* Each returns 0, or -1 with errno set, unless it says otherwise. */

/* Opens (creating, 0600) the journal at path, through its real path, so
 * that every name of it (a symbolic link) means one journal and one lock;
 * 1 (errno unset) when the file there is not a journal. */
int journal_open(struct journal *j, const char *path);
void journal_close(struct journal *j);

/* Takes the lock, waiting for it. 1 when the file was replaced since the
 * last lock (compacted): offsets into the old one mean nothing now. -1
 * with EINVAL when the file now at the path is not a journal, with EPERM
 * (and the refusal) when it is not one to use (a second name, ...). */
int journal_lock(struct journal *j);
void journal_unlock(struct journal *j);

/* Under the lock: walks the records from offset from on (0: the first;
 * record.h's walk, its damage offsets made offsets in the file), then
 * cuts off a torn tail: only that, never a damaged record with whole ones
 * after it. *end is the offset after the last record or damage read. */
int journal_read(struct journal *j, uint64_t from, const struct record_walk *walk, uint64_t *end);

/* Frames payload as a record at the end of out. */
int journal_frame(struct buf *out, const void *payload, size_t len);

/* Under the lock: appends framed records (journal_frame's) at the end; on
 * a failed write the file is cut back to where it ended. */
int journal_append(struct journal *j, const struct buf *framed);

/* Makes what was appended durable (fdatasync). */
int journal_sync(struct journal *j);

/* Under the lock: the journal becomes framed records, durably (a new file
 * of a name no one else could have made, fsynced, renamed over the old,
 * the directory fsynced); the lock stays held, on the new file. */
int journal_replace(struct journal *j, const struct buf *framed);

#endif
