#include "owned_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

const char *owned_check(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return "cannot be examined";
	if (!S_ISREG(st.st_mode))
		return "is not a regular file";
	if (st.st_uid != geteuid())
		return "is not owned by this user";
	if (st.st_nlink != 1)
		return "has more than one name (a hard link): refused, since one name may be replaced "
		       "without the other";
	return NULL;
}

int owned_dir(const char *path, const char **refusal)
{
	struct stat st;
	*refusal = NULL;
	if ((mkdir(path, 0700) != 0 && errno != EEXIST) || stat(path, &st) != 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		*refusal = "is not a directory";
	else if (st.st_uid != geteuid())
		*refusal = "is not owned by this user";
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		/* Another user who may write there may plant entries, or replace ours. */
		*refusal = "is writable by others";
	return *refusal ? -1 : 0;
}

/* Opens what is at path, or makes it (O_EXCL) when creating and nothing
 * is there; a file made by another in between is opened on the next turn. */
static int open_or_make(const char *path, int flags, mode_t mode)
{
	/* Non-blocking: a FIFO planted at the name must not hang the open. */
	int base = (flags & ~O_CREAT) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	for (int turn = 0; turn < 8; turn++) {
		int fd = open(path, base);
		if (fd >= 0 || errno != ENOENT || !(flags & O_CREAT))
			return fd;
		fd = open(path, base | O_CREAT | O_EXCL, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

int owned_open(const char *path, int flags, mode_t mode, const char **refusal)
{
	*refusal = NULL;
	int fd = open_or_make(path, flags, mode);
	if (fd < 0) {
		if (errno == ELOOP)
			*refusal = "is a symbolic link";
		return -1;
	}
	const char *why = owned_check(fd);
	if (why || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		*refusal = why;
		return -1;
	}
	return fd;
}
