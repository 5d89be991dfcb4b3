/* A growable byte buffer: the one place the C core grows memory. */
#ifndef PULSE_BUF_H
#define PULSE_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Each returns 0, or -1 when memory ran out (the buffer is unchanged). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *bytes, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* bytes and a '\n' after them. */
int buf_append_line(struct buf *b, const void *bytes, size_t n);

/* Keeps the memory for reuse. */
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
