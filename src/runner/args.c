#include "args.h"

#include "sandbox/options.h"
#include "sandbox/sandbox.h"

#include <stdio.h>
#include <string.h>

struct long_option {
	const char *name;
	int takes_value;
	/* An option of a --collection run, handed to pulse.play as it comes
	 * (which checks its value): Newman's spellings and ours. */
	int play;
};

static const struct long_option LONG_OPTIONS[] = {
    {"--sandbox", 0, 0},
    {"--verbose", 0, 0},
    {"--quiet", 0, 0},
    {"--help", 0, 0},
    {"--version", 0, 0},
    {"--base-url", 1, 0},
    {"--trace", 1, 0},
    {"--metrics", 1, 0},
    {"--sandbox-rate-limit", 1, 0},
    {"--sandbox-faults", 1, 0},
    {"--sandbox-seed", 1, 0},
    {"--limiter", 1, 0},
    {"--queue", 1, 0},
    {"--status", 0, 0},
    {"--top", 0, 0},
    {"--reset", 0, 0},
    {"--reserve", 1, 0},
    {"--check", 0, 0},
    {"--accept-damage", 0, 0},
    {"--dead", 0, 0},
    {"--retry-dead", 0, 0},
    {"--drain", 0, 0},
    {"--plan", 0, 0},
    {"--max-calls", 1, 0},
    {"--collection", 1, 0},
    {"--folder", 1, 1},
    {"--env", 1, 1},
    {"--data", 1, 1},
    {"--parallel", 1, 1},
    {"--reporter", 1, 1},
    {"--environment", 1, 1},
    {"--iteration-data", 1, 1},
    {"--iteration-count", 1, 1},
    {"--delay-request", 1, 1},
    {"--timeout-request", 1, 1},
    {"--bail", 0, 1}, /* and its optional value: args_collect */
    {"--suppress-exit-code", 0, 1},
    {"--env-var", 1, 1},
    {"--global-var", 1, 1},
    {"--reporters", 1, 1},
    {"--reporter-json-export", 1, 1},
    {"--reporter-junit-export", 1, 1},
    {"--reporter-html-export", 1, 1},
    {"--checks", 1, 1},
    {"--strict-scripts", 0, 1},
    {"--resume", 0, 1},
    {"--rerun-failed", 0, 1},
    {"--checkpoint", 1, 1},
    {"--dry-run", 0, 0},
    {"--record", 1, 0},
    {"--replay", 1, 0},
    {"--replay-miss", 1, 0},
    {"--replay-ignore", 1, 0},
    {"--scrub", 1, 0},
    {"--scrub-field", 1, 0},
    {NULL, 0, 0},
};

/* Newman's short options, as the long ones they stand for. */
static const char *const PLAY_SHORT[][2] = {
    {"-d", "--iteration-data"},
    {"-n", "--iteration-count"},
    {"-x", "--suppress-exit-code"},
};

/* Adds a --collection option (value NULL for a flag). Returns 0, or
 * ARGS_BAD with message. */
static int add_play_arg(struct options *o, const char *name, const char *value, char *message, size_t len)
{
	if (o->play_arg_count == ARGS_MAX_PLAY_ARGS) {
		snprintf(message, len, "more than %d options of '--collection'", ARGS_MAX_PLAY_ARGS);
		return ARGS_BAD;
	}
	o->play_args[o->play_arg_count][0] = name;
	o->play_args[o->play_arg_count][1] = value;
	o->play_arg_count++;
	return 0;
}

/* The long option arg names (before any '='), or NULL. */
static const struct long_option *find_long(const char *arg)
{
	size_t len = strcspn(arg, "=");
	for (const struct long_option *o = LONG_OPTIONS; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, arg, len) == 0)
			return o;
	return NULL;
}

int args_skip_long(char **argv, int *i)
{
	const struct long_option *o = find_long(argv[*i]);
	if (!o || strncmp(argv[*i], "--", 2) != 0)
		return 0;
	if (o->takes_value && !strchr(argv[*i], '=') && argv[*i + 1])
		(*i)++;
	return 1;
}

const char *args_lua_value(char **argv, int *i, char *option)
{
	const char *a = argv[*i];
	if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
		return NULL;
	*option = a[1];
	if (a[2] != '\0')
		return a + 2;
	return argv[++*i];
}

/* Reads the value of long option o at argv[*i] into opts. Returns 0, or
 * ARGS_BAD with message. */
static int long_value(char **argv, int *i, const struct long_option *o, struct options *opts, char *message,
                      size_t len)
{
	const char *equals = strchr(argv[*i], '=');
	const char *value = equals ? equals + 1 : NULL;
	if (!o->takes_value) {
		if (value) {
			snprintf(message, len, "'%s' takes no value", o->name);
			return ARGS_BAD;
		}
		return 0;
	}
	if (!value && !(value = argv[*i + 1])) {
		snprintf(message, len, "'%s' needs a value", o->name);
		return ARGS_BAD;
	}
	if (!equals)
		(*i)++;
	if (o->play)
		return add_play_arg(opts, o->name, value, message, len);
	struct sandbox_config c;
	const char *why = NULL;
	if (strcmp(o->name, "--base-url") == 0) {
		opts->base_url = value;
	} else if (strcmp(o->name, "--sandbox-rate-limit") == 0) {
		opts->sandbox_rate_limit = value;
		if (sandbox_parse_rate_limit(value, &c, &why) != 0)
			why = why ? why : "is not valid";
		else
			why = NULL;
	} else if (strcmp(o->name, "--sandbox-seed") == 0) {
		opts->sandbox_seed = value;
		if (sandbox_parse_seed(value, &c.seed, &why) == 0)
			why = NULL;
	} else if (strcmp(o->name, "--sandbox-faults") == 0) {
		opts->sandbox_faults = value; /* checked by the sandbox, when it starts */
	} else if (strcmp(o->name, "--limiter") == 0) {
		opts->limiter = value;
	} else if (strcmp(o->name, "--trace") == 0) {
		opts->trace = value;
	} else if (strcmp(o->name, "--metrics") == 0) {
		opts->metrics = value; /* checked when its server starts */
	} else if (strcmp(o->name, "--queue") == 0) {
		opts->queue = value;
	} else if (strcmp(o->name, "--max-calls") == 0) {
		opts->max_calls = value; /* checked by pulse.queue.command */
	} else if (strcmp(o->name, "--reserve") == 0) {
		opts->action = "reserve"; /* its value is checked by pulse.admin */
		opts->action_value = value;
		opts->actions++;
	} else if (strcmp(o->name, "--collection") == 0) {
		opts->collection = value;
	} else if (strcmp(o->name, "--record") == 0) {
		opts->record = value;
	} else if (strcmp(o->name, "--replay") == 0) {
		opts->replay = value;
	} else if (strcmp(o->name, "--replay-miss") == 0) {
		opts->replay_miss = value;
		if (strcmp(value, "fail") != 0 && strcmp(value, "live") != 0)
			why = "takes fail or live";
	} else if (strcmp(o->name, "--replay-ignore") == 0) {
		opts->replay_ignore = value; /* checked by pulse.new */
	} else if (strcmp(o->name, "--scrub") == 0) {
		opts->scrub = value;
	} else if (strcmp(o->name, "--scrub-field") == 0) {
		if (opts->scrub_field_count == ARGS_MAX_SCRUB_FIELDS)
			why = "is given at most 16 times";
		else
			opts->scrub_fields[opts->scrub_field_count++] = value;
	}
	if (why) {
		snprintf(message, len, "'%s' %s, not '%s'", o->name, why, value);
		return ARGS_BAD;
	}
	return 0;
}

/* The actions asked of a limiter or a queue: option, then the function
 * of pulse.admin or pulse.queue.command that does it. */
static const char *const ACTIONS[][2] = {
    {"--status", "status"},
    {"--reset", "reset"},
    {"--top", "top"},
    {"--check", "check"},
    {"--accept-damage", "accept_damage"},
    {"--dead", "dead"},
    {"--retry-dead", "retry_dead"},
    {"--drain", "drain"},
};

/* Sets the flag a long option without a value stands for. */
static int long_flag(const struct long_option *o, struct options *opts)
{
	for (size_t i = 0; i < sizeof ACTIONS / sizeof *ACTIONS; i++)
		if (strcmp(o->name, ACTIONS[i][0]) == 0) {
			opts->action = ACTIONS[i][1];
			opts->actions++;
			return 0;
		}
	if (strcmp(o->name, "--help") == 0)
		return ARGS_HELP;
	if (strcmp(o->name, "--sandbox") == 0)
		opts->sandbox = 1;
	else if (strcmp(o->name, "--verbose") == 0)
		opts->verbose = 1;
	else if (strcmp(o->name, "--quiet") == 0)
		opts->quiet = 1;
	else if (strcmp(o->name, "--version") == 0)
		opts->version = 1;
	else if (strcmp(o->name, "--plan") == 0)
		opts->plan = 1;
	else if (strcmp(o->name, "--dry-run") == 0)
		opts->dry_run = 1;
	return 0;
}

/* One of lua.c's short options at argv[*i]. Returns 0 or ARGS_BAD. */
static int short_option(char **argv, int *i, struct options *o, char *message, size_t len)
{
	const char *a = argv[*i];
	if (a[1] == 'e' || a[1] == 'l') {
		if (a[2] == '\0') { /* the statement or module is the next argument */
			const char *next = argv[*i + 1];
			if (!next || next[0] == '-') {
				snprintf(message, len, "'%s' needs argument", a);
				return ARGS_BAD;
			}
			(*i)++;
		}
		o->execute |= a[1] == 'e';
		return 0;
	}
	for (size_t p = 0; p < sizeof PLAY_SHORT / sizeof *PLAY_SHORT; p++) {
		if (strcmp(a, PLAY_SHORT[p][0]) != 0)
			continue;
		const char *value = NULL;
		if (a[1] != 'x' && !(value = argv[++*i])) {
			snprintf(message, len, "'%s' needs a value", a);
			return ARGS_BAD;
		}
		return add_play_arg(o, PLAY_SHORT[p][1], value, message, len);
	}
	if (a[2] == '\0') {
		switch (a[1]) {
		case 'E':
			o->no_env = 1;
			return 0;
		case 'W':
			return 0;
		case 'i':
			o->interactive = o->version = 1;
			return 0;
		case 'v':
			o->version = 1;
			return 0;
		}
	}
	snprintf(message, len, "unrecognized option '%s'", a);
	return ARGS_BAD;
}

/* Checks how the options go together. */
static int check_together(struct options *o, char *message, size_t len)
{
	if (o->sandbox_rate_limit || o->sandbox_faults || o->sandbox_seed)
		o->sandbox = 1;
	if (o->sandbox && o->base_url) {
		snprintf(message, len,
		         "'--sandbox' and '--base-url' cannot go together: the sandbox has its own URL");
		return ARGS_BAD;
	}
	if (o->play_arg_count && !o->collection) {
		snprintf(message, len, "'%s' goes with '--collection FILE'", o->play_args[0][0]);
		return ARGS_BAD;
	}
	if ((o->replay_miss || o->replay_ignore) && !o->replay) {
		snprintf(message, len, "'--replay-miss' and '--replay-ignore' go with '--replay FILE.har'");
		return ARGS_BAD;
	}
	if (o->scrub_field_count && !o->scrub) {
		snprintf(message, len, "'--scrub-field NAME' goes with '--scrub FILE.har'");
		return ARGS_BAD;
	}
	if (o->scrub && (o->collection || o->queue || o->limiter || o->record || o->replay || o->sandbox)) {
		snprintf(message, len, "'--scrub FILE.har' goes alone (with '--scrub-field NAME')");
		return ARGS_BAD;
	}
	/* A plan of a queue is its action; of a collection, a way to play it. */
	if (o->plan && o->queue) {
		o->action = "plan";
		o->actions++;
	}
	if (o->plan && !o->collection && !o->queue) {
		snprintf(message, len, "'--plan' goes with '--collection FILE' or '--queue URL'");
		return ARGS_BAD;
	}
	if (o->max_calls && !o->collection && !(o->queue && o->action && strcmp(o->action, "drain") == 0)) {
		snprintf(message, len,
		         "'--max-calls N' goes with '--queue URL --drain' or '--collection FILE'");
		return ARGS_BAD;
	}
	if (o->collection && o->queue) {
		snprintf(message, len, "'--collection' and '--queue' cannot go together");
		return ARGS_BAD;
	}
	/* --limiter URL alone is the shared limit of the run's clients (a
	 * script's, or --collection's); with an action, it is what the action
	 * looks at, and nothing else runs. */
	int top = o->action && strcmp(o->action, "top") == 0;
	int limiter_action =
	    o->action && (strcmp(o->action, "status") == 0 || strcmp(o->action, "reset") == 0 ||
	                  strcmp(o->action, "reserve") == 0 || top);
	/* --top shows a queue's depth beside the bucket's. */
	if (o->limiter && o->actions &&
	    (o->actions != 1 || !limiter_action || o->collection || (o->queue && !top))) {
		snprintf(
		    message, len,
		    "'--limiter URL' goes alone with one of '--status', '--reset', '--reserve' and '--top' "
		    "(and '--queue URL' beside '--top'), or without them as the run's shared limit");
		return ARGS_BAD;
	}
	if (top && !o->limiter) {
		snprintf(message, len, "'--top' goes with '--limiter URL'");
		return ARGS_BAD;
	}
	if (o->queue && !top &&
	    (o->actions != 1 || strcmp(o->action, "reset") == 0 || strcmp(o->action, "reserve") == 0)) {
		snprintf(message, len,
		         "'--queue URL' goes with one of '--status', '--check', '--accept-damage', '--dead', "
		         "'--retry-dead', '--drain' and '--plan'");
		return ARGS_BAD;
	}
	if (o->actions && !o->limiter && !o->queue) {
		snprintf(message, len,
		         "'--status', '--reset', '--reserve', '--check', '--accept-damage', '--dead', "
		         "'--retry-dead' and '--drain' go with '--limiter URL' or '--queue URL'");
		return ARGS_BAD;
	}
	return 0;
}

int args_collect(char **argv, struct options *o, char *message, size_t len)
{
	int i;
	for (i = 1; argv[i] != NULL; i++) {
		const char *a = argv[i];
		o->script = i;
		if (a[0] != '-' || strcmp(a, "-") == 0)
			return check_together(o, message, len);
		if (strcmp(a, "--") == 0) {
			o->script = argv[i + 1] ? i + 1 : 0;
			return check_together(o, message, len);
		}
		int rc;
		if (a[1] == '-') {
			const struct long_option *lo = find_long(a);
			if (!lo) {
				snprintf(message, len, "unrecognized option '%s'", a);
				return ARGS_BAD;
			}
			rc = long_value(argv, &i, lo, o, message, len);
			if (rc == 0 && !lo->takes_value && lo->play) {
				/* --bail's value is optional: the next argument, when it is one */
				const char *value = NULL;
				const char *next = argv[i + 1];
				if (strcmp(lo->name, "--bail") == 0 && next &&
				    (strcmp(next, "failure") == 0 || strcmp(next, "iteration") == 0))
					value = argv[++i];
				rc = add_play_arg(o, lo->name, value, message, len);
			} else if (rc == 0 && !lo->takes_value) {
				rc = long_flag(lo, o);
			}
		} else {
			rc = short_option(argv, &i, o, message, len);
		}
		if (rc != 0)
			return rc;
	}
	o->script = 0;
	return check_together(o, message, len);
}
