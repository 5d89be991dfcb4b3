#include "engine.h"

#include "util/clock.h"

#include <stdint.h>
#include <stdlib.h>

/* DONE: finished and queued to be collected; COLLECTED: taken off the
 * queue, not yet released. */
enum slot_state { SLOT_FREE, SLOT_RUNNING, SLOT_DONE, SLOT_COLLECTED };

struct slot {
	CURL *easy; /* kept across uses: its DNS and TLS session caches stay warm */
	struct http_response response;
	struct shared_headers *headers;
	struct transport *owner; /* the transport it was set up from; a reference */
	void *context;           /* the caller's */
	unsigned long long tag;  /* the caller's too */
	size_t sent;             /* the request body's length */
	enum slot_state state;
	int next_done;           /* the finished-but-uncollected queue, by slot index */
	struct easy_setup setup; /* what easy was last set up with */
};

struct engine {
	CURLM *multi;
	/* Pointers, not an array of slots: libcurl holds the address of each
	 * slot's response for the life of its transfer, so slots never move. */
	struct slot **slots;
	int count;
	int *free_ids; /* the free slots' indexes, a stack: room for count */
	int free_count;
	int active;
	int done_head, done_tail; /* -1: empty */
};

struct engine *engine_new(void)
{
	if (transport_library_init() != 0)
		return NULL;
	struct engine *e = calloc(1, sizeof *e);
	if (!e || !(e->multi = curl_multi_init())) {
		free(e);
		return NULL;
	}
	curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	e->done_head = e->done_tail = -1;
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->count; i++) {
		struct slot *s = e->slots[i];
		if (s->state != SLOT_FREE)
			curl_multi_remove_handle(e->multi, s->easy);
		transport_free(s->owner);
		transport_free_headers(s->headers);
		curl_easy_cleanup(s->easy);
		easy_setup_free(&s->setup);
		http_response_free(&s->response);
		free(s);
	}
	free(e->slots);
	free(e->free_ids);
	curl_multi_cleanup(e->multi);
	free(e);
}

/* A free slot's index (taken off the free stack), or -1 when out of memory. */
static int free_slot(struct engine *e)
{
	if (e->free_count > 0)
		return e->free_ids[--e->free_count];
	int *ids = realloc(e->free_ids, (size_t)(e->count + 1) * sizeof *ids);
	if (!ids)
		return -1;
	e->free_ids = ids;
	struct slot **grown = realloc(e->slots, (size_t)(e->count + 1) * sizeof *grown);
	if (!grown)
		return -1;
	e->slots = grown;
	if (!(e->slots[e->count] = calloc(1, sizeof **grown)))
		return -1;
	return e->count++;
}

static void put_free(struct engine *e, int id)
{
	e->free_ids[e->free_count++] = id;
}

int engine_start(struct engine *e, struct transport *t, const struct http_request *req, void *context,
                 unsigned long long tag)
{
	int id = free_slot(e);
	if (id < 0)
		return -1;
	struct slot *s = e->slots[id];
	if (!s->easy) {
		if (!(s->easy = curl_easy_init())) {
			put_free(e, id);
			return -1;
		}
		curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (void *)(intptr_t)id); /* a slot keeps its id */
		/* Transfers started together wait for a connection being made to
		 * say whether it multiplexes (HTTP/2) before opening their own:
		 * else a burst opens one connection per transfer. */
		curl_easy_setopt(s->easy, CURLOPT_PIPEWAIT, 1L);
	}
	if (transport_setup(t, s->easy, &s->setup, req, &s->response, &s->headers) != 0) {
		put_free(e, id);
		return -1;
	}
	if (curl_multi_add_handle(e->multi, s->easy) != CURLM_OK) {
		transport_free_headers(s->headers);
		s->headers = NULL;
		put_free(e, id);
		return -1;
	}
	s->owner = transport_retain(t);
	s->context = context;
	s->tag = tag;
	s->sent = req->body ? req->body_len : 0;
	s->state = SLOT_RUNNING;
	e->active++;
	return id;
}

static void queue_done(struct engine *e, int id)
{
	e->slots[id]->state = SLOT_DONE;
	e->slots[id]->next_done = -1;
	if (e->done_tail >= 0)
		e->slots[e->done_tail]->next_done = id;
	else
		e->done_head = id;
	e->done_tail = id;
}

static void collect_finished(struct engine *e)
{
	int left;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		void *private = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &private);
		int id = (int)(intptr_t) private;
		struct slot *s = e->slots[id];
		transport_finish(msg->easy_handle, msg->data.result, &s->response);
		transport_count(s->owner, &s->response, s->sent);
		queue_done(e, id);
	}
}

int engine_poll(struct engine *e, double timeout)
{
	/* Wait first, then move every transfer along once: a perform walks all
	 * transfers, so one per wake-up, not two. The wait ends at once when a
	 * socket is ready or libcurl has work due, as a transfer just started.
	 * Again while none has finished: a wake-up that only sent a request is
	 * not the caller's business, and going back to it costs a pass of the
	 * Lua scheduler. */
	double deadline = timeout > 0 ? clock_monotonic() + timeout : 0;
	for (;;) {
		if (e->done_head < 0 && timeout > 0) {
			int ms = timeout > 3600 ? 3600000 : (int)(timeout * 1000);
			if (curl_multi_poll(e->multi, NULL, 0, ms, NULL) != CURLM_OK)
				return -1;
		}
		int running;
		if (curl_multi_perform(e->multi, &running) != CURLM_OK)
			return -1;
		collect_finished(e);
		/* An interrupt goes back to the caller at once, whose code then
		 * raises it; the transfers end on their own next progress call. */
		if (e->done_head >= 0 || running == 0 || timeout <= 0 || transport_interrupted())
			return 0;
		timeout = deadline - clock_monotonic();
		if (timeout <= 0)
			return 0;
	}
}

int engine_next_done(struct engine *e)
{
	int id = e->done_head;
	if (id < 0)
		return -1;
	e->done_head = e->slots[id]->next_done;
	if (e->done_head < 0)
		e->done_tail = -1;
	e->slots[id]->next_done = -1;
	e->slots[id]->state = SLOT_COLLECTED;
	return id;
}

const struct http_response *engine_response(const struct engine *e, int id)
{
	return &e->slots[id]->response;
}

void engine_release(struct engine *e, int id)
{
	if (id < 0 || id >= e->count || e->slots[id]->state == SLOT_FREE)
		return;
	struct slot *s = e->slots[id];
	if (s->state == SLOT_DONE) {
		/* Still queued, never collected: unlink it. */
		for (int *link = &e->done_head, prev = -1; *link >= 0;
		     prev = *link, link = &e->slots[*link]->next_done) {
			if (*link == id) {
				*link = s->next_done;
				if (e->done_tail == id)
					e->done_tail = prev;
				break;
			}
		}
	}
	curl_multi_remove_handle(e->multi, s->easy);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, NULL);
	transport_free_headers(s->headers);
	s->headers = NULL;
	transport_free(s->owner);
	s->owner = NULL;
	s->context = NULL;
	s->state = SLOT_FREE;
	put_free(e, id);
	e->active--;
}

int engine_ids(const struct engine *e)
{
	return e->count;
}

void *engine_take_context(struct engine *e, int id, unsigned long long *tag)
{
	if (id < 0 || id >= e->count || e->slots[id]->state == SLOT_FREE)
		return NULL;
	*tag = e->slots[id]->tag;
	void *context = e->slots[id]->context;
	e->slots[id]->context = NULL;
	return context;
}

int engine_active(const struct engine *e)
{
	return e->active;
}
