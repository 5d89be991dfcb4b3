#include "claim.h"

#include "util/owned_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

static long read_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	return strtol(text, NULL, 10);
}

int claim_take(const char *path, int *fd, long *holder, const char **refusal)
{
	int lock = owned_open(path, O_RDWR | O_CREAT, 0600, refusal);
	if (lock < 0)
		return -1;
	int rc;
	while ((rc = flock(lock, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (rc != 0) {
		int saved = errno;
		if (saved == EWOULDBLOCK) {
			*holder = read_pid(lock);
			close(lock);
			return 1;
		}
		close(lock);
		errno = saved;
		return -1;
	}
	char text[32];
	int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(lock, 0) != 0 || pwrite(lock, text, (size_t)len, 0) != len) {
		int saved = errno;
		close(lock);
		errno = saved;
		return -1;
	}
	*fd = lock;
	return 0;
}

void claim_release(int fd)
{
	/* The pid stays in the file: the next holder writes its own over it,
	 * and it is read only while someone holds the lock. */
	if (fd >= 0)
		close(fd);
}
