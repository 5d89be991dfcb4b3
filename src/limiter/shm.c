#include "shm.h"

#include "shm_guard.h"

#include "util/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_MAGIC "pulse-lua limiter file\n"
#define SHM_VERSION 4
#define SHM_BUCKETS 64
#define SHM_WORKERS 256
#define SHM_CLAIMS 64
/* More tokens out than a worker can have: a count past it was tampered with. */
#define SHM_MAX_IN_FLIGHT 1000000

/* How often a process looks for workers that died with tokens out. */
#define LIVENESS_EVERY 1.0

/* Clocks that disagree by more than this are told (seconds). */
#define CLOCK_SLACK 1.0

struct shm_bucket {
	char name[65]; /* "" when free */
	struct ratelimit_state state;
	int in_flight;      /* tokens out, of every worker */
	double observed_at; /* when an answer was last read (0: never) */
	int last_status;
	double rate_limited; /* answers of 429 read, since the bucket was made or reset */
	struct lanes line;   /* the callers waiting, of every worker, and the reserve */
};

/* A worker's slot is held by an open-file-description lock on one byte of
 * the file (past its end) that the kernel drops when the process dies,
 * however it dies: no pid to outlive it or be reused, and a zombie or a
 * process in another pid namespace reads the same. */
struct shm_worker {
	int used; /* 0: free */
	int bucket;
	int in_flight;
	int pid;             /* for people to tell the processes apart (--top), never to find one */
	double taken[LANES]; /* tokens this worker took, by lane */
};

/* A fetch one worker does for the others (limiter_claim), until it lapses
 * or the worker dies. */
struct shm_claim {
	char name[65]; /* "" when free */
	int slot;
	double lapses;
};

struct shm_file {
	char magic[24];
	uint32_t version;
	uint32_t size; /* sizeof (struct shm_file): the same build's layout */
	pthread_mutex_t lock;
	uint32_t recovered; /* times a process died holding the lock */
	/* Every process reads the machine's monotonic clock, unless one runs
	 * in a time namespace of its own (or under a fake clock): the last
	 * reading written, and how often, and by how much, a process found
	 * it ahead of its own. */
	double last_now;
	uint32_t clock_disagreements;
	double clock_disagreement;
	uint32_t repaired; /* values found out of bounds, and set right */
	struct shm_bucket buckets[SHM_BUCKETS];
	struct shm_claim claims[SHM_CLAIMS];
	struct shm_worker workers[SHM_WORKERS];
};

/* The file mapped, and open: its slot's byte is locked through fd. */
struct shm_map {
	struct shm_file *file;
	int fd;
	int slot; /* this process's worker slot; -1: none (--status, --reset) */
	/* Raised when the file was cut short under the mapping (shm_guard.h):
	 * what the mapping holds since is zeros of no meaning. */
	volatile sig_atomic_t cut;
};

struct shm_limiter {
	struct limiter base; /* first: a struct limiter * is a struct shm_limiter * */
	struct shm_map map;
	struct shm_file *file;       /* map.file */
	int bucket;                  /* its bucket's index in the file */
	double checked;              /* when this process last looked for dead workers */
	double limit, window, burst; /* the policy given at open */
	/* The bucket as this process last read it: what it knows of the
	 * server's policy and phase if the file goes. */
	struct ratelimit_state seen;
	/* The file was cut short under the mapping: it is never touched again,
	 * and the process paces alone at share of the limit, or fails. */
	int broken;
	double share;
	struct ratelimit_state own;
	struct lanes own_line;
};

static struct shm_limiter *of(struct limiter *l)
{
	return (struct shm_limiter *)l;
}

static int slot_lock(int fd, int slot, short type, int cmd)
{
	struct flock fl = {
	    .l_type = type,
	    .l_whence = SEEK_SET,
	    .l_start = (off_t)sizeof(struct shm_file) + slot,
	    .l_len = 1,
	};
	if (fcntl(fd, cmd, &fl) != 0)
		return -1;
	return cmd == F_OFD_GETLK ? fl.l_type != F_UNLCK : 0;
}

/* Whether the process of worker slot is gone: nobody holds its byte. A
 * lock of m's own does not show through m->fd: its slot is alive. */
static int slot_dead(const struct shm_map *m, int slot)
{
	return slot != m->slot && slot_lock(m->fd, slot, F_WRLCK, F_OFD_GETLK) == 0;
}

/* Gives back the tokens of workers whose process is gone, and counts the
 * tokens out again from the workers': a process that died in the middle
 * of a take or an answer may have counted its token in one and not the
 * other. Locked. */
static void reclaim_dead(const struct shm_map *m)
{
	struct shm_file *f = m->file;
	for (int b = 0; b < SHM_BUCKETS; b++)
		f->buckets[b].in_flight = 0;
	for (int i = 0; i < SHM_WORKERS; i++) {
		struct shm_worker *w = &f->workers[i];
		if (w->used && slot_dead(m, i)) {
			if (w->bucket >= 0 && w->bucket < SHM_BUCKETS)
				lanes_forget_owner(&f->buckets[w->bucket].line, i);
			memset(w, 0, sizeof *w);
		}
		if (!w->used)
			continue;
		/* The file is anyone's with write access to it: every index and
		 * count read from it is checked before it is used. */
		if (w->bucket < 0 || w->bucket >= SHM_BUCKETS || w->in_flight < 0 ||
		    w->in_flight > SHM_MAX_IN_FLIGHT) {
			f->repaired++;
			if (w->bucket < 0 || w->bucket >= SHM_BUCKETS)
				w->bucket = 0;
			w->in_flight = 0;
		}
		f->buckets[w->bucket].in_flight += w->in_flight;
	}
}

/* Notes a clock that disagrees with the last one written, then writes
 * this process's. Locked. */
static void compare_clock(struct shm_file *f, double now)
{
	double ahead = f->last_now - now;
	if (isfinite(ahead) && ahead > CLOCK_SLACK) {
		f->clock_disagreements++;
		f->clock_disagreement = ahead;
	}
	f->last_now = now;
}

/* The bucket of the limiter, its values checked; the tokens out recounted
 * when their count is out of bounds. Locked. */
static struct shm_bucket *checked_bucket(struct shm_limiter *s, double now)
{
	struct shm_file *f = s->file;
	struct shm_bucket *b = &f->buckets[s->bucket];
	compare_clock(f, now);
	f->repaired += (uint32_t)ratelimit_repair(&b->state, now, s->limit, s->window, s->burst);
	f->repaired += (uint32_t)lanes_repair(&b->line, now, b->state.window);
	if (b->in_flight < 0 || b->in_flight > SHM_MAX_IN_FLIGHT) {
		f->repaired++;
		reclaim_dead(&s->map);
	}
	if (!s->map.cut)
		s->seen = b->state;
	return b;
}

/* The file was cut short: from now on the process keeps a bucket of its
 * own, its share of the limit, starting empty (the others may have spent
 * this window already). */
static void go_alone(struct shm_limiter *s, double now)
{
	if (s->broken)
		return;
	s->broken = 1;
	/* The policy as last seen, or as given at open when what was seen is
	 * none. Empty, from the server's phase as last seen, else a window
	 * on; but a process that had not heard from the server (late to
	 * start) keeps one token: its response teaches the bucket the
	 * server's policy, where empty it waited a whole window of the policy
	 * given at open, and full it could spend more than its share. */
	double limit = s->seen.limit > 0 ? s->seen.limit : s->limit;
	double window = s->seen.window > 0 ? s->seen.window : s->window;
	double refill = s->seen.next_refill > now ? s->seen.next_refill : now + window;
	ratelimit_init_share(&s->own, limit, window, s->share, refill, 0, now);
	if (!s->seen.confirmed)
		s->own.tokens = 1;
}

/* Paced alone, or failed, saying why in l->error. */
static enum limiter_answer alone(struct shm_limiter *s, double now, struct limiter_caller *caller,
                                 double *wait, limiter_ticket *ticket)
{
	go_alone(s, now);
	snprintf(s->base.error, sizeof s->base.error,
	         "the shm: limiter's file was cut short under this process (truncated?): %s",
	         s->share > 0 ? "pacing alone" : "no limiter_fallback, so no token");
	if (s->share <= 0)
		return LIMITER_FAILED;
	return limiter_answer_of(lanes_take(&s->own_line, &s->own, now, s->base.in_flight,
	                                    LIMITER_LANE(caller), 0, LIMITER_PLACE(caller), ticket),
	                         wait);
}

/* A process that died holding the lock left its last change half made:
 * each value it writes is written whole, so what is there is a state, at
 * worst a token off; its tokens out are given back. */
static void lock(const struct shm_map *m)
{
	if (pthread_mutex_lock(&m->file->lock) == EOWNERDEAD) {
		pthread_mutex_consistent(&m->file->lock);
		m->file->recovered++;
		reclaim_dead(m);
	}
}

static void unlock(const struct shm_map *m)
{
	pthread_mutex_unlock(&m->file->lock);
}

static double take_in_line(struct shm_limiter *s, struct shm_bucket *b, double now,
                           struct limiter_caller *caller, limiter_ticket *ticket)
{
	return lanes_take(&b->line, &b->state, now, b->in_flight, LIMITER_LANE(caller), s->map.slot,
	                  LIMITER_PLACE(caller), ticket);
}

static enum limiter_answer shm_take(struct limiter *l, double now, struct limiter_caller *caller,
                                    double *wait, limiter_ticket *ticket)
{
	struct shm_limiter *s = of(l);
	struct shm_file *f = s->file;
	if (s->broken || s->map.cut)
		return alone(s, now, caller, wait, ticket);
	lock(&s->map);
	struct shm_bucket *b = checked_bucket(s, now);
	double w = take_in_line(s, b, now, caller, ticket);
	if (w == RATELIMIT_AWAIT_RESPONSE && now - s->checked > LIVENESS_EVERY / 20) {
		/* The request checking the bucket may be a dead process's. */
		s->checked = now;
		reclaim_dead(&s->map);
		w = take_in_line(s, b, now, caller, ticket);
	}
	if (w == 0) {
		struct shm_worker *me = &f->workers[s->map.slot];
		b->in_flight++;
		me->in_flight++;
		me->taken[LIMITER_LANE(caller)] += 1;
	}
	if (now - s->checked > LIVENESS_EVERY) {
		s->checked = now;
		reclaim_dead(&s->map);
	}
	unlock(&s->map);
	if (s->map.cut) /* cut short meanwhile: what was read meant nothing */
		return alone(s, now, caller, wait, ticket);
	return limiter_answer_of(w, wait);
}

/* A token of this worker's came back, answered or not. Locked. */
static void token_back(struct shm_limiter *s, struct shm_bucket *b)
{
	struct shm_worker *w = &s->file->workers[s->map.slot];
	if (w->in_flight > 0) {
		w->in_flight--;
		b->in_flight--;
	}
}

static void shm_leave(struct limiter *l, lanes_place place)
{
	struct shm_limiter *s = of(l);
	if (s->broken || s->map.cut) {
		lanes_leave(&s->own_line, place);
		return;
	}
	lock(&s->map);
	lanes_leave(&s->file->buckets[s->bucket].line, place);
	unlock(&s->map);
}

static int shm_set_reserve(struct limiter *l, double share, double now)
{
	struct shm_limiter *s = of(l);
	(void)now;
	if (s->broken || s->map.cut) {
		snprintf(l->error, sizeof l->error,
		         "the shm: limiter's file was cut short under this process");
		return -1;
	}
	lock(&s->map);
	struct lanes *line = &s->file->buckets[s->bucket].line;
	line->reserve = share;
	line->reserve_window = 0; /* counted afresh at the next take */
	unlock(&s->map);
	return 0;
}

/* The claim of name, or a free one to make it in (a lapsed one, or a dead
 * worker's, is free); NULL when every claim is live. Locked. */
static struct shm_claim *claim_of(struct shm_limiter *s, const char *name, double now)
{
	struct shm_claim *free_claim = NULL;
	for (int i = 0; i < SHM_CLAIMS; i++) {
		struct shm_claim *c = &s->file->claims[i];
		c->name[sizeof c->name - 1] = '\0'; /* whatever was written there */
		int live = c->name[0] != '\0' && isfinite(c->lapses) && c->lapses > now && c->slot >= 0 &&
		           c->slot < SHM_WORKERS && !slot_dead(&s->map, c->slot);
		if (live && strcmp(c->name, name) == 0)
			return c;
		if (!live && !free_claim)
			free_claim = c;
	}
	if (free_claim)
		free_claim->name[0] = '\0';
	return free_claim;
}

static int shm_claim(struct limiter *l, const char *name, double lease, double now)
{
	struct shm_limiter *s = of(l);
	if (s->broken || s->map.cut)
		return 1; /* alone: nobody to fetch for */
	lock(&s->map);
	struct shm_claim *c = claim_of(s, name, now);
	int mine = 1;
	if (c && c->name[0] != '\0' && c->slot != s->map.slot) {
		mine = 0;
	} else if (c) {
		snprintf(c->name, sizeof c->name, "%s", name);
		c->slot = s->map.slot;
		c->lapses = now + lease;
	}
	unlock(&s->map);
	return mine;
}

static void shm_unclaim(struct limiter *l, const char *name)
{
	struct shm_limiter *s = of(l);
	if (s->broken || s->map.cut)
		return;
	lock(&s->map);
	for (int i = 0; i < SHM_CLAIMS; i++) {
		struct shm_claim *c = &s->file->claims[i];
		if (c->slot == s->map.slot && strncmp(c->name, name, sizeof c->name) == 0)
			c->name[0] = '\0';
	}
	unlock(&s->map);
}

static void shm_cancel(struct limiter *l, limiter_ticket ticket)
{
	struct shm_limiter *s = of(l);
	(void)ticket;
	if (s->broken || s->map.cut)
		return;
	lock(&s->map);
	token_back(s, &s->file->buckets[s->bucket]);
	unlock(&s->map);
}

static int shm_observe(struct limiter *l, const struct ratelimit_observation *o, double now,
                       limiter_ticket ticket)
{
	struct shm_limiter *s = of(l);
	if (!s->broken && !s->map.cut) {
		lock(&s->map);
		struct shm_bucket *b = checked_bucket(s, now);
		token_back(s, b);
		int ignored = ratelimit_observe(&b->state, o, now, b->in_flight, ticket);
		b->observed_at = now;
		b->last_status = o->rate_limited ? 429 : 0;
		b->rate_limited += o->rate_limited ? 1 : 0;
		unlock(&s->map);
		if (!s->map.cut)
			return ignored;
	}
	go_alone(s, now);
	return ratelimit_observe_share(&s->own, o, s->share, now, s->base.in_flight, ticket);
}

static struct ratelimit_view shm_view(struct limiter *l, double now)
{
	struct shm_limiter *s = of(l);
	if (!s->broken && !s->map.cut) {
		lock(&s->map);
		struct ratelimit_view v = ratelimit_view(&checked_bucket(s, now)->state, now);
		unlock(&s->map);
		if (!s->map.cut)
			return v;
	}
	go_alone(s, now);
	return ratelimit_view(&s->own, now);
}

static int shm_lanes(struct limiter *l, double now, struct limiter_lanes *out)
{
	struct shm_limiter *s = of(l);
	if (!s->broken && !s->map.cut) {
		lock(&s->map);
		struct shm_bucket *b = checked_bucket(s, now);
		out->reserve = b->line.reserve;
		lanes_count(&b->line, now, out->waiting);
		unlock(&s->map);
		if (!s->map.cut)
			return 0;
	}
	snprintf(l->error, sizeof l->error, "the shm: limiter's file was cut short under this process");
	return -1;
}

static void unmap(struct shm_map *m)
{
	shm_guard_remove(m->file);
	munmap(m->file, sizeof *m->file);
	close(m->fd); /* drops this process's slot lock, if it held one */
}

static void shm_close(struct limiter *l)
{
	struct shm_limiter *s = of(l);
	if (!s->broken && !s->map.cut) {
		lock(&s->map);
		struct shm_worker *w = &s->file->workers[s->map.slot];
		s->file->buckets[s->bucket].in_flight -= w->in_flight;
		memset(w, 0, sizeof *w);
		unlock(&s->map);
	}
	unmap(&s->map);
	free(s);
}

static const struct limiter_ops shm_ops = {
    .take = shm_take,
    .leave = shm_leave,
    .set_reserve = shm_set_reserve,
    .claim = shm_claim,
    .unclaim = shm_unclaim,
    .cancel = shm_cancel,
    .observe = shm_observe,
    .view = shm_view,
    .lanes = shm_lanes,
    .close = shm_close,
};

/* ---- the file ------------------------------------------------------------------ */

static int init_file(struct shm_file *f)
{
	memset(f, 0, sizeof *f);
	pthread_mutexattr_t attr;
	if (pthread_mutexattr_init(&attr) != 0 ||
	    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&f->lock, &attr) != 0)
		return -1;
	pthread_mutexattr_destroy(&attr);
	memcpy(f->magic, SHM_MAGIC, sizeof SHM_MAGIC);
	f->version = SHM_VERSION;
	f->size = sizeof *f;
	return 0;
}

/* Maps the file at path into m, made when missing or empty. Returns 0, or
 * -1 with why. The set-up holds flock, so that two processes starting at
 * once make it once. */
static int map_file(const char *path, int create, struct shm_map *m, char *err, size_t errlen)
{
	m->file = NULL;
	m->slot = -1;
	m->cut = 0;
	m->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (m->fd < 0) {
		snprintf(err, errlen, "shm:%s: %s", path, strerror(errno));
		return -1;
	}
	struct shm_file *f = NULL;
	struct stat st;
	if (flock(m->fd, LOCK_EX) != 0 || fstat(m->fd, &st) != 0) {
		snprintf(err, errlen, "shm:%s: %s", path, strerror(errno));
		goto done;
	}
	int fresh = st.st_size == 0;
	if (fresh && ftruncate(m->fd, sizeof *f) != 0) {
		snprintf(err, errlen, "shm:%s: %s", path, strerror(errno));
		goto done;
	}
	if (!fresh && st.st_size != (off_t)sizeof *f) {
		snprintf(err, errlen,
		         "shm:%s is not a pulse-lua limiter file of this version (its size is wrong)", path);
		goto done;
	}
	f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (f == MAP_FAILED) {
		f = NULL;
		snprintf(err, errlen, "shm:%s: %s", path, strerror(errno));
		goto done;
	}
	if (shm_guard_add(f, sizeof *f, &m->cut) != 0) {
		snprintf(err, errlen, "shm:%s: cannot guard its mapping: %s", path, strerror(errno));
		munmap(f, sizeof *f);
		f = NULL;
		goto done;
	}
	if (fresh && init_file(f) != 0) {
		snprintf(err, errlen, "shm:%s: cannot set up its lock", path);
	} else if (memcmp(f->magic, SHM_MAGIC, sizeof SHM_MAGIC) != 0 || f->version != SHM_VERSION ||
	           f->size != sizeof *f) {
		snprintf(err, errlen, "shm:%s is not a pulse-lua limiter file of this version", path);
	} else {
		m->file = f;
		goto done;
	}
	shm_guard_remove(f);
	munmap(f, sizeof *f);
done:
	flock(m->fd, LOCK_UN);
	if (!m->file)
		close(m->fd);
	return m->file ? 0 : -1;
}

/* The index of the bucket called name, made from the policy when missing;
 * -1 when every bucket is taken. Locked. */
static int find_bucket(struct shm_file *f, const char *name, double limit, double window, double burst,
                       double now)
{
	int free_slot = -1;
	for (int i = 0; i < SHM_BUCKETS; i++) {
		f->buckets[i].name[sizeof f->buckets[i].name - 1] = '\0'; /* whatever was written there */
		if (strcmp(f->buckets[i].name, name) == 0)
			return i;
		if (free_slot < 0 && f->buckets[i].name[0] == '\0')
			free_slot = i;
	}
	if (free_slot >= 0) {
		struct shm_bucket *b = &f->buckets[free_slot];
		memset(b, 0, sizeof *b);
		snprintf(b->name, sizeof b->name, "%s", name);
		ratelimit_init(&b->state, limit, window, burst, now);
	}
	return free_slot;
}

/* Takes a free worker slot into m->slot, its byte locked for this
 * process; m->slot stays -1 when every one is taken. Locked. */
static void find_worker(struct shm_map *m, int bucket)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < SHM_WORKERS; i++) {
			struct shm_worker *w = &m->file->workers[i];
			if (!w->used && slot_lock(m->fd, i, F_WRLCK, F_OFD_SETLK) == 0) {
				*w = (struct shm_worker){.used = 1, .bucket = bucket, .pid = (int)getpid()};
				m->slot = i;
				return;
			}
		}
		reclaim_dead(m);
	}
}

struct limiter *limiter_shm_open(const char *path, const char *name, double limit, double window,
                                 double burst, double fallback_share, char *err, size_t errlen)
{
	if (strlen(name) == 0 || strlen(name) > 64) {
		snprintf(err, errlen, "shm:%s: a bucket's name takes 1 to 64 bytes", path);
		return NULL;
	}
	struct shm_limiter *s = calloc(1, sizeof *s);
	if (!s || map_file(path, 1, &s->map, err, errlen) != 0) {
		if (!s)
			snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	s->file = s->map.file;
	lock(&s->map);
	s->bucket = find_bucket(s->file, name, limit, window, burst, clock_monotonic());
	if (s->bucket >= 0)
		find_worker(&s->map, s->bucket);
	unlock(&s->map);
	if (s->bucket < 0 || s->map.slot < 0) {
		snprintf(err, errlen, "shm:%s: every %s is taken", path,
		         s->bucket < 0 ? "bucket" : "worker slot");
		unmap(&s->map);
		free(s);
		return NULL;
	}
	s->base.ops = &shm_ops;
	s->base.refs = 1;
	s->checked = clock_monotonic();
	s->limit = limit;
	s->window = window;
	s->burst = burst;
	s->share = fallback_share;
	ratelimit_init(&s->seen, limit, window, burst, s->checked);
	return &s->base;
}

/* ---- --status and --reset ------------------------------------------------------- */

/* A count read from the file, where any process writes: a number a count
 * can be, or 0. */
static double counted(double v)
{
	return isfinite(v) && v >= 0 && v < 1e15 ? v : 0;
}

int limiter_shm_status(const char *path, void (*each)(const struct limiter_bucket_status *, void *),
                       void *ctx, char *err, size_t errlen)
{
	struct shm_map m;
	if (map_file(path, 0, &m, err, errlen) != 0)
		return -1;
	struct shm_file *f = m.file;
	int count = 0;
	double now = clock_monotonic();
	lock(&m);
	reclaim_dead(&m);
	for (int i = 0; i < SHM_BUCKETS; i++) {
		struct shm_bucket *b = &f->buckets[i];
		if (b->name[0] == '\0')
			continue;
		struct limiter_bucket_status st = {
		    .bucket = ratelimit_view(&b->state, now),
		    .confirmed = b->state.confirmed,
		    .in_flight = b->in_flight,
		    .observed = b->observed_at > 0 ? now - b->observed_at : -1,
		    .last_status = b->last_status,
		    .recovered = (int)f->recovered,
		    .clock_disagreements = (int)f->clock_disagreements,
		    .clock_disagreement = f->clock_disagreement,
		    .repaired = (int)f->repaired,
		    .lanes.reserve = b->line.reserve,
		};
		lanes_count(&b->line, now, st.lanes.waiting);
		memcpy(st.name, b->name, sizeof st.name);
		st.name[sizeof st.name - 1] = '\0';
		st.rate_limited = counted(b->rate_limited);
		for (int w = 0; w < SHM_WORKERS; w++) {
			const struct shm_worker *worker = &f->workers[w];
			if (!worker->used || worker->bucket != i)
				continue;
			st.workers++;
			if (st.processes < LIMITER_STATUS_PROCESSES) {
				struct limiter_process *p = &st.process[st.processes++];
				snprintf(p->name, sizeof p->name, "pid %d", worker->pid);
				for (int lane = 0; lane < LANES; lane++)
					p->taken[lane] = counted(worker->taken[lane]);
			}
		}
		each(&st, ctx);
		count++;
	}
	unlock(&m);
	unmap(&m);
	return count;
}

int limiter_shm_reset(const char *path, const char *name, char *err, size_t errlen)
{
	struct shm_map m;
	if (map_file(path, 0, &m, err, errlen) != 0)
		return -1;
	int count = 0;
	lock(&m);
	for (int i = 0; i < SHM_BUCKETS; i++) {
		struct shm_bucket *b = &m.file->buckets[i];
		if (b->name[0] != '\0' && (!name || strcmp(b->name, name) == 0)) {
			double limit = b->state.limit, window = b->state.window, burst = b->state.burst;
			int in_flight = b->in_flight;
			/* Afresh from its policy, unconfirmed: the next request checks it. */
			ratelimit_init(&b->state, limit, window, burst, clock_monotonic());
			b->in_flight = in_flight;
			b->line.reserve_window = 0;
			b->rate_limited = 0;
			count++;
		}
	}
	unlock(&m);
	unmap(&m);
	return count;
}
