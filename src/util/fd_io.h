/* Whole reads and writes on a file descriptor: the loop over short counts
 * and EINTR that every caller would otherwise write again. */
#ifndef PULSE_FD_IO_H
#define PULSE_FD_IO_H

#include <stddef.h>
#include <stdint.h>

/* Writes len bytes of data at the descriptor's offset; 0, or -1 with
 * errno set (EIO when the file took no more). */
int fd_write_all(int fd, const void *data, size_t len);

/* Reads len bytes from offset from into `into`; 0, or -1 with errno set
 * (EIO when the file ended first). */
int fd_pread_all(int fd, uint64_t from, void *into, size_t len);

#endif
