/*
 * The process's metrics (util/metrics.h) for Lua: client:metrics()'s text,
 * and the events the Lua layer counts.
 */
#include "binding.h"

#include "util/metrics.h"

/* core.metrics() -> the Prometheus text of every counter */
static int core_metrics(lua_State *L)
{
	struct buf out = {0};
	if (metrics_write(&out) != 0) {
		buf_free(&out);
		return luaL_error(L, "out of memory");
	}
	lua_pushlstring(L, out.data ? out.data : "", out.len);
	buf_free(&out);
	return 1;
}

/* core.metrics_add(event, amount): event "retry", "token_wait" (amount:
 * seconds), "cache_hit", "shared" or "stale" */
static int core_metrics_add(lua_State *L)
{
	static const char *const events[] = {"retry", "token_wait", "cache_hit", "shared", "stale", NULL};
	int event = luaL_checkoption(L, 1, NULL, events);
	metrics_add((enum metrics_event)event, luaL_checknumber(L, 2));
	return 0;
}

/* core.metrics_reset(): every counter to 0 (a spec's fresh start) */
static int core_metrics_reset(lua_State *L)
{
	(void)L;
	metrics_reset();
	return 0;
}

const luaL_Reg binding_metrics_functions[] = {
    {"metrics", core_metrics},
    {"metrics_add", core_metrics_add},
    {"metrics_reset", core_metrics_reset},
    {NULL, NULL},
};
