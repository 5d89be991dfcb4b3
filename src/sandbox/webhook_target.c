#include "webhook_target.h"

#include <string.h>

/* Copies len bytes of s into out (size bytes), terminated. Returns 0, or
 * -1 when they do not fit. */
static int copy_field(char *out, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return len > 0;
}

/* Whether s (len bytes) holds only what a host may: no space, control
 * character, '@' (a user part we do not take) or bracket. */
static int host_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 127 || c == '@' || c == '[' || c == ']' || c == '/' || c == '?' ||
		    c == '#')
			return 0;
	}
	return len > 0;
}

int webhook_target_parse(const char *url, struct webhook_target *t, const char **why)
{
	static const char scheme[] = "http://";
	*why = "takes an http:// URL: http://HOST[:PORT][/PATH]";
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return -1;
	const char *authority = url + sizeof scheme - 1;
	size_t authority_len = strcspn(authority, "/?#");
	const char *rest = authority + authority_len;
	const char *host = authority, *port = NULL;
	size_t host_len = authority_len, port_len = 0;
	if (*authority == '[') { /* [IPv6]:PORT */
		const char *close = memchr(authority, ']', authority_len);
		if (!close)
			return -1;
		host = authority + 1;
		host_len = (size_t)(close - host);
		const char *after = close + 1;
		if (after < rest) {
			if (*after != ':')
				return -1;
			port = after + 1;
			port_len = (size_t)(rest - port);
		}
		for (size_t i = 0; i < host_len; i++)
			if (!(host[i] == ':' || host[i] == '.' || (host[i] >= '0' && host[i] <= '9') ||
			      (host[i] >= 'a' && host[i] <= 'f') || (host[i] >= 'A' && host[i] <= 'F')))
				return -1;
		if (host_len == 0)
			return -1;
	} else {
		const char *colon = memchr(authority, ':', authority_len);
		if (colon) {
			host_len = (size_t)(colon - authority);
			port = colon + 1;
			port_len = (size_t)(rest - port);
		}
		if (!host_chars(host, host_len))
			return -1;
	}
	if (copy_field(t->host, sizeof t->host, host, host_len) != 0)
		return -1;
	if (port) {
		if (!all_digits(port, port_len) || port_len > 5)
			return -1;
		long n = 0;
		for (size_t i = 0; i < port_len; i++)
			n = n * 10 + (port[i] - '0');
		if (n < 1 || n > 65535)
			return -1;
		copy_field(t->port, sizeof t->port, port, port_len);
	} else {
		copy_field(t->port, sizeof t->port, "80", 2);
	}
	if (*rest == '#' || (*rest == '?' && strchr(rest, '#')))
		return -1; /* a fragment is never sent */
	const char *path = *rest ? rest : "/";
	size_t path_len = strlen(path);
	for (size_t i = 0; i < path_len; i++)
		if ((unsigned char)path[i] <= ' ' || (unsigned char)path[i] >= 127)
			return -1;
	if (*path == '?') { /* a query without a path: the path is "/" */
		if (path_len + 1 >= sizeof t->path)
			return -1;
		t->path[0] = '/';
		memcpy(t->path + 1, path, path_len + 1);
		return 0;
	}
	return copy_field(t->path, sizeof t->path, path, path_len);
}

int webhook_status_of(const char *buf, size_t len)
{
	static const char version[] = "HTTP/1.";
	size_t n = sizeof version - 1;
	size_t have = len < n ? len : n;
	if (memcmp(buf, version, have) != 0)
		return -1;
	/* "HTTP/1.x NNN" and at least one more byte: a space or the line's end. */
	if (len < n + 6)
		return 0;
	if (buf[n] < '0' || buf[n] > '9' || buf[n + 1] != ' ')
		return -1;
	const char *code = buf + n + 2;
	if (!all_digits(code, 3) || (code[3] != ' ' && code[3] != '\r' && code[3] != '\n'))
		return -1;
	int status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
	return status >= 100 && status <= 599 ? status : -1;
}
