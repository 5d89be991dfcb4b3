/*
 * One drainer at a time: the drainer holds an flock on a lock file beside
 * the journal while it drains, with its pid written in it for the message
 * a second drainer gets. The kernel releases the lock when its holder
 * dies, even by kill -9, so the next drainer takes over at once.
 */
#ifndef PULSE_QUEUE_CLAIM_H
#define PULSE_QUEUE_CLAIM_H

/* 0 with *fd the held lock's descriptor; 1 when another holds it (*holder:
 * its pid, or 0 if it wrote none yet); -1 with errno on failure, or with
 * *refusal when the file at path is not one to use (owned_file.h: a
 * symbolic link planted there is never followed). */
int claim_take(const char *path, int *fd, long *holder, const char **refusal);

/* Gives the lock up. */
void claim_release(int fd);

#endif
