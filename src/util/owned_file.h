/*
 * Opening a file a program keeps for itself (a queue's journal, its lock):
 * never through a symbolic link, and only a regular file with one name
 * that this user owns, so that a file another local user planted at the
 * name is refused rather than written. A file made here is made with
 * O_EXCL: one planted between the look and the making is never taken for
 * ours.
 */
#ifndef PULSE_OWNED_FILE_H
#define PULSE_OWNED_FILE_H

#include <sys/types.h>

/* Opens path with flags (O_CREAT: made, mode, when missing). The
 * descriptor; or -1 with *refusal saying why the file there is not one to
 * use ("is a symbolic link", ...), or with *refusal NULL and errno set. */
int owned_open(const char *path, int flags, mode_t mode, const char **refusal);

/* The refusal, if any, of a file open at fd: one of owned_open's, or NULL
 * (errno set when fstat itself failed: then "cannot be examined"). */
const char *owned_check(int fd);

/* Makes the directory path (0700) when missing. 0 when it is one this
 * user owns and no one else may write in; else -1 with *refusal saying
 * why not ("is writable by others", ...), or with *refusal NULL and errno
 * set. */
int owned_dir(const char *path, const char **refusal);

#endif
