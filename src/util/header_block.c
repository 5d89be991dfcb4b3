#include "header_block.h"

#include <string.h>

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

int header_block_next(const char *block, size_t len, size_t *pos, struct header_field *field)
{
	return header_block_next_of(block, len, pos, NULL, field);
}

int header_block_next_of(const char *block, size_t len, size_t *pos, const char *initials,
                         struct header_field *field)
{
	while (*pos < len) {
		const char *line = block + *pos;
		const char *end = memchr(line, '\n', len - *pos);
		if (!end)
			end = block + len;
		*pos = (size_t)(end - block) + (end < block + len);
		if (initials && (*line == '\0' || !strchr(initials, lower(*line))))
			continue; /* not a name wanted (a NUL would match strchr's terminator) */
		const char *colon = memchr(line, ':', (size_t)(end - line));
		if (!colon || colon == line)
			continue;
		const char *v = colon + 1, *vend = end;
		while (v < vend && is_blank(*v))
			v++;
		while (vend > v && (is_blank(vend[-1]) || vend[-1] == '\r'))
			vend--;
		field->name = line;
		field->name_len = (size_t)(colon - line);
		field->value = v;
		field->value_len = (size_t)(vend - v);
		return 1;
	}
	return 0;
}

int header_field_is(const struct header_field *field, const char *name)
{
	for (size_t i = 0; i < field->name_len; i++) {
		char c = lower(field->name[i]);
		if (name[i] == '\0' || c != name[i])
			return 0;
	}
	return name[field->name_len] == '\0';
}

long header_block_get(const char *block, size_t len, const char *name, char *out, size_t size)
{
	size_t pos = 0, used = 0;
	int found = 0;
	struct header_field f;
	while (header_block_next(block, len, &pos, &f)) {
		if (!header_field_is(&f, name))
			continue;
		size_t separator = found ? 2 : 0;
		if (used + separator + f.value_len + 1 > size)
			return -2;
		memcpy(out + used, ", ", separator);
		memcpy(out + used + separator, f.value, f.value_len);
		used += separator + f.value_len;
		found = 1;
	}
	if (!found)
		return -1;
	out[used] = '\0';
	return (long)used;
}
