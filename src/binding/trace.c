/*
 * The trace's line of a call's attempt (observe.lua), written as the
 * exchange ends, into the buffer of the file the call brings (call.trace),
 * from the response and the call's fields. Written in C because the line made in Lua, a table
 * encoded or a format of a dozen numbers, cost a sequential GET more CPU
 * than the trace is allowed (bench/observe.lua). Numbers are whole: times
 * in microseconds (time_ms: milliseconds since the epoch), so that no
 * float is formatted.
 */
#include "binding.h"

#include "core/lanes.h"
#include "util/clock.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The line is made in a buffer of its own and handed to the file's in
 * one write (a write a piece cost more than the rest of the line),
 * unlocked: only the Lua state's thread writes a trace (libcurl's resolver
 * threads would make stdio lock every call). */
struct line {
	FILE *f;
	size_t n;
	char buf[1024];
};

static void put_bytes(struct line *o, const char *s, size_t len)
{
	if (o->n + len > sizeof o->buf) {
		fwrite_unlocked(o->buf, 1, o->n, o->f);
		o->n = 0;
		if (len > sizeof o->buf) { /* a URL longer than the buffer */
			fwrite_unlocked(s, 1, len, o->f);
			return;
		}
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

#define PUT(o, literal) put_bytes((o), literal, sizeof literal - 1)

static void put(struct line *o, const char *s)
{
	put_bytes(o, s, strlen(s));
}

/* A whole number, written without printf: a dozen a line. */
static void put_integer(struct line *o, double v)
{
	char digits[24];
	long long n = isfinite(v) && fabs(v) < 9e15 ? (long long)(v < 0 ? v - 0.5 : v + 0.5) : 0;
	unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
	char *end = digits + sizeof digits, *p = end;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (n < 0)
		*--p = '-';
	put_bytes(o, p, (size_t)(end - p));
}

/* Field k of the call at idx as a number (0 when it is none), popped. */
static double number_of(lua_State *L, int call, enum call_key k)
{
	binding_call_field(L, call, k);
	double v = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
	lua_pop(L, 1);
	return v;
}

static void put_phases(struct line *f, const struct http_response *res)
{
	const struct http_phases *p = &res->phases;
	PUT(f, ",\"phases_us\":{\"dns\":");
	put_integer(f, p->dns * 1e6);
	PUT(f, ",\"connect\":");
	put_integer(f, p->connect * 1e6);
	PUT(f, ",\"tls\":");
	put_integer(f, p->tls * 1e6);
	PUT(f, ",\"first_byte\":");
	put_integer(f, p->first_byte * 1e6);
	PUT(f, ",\"total\":");
	put_integer(f, p->total * 1e6);
	PUT(f, "},\"bytes_in\":");
	put_integer(f, p->bytes_in);
	PUT(f, ",\"bytes_out\":");
	put_integer(f, p->bytes_out);
}

static void put_rate(struct line *f, const struct limiter_view *v)
{
	PUT(f, ",\"rate\":{\"limit\":");
	put_integer(f, v->bucket.limit);
	PUT(f, ",\"window\":");
	put_integer(f, v->bucket.window);
	PUT(f, ",\"remaining\":");
	put_integer(f, v->bucket.remaining);
	PUT(f, ",\"reset_ms\":");
	put_integer(f, v->bucket.reset * 1e3);
	PUT(f, ",\"blocked_ms\":");
	put_integer(f, v->bucket.blocked * 1e3);
	PUT(f, "}");
}

/* Lines go out in blocks: a line is flushed with what waits before it
 * when the file was last flushed FLUSH_EVERY seconds or more before, so
 * a process killed loses at most the lines of its last half second of
 * work. When each trace file was last flushed: a few files at most; the
 * oldest slot is taken for a new one. */
#define FLUSH_EVERY 0.5
static struct {
	FILE *f;
	double at;
} flushed[8];

static void flush_due(FILE *f)
{
	double now = clock_monotonic();
	int oldest = 0;
	for (int i = 0; i < (int)(sizeof flushed / sizeof *flushed); i++) {
		if (flushed[i].f == f) {
			if (now - flushed[i].at >= FLUSH_EVERY) {
				fflush_unlocked(f);
				flushed[i].at = now;
			}
			return;
		}
		if (flushed[i].at < flushed[oldest].at)
			oldest = i;
	}
	fflush_unlocked(f); /* a file's first line */
	flushed[oldest].f = f;
	flushed[oldest].at = now;
}

/* core.trace_written(file): a line was written to the trace file from
 * Lua (observe.lua's cache and shared lines): flushed as the binding's. */
static int core_trace_written(lua_State *L)
{
	luaL_Stream *stream = luaL_checkudata(L, 1, LUA_FILEHANDLE);
	if (stream->closef)
		flush_due(stream->f);
	return 0;
}

const luaL_Reg binding_trace_functions[] = {
    {"trace_written", core_trace_written},
    {NULL, NULL},
};

void binding_trace_attempt(lua_State *L, int call, const struct http_response *res,
                           const struct limiter_view *rate)
{
	int top = lua_gettop(L);
	luaL_Stream *stream = binding_call_field(L, call, CALL_TRACE) == LUA_TUSERDATA
	                          ? luaL_testudata(L, -1, LUA_FILEHANDLE)
	                          : NULL;
	size_t url_len = 0;
	const char *url = binding_call_field(L, call, CALL_TRACE_URL) == LUA_TSTRING
	                      ? lua_tolstring(L, -1, &url_len)
	                      : NULL;
	if (!stream || !stream->closef || !url || !res->phases_read) {
		lua_settop(L, top);
		return;
	}
	/* The strings read stay on the stack until the end. */
	int hop = binding_call_field(L, call, CALL_HOP) == LUA_TTABLE ? lua_gettop(L) : call;
	const char *method =
	    binding_call_field(L, hop, CALL_METHOD) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
	int lane =
	    binding_call_field(L, call, CALL_LANE) == LUA_TNUMBER ? (int)lua_tointeger(L, -1) : LANE_NORMAL;
	double attempt = number_of(L, call, CALL_ATTEMPT), slept = number_of(L, call, CALL_SLEPT);

	struct line out = {.f = stream->f}, *f = &out;
	PUT(f, "{\"event\":\"response\",\"time_ms\":");
	put_integer(f, floor(clock_epoch() * 1e3));
	PUT(f, ",\"method\":\"");
	put(f, method); /* an upper-case token: request.lua checked it */
	PUT(f, "\",\"url\":");
	put_bytes(f, url, url_len);
	PUT(f, ",\"attempt\":");
	put_integer(f, attempt);
	PUT(f, ",\"lane\":\"");
	put(f, lane >= 0 && lane < LANES ? lanes_name(lane) : "normal");
	PUT(f, "\",\"status\":");
	if (res->failure == TRANSPORT_OK) {
		put_integer(f, (double)res->status);
		PUT(f, ",\"error\":null");
	} else {
		PUT(f, "null,\"error\":\"");
		put(f, binding_failure_name(res->failure));
		PUT(f, "\"");
	}
	PUT(f, ",\"elapsed_us\":");
	put_integer(f, res->elapsed * 1e6);
	PUT(f, ",\"waited_us\":");
	put_integer(f, slept * 1e6);
	PUT(f, ",\"shared\":false");
	put_phases(f, res);
	if (rate)
		put_rate(f, rate);
	PUT(f, "}\n");
	/* A write that fails (a full disk) is the trace's loss, not the
	 * call's: the Lua side's flush reports it. */
	fwrite_unlocked(out.buf, 1, out.n, out.f);
	flush_due(out.f);
	lua_settop(L, top);
}
