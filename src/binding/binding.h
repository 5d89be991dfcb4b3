/*
 * pulse.core, the Lua binding: what its files share. Each file holds one
 * userdata or table; its functions convert Lua values to the C structs of
 * core/, limiter/ and net/, call one C function, and push what it gives.
 * Policy lives on either side of the binding, never in it.
 */
#ifndef PULSE_BINDING_H
#define PULSE_BINDING_H

#include "limiter/limiter.h"
#include "net/engine.h"
#include "net/exchange.h"
#include "net/transport.h"

#include <lauxlib.h>
#include <lua.h>

/*
 * Every function of pulse.core and of its objects shares these upvalues:
 * the module's state (the engine, once made) and the metatables. An object
 * is told by comparing its metatable with one: finding the metatable in
 * the registry by name (luaL_checkudata) took about 1.5k instructions of a
 * batched request, five lookups a request.
 */
#define UP_STATE lua_upvalueindex(1)
#define UP_TRANSPORT_MT lua_upvalueindex(2)
#define UP_ENGINE_MT lua_upvalueindex(3)
#define UP_LIMITER_MT lua_upvalueindex(4)
#define UP_HEADERS_MT lua_upvalueindex(5)
#define UP_RATE_MT lua_upvalueindex(6)
#define UP_ARRAY_MT lua_upvalueindex(7)    /* marks the arrays JSON decodes to */
#define UP_CALL_KEYS lua_upvalueindex(8)   /* the call fields the binding reads, by enum call_key */
#define UP_JSON_MEMORY lua_upvalueindex(9) /* the keys and shapes JSON decoded last (json.c) */
#define SHARED_UPVALUES 9

/* The fields of a call (send.lua's Call) and of a plain hop the binding
 * reads by name, kept interned in UP_CALL_KEYS: pushing one is an array
 * read, where pushing a C string looks it up in Lua's string table, a few
 * hundred instructions each time the string cache misses. (Another hop's
 * fields are read in one walk over it: transport.c.) */
enum call_key {
	CALL_HOP = 1,
	CALL_TIMEOUT,
	CALL_MAX_BODY,
	CALL_FRESH,
	CALL_PLAIN,
	CALL_METHOD,
	CALL_URL,
	CALL_LANE,
	CALL_PLACE,
	CALL_PHASES,
	/* what an attempt came to, read by the trace (trace.c) */
	CALL_ATTEMPT,
	CALL_STATUS,
	CALL_FAILURE,
	CALL_ELAPSED,
	CALL_SLEPT,
	CALL_SHARED,
	CALL_RATE,
	CALL_TRACE,    /* the trace's file (observe.lua), when the call is traced */
	CALL_TRACE_URL /* the hop's URL as a JSON string, the key redacted */
};
#define CALL_KEY_NAMES                                                                                       \
	{                                                                                                    \
		"hop", "timeout", "max_body", "fresh", "plain", "method", "url", "lane", "place", "phases",  \
		    "attempt", "status", "failure", "elapsed", "slept", "shared", "rate", "trace",           \
		    "trace_url"                                                                              \
	}

/* The metatables' registry names, in the order of the upvalues above. */
#define TRANSPORT_MT "pulse.transport"
#define ENGINE_MT "pulse.engine"
#define LIMITER_MT "pulse.ratelimit"
#define HEADERS_MT "pulse.headers"
#define RATE_MT "pulse.rate"

/* aux.c: the helpers every file calls. */

/* The userdata at arg, whose metatable must be the one at index mt; else
 * raises luaL_checkudata's error, naming tname. (Called from a function
 * without the shared upvalues, it still checks, by name.) */
void *binding_check_object(lua_State *L, int arg, int mt, const char *tname);

/* Gives the userdata at the top the metatable at index mt. */
void binding_set_metatable(lua_State *L, int mt);

/* Makes the registry's metatable name for an object of its own (no
 * shared upvalues): methods as __index, close as __gc and __close. */
void binding_new_metatable(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close);

/* Pushes v, as an integer when it is whole (60, not 60.0). */
void binding_push_number(lua_State *L, double v);

/* transport.c */
#define MAX_HEADER_LINES 64
struct transport *binding_check_transport(lua_State *L, int arg);
/*
 * The request of the call table at index call (send.lua's Call): its hop
 * (call.hop, else the call itself) gives method, url, headers (a list of
 * lines), body, json_body and foreign (no key: another origin); the call
 * gives the attempt's timeout (seconds), max_body and fresh (a connection
 * of its own). lines holds the header pointers; every string stays
 * referenced by the call.
 */
struct http_request binding_check_call(lua_State *L, int call, const char *lines[MAX_HEADER_LINES]);
/* The call's lane (call.lane: 0 interactive, 1 normal (nil), 2 bulk) and
 * its place in the bucket's line (call.place, nil for none). */
struct limiter_caller binding_check_caller(lua_State *L, int call);
/* Keeps in the call at index call the place a take left it (nil: none). */
void binding_keep_place(lua_State *L, int call, lanes_place before, lanes_place after);

/* Pushes field k of the call at idx, raw: a call's methods (its
 * metatable's __index) are no field, and a miss costs no second lookup.
 * Returns its type. */
int binding_call_field(lua_State *L, int idx, enum call_key k);

/* The name Lua knows a transport failure by ("timeout", ...). */
const char *binding_failure_name(enum transport_failure failure);

/* A traced call's attempt ended with res (rate: the limiter's view after
 * it, or NULL): writes its line to the call's trace (trace.c). */
void binding_trace_attempt(lua_State *L, int call, const struct http_response *res,
                           const struct limiter_view *rate);

/* Fills the call's phases table (a trace's: the call asked with one) with
 * what libcurl measured of res's transmission: [1] to [7] the seconds to
 * DNS, connect, TLS, first byte and total, then the bytes in and out. */
void binding_fill_phases(lua_State *L, int call, const struct http_response *res);

/* limiter.c */
struct limiter *binding_check_limiter(lua_State *L, int arg);
/* The same, or NULL for nil: a request outside the limiter (a redirect to
 * another origin, which is not the organization's to count). */
struct limiter *binding_opt_limiter(lua_State *L, int arg);
/* What a limiter's answer other than LIMITER_TAKEN means to Lua: false
 * and the wait (-1: await a response); or, when the limiter failed, that
 * failure as an outcome: nil, "limiter", why, nothing sent. */
int binding_no_token(lua_State *L, enum limiter_answer answer, double wait, const struct limiter *l);

/* response.c */
/*
 * Pushes an exchange's outcome, which send.lua's Call:record names at
 * once. A response: status, headers, body, elapsed, transmissions, and
 * when a limiter read it retry_after (or nil) and rate. No response: nil,
 * the failure's name, its message, elapsed, transmissions.
 */
int binding_push_outcome(lua_State *L, const struct exchange_outcome *out);
/* Pushes an outcome with no response, as binding_push_outcome does. */
int binding_push_failure(lua_State *L, const char *failure, const char *message, double elapsed,
                         int transmissions);
/* Pushes a headers object holding a copy of block. */
void binding_push_headers(lua_State *L, const char *block, size_t len);
/* The header block at arg: a headers object or a string (the specs'). */
const char *binding_check_block(lua_State *L, int arg, size_t *len);
/* The limiter's view as a plain table, and as a rate object. */
void binding_push_rate_table(lua_State *L, const struct limiter_view *v);
void binding_push_rate(lua_State *L, const struct limiter_view *v);

/* Each file's functions: pulse.core's own, then each object's methods,
 * and the metatables' set-up (registered by core.c, which pushes the
 * metatables as the shared upvalues). */
extern const luaL_Reg binding_transport_functions[], binding_transport_methods[];
extern const luaL_Reg binding_engine_functions[], binding_engine_methods[];
extern const luaL_Reg binding_limiter_functions[], binding_limiter_methods[];
extern const luaL_Reg binding_response_functions[];
extern const luaL_Reg binding_json_functions[];
extern const luaL_Reg binding_policy_functions[];
extern const luaL_Reg binding_sys_functions[];
extern const luaL_Reg binding_files_functions[];
extern const luaL_Reg binding_journal_functions[];
extern const luaL_Reg binding_metrics_functions[];
extern const luaL_Reg binding_trace_functions[];
void binding_transport_metatable(lua_State *L, int mt);
void binding_engine_metatable(lua_State *L, int mt);
void binding_limiter_metatable(lua_State *L, int mt);
void binding_response_metatables(lua_State *L, int headers_mt, int rate_mt);
void binding_json_open(lua_State *L);
/* Pushes what JSON decoding remembers across calls (UP_JSON_MEMORY). */
void binding_json_memory(lua_State *L);
void binding_journal_metatables(lua_State *L);

/* redis.c */
extern const luaL_Reg binding_redis_functions[];
void binding_redis_open(lua_State *L);

#endif
