#include "link.h"
#include "reader_limit.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* EVALSHA's arguments at most, after the SHA. */
#define MAX_EVAL_ARGS 256

/* Sets l->error to "the ROLE's Redis at host:port: why". */
static void redis_link_failed(struct redis_link *l, const char *why)
{
	snprintf(l->error, sizeof l->error, "the %s's Redis at %.64s:%d: %.150s", l->role, l->url.host,
	         l->url.port, why);
}

static void disconnect(struct redis_link *l)
{
	if (l->c)
		redisFree(l->c);
	l->c = NULL;
}

static redisReply *send_command(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	redisReply *reply = redisCommandArgv(l->c, argc, argv, lens);
	if (!reply) {
		redis_link_failed(l, l->c->errstr[0] ? l->c->errstr : "no answer");
		disconnect(l);
		l->unreachable = 1;
	}
	return reply;
}

/* A command that must answer a status (AUTH, SELECT). */
static int expect_ok(struct redis_link *l, int argc, const char **argv)
{
	redisReply *reply = send_command(l, argc, argv, NULL);
	if (!reply)
		return -1;
	int ok = reply->type == REDIS_REPLY_STATUS;
	if (!ok)
		redis_link_failed(l, reply->type == REDIS_REPLY_ERROR ? reply->str : "an unexpected answer");
	freeReplyObject(reply);
	return ok ? 0 : -1;
}

static int connect_link(struct redis_link *l)
{
	l->c = redisConnectWithTimeout(l->url.host, l->url.port, l->timeout);
	if (!l->c || l->c->err) {
		redis_link_failed(l, l->c ? l->c->errstr : "out of memory");
		disconnect(l);
		l->unreachable = 1;
		return -1;
	}
	redisSetTimeout(l->c, l->timeout);
	redis_limit_reader(l->c->reader);
	char db[16];
	snprintf(db, sizeof db, "%d", l->url.db);
	const char *auth_user[] = {"AUTH", l->url.user, l->url.password};
	const char *auth[] = {"AUTH", l->url.password};
	const char *select[] = {"SELECT", db};
	if ((l->url.password[0] &&
	     (l->url.user[0] ? expect_ok(l, 3, auth_user) : expect_ok(l, 2, auth)) != 0) ||
	    (l->url.db != 0 && expect_ok(l, 2, select) != 0)) {
		disconnect(l);
		return -1;
	}
	return 0;
}

int redis_link_init(struct redis_link *l, const char *url, const char *param, const char *role,
                    double timeout, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	if (redis_url_parse(url, param, &l->url, err, errlen) != 0)
		return -1;
	l->role = role;
	double s = timeout > 0 ? timeout : 30;
	l->timeout = (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - floor(s)) * 1e6)};
	return 0;
}

redisReply *redis_link_command(struct redis_link *l, int argc, const char **argv, const size_t *lens)
{
	l->unreachable = 0;
	if (!l->c && connect_link(l) != 0)
		return NULL;
	return send_command(l, argc, argv, lens);
}

static double monotonic_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The connection failed mid-command: said, closed, and NULL. */
static redisReply *lost(struct redis_link *l, const char *why)
{
	redis_link_failed(l, l->c && l->c->errstr[0] ? l->c->errstr : why);
	disconnect(l);
	l->unreachable = 1;
	return NULL;
}

redisReply *redis_link_blocking(struct redis_link *l, int argc, const char **argv, const size_t *lens,
                                double seconds, int (*interrupted)(void))
{
	l->unreachable = l->interrupted = 0;
	if (!l->c && connect_link(l) != 0)
		return NULL;
	if (redisAppendCommandArgv(l->c, argc, argv, lens) != REDIS_OK)
		return lost(l, "cannot send");
	int written = 0;
	while (!written)
		if (redisBufferWrite(l->c, &written) != REDIS_OK)
			return lost(l, "cannot send");
	double deadline =
	    monotonic_seconds() + seconds + (double)l->timeout.tv_sec + l->timeout.tv_usec / 1e6;
	for (;;) {
		void *reply = NULL;
		if (redisGetReplyFromReader(l->c, &reply) != REDIS_OK)
			return lost(l, "an unreadable answer");
		if (reply)
			return reply;
		double left = deadline - monotonic_seconds();
		if (left <= 0)
			return lost(l, "no answer");
		struct pollfd ready = {.fd = l->c->fd, .events = POLLIN};
		int n = poll(&ready, 1, (int)ceil(left * 1000));
		if (n < 0 && errno == EINTR) {
			if (interrupted && interrupted()) {
				disconnect(l);
				l->interrupted = 1;
				return NULL;
			}
			continue;
		}
		if (n < 0)
			return lost(l, strerror(errno));
		if (n > 0 && redisBufferRead(l->c) != REDIS_OK)
			return lost(l, "no answer");
	}
}

static int load_script(struct redis_link *l, char sha[41], const char *script)
{
	const char *argv[] = {"SCRIPT", "LOAD", script};
	redisReply *reply = redis_link_command(l, 3, argv, NULL);
	if (!reply)
		return -1;
	int ok = reply->type == REDIS_REPLY_STRING && reply->len == 40;
	if (ok)
		memcpy(sha, reply->str, 41);
	else
		redis_link_failed(l, reply->type == REDIS_REPLY_ERROR ? reply->str : "cannot load a script");
	freeReplyObject(reply);
	return ok ? 0 : -1;
}

redisReply *redis_link_eval(struct redis_link *l, char sha[41], const char *script, int argc,
                            const char **argv, const size_t *lens)
{
	if (argc > MAX_EVAL_ARGS) {
		redis_link_failed(l, "too many arguments for one script");
		l->unreachable = 0;
		return NULL;
	}
	const char *all[MAX_EVAL_ARGS + 2] = {"EVALSHA"};
	size_t all_lens[MAX_EVAL_ARGS + 2] = {7, 40};
	for (int i = 0; i < argc; i++) {
		all[2 + i] = argv[i];
		all_lens[2 + i] = lens ? lens[i] : strlen(argv[i]);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!sha[0] && load_script(l, sha, script) != 0)
			return NULL;
		all[1] = sha;
		redisReply *reply = redis_link_command(l, argc + 2, all, all_lens);
		if (!reply || reply->type != REDIS_REPLY_ERROR)
			return reply;
		int noscript = strncmp(reply->str, "NOSCRIPT", 8) == 0;
		if (!noscript)
			redis_link_failed(l, reply->str);
		freeReplyObject(reply);
		if (!noscript)
			return NULL;
		sha[0] = '\0'; /* Redis restarted, or flushed its scripts: load it again */
	}
	return NULL;
}

void redis_link_close(struct redis_link *l)
{
	disconnect(l);
	volatile char *p = l->url.password;
	for (size_t i = 0; i < sizeof l->url.password; i++)
		p[i] = 0;
}
