#include "journal.h"

#include "record.h"

#include "util/fd_io.h"
#include "util/owned_file.h"

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
	j->fd = owned_open(j->path, O_RDWR | O_CREAT | O_APPEND, 0600, &j->refusal);
	if (j->fd < 0) {
		if (j->refusal)
			errno = EPERM;
		return -1;
	}
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

/* A walk's damage offsets, made offsets in the file, for the caller's. */
struct shifted_walk {
	const struct record_walk *walk;
	uint64_t from;
};

static void shifted_record(const unsigned char *payload, size_t len, void *ctx)
{
	const struct shifted_walk *s = ctx;
	s->walk->record(payload, len, s->walk->ctx);
}

static void shifted_damage(size_t offset, size_t len, void *ctx)
{
	const struct shifted_walk *s = ctx;
	s->walk->damage((size_t)(s->from + offset), len, s->walk->ctx);
}

int journal_read(struct journal *j, uint64_t from, const struct record_walk *walk, uint64_t *end)
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
	struct shifted_walk shifted = {walk, from};
	struct record_walk in_file = {shifted_record, shifted_damage, &shifted};
	size_t kept = record_walk(data, len, &in_file);
	free(data);
	*end = from + kept;
	if (kept < len && (ftruncate(j->fd, (off_t)*end) != 0 || fdatasync(j->fd) != 0))
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

/* path with every symbolic link resolved; a missing file's through its
 * directory's (a dangling link stays, for the open to refuse). */
static char *real_path(const char *path)
{
	char *real = realpath(path, NULL);
	if (real || errno != ENOENT)
		return real;
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return NULL;
	char *real_dir = realpath(dir, NULL);
	free(dir);
	if (!real_dir)
		return NULL;
	const char *name = slash ? slash + 1 : path;
	size_t len = strlen(real_dir) + 1 + strlen(name) + 1;
	char *joined = malloc(len);
	if (joined)
		snprintf(joined, len, "%s/%s", strcmp(real_dir, "/") == 0 ? "" : real_dir, name);
	free(real_dir);
	return joined;
}

int journal_open(struct journal *j, const char *path)
{
	j->refusal = NULL;
	j->path = real_path(path);
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
			/* A second name made since would outlive a compaction. */
			j->refusal = owned_check(j->fd);
			if (j->refusal) {
				flock(j->fd, LOCK_UN);
				errno = EPERM;
				return -1;
			}
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
	static const char suffix[] = ".compact";
	if (snprintf(temp, sizeof temp, "%s.XXXXXX%s", j->path, suffix) >= (int)sizeof temp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A name of its own, made O_EXCL: nothing planted is followed. */
	int fd = mkostemps(temp, (int)sizeof suffix - 1, O_CLOEXEC);
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
