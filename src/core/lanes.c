#include "lanes.h"

#include <math.h>
#include <string.h>

static const char *const NAMES[LANES] = {"interactive", "normal", "bulk"};

int lanes_parse(const char *name)
{
	for (int lane = 0; lane < LANES; lane++)
		if (strcmp(name, NAMES[lane]) == 0)
			return lane;
	return -1;
}

const char *lanes_name(int lane)
{
	return lane >= 0 && lane < LANES ? NAMES[lane] : "?";
}

static void free_waiter(struct lanes *q, struct lanes_waiter *w)
{
	w->place = 0;
	q->waiting--;
}

static struct lanes_waiter *find(struct lanes *q, lanes_place place)
{
	if (place == 0 || q->waiting <= 0)
		return NULL;
	for (int i = 0; i < LANES_PLACES; i++)
		if (q->waiters[i].place == place)
			return &q->waiters[i];
	return NULL;
}

/* Every place forgotten: the waiters come in anew at their next take. */
static void new_line(struct lanes *q)
{
	memset(q->waiters, 0, sizeof q->waiters);
	q->waiting = 0;
	if (q->last_place >= LANES_LAST_PLACE)
		q->last_place = 0;
}

/* Whether w waits ahead of a caller in lane at place (0: not yet in line,
 * so behind everyone of its lane). */
static int ahead_of(const struct lanes_waiter *w, int lane, lanes_place place)
{
	return w->lane < lane || (w->lane == lane && (place == 0 || w->place < place));
}

/* The callers waiting ahead of one in lane at place; the lapsed leave. */
static int count_ahead(struct lanes *q, int lane, lanes_place place, double now)
{
	int ahead = 0;
	for (int i = 0; i < LANES_PLACES && q->waiting > 0; i++) {
		struct lanes_waiter *w = &q->waiters[i];
		if (w->place == 0)
			continue;
		if (w->lapse < now)
			free_waiter(q, w);
		else if (ahead_of(w, lane, place))
			ahead++;
	}
	return ahead;
}

/* A place in line for a caller in lane, until lapse: a free one, or the
 * one of the last waiter when the caller comes before it; 0 when none. */
static lanes_place enter(struct lanes *q, int lane, int owner, double lapse)
{
	/* An empty line's places are never read, and not checked: whatever
	 * they hold is forgotten as the first waiter comes. */
	if (q->last_place >= LANES_LAST_PLACE || q->waiting <= 0)
		new_line(q);
	struct lanes_waiter *slot = NULL;
	for (int i = 0; i < LANES_PLACES && !slot; i++)
		if (q->waiters[i].place == 0)
			slot = &q->waiters[i];
	if (slot) {
		q->waiting++;
	} else {
		struct lanes_waiter *last = &q->waiters[0];
		for (int i = 1; i < LANES_PLACES; i++)
			if (ahead_of(last, q->waiters[i].lane, q->waiters[i].place))
				last = &q->waiters[i];
		if (last->lane <= lane)
			return 0;
		slot = last; /* it waits on, unplaced */
	}
	*slot = (struct lanes_waiter){.place = ++q->last_place, .lane = lane, .owner = owner, .lapse = lapse};
	return slot->place;
}

/* The tokens held for interactive takes in the window s is in: the
 * reserve's share of the limit, less what interactive takes spent of it;
 * never more than the share of the limit as the server now says it. */
static double reserve_left(struct lanes *q, const struct ratelimit_state *s)
{
	double share = ceil(q->reserve * s->limit - 1e-9);
	if (q->reserve_window != s->window_ticket || q->reserve_left > share) {
		q->reserve_left =
		    q->reserve_window != s->window_ticket ? share : fmin(q->reserve_left, share);
		q->reserve_window = s->window_ticket;
	}
	return q->reserve_left;
}

double lanes_take(struct lanes *q, struct ratelimit_state *s, double now, int in_flight, int lane, int owner,
                  lanes_place *place, ratelimit_ticket *ticket)
{
	ratelimit_refill(s, now);
	lanes_place none = 0;
	int placed = place != NULL;
	if (!placed)
		place = &none;
	struct lanes_waiter *me = find(q, *place);
	if (!me)
		*place = 0; /* lapsed, or never placed: it comes in anew */
	double held = count_ahead(q, lane, *place, now);
	double release_at = s->next_refill - fmin(LANES_RELEASE, s->window / 10);
	double reserve = lane == LANE_BULK && now < release_at ? reserve_left(q, s) : 0;
	double wait = ratelimit_take(s, now, in_flight, held + reserve, ticket);
	if (wait == 0) {
		if (me)
			free_waiter(q, me);
		*place = 0;
		if (lane == LANE_INTERACTIVE && reserve_left(q, s) >= 1)
			q->reserve_left -= 1;
		return 0;
	}
	/* Held for the reserve alone: bulk's turn comes at its release. */
	if (reserve > 0 && now >= s->blocked_until && s->tokens >= 1 + held)
		wait = release_at - now;
	double lapse = now + (wait > 0 ? wait : RATELIMIT_RECHECK) + LANES_GRACE;
	if (me)
		me->lapse = lapse;
	else if (placed)
		*place = enter(q, lane, owner, lapse);
	return wait;
}

void lanes_leave(struct lanes *q, lanes_place place)
{
	struct lanes_waiter *w = find(q, place);
	if (w)
		free_waiter(q, w);
}

void lanes_forget_owner(struct lanes *q, int owner)
{
	for (int i = 0; i < LANES_PLACES && q->waiting > 0; i++)
		if (q->waiters[i].place != 0 && q->waiters[i].owner == owner)
			free_waiter(q, &q->waiters[i]);
}

void lanes_count(struct lanes *q, double now, int counts[LANES])
{
	count_ahead(q, LANE_INTERACTIVE, 0, now); /* the lapsed leave */
	for (int lane = 0; lane < LANES; lane++)
		counts[lane] = 0;
	for (int i = 0; i < LANES_PLACES && q->waiting > 0; i++)
		if (q->waiters[i].place != 0)
			counts[q->waiters[i].lane]++;
}

int lanes_repair(struct lanes *q, double now, double window)
{
	int changed = 0;
	if (!isfinite(q->reserve) || q->reserve < 0 || q->reserve > 1) {
		q->reserve = 0;
		changed++;
	}
	if (!isfinite(q->reserve_left) || q->reserve_left < 0 || q->reserve_left > 1e9) {
		q->reserve_left = 0;
		changed++;
	}
	if (q->last_place > LANES_LAST_PLACE) {
		new_line(q);
		changed++;
	}
	if (q->waiting < 0 || q->waiting > LANES_PLACES) {
		q->waiting = LANES_PLACES; /* each place is checked, and counted, below */
		changed++;
	}
	/* An empty line's places are not read (enter clears them): a take
	 * with nobody waiting, the most common, checks nothing more. */
	if (q->waiting == 0)
		return changed;
	/* No wait is told past a 429's longest block, or a window. */
	double latest = now + fmax(window, RATELIMIT_MAX_BLOCK) + LANES_GRACE;
	int waiting = 0;
	for (int i = 0; i < LANES_PLACES; i++) {
		struct lanes_waiter *w = &q->waiters[i];
		if (w->place == 0)
			continue;
		if (w->lane < 0 || w->lane >= LANES || !isfinite(w->lapse) || w->lapse > latest ||
		    w->place > q->last_place) {
			w->place = 0;
			changed++;
			continue;
		}
		waiting++;
	}
	if (q->waiting != waiting) {
		q->waiting = waiting;
		changed++;
	}
	return changed;
}
