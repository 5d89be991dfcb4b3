/*
 * A response's header block as the transport keeps it: "Name: value" lines
 * separated by '\n', the status line left out. Kept as one string so that
 * a response costs one copy, and read only where a header is wanted.
 * Names compare case-insensitively; a name sent on several lines stands for
 * its values joined with ", " (RFC 9110 section 5.3).
 */
#ifndef PULSE_HEADER_BLOCK_H
#define PULSE_HEADER_BLOCK_H

#include <stddef.h>

struct header_field {
	const char *name;
	size_t name_len;
	const char *value; /* without surrounding spaces and tabs */
	size_t value_len;
};

/*
 * The field at *pos (start with 0), moving *pos past it. Returns 1, or 0
 * at the end of the block. Lines without a name and a colon are skipped.
 */
int header_block_next(const char *block, size_t len, size_t *pos, struct header_field *field);

/*
 * As header_block_next, for a reader after a few names: lines whose first
 * character (lower-cased) is not in initials are passed over unread.
 */
int header_block_next_of(const char *block, size_t len, size_t *pos, const char *initials,
                         struct header_field *field);

/* Whether field's name is name (lower case, NUL-terminated). */
int header_field_is(const struct header_field *field, const char *name);

/*
 * Copies name's value into out (size bytes, NUL-terminated), the values of
 * repeated lines joined with ", ". Returns the value's length; -1 when the
 * block has no such field; -2 when the value does not fit.
 */
long header_block_get(const char *block, size_t len, const char *name, char *out, size_t size);

#endif
