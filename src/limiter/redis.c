#include "redis.h"

#include "redis/link.h"
#include "redis_bucket.h" /* REDIS_BUCKET_SCRIPT: redis_bucket.lua, made by the build */
#include "util/clock.h"

#include <hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* Seconds a token counts as out when its answer never comes (its worker
 * died): after that the bucket stops holding it back for it. */
#define LEASE "120"
/* How long a process paces itself alone before asking Redis again. */
#define RECONNECT_EVERY 2.0
/* How often a take asks again while Redis is out of reach (a restart). */
#define REDIS_RETRY_EVERY 0.05

struct redis_limiter {
	struct limiter base; /* first: a struct limiter * is a struct redis_limiter * */
	struct redis_link link;
	/* the bucket, its leases, its workers, its line, their lapses, its
	 * claims, the tokens each worker took */
	char keys[7][160];
	char worker[17];
	char name[48]; /* host:pid, for people (--top) */
	char sha[41];
	double limit, window, burst;
	/* The view the last round trip brought, and when: aged, it answers
	 * view() without a round trip. */
	struct ratelimit_view seen;
	double seen_at;
	int heard;  /* seen came from Redis, not only from the policy given at open */
	int viewed; /* view() asked Redis once, before anything else had */
	/* Pacing alone while Redis is away (fallback_share > 0). */
	double share;
	int alone;
	struct ratelimit_state own;
	struct lanes own_line;
	double retry_at;
	double down_since; /* the first failed round trip of a run of them (0: none) */
};

static struct redis_limiter *of(struct limiter *l)
{
	return (struct redis_limiter *)l;
}

/* Says why in l->error: the link's failure, which names Redis. */
static void failed(struct redis_limiter *r)
{
	snprintf(r->base.error, sizeof r->base.error, "%s", r->link.error);
}

/* Runs the bucket's script with step and args; its reply, or NULL (said
 * in l->error). */
static redisReply *run(struct redis_limiter *r, const char *step, int argc, const char **args)
{
	const char *argv[32] = {"7",        r->keys[0], r->keys[1], r->keys[2], r->keys[3],
	                        r->keys[4], r->keys[5], r->keys[6], step};
	for (int i = 0; i < argc; i++)
		argv[9 + i] = args[i];
	redisReply *reply = redis_link_eval(&r->link, r->sha, REDIS_BUCKET_SCRIPT, 9 + argc, argv, NULL);
	if (!reply)
		failed(r);
	return reply;
}

static double number(const redisReply *reply, size_t i)
{
	if (reply->type != REDIS_REPLY_ARRAY || i >= reply->elements ||
	    reply->element[i]->type != REDIS_REPLY_STRING)
		return 0;
	double v = strtod(reply->element[i]->str, NULL);
	return isfinite(v) ? v : 0;
}

/* Keeps the view at reply's elements from first on. */
static void remember_view(struct redis_limiter *r, const redisReply *reply, size_t first, double now)
{
	r->seen = (struct ratelimit_view){
	    .limit = number(reply, first),
	    .window = number(reply, first + 1),
	    .burst = number(reply, first + 2),
	    .remaining = number(reply, first + 3),
	    .reset = number(reply, first + 4),
	    .blocked = number(reply, first + 5),
	};
	r->seen_at = now;
	r->heard = 1;
}

static void format_number(char out[32], double v)
{
	snprintf(out, 32, "%.17g", v);
}

/* Redis is away: pace alone at the fallback share, or fail. */
static enum limiter_answer alone(struct redis_limiter *r, double now, struct limiter_caller *caller,
                                 double *wait, limiter_ticket *ticket)
{
	if (r->share <= 0)
		return LIMITER_FAILED;
	if (!r->alone) {
		/* Having heard from the bucket: nothing more in the window it is
		 * in (the others have been spending it since), its share of each
		 * window from the next one on, in the bucket's phase. */
		double limit = r->seen.limit > 0 ? r->seen.limit : r->limit;
		double window = r->seen.window > 0 ? r->seen.window : r->window;
		double refill = r->heard ? r->seen_at + r->seen.reset : 0;
		double blocked_until = r->heard ? r->seen_at + r->seen.blocked : 0;
		ratelimit_init_share(&r->own, limit, window, r->share, refill, blocked_until, now);
		r->alone = 1;
	}
	r->retry_at = now + RECONNECT_EVERY;
	return limiter_answer_of(lanes_take(&r->own_line, &r->own, now, r->base.in_flight,
	                                    LIMITER_LANE(caller), 0, LIMITER_PLACE(caller), ticket),
	                         wait);
}

static enum limiter_answer redis_take(struct limiter *l, double now, struct limiter_caller *caller,
                                      double *wait, limiter_ticket *ticket)
{
	struct redis_limiter *r = of(l);
	if (r->alone && now < r->retry_at)
		return alone(r, now, caller, wait, ticket);
	char limit[32], window[32], burst[32], lane[4], place[24];
	format_number(limit, r->limit);
	format_number(window, r->window);
	format_number(burst, r->burst);
	snprintf(lane, sizeof lane, "%d", LIMITER_LANE(caller));
	/* A place of the line this process kept while Redis was away is not
	 * one Redis knows; "none": a one-off ask takes no place. */
	if (caller)
		snprintf(place, sizeof place, "%llu", r->alone ? 0ULL : caller->place);
	else
		snprintf(place, sizeof place, "none");
	const char *args[] = {r->worker, LEASE, limit, window, burst, lane, place, r->name};
	redisReply *reply = run(r, "take", 8, args);
	if (!reply) {
		/* A restart takes a moment: ask again until connect_timeout has
		 * passed, then fail (or pace alone, when the user chose that). A
		 * refusal (a wrong password) fails at once. */
		if (r->down_since == 0)
			r->down_since = now;
		double down_for = clock_monotonic() - r->down_since; /* a connect may have blocked */
		if (r->link.unreachable && r->share <= 0 &&
		    down_for < (double)r->link.timeout.tv_sec + r->link.timeout.tv_usec / 1e6) {
			*wait = REDIS_RETRY_EVERY;
			return LIMITER_WAIT;
		}
		return alone(r, now, caller, wait, ticket);
	}
	r->down_since = 0;
	r->alone = 0;
	enum limiter_answer answer = LIMITER_WAIT;
	const char *said = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
	                           reply->element[0]->type == REDIS_REPLY_STRING
	                       ? reply->element[0]->str
	                       : "";
	if (strcmp(said, "taken") == 0) {
		answer = LIMITER_TAKEN;
		*ticket = (limiter_ticket)number(reply, 2);
	} else if (strcmp(said, "await") == 0) {
		answer = LIMITER_AWAIT;
	} else {
		*wait = fmax(number(reply, 1), 0.001);
	}
	remember_view(r, reply, 3, now);
	if (caller)
		caller->place = (lanes_place)number(reply, 9);
	freeReplyObject(reply);
	return answer;
}

static void redis_leave(struct limiter *l, lanes_place place)
{
	struct redis_limiter *r = of(l);
	if (r->alone) {
		lanes_leave(&r->own_line, place);
		return;
	}
	char id[24];
	snprintf(id, sizeof id, "%llu", place);
	const char *args[] = {id};
	redisReply *reply = run(r, "leave", 1, args);
	if (reply)
		freeReplyObject(reply);
}

static int redis_set_reserve(struct limiter *l, double share, double now)
{
	struct redis_limiter *r = of(l);
	(void)now;
	char v[4][32];
	format_number(v[0], share);
	format_number(v[1], r->limit);
	format_number(v[2], r->window);
	format_number(v[3], r->burst);
	const char *args[] = {v[0], v[1], v[2], v[3]};
	redisReply *reply = run(r, "reserve", 4, args);
	if (!reply)
		return -1;
	freeReplyObject(reply);
	return 0;
}

static int redis_claim(struct limiter *l, const char *name, double lease, double now)
{
	struct redis_limiter *r = of(l);
	(void)now;
	if (r->alone)
		return 1; /* alone: nobody to fetch for */
	char seconds[32];
	format_number(seconds, lease);
	const char *args[] = {name, r->worker, seconds};
	redisReply *reply = run(r, "claim", 3, args);
	if (!reply)
		return -1;
	int mine = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
	freeReplyObject(reply);
	return mine;
}

static void redis_unclaim(struct limiter *l, const char *name)
{
	struct redis_limiter *r = of(l);
	if (r->alone)
		return;
	const char *args[] = {name, r->worker};
	redisReply *reply = run(r, "unclaim", 2, args);
	if (reply)
		freeReplyObject(reply);
}

static void redis_cancel(struct limiter *l, limiter_ticket ticket)
{
	struct redis_limiter *r = of(l);
	if (ticket == 0 || r->alone)
		return;
	char id[32];
	snprintf(id, sizeof id, "%llu", ticket);
	const char *args[] = {id};
	redisReply *reply = run(r, "cancel", 1, args);
	if (reply)
		freeReplyObject(reply);
}

static int redis_observe(struct limiter *l, const struct ratelimit_observation *o, double now,
                         limiter_ticket ticket)
{
	struct redis_limiter *r = of(l);
	if (r->alone)
		return ratelimit_observe_share(&r->own, o, r->share, now, r->base.in_flight, ticket);
	char v[15][32];
	snprintf(v[0], 32, "%llu", ticket);
	snprintf(v[1], 32, "%d", o->rate_limited);
	snprintf(v[2], 32, "%d", o->has_policy);
	format_number(v[3], o->policy.limit);
	format_number(v[4], o->policy.window);
	format_number(v[5], o->policy.burst);
	snprintf(v[6], 32, "%d", o->has_remaining);
	format_number(v[7], o->remaining);
	snprintf(v[8], 32, "%d", o->has_reset);
	format_number(v[9], o->reset);
	snprintf(v[10], 32, "%d", o->has_retry_after);
	format_number(v[11], o->retry_after);
	format_number(v[12], r->limit);
	format_number(v[13], r->window);
	format_number(v[14], r->burst);
	const char *args[15];
	for (int i = 0; i < 15; i++)
		args[i] = v[i];
	redisReply *reply = run(r, "observe", 15, args);
	if (!reply)
		return 0; /* the answer is lost to the bucket; the next take says why */
	int ignored = (int)number(reply, 0);
	remember_view(r, reply, 1, now);
	freeReplyObject(reply);
	return ignored;
}

/* The view the last round trip brought, aged by the time since. */
/* What Redis holds, asked once before any take or answer has told: a new
 * client's ratelimit() shows the organization's bucket, not the policy it
 * was given. The connection is made then (not at open: a client made
 * while Redis is away must not wait for it). */
static void first_view(struct redis_limiter *r, double now)
{
	r->viewed = 1;
	char limit[32], window[32], burst[32];
	format_number(limit, r->limit);
	format_number(window, r->window);
	format_number(burst, r->burst);
	const char *args[] = {limit, window, burst};
	redisReply *reply = run(r, "view", 3, args);
	if (reply) {
		remember_view(r, reply, 0, now);
		freeReplyObject(reply);
	}
}

static struct ratelimit_view redis_view(struct limiter *l, double now)
{
	struct redis_limiter *r = of(l);
	if (r->alone)
		return ratelimit_view(&r->own, now);
	if (!r->heard && !r->viewed)
		first_view(r, now);
	struct ratelimit_view v = r->seen;
	double aged = now - r->seen_at;
	v.reset = fmax(0, v.reset - aged);
	v.blocked = fmax(0, v.blocked - aged);
	return v;
}

/* The lanes in a status step's reply (its elements from 11 on). */
static void lanes_of_status(const redisReply *reply, struct limiter_lanes *out)
{
	out->reserve = number(reply, 11);
	for (int lane = 0; lane < LANES; lane++)
		out->waiting[lane] = (int)number(reply, 12 + (size_t)lane);
}

static int redis_lanes(struct limiter *l, double now, struct limiter_lanes *out)
{
	(void)now;
	redisReply *reply = run(of(l), "status", 0, NULL);
	if (!reply)
		return -1;
	/* A bucket no one has used yet answers nothing: no reserve, no line. */
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0)
		lanes_of_status(reply, out);
	freeReplyObject(reply);
	return 0;
}

static void redis_close(struct limiter *l)
{
	struct redis_limiter *r = of(l);
	redis_link_close(&r->link);
	free(r);
}

static const struct limiter_ops redis_ops = {
    .take = redis_take,
    .leave = redis_leave,
    .set_reserve = redis_set_reserve,
    .claim = redis_claim,
    .unclaim = redis_unclaim,
    .cancel = redis_cancel,
    .observe = redis_observe,
    .view = redis_view,
    .lanes = redis_lanes,
    .close = redis_close,
};

/* ---- opening, --status, --reset ----------------------------------------------- */

static void set_keys(struct redis_limiter *r, const char *bucket)
{
	snprintf(r->keys[0], sizeof r->keys[0], "pulse:{%s}:bucket", bucket);
	snprintf(r->keys[1], sizeof r->keys[1], "pulse:{%s}:leases", bucket);
	snprintf(r->keys[2], sizeof r->keys[2], "pulse:{%s}:workers", bucket);
	snprintf(r->keys[3], sizeof r->keys[3], "pulse:{%s}:line", bucket);
	snprintf(r->keys[4], sizeof r->keys[4], "pulse:{%s}:lapses", bucket);
	snprintf(r->keys[5], sizeof r->keys[5], "pulse:{%s}:claims", bucket);
	snprintf(r->keys[6], sizeof r->keys[6], "pulse:{%s}:taken", bucket);
}

/* A limiter of the URL for a bucket, not yet connected. */
static struct redis_limiter *make(const char *url, const char *bucket, double timeout, char *err,
                                  size_t errlen)
{
	struct redis_limiter *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	char why[200];
	if (redis_link_init(&r->link, url, "bucket", "limiter", timeout, why, sizeof why) != 0) {
		snprintf(err, errlen, "limiter: %s", why);
		free(r);
		return NULL;
	}
	const char *name = r->link.url.name[0] ? r->link.url.name : bucket;
	if (!name || !*name || strlen(name) > 64) {
		snprintf(err, errlen, "limiter: a bucket's name takes 1 to 64 bytes");
		redis_close(&r->base);
		return NULL;
	}
	set_keys(r, name);
	r->base.ops = &redis_ops;
	r->base.refs = 1;
	return r;
}

struct limiter *limiter_redis_open(const struct redis_limiter_options *o, char *err, size_t errlen)
{
	struct redis_limiter *r = make(o->url, o->bucket, o->timeout, err, errlen);
	if (!r)
		return NULL;
	r->limit = o->limit;
	r->window = o->window;
	r->burst = o->burst;
	r->share = o->fallback_share;
	unsigned char bytes[8];
	if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
		memset(bytes, 0, sizeof bytes);
	for (int i = 0; i < 8; i++)
		snprintf(r->worker + 2 * i, 3, "%02x", bytes[i]);
	char host[32] = "?";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	snprintf(r->name, sizeof r->name, "%s:%d", host, (int)getpid());
	r->seen = (struct ratelimit_view){.limit = o->limit,
	                                  .window = o->window,
	                                  .burst = o->burst,
	                                  .remaining = o->burst,
	                                  .reset = o->window};
	r->seen_at = clock_monotonic();
	return &r->base;
}

int limiter_redis_status(const char *url, const char *bucket,
                         void (*each)(const struct limiter_bucket_status *, void *), void *ctx, char *err,
                         size_t errlen)
{
	struct redis_limiter *r = make(url, bucket, 5, err, errlen);
	if (!r)
		return -1;
	redisReply *reply = run(r, "status", 0, NULL);
	int count = -1;
	if (!reply) {
		snprintf(err, errlen, "%s", r->base.error);
	} else {
		count = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0;
		if (count) {
			struct limiter_bucket_status st = {
			    .bucket = {number(reply, 0), number(reply, 1), number(reply, 2), number(reply, 3),
			               number(reply, 4), number(reply, 5)},
			    .confirmed = (int)number(reply, 6),
			    .in_flight = (int)number(reply, 7),
			    .workers = (int)number(reply, 8),
			    .observed = number(reply, 9),
			    .last_status = (int)number(reply, 10),
			};
			lanes_of_status(reply, &st.lanes);
			st.rate_limited = number(reply, 15);
			for (size_t at = 16;
			     at + 3 < reply->elements && st.processes < LIMITER_STATUS_PROCESSES; at += 4) {
				struct limiter_process *p = &st.process[st.processes++];
				const redisReply *name = reply->element[at];
				snprintf(p->name, sizeof p->name, "%.*s",
				         name->type == REDIS_REPLY_STRING ? (int)name->len : 1,
				         name->type == REDIS_REPLY_STRING ? name->str : "?");
				for (int lane = 0; lane < LANES; lane++)
					p->taken[lane] = number(reply, at + 1 + (size_t)lane);
			}
			snprintf(st.name, sizeof st.name, "%s",
			         r->link.url.name[0] ? r->link.url.name : bucket);
			each(&st, ctx);
		}
		freeReplyObject(reply);
	}
	redis_close(&r->base);
	return count;
}

int limiter_redis_reset(const char *url, const char *bucket, char *err, size_t errlen)
{
	struct redis_limiter *r = make(url, bucket, 5, err, errlen);
	if (!r)
		return -1;
	redisReply *reply = run(r, "reset", 0, NULL);
	int count = -1;
	if (reply) {
		count = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
		freeReplyObject(reply);
	} else {
		snprintf(err, errlen, "%s", r->base.error);
	}
	redis_close(&r->base);
	return count;
}
