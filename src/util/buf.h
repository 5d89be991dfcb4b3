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
int buf_putc_slow(struct buf *b, char c);

/* One byte: inline, since encoders write most of their output this way. */
static inline int buf_putc(struct buf *b, char c)
{
	if (b->len + 2 > b->cap)
		return buf_putc_slow(b, c);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}
/* bytes and a '\n' after them. */
int buf_append_line(struct buf *b, const void *bytes, size_t n);

/* Drops what was written after the first len bytes. */
static inline void buf_truncate(struct buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

/* Keeps the memory for reuse. */
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

#endif
