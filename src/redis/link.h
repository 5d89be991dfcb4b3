/*
 * One connection to the Redis server of a redis:// URL, for the limiter
 * and the queue alike: made when first needed, and made again after it
 * broke (a restart of Redis), with AUTH and SELECT as the URL says. A
 * failure names the server and what it serves ("the queue's Redis at
 * host:port: why"), never the password.
 */
#ifndef PULSE_REDIS_LINK_H
#define PULSE_REDIS_LINK_H

#include "url.h"

#include <hiredis.h>
#include <stddef.h>
#include <sys/time.h>

struct redis_link {
	struct redis_url url;
	redisContext *c; /* NULL until connected, and after a failure */
	struct timeval timeout;
	const char *role; /* "limiter", "queue": the failures say whose Redis */
	char error[256];  /* why the last call failed */
	int unreachable;  /* it failed for the connection, not for Redis' answer */
	int interrupted;  /* redis_link_blocking's wait was cut short */
};

/* Reads url (param: the one query parameter it may carry) without
 * connecting; timeout, in seconds, bounds the connect and each round trip.
 * Returns 0, or -1 with why in err. */
int redis_link_init(struct redis_link *l, const char *url, const char *param, const char *role,
                    double timeout, char *err, size_t errlen);

/* A command of argc arguments (lens: their lengths, or NULL for C
 * strings): its reply, an error reply among them, or NULL when the
 * connection failed (then the link is closed, to connect again next
 * time). The caller frees the reply. */
redisReply *redis_link_command(struct redis_link *l, int argc, const char **argv, const size_t *lens);

/* A command Redis may hold up to seconds before it answers (XREAD
 * BLOCK): sent, then its answer waited for in poll(2), which a signal
 * cuts short. When one does and interrupted() says so, the link is
 * closed (the answer still owed would come to the next command) and NULL
 * returned with l->interrupted set. Otherwise as redis_link_command, the
 * link's timeout counted after seconds. */
redisReply *redis_link_blocking(struct redis_link *l, int argc, const char **argv, const size_t *lens,
                                double seconds, int (*interrupted)(void));

/* Runs script by its SHA-1 (sha: 41 bytes the link fills in on the first
 * run, and again when Redis forgot the script), with argv as EVALSHA's
 * arguments after the SHA (numkeys, keys, args). Its reply, or NULL with
 * why in l->error when the connection failed or the script raised. */
redisReply *redis_link_eval(struct redis_link *l, char sha[41], const char *script, int argc,
                            const char **argv, const size_t *lens);

/* Disconnects and wipes the password; the link may not be used after. */
void redis_link_close(struct redis_link *l);

#endif
