/*
 * pulse-lua: the stock lua interpreter (lua.c of Lua 5.4) with pulse built
 * in, plus a few options of its own. Every option is listed in usage().
 */
#include "args.h"
#include "binding/pulse_core.h"
#include "calls.h"
#include "embed/modules.h"
#include "interrupt.h"
#include "metrics_server.h"
#include "net/transport.h"
#include "repl.h"
#include "runner_sandbox.h"
#include "sandbox/sandbox.h"
#include "state.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define LUA_INIT_VAR "LUA_INIT"
#define LUA_INITVARVERSION LUA_INIT_VAR LUA_VERSUFFIX

static void usage(const char *message)
{
	fprintf(stderr, "%s: %s\n", progname, message);
	fprintf(stderr, "try '%s --help' for more information\n", progname);
}

static void print_help(void)
{
	printf("usage: %s [options] [script [args]]\n"
	       "Available options are:\n"
	       "  -e stat        execute string 'stat'\n"
	       "  -i             enter interactive mode after executing 'script'\n"
	       "  -l mod         require library 'mod' into global 'mod'\n"
	       "  -l g=mod       require library 'mod' into global 'g'\n"
	       "  -v             show version information\n"
	       "  -E             ignore environment variables\n"
	       "  -W             turn warnings on\n"
	       "  --             stop handling options\n"
	       "  -              stop handling options and execute stdin\n"
	       "Pulse options (each also as --option=value):\n"
	       "  --sandbox      start the embedded Pulse API emulator (sample data) on a free\n"
	       "                 loopback port, with a fresh key, for this run\n"
	       "  --sandbox-rate-limit L/W/B   its rate limit: L calls every W seconds, bucket of B\n"
	       "  --sandbox-faults SPEC        faults it injects (as pulse-sandbox --faults)\n"
	       "  --sandbox-seed N             the seed of its sample data and random faults\n"
	       "                 (each --sandbox-* implies --sandbox)\n"
	       "  --base-url URL default base URL for pulse.new (else $PULSE_BASE_URL); not\n"
	       "                 with --sandbox\n"
	       "  --verbose      trace each request, response and retry on stderr (key redacted)\n"
	       "  --trace FILE   append a JSON line per attempt to FILE: timing phases, token\n"
	       "                 wait, lane, cache, rate limit (else $PULSE_TRACE; key redacted)\n"
	       "  --metrics [ADDR:]PORT  serve the process's metrics (Prometheus text) at\n"
	       "                 http://ADDR:PORT/metrics while the run lasts (ADDR: 127.0.0.1)\n"
	       "  --quiet        no progress output\n"
	       "  --help         show this help\n"
	       "  --version      show versions of pulse-lua, libcurl and Lua\n"
	       "  --limiter URL  the shared rate limit of the run's clients (else $PULSE_LIMITER):\n"
	       "                 shm:<path> or redis://..., with a script or --collection\n"
	       "  --limiter URL --status   show a shared rate-limit bucket (shm:<path> or\n"
	       "                 redis://...): policy, tokens, last answer, workers seen\n"
	       "  --limiter URL --reset    forget it: the next request starts it afresh\n"
	       "                 (the bucket: the URL's ?bucket=NAME, else the organization of\n"
	       "                 $PULSE_API_KEY and $PULSE_BASE_URL; shm: every bucket)\n"
	       "  --limiter URL --reserve interactive=SHARE  keep SHARE (0 to 1) of each window's\n"
	       "                 tokens from bulk calls for interactive ones, until shortly\n"
	       "                 before the refill; stored with the bucket for every process\n"
	       "  --limiter URL --top [--queue URL]  the bucket live, every second: tokens,\n"
	       "                 refill, waiting callers, 429s, tokens taken per process and\n"
	       "                 lane over the last windows, the queue's depth; Ctrl-C stops\n"
	       "  --queue URL --status     a write queue (file:PATH or redis://...?stream=NAME):\n"
	       "                 pending, in flight (and until when they settle), done, dead,\n"
	       "                 damaged\n"
	       "  --queue URL --check      read every record; report damage, exit 1 if any\n"
	       "  --queue URL --accept-damage  keep a damaged journal aside, rewrite it whole:\n"
	       "                 the entries the damage touched are reconciled before any send\n"
	       "  --queue URL --dead       list the dead letters\n"
	       "  --queue URL --retry-dead put every dead letter back in the queue\n"
	       "  --queue URL --drain [--max-calls N]  apply the queued writes with a client of\n"
	       "                 $PULSE_API_KEY and $PULSE_BASE_URL, in the bulk lane; with\n"
	       "                 --max-calls, stop cleanly after N calls (the rest stay queued).\n"
	       "                 An uncertain write, with no reconcile here, becomes a dead letter\n"
	       "  --queue URL --plan       the calls a drain would spend now, and the least time\n"
	       "                 the bucket makes them take; nothing sent\n"
	       "  --dry-run      writes are not sent: each is checked against the catalog, printed\n"
	       "                 on stderr, traced, and answered with res.dry_run = true; reads go\n"
	       "                 out (or come from --replay); a --queue drain or a --collection\n"
	       "                 says what it would write (else $PULSE_DRY_RUN=1)\n"
	       "  --record FILE.har   write every exchange to FILE as HAR 1.2, the key scrubbed\n"
	       "                 (else $PULSE_RECORD)\n"
	       "  --replay FILE.har   answer every request from a HAR recording (ours, a\n"
	       "                 browser's, another tool's), without the network: by method, path,\n"
	       "                 query and body, repeats in their recorded order (else $PULSE_REPLAY)\n"
	       "  --replay-miss fail|live  a request the recording lacks fails (kind\n"
	       "                 replay_miss), or goes out and is added to FILE (live)\n"
	       "  --replay-ignore query:NAME,body:FIELD  volatile query parameters and JSON body\n"
	       "                 fields (dotted) that matching ignores\n"
	       "  --scrub FILE.har [--scrub-field NAME]...  remove credentials (Authorization,\n"
	       "                 cookies, key parameters, $PULSE_API_KEY wherever it is) and the\n"
	       "                 fields named (headers, query, JSON bodies) from a HAR file\n"
	       "  --collection FILE        play a Postman collection's requests in document order,\n"
	       "                 through the limiter and retries, and print a summary; exit\n"
	       "                 status 1 when one failed. With it: --folder NAME, --env FILE\n"
	       "                 (a Postman environment), --data FILE.csv|FILE.json (a run per\n"
	       "                 row), --parallel N (rows at once), --reporter json:FILE,\n"
	       "                 junit:FILE or html:FILE (repeatable), --plan (the calls it would spend,\n"
	       "                 and the least time they take; nothing sent). Newman's spellings:\n"
	       "                 --environment FILE, -d/--iteration-data FILE, -n/--iteration-count N,\n"
	       "                 --folder (repeatable), --delay-request MS, --timeout-request MS,\n"
	       "                 --bail [failure|iteration], -x/--suppress-exit-code, --env-var k=v,\n"
	       "                 --global-var k=v, --reporters cli,json,junit,html with\n"
	       "                 --reporter-json-export FILE (and junit, html). Also: --checks\n"
	       "                 FILE.lua (checks in Lua; pm.test scripts are never run, only\n"
	       "                 counted), --strict-scripts (refuse a collection with scripts),\n"
	       "                 --checkpoint FILE, --resume (go on after a kill), --rerun-failed,\n"
	       "                 --max-calls N. Exit status: 1 a request or check failed, 2 usage,\n"
	       "                 3 a file unreadable\n"
	       "The API key comes from $PULSE_API_KEY, a file named by $PULSE_API_KEY_FILE, or\n"
	       "pulse.new{api_key = ...}, never from the command line, where other users of the\n"
	       "machine could read it. Ctrl-C or SIGTERM stops a script with one line saying\n"
	       "what was done, and exit status 130 or 143.\n",
	       progname);
}

static void print_version(void)
{
	printf("pulse-lua %s (libcurl %s, %s)\n", PULSE_VERSION, transport_library_version(), LUA_RELEASE);
}

static void createargtable(lua_State *L, char **argv, int argc, int script)
{
	if (script == argc)
		script = 0; /* no script name: arg[0] is the program */
	lua_createtable(L, argc - (script + 1), script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status)
{
	if (status == LUA_OK)
		status = docall(L, 0, 0);
	return report(L, status);
}

static int dofile(lua_State *L, const char *name)
{
	return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name)
{
	return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod and -l g=mod: require mod into the global mod, or g. */
static int dolibrary(lua_State *L, const char *arg)
{
	const char *equals = strchr(arg, '=');
	const char *modname = equals ? equals + 1 : arg;
	lua_getglobal(L, "require");
	lua_pushstring(L, modname);
	int status = docall(L, 1, 1);
	if (status == LUA_OK) {
		lua_pushlstring(L, arg, equals ? (size_t)(equals - arg) : strlen(arg));
		lua_insert(L, -2);
		lua_setglobal(L, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	return report(L, status);
}

static int pushargs(lua_State *L)
{
	if (lua_getglobal(L, "arg") != LUA_TTABLE)
		luaL_error(L, "'arg' is not a table");
	int n = (int)luaL_len(L, -1);
	luaL_checkstack(L, n + 3, "too many arguments to script");
	int i;
	for (i = 1; i <= n; i++)
		lua_rawgeti(L, -i, i);
	lua_remove(L, -i);
	return n;
}

static int handle_script(lua_State *L, char **argv)
{
	const char *fname = argv[0];
	if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
		fname = NULL; /* stdin */
	int status = luaL_loadfile(L, fname);
	if (status == LUA_OK) {
		int n = pushargs(L);
		status = docall(L, n, LUA_MULTRET);
	}
	return report(L, status);
}

/* Runs -e, -l and -W in the order given. */
static int runargs(lua_State *L, char **argv, int n)
{
	for (int i = 1; i < n; i++) {
		char option;
		const char *value;
		if (args_skip_long(argv, &i))
			continue;
		if (strcmp(argv[i], "-W") == 0) {
			lua_warning(L, "@on", 0);
		} else if ((value = args_lua_value(argv, &i, &option))) {
			int status =
			    option == 'e' ? dostring(L, value, "=(command line)") : dolibrary(L, value);
			if (status != LUA_OK)
				return 0;
		}
	}
	return 1;
}

static int handle_luainit(lua_State *L)
{
	const char *name = "=" LUA_INITVARVERSION;
	const char *init = getenv(name + 1);
	if (init == NULL) {
		name = "=" LUA_INIT_VAR;
		init = getenv(name + 1);
	}
	if (init == NULL)
		return LUA_OK;
	if (init[0] == '@')
		return dofile(L, init + 1);
	return dostring(L, init, name);
}

/* pulse.runner, what the Lua layer reads of the runner: --verbose and
 * --quiet, the interrupt object, the embedded sandbox, and the embedded
 * sources (for help at the prompt). */
static void set_runner_table(lua_State *L, const struct options *o)
{
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_createtable(L, 0, 5);
	lua_pushboolean(L, o->verbose);
	lua_setfield(L, -2, "verbose");
	lua_pushboolean(L, o->quiet);
	lua_setfield(L, -2, "quiet");
	interrupt_open(L);
	runner_sandbox_open(L);
	lua_pushcfunction(L, modules_source);
	lua_setfield(L, -2, "source");
	lua_setfield(L, -2, "pulse.runner");
	lua_pop(L, 1);
}

/* ---- main ------------------------------------------------------------------ */

/* --limiter URL --status | --reset | --reserve LANE=SHARE: pulse.admin
 * shows, resets or sets the reserve of a shared bucket; --queue URL
 * --status | --check | ...: pulse.queue.command looks at a queue or
 * decides on it. Each answers true, or nil and why: a one-line message,
 * since a traceback of the runner's own code would tell the user nothing. */
static int run_admin(lua_State *L, const struct options *o)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, o->limiter ? "pulse.admin" : "pulse.queue.command");
	if (report(L, docall(L, 1, 1)) != LUA_OK)
		return 0;
	lua_getfield(L, -1, o->action);
	lua_pushstring(L, o->limiter ? o->limiter : o->queue);
	if (o->limiter && o->queue) /* --top: the queue whose depth it shows */
		lua_pushstring(L, o->queue);
	else
		lua_pushstring(L, o->action_value ? o->action_value : o->max_calls);
	if (report(L, docall(L, 2, 2)) != LUA_OK)
		return 0;
	if (!lua_toboolean(L, -2))
		l_message(progname, lua_tostring(L, -1));
	lua_pushboolean(L, lua_toboolean(L, -2));
	return 1;
}

/* pulse-lua --collection FILE ...: pulse.play.main(options) plays the
 * collection; it returns whether the run passed, why not, and the exit
 * status the run asks for (1 a failure, 2 usage, 3 a file unreadable). */
static int run_collection(lua_State *L, struct options *o)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.play");
	if (report(L, docall(L, 1, 1)) != LUA_OK)
		return 0;
	lua_getfield(L, -1, "main");
	lua_createtable(L, 0, 4);
	lua_pushstring(L, o->collection);
	lua_setfield(L, -2, "collection");
	lua_pushboolean(L, o->plan);
	lua_setfield(L, -2, "plan");
	lua_pushstring(L, o->max_calls); /* NULL pushes nil */
	lua_setfield(L, -2, "max_calls");
	lua_createtable(L, o->play_arg_count, 0);
	for (int i = 0; i < o->play_arg_count; i++) {
		lua_createtable(L, 2, 0);
		lua_pushstring(L, o->play_args[i][0]);
		lua_rawseti(L, -2, 1);
		if (o->play_args[i][1]) {
			lua_pushstring(L, o->play_args[i][1]);
			lua_rawseti(L, -2, 2);
		}
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "args");
	if (report(L, docall(L, 1, 3)) != LUA_OK)
		return 0;
	if (!lua_toboolean(L, -3) && lua_isstring(L, -2))
		l_message(progname, lua_tostring(L, -2));
	/* Newman's -x: a failed run may ask for status 0 */
	o->exit_status = (int)lua_tointeger(L, -1);
	lua_pushboolean(L, lua_toboolean(L, -3) || o->exit_status == 0);
	return 1;
}

/* pulse-lua --scrub FILE.har [--scrub-field NAME]...: pulse.scrub(FILE,
 * fields) cleans it; its line says what it did, or why it could not. */
static int run_scrub(lua_State *L, const struct options *o)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "pulse.scrub");
	if (report(L, docall(L, 1, 1)) != LUA_OK)
		return 0;
	lua_pushstring(L, o->scrub);
	lua_createtable(L, o->scrub_field_count, 0);
	for (int i = 0; i < o->scrub_field_count; i++) {
		lua_pushstring(L, o->scrub_fields[i]);
		lua_rawseti(L, -2, i + 1);
	}
	if (report(L, docall(L, 2, 2)) != LUA_OK)
		return 0;
	if (!lua_toboolean(L, -2))
		l_message(progname, lua_tostring(L, -1));
	else if (!o->quiet)
		fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
	lua_pushboolean(L, lua_toboolean(L, -2));
	return 1;
}

static int pmain(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1);
	char **argv = lua_touserdata(L, 2);
	struct options *o = lua_touserdata(L, 3);
	luaL_checkversion(L);
	if (o->no_env) {
		lua_pushboolean(L, 1);
		lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
	}
	luaL_openlibs(L);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_pushcfunction(L, luaopen_pulse_core);
	lua_setfield(L, -2, "pulse.core");
	lua_pop(L, 1);
	modules_install(L);
	set_runner_table(L, o);
	createargtable(L, argv, argc, o->script ? o->script : argc);
	lua_gc(L, LUA_GCGEN, 0, 0);
	if (o->version)
		print_version();
	if (o->actions) /* --limiter URL or --queue URL and its action, nothing else */
		return run_admin(L, o);
	if (o->collection) /* --collection FILE and its options, and nothing else */
		return run_collection(L, o);
	if (o->scrub) /* --scrub FILE.har and its fields, and nothing else */
		return run_scrub(L, o);
	if (!o->no_env && handle_luainit(L) != LUA_OK)
		return 0;
	if (!runargs(L, argv, o->script ? o->script : argc))
		return 0;
	if (o->script && handle_script(L, argv + o->script) != LUA_OK)
		return 0;
	if (o->interactive) {
		doREPL(L);
	} else if (o->script == 0 && !o->execute && !o->version) {
		if (isatty(0)) {
			print_version();
			doREPL(L);
		} else {
			dofile(L, NULL);
		}
	}
	lua_pushboolean(L, 1);
	return 1;
}

/*
 * glibc gives the top of the heap back to the kernel once 128 KB of it is
 * free, and Lua's collector frees a generation of young objects at once:
 * a batch grew and shrank the heap every few dozen requests and took a
 * page fault on most of them (15,369 for 20,000 at concurrency 32, against
 * 1,097 with this), time spent in the kernel zeroing pages. These are the
 * limits glibc's own adjustment reaches (32 MB blocks mapped, 64 MB kept);
 * only memory the script once used is kept, so peak memory is unchanged.
 * Whoever set glibc's malloc variables keeps them.
 */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
	if (getenv("GLIBC_TUNABLES") || getenv("MALLOC_TRIM_THRESHOLD_") ||
	    getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TOP_PAD_"))
		return;
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

int main(int argc, char **argv)
{
	struct options o = {0};
	char message[256];
	keep_freed_memory();
	if (argv[0] && argv[0][0])
		progname = argv[0];
	int args = args_collect(argv, &o, message, sizeof message);
	if (args == ARGS_HELP) {
		print_help();
		return EXIT_SUCCESS;
	}
	if (args == ARGS_BAD) {
		usage(message);
		return o.collection ? 2 : EXIT_FAILURE; /* a --collection run's usage status, as Newman's */
	}
	if (o.base_url)
		setenv("PULSE_BASE_URL", o.base_url, 1);
	if (o.limiter && !o.actions)
		setenv("PULSE_LIMITER", o.limiter, 1);
	if (o.trace)
		setenv("PULSE_TRACE", o.trace, 1);
	if (o.dry_run)
		setenv("PULSE_DRY_RUN", "1", 1);
	const char *const run_env[][2] = {{"PULSE_RECORD", o.record},
	                                  {"PULSE_REPLAY", o.replay},
	                                  {"PULSE_REPLAY_MISS", o.replay_miss},
	                                  {"PULSE_REPLAY_IGNORE", o.replay_ignore}};
	for (size_t i = 0; i < sizeof run_env / sizeof *run_env; i++)
		if (run_env[i][1])
			setenv(run_env[i][0], run_env[i][1], 1);
	struct sandbox *sandbox = NULL;
	if (o.sandbox && !(sandbox = runner_sandbox_start(&o)))
		return EXIT_FAILURE;
	struct metrics_server *metrics = NULL;
	if (o.metrics) {
		char url[128];
		if (!(metrics = metrics_server_start(o.metrics, url, sizeof url, message, sizeof message))) {
			l_message(progname, message);
			sandbox_stop(sandbox);
			return EXIT_FAILURE;
		}
		if (!o.quiet)
			fprintf(stderr, "%s: metrics at %s\n", progname, url);
	}

	struct block_pool pool = {0};
	lua_State *L = state_new(&pool);
	if (L == NULL) {
		l_message(progname, "cannot create state: not enough memory");
		metrics_server_stop(metrics);
		sandbox_stop(sandbox);
		return EXIT_FAILURE;
	}
	lua_pushcfunction(L, pmain);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	lua_pushlightuserdata(L, &o);
	int status = lua_pcall(L, 3, 1, 0);
	int result = lua_toboolean(L, -1);
	report(L, status);
	state_close(L, &pool);
	metrics_server_stop(metrics);
	sandbox_stop(sandbox);
	if (interrupt_signal())
		return 128 + interrupt_signal();
	if (o.exit_status)
		return o.exit_status;
	return (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
}
