/*
 * pulse-lua's command line: lua.c's options (-e, -l, -i, -v, -E, -W, --, -),
 * joined forms (-estat, -lmod, -l g=mod) included, and pulse's long
 * options, each also as --option=value.
 */
#ifndef PULSE_RUNNER_ARGS_H
#define PULSE_RUNNER_ARGS_H

#include <stddef.h>

#define ARGS_MAX_SCRUB_FIELDS 16
#define ARGS_MAX_PLAY_ARGS 64

struct options {
	int interactive, version, execute, no_env;
	int script; /* argv index of the script, 0 for none */
	int sandbox, verbose, quiet;
	const char *base_url;
	const char *trace;   /* --trace FILE: every client's trace ($PULSE_TRACE) */
	const char *metrics; /* --metrics ADDR:PORT: the process's metrics served there */
	const char *sandbox_rate_limit, *sandbox_faults, *sandbox_seed;
	const char *limiter; /* --limiter URL, with --status or --reset */
	const char *queue;   /* --queue URL, with --status, --check, --accept-damage, --dead
	                        or --retry-dead */
	/* The one action asked of a limiter or a queue: its function's name in
	 * pulse.admin or pulse.queue.command ("status", "accept_damage", ...). */
	const char *action;
	const char *action_value; /* the action's value: --reserve interactive=0.2 */
	int actions;              /* how many were given: one is right */
	/* --collection FILE plays a Postman collection (pulse.play), with the
	 * options of play_args ({name, value}, value NULL for a flag), which
	 * pulse.play checks: --folder, --env, --data, --parallel, --reporter
	 * and Newman's spellings (-d, -n, -x, --environment, --bail...). */
	const char *collection;
	const char *play_args[ARGS_MAX_PLAY_ARGS][2];
	int play_arg_count;
	int exit_status; /* what a --collection run asks the program to exit with */
	/* --plan: what --collection or --queue would spend, nothing sent;
	 * --max-calls N: a --queue URL --drain stops cleanly after N calls. */
	int plan;
	const char *max_calls;
	/* --dry-run: writes not sent ($PULSE_DRY_RUN); --record FILE.har and
	 * --replay FILE.har (--replay-miss fail|live, --replay-ignore LIST):
	 * every client's recording and replay ($PULSE_RECORD, $PULSE_REPLAY...) */
	int dry_run;
	const char *record, *replay, *replay_miss, *replay_ignore;
	/* --scrub FILE.har [--scrub-field NAME]...: keys and fields out of a HAR */
	const char *scrub;
	const char *scrub_fields[ARGS_MAX_SCRUB_FIELDS];
	int scrub_field_count;
};

#define ARGS_HELP (-1)
#define ARGS_BAD (-2)

/* Fills o from argv. Returns 0, ARGS_HELP, or ARGS_BAD with message (len
 * bytes) saying what is wrong. */
int args_collect(char **argv, struct options *o, char *message, size_t len);

/* For a pulse long option at argv[*i] (--name or --name=value): 1, with
 * *i moved past a value given apart; else 0. For walking argv again. */
int args_skip_long(char **argv, int *i);

/* The -e statement or -l module of argv[*i] (joined, or the next
 * argument: *i then moves to it); NULL when argv[*i] is neither. */
const char *args_lua_value(char **argv, int *i, char *option);

#endif
