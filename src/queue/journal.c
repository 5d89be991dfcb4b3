#include "journal.h"

#include "record.h"

#include "core/fd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_file(struct journal *j)
{
	j->fd = open(j->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0)
		return -1;
	struct stat st;
	if (fstat(j->fd, &st) != 0) {
		int saved = errno;
		close(j->fd);
		j->fd = -1;
		errno = saved;
		return -1;
	}
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	free(j->path);
	j->path = NULL;
}

static int flock_retrying(int fd, int op)
{
	int rc;
	while ((rc = flock(fd, op)) != 0 && errno == EINTR)
		;
	return rc;
}

int journal_read(struct journal *j, uint64_t from, journal_each each, void *ctx, uint64_t *end)
{
	struct stat st;
	if (fstat(j->fd, &st) != 0)
		return -1;
	uint64_t size = (uint64_t)st.st_size;
	if (from < JOURNAL_MAGIC_LEN)
		from = JOURNAL_MAGIC_LEN;
	*end = from;
	if (size <= from)
		return 0;
	size_t len = (size_t)(size - from);
	unsigned char *data = malloc(len);
	if (!data)
		return -1;
	if (fd_pread_all(j->fd, from, data, len) != 0) {
		int saved = errno;
		free(data);
		errno = saved;
		return -1;
	}
	size_t at = 0;
	int torn = 0;
	for (;;) {
		const unsigned char *payload;
		size_t payload_len, size_of_record;
		enum record_scan scan =
		    record_next(data + at, len - at, &payload, &payload_len, &size_of_record);
		if (scan != RECORD_WHOLE) {
			torn = scan == RECORD_TORN;
			break;
		}
		each(payload, payload_len, ctx);
		at += size_of_record;
	}
	free(data);
	*end = from + at;
	if (torn && (ftruncate(j->fd, (off_t)*end) != 0 || fdatasync(j->fd) != 0))
		return -1;
	return 0;
}

int journal_frame(struct buf *out, const void *payload, size_t len)
{
	if (len > RECORD_MAX_PAYLOAD) {
		errno = EFBIG;
		return -1;
	}
	unsigned char header[RECORD_HEADER];
	record_header(header, payload, len);
	if (buf_reserve(out, RECORD_HEADER + len) != 0)
		return -1;
	buf_append(out, header, sizeof header);
	buf_append(out, payload, len);
	return 0;
}

/* Under the lock: a new (empty) file gets the magic, durably, and so
 * does one whose creator died writing it; 1 when the file holds something
 * else. */
static int check_magic(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	size_t have = st.st_size < (off_t)JOURNAL_MAGIC_LEN ? (size_t)st.st_size : JOURNAL_MAGIC_LEN;
	unsigned char head[JOURNAL_MAGIC_LEN];
	if (fd_pread_all(fd, 0, head, have) != 0)
		return -1;
	if (memcmp(head, JOURNAL_MAGIC, have) != 0)
		return 1;
	if (have == JOURNAL_MAGIC_LEN)
		return 0;
	if (ftruncate(fd, 0) != 0 || fd_write_all(fd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0 ||
	    fdatasync(fd) != 0)
		return -1;
	return 0;
}

int journal_open(struct journal *j, const char *path)
{
	j->path = strdup(path);
	if (!j->path)
		return -1;
	int rc = open_file(j);
	if (rc == 0) {
		if (flock_retrying(j->fd, LOCK_EX) != 0)
			rc = -1;
		else {
			rc = check_magic(j->fd);
			flock(j->fd, LOCK_UN);
		}
	}
	if (rc != 0) {
		int saved = errno;
		journal_close(j);
		errno = saved;
	}
	return rc;
}

int journal_lock(struct journal *j)
{
	int replaced = 0;
	for (;;) {
		if (flock_retrying(j->fd, LOCK_EX) != 0)
			return -1;
		/* Locked: is this still the file at the path? */
		struct stat st;
		if (stat(j->path, &st) == 0 && st.st_dev == j->dev && st.st_ino == j->ino) {
			/* A file made anew at the path (the old one removed) gets its
			 * first line before anything is appended to it. */
			int magic = replaced ? check_magic(j->fd) : 0;
			if (magic != 0) {
				flock(j->fd, LOCK_UN);
				if (magic > 0)
					errno = EINVAL; /* not a journal: appending would spoil it */
				return -1;
			}
			return replaced;
		}
		/* Compacted by another process (or removed): open what is there. */
		close(j->fd);
		if (open_file(j) != 0)
			return -1;
		replaced = 1;
	}
}

void journal_unlock(struct journal *j)
{
	flock(j->fd, LOCK_UN);
}

int journal_append(struct journal *j, const struct buf *framed)
{
	struct stat st;
	if (fstat(j->fd, &st) != 0)
		return -1;
	if (fd_write_all(j->fd, framed->data, framed->len) != 0) {
		int saved = errno;
		/* No half record stays for the next append to follow. */
		if (ftruncate(j->fd, st.st_size) != 0)
			saved = errno;
		errno = saved;
		return -1;
	}
	return 0;
}

int journal_sync(struct journal *j)
{
	return fdatasync(j->fd);
}

static int sync_directory(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if (snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) >= (int)sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int journal_replace(struct journal *j, const struct buf *framed)
{
	char temp[4096];
	if (snprintf(temp, sizeof temp, "%s.%ld.compact", j->path, (long)getpid()) >= (int)sizeof temp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(temp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* Locked before it has a name others can open: they wait for it. */
	if (flock_retrying(fd, LOCK_EX) != 0 || fd_write_all(fd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) != 0 ||
	    fd_write_all(fd, framed->data, framed->len) != 0 || fsync(fd) != 0 ||
	    rename(temp, j->path) != 0) {
		int saved = errno;
		close(fd);
		unlink(temp);
		errno = saved;
		return -1;
	}
	struct stat st;
	int rc = fstat(fd, &st);
	int saved = errno;
	close(j->fd); /* the old file's lock goes with it */
	j->fd = fd;
	if (rc != 0) {
		errno = saved;
		return -1;
	}
	j->dev = st.st_dev;
	j->ino = st.st_ino;
	/* O_APPEND for the appends to come on this descriptor. */
	if (fcntl(fd, F_SETFL, O_APPEND) != 0)
		return -1;
	return sync_directory(j->path);
}
