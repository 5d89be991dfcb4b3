/* pulse-sandbox: a local emulator of the Pulse API. See usage() and doc/sandbox.md. */
#include "handler.h"
#include "options.h"
#include "sandbox.h"
#include "webhook_target.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <lua.h>

#ifndef PULSE_VERSION
#define PULSE_VERSION "0.0.0"
#endif

/* Exit statuses: a usage error (as getopt programs), or a failure to run. */
#define EXIT_USAGE 2

#define MAX_KEYS 256
#define MAX_KEY_LENGTH 1024

static void usage(FILE *out)
{
	fprintf(out, "usage: pulse-sandbox [options]\n"
	             "  --port N                listen on 127.0.0.1:N (0, the default: a free port)\n"
	             "  --api-key KEY           accept KEY (repeatable: the keys share one organization's\n"
	             "                          bucket); it shows in ps, so prefer:\n"
	             "  --api-key-file FILE     accept the keys in FILE, one a line\n"
	             "                          Keys come from these options; without them, from\n"
	             "                          $PULSE_SANDBOX_API_KEY (comma-separated); without it, from\n"
	             "                          $PULSE_API_KEY.\n"
	             "  --rate-limit L/W/B      L calls every W seconds, bucket of B (default 60/60/60)\n"
	             "  --refill FORM           'window' (default: L tokens at once every W seconds, as\n"
	             "                          the API does) or 'continuous' (a trickle of L/W a second)\n"
	             "  --retry-after FORM      Retry-After as 'seconds' (default) or 'http-date'\n"
	             "  --seed N                seed for the sample data and random faults (default 1)\n"
	             "  --faults SPEC           faults to inject, e.g. '503:count=3,latency:ms=200'\n"
	             "                          (see doc/sandbox.md)\n"
	             "  --tls CERT KEY          serve HTTPS with these PEM files\n"
	             "  --log FILE              one JSON line per request (never the key)\n"
	             "  --collection FILE       serve the saved examples of a Postman collection (v2.0 or\n"
	             "                          v2.1) instead of the sample resources\n"
	             "  --replay FILE.har       serve the exchanges of a HAR recording (pulse-lua\n"
	             "                          --record, a browser's) instead of the sample resources\n"
	             "  --centers N             centers in the sample organization (1 to 6, default 3)\n"
	             "  --guests N              guests per center (default 200)\n"
	             "  --reservation-hold S    seconds a reserved booking slot is held (default 600)\n"
	             "  --guest-search SCOPE    'org' (default): a guest search without center_id\n"
	             "                          searches every center; 'center': it needs one\n"
	             "  --webhook URL           deliver the API's events to URL, an http:// one\n"
	             "                          (repeatable)\n"
	             "  --webhook-verb VERB     POST (default), PUT or PATCH\n"
	             "  --webhook-backoff MIN:MAX  seconds between a failed delivery's attempts,\n"
	             "                          doubling from MIN to MAX (default 30:600)\n"
	             "  --max-connections N     at N open connections, close the oldest idle one for a\n"
	             "                          new one (default: what the open-files limit allows)\n"
	             "  --idle-timeout S        close a connection idle for S seconds (default 30)\n"
	             "  --request-timeout S     close a connection whose request is not all in after S\n"
	             "                          seconds (a first request: after S seconds open;\n"
	             "                          default 10)\n"
	             "  --help\n"
	             "  --version               show the versions of pulse-sandbox and Lua\n"
	             "Long options also take --option=value. The first line on stdout is\n"
	             "'listening on http://127.0.0.1:PORT'.\n");
}

static int usage_error(const char *option, const char *message)
{
	fprintf(stderr, "pulse-sandbox: %s%s%s\n", option ? option : "", option ? " " : "", message);
	fprintf(stderr, "try 'pulse-sandbox --help' for the options\n");
	return EXIT_USAGE;
}

static int failure(const char *message)
{
	fprintf(stderr, "pulse-sandbox: %s\n", message);
	return EXIT_FAILURE;
}

struct keys {
	const char *list[MAX_KEYS];
	int count;
	char *owned[MAX_KEYS]; /* those read from files and the environment */
	int owned_count;
};

/* Adds a copy of len bytes of key. Returns 0, or -1 with why. */
static int add_key(struct keys *keys, const char *key, size_t len, const char **why)
{
	if (len == 0)
		return 0;
	if (keys->count == MAX_KEYS || len > MAX_KEY_LENGTH) {
		*why = len > MAX_KEY_LENGTH ? "a key is longer than 1024 bytes" : "more than 256 keys";
		return -1;
	}
	char *copy = strndup(key, len);
	if (!copy) {
		*why = "out of memory";
		return -1;
	}
	keys->owned[keys->owned_count++] = copy;
	keys->list[keys->count++] = copy;
	return 0;
}

/* Adds the keys in text, split at any of separators, spaces trimmed. */
static int add_keys(struct keys *keys, const char *text, const char *separators, const char **why)
{
	while (*text) {
		size_t n = strcspn(text, separators);
		const char *start = text, *end = text + n;
		while (start < end && (*start == ' ' || *start == '\t' || *start == '\r'))
			start++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		if (add_key(keys, start, (size_t)(end - start), why) != 0)
			return -1;
		text += n + (text[n] != '\0');
	}
	return 0;
}

static int read_key_file(struct keys *keys, const char *path, const char **why)
{
	static char message[512];
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(message, sizeof message, "cannot read %s: %s", path, strerror(errno));
		*why = message;
		return -1;
	}
	char line[MAX_KEY_LENGTH + 2];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f))
		rc = add_keys(keys, line, "\n", why);
	fclose(f);
	return rc;
}

struct args {
	struct sandbox_config config;
	struct keys keys;
	int flag_keys; /* keys came from --api-key or --api-key-file */
	const char *webhooks[SANDBOX_MAX_WEBHOOKS];
};

/* The options that take a value (all but --help and --tls). */
static const char *const VALUED[] = {
    "--port",
    "--api-key",
    "--api-key-file",
    "--rate-limit",
    "--refill",
    "--retry-after",
    "--seed",
    "--faults",
    "--log",
    "--collection",
    "--replay",
    "--max-connections",
    "--idle-timeout",
    "--request-timeout",
    "--centers",
    "--guests",
    "--reservation-hold",
    "--guest-search",
    "--webhook",
    "--webhook-verb",
    "--webhook-backoff",
    NULL,
};

static int takes_value(const char *name)
{
	for (const char *const *v = VALUED; *v; v++)
		if (strcmp(*v, name) == 0)
			return 1;
	return 0;
}

/* Reads one option's value into args. Returns 0, or the exit status after
 * saying what is wrong (naming the option). */
static int parse_value(struct args *a, const char *name, const char *value)
{
	struct sandbox_config *c = &a->config;
	const char *why = NULL;
	int rc = 0;
	if (strcmp(name, "--port") == 0) {
		rc = sandbox_parse_port(value, &c->port, &why);
	} else if (strcmp(name, "--api-key") == 0) {
		why = "cannot be empty";
		rc = *value ? add_key(&a->keys, value, strlen(value), &why) : -1;
		a->flag_keys = 1;
	} else if (strcmp(name, "--api-key-file") == 0) {
		rc = read_key_file(&a->keys, value, &why);
		a->flag_keys = 1;
	} else if (strcmp(name, "--rate-limit") == 0) {
		rc = sandbox_parse_rate_limit(value, c, &why);
	} else if (strcmp(name, "--retry-after") == 0) {
		why = "takes 'seconds' or 'http-date'";
		rc = strcmp(value, "seconds") != 0 && strcmp(value, "http-date") != 0 ? -1 : 0;
		c->retry_after = value;
	} else if (strcmp(name, "--refill") == 0) {
		why = "takes 'window' or 'continuous'";
		rc = strcmp(value, "window") != 0 && strcmp(value, "continuous") != 0 ? -1 : 0;
		c->refill = value;
	} else if (strcmp(name, "--seed") == 0) {
		rc = sandbox_parse_seed(value, &c->seed, &why);
	} else if (strcmp(name, "--faults") == 0) {
		c->faults = value;
	} else if (strcmp(name, "--log") == 0) {
		c->log_path = value;
	} else if (strcmp(name, "--collection") == 0) {
		c->collection = value;
	} else if (strcmp(name, "--replay") == 0) {
		c->replay = value;
	} else if (strcmp(name, "--max-connections") == 0) {
		rc = sandbox_parse_count(value, &c->max_connections, &why);
	} else if (strcmp(name, "--idle-timeout") == 0) {
		rc = sandbox_parse_seconds(value, &c->idle_timeout, &why);
	} else if (strcmp(name, "--request-timeout") == 0) {
		rc = sandbox_parse_seconds(value, &c->request_timeout, &why);
	} else if (strcmp(name, "--centers") == 0) {
		rc = sandbox_parse_count(value, &c->centers, &why);
		if (rc == 0 && c->centers > SANDBOX_MAX_CENTERS) {
			why = "takes a whole number from 1 to 6";
			rc = -1;
		}
	} else if (strcmp(name, "--guests") == 0) {
		rc = sandbox_parse_count(value, &c->guests, &why);
		if (rc == 0 && c->guests > SANDBOX_MAX_GUESTS) {
			why = "takes a whole number from 1 to 100000";
			rc = -1;
		}
	} else if (strcmp(name, "--reservation-hold") == 0) {
		rc = sandbox_parse_seconds(value, &c->reservation_hold, &why);
	} else if (strcmp(name, "--webhook") == 0) {
		struct webhook_target target;
		rc = webhook_target_parse(value, &target, &why);
		if (rc == 0 && c->webhook_count == SANDBOX_MAX_WEBHOOKS) {
			why = "is given too often (at most 16 URLs)";
			rc = -1;
		}
		if (rc == 0)
			a->webhooks[c->webhook_count++] = value;
		c->webhooks = a->webhooks;
	} else if (strcmp(name, "--webhook-verb") == 0) {
		why = "takes POST, PUT or PATCH";
		rc = strcmp(value, "POST") != 0 && strcmp(value, "PUT") != 0 && strcmp(value, "PATCH") != 0
		         ? -1
		         : 0;
		c->webhook_verb = value;
	} else if (strcmp(name, "--webhook-backoff") == 0) {
		rc = sandbox_parse_backoff(value, &c->webhook_backoff_min, &c->webhook_backoff_max, &why);
	} else if (strcmp(name, "--guest-search") == 0) {
		why = "takes 'org' (across centers) or 'center' (a center_id required)";
		rc = strcmp(value, "org") != 0 && strcmp(value, "center") != 0 ? -1 : 0;
		c->guest_search = value;
	}
	if (rc == 0)
		return 0;
	if (strcmp(name, "--api-key-file") == 0)
		return usage_error(name, why); /* why names the file and the system's reason */
	char message[768];
	snprintf(message, sizeof message, "%s, not '%s'", why, value);
	return usage_error(name, message);
}

/* Reads argv into args. Returns 0; -1 for --help; -2 for --version; or an
 * exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	for (int i = 1; i < argc; i++) {
		char name[64];
		const char *arg = argv[i], *value = NULL;
		if (strncmp(arg, "--", 2) != 0)
			return usage_error(NULL, "unexpected argument: options start with --");
		const char *equals = strchr(arg, '=');
		size_t len = equals ? (size_t)(equals - arg) : strlen(arg);
		snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), arg);
		if (equals)
			value = equals + 1;
		if (strcmp(name, "--help") == 0)
			return -1;
		if (strcmp(name, "--version") == 0)
			return -2;
		if (strcmp(name, "--tls") == 0) {
			if (!value && i + 1 < argc)
				value = argv[++i];
			if (!value || i + 1 >= argc)
				return usage_error("--tls", "needs two files, CERT and KEY");
			a->config.tls_cert = value;
			a->config.tls_key = argv[++i];
			continue;
		}
		if (!takes_value(name))
			return usage_error(name, "is not an option");
		if (!value) {
			if (i + 1 >= argc)
				return usage_error(name, "needs a value");
			value = argv[++i];
		}
		int rc = parse_value(a, name, value);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Without --api-key or --api-key-file: $PULSE_SANDBOX_API_KEY, else
 * $PULSE_API_KEY. Returns 0, or -1 with why. */
static int keys_from_environment(struct keys *keys, const char **why)
{
	const char *sandbox_keys = getenv("PULSE_SANDBOX_API_KEY");
	if (sandbox_keys && *sandbox_keys)
		return add_keys(keys, sandbox_keys, ",", why);
	const char *key = getenv("PULSE_API_KEY");
	if (key && *key)
		return add_key(keys, key, strlen(key), why);
	return 0;
}

/* As many open files as the system allows: each connection is one, and a
 * crowd of idle ones must not lock out the next client. */
static void raise_open_files_limit(void)
{
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
		limit.rlim_cur = limit.rlim_max;
		setrlimit(RLIMIT_NOFILE, &limit);
	}
}

/* Serves until SIGINT, SIGTERM or SIGHUP. */
static int serve(const struct sandbox_config *config)
{
	/* Block the stop signals before any thread starts, so only sigwait sees them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	char err[512];
	int bad_option;
	struct sandbox *sandbox = sandbox_start(config, err, sizeof err, &bad_option);
	if (!sandbox)
		return bad_option ? usage_error(NULL, err) : failure(err);
	printf("listening on %s://127.0.0.1:%d\n", config->tls_cert ? "https" : "http",
	       sandbox_port(sandbox));
	fflush(stdout);
	int sig;
	sigwait(&stop, &sig);
	sandbox_stop(sandbox);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct args a = {.config = sandbox_default_config()};
	int rc = parse_args(argc, argv, &a);
	if (rc == -1) {
		usage(stdout);
		rc = handler_print_endpoints(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	} else if (rc == -2) {
		printf("pulse-sandbox %s (%s)\n", PULSE_VERSION, LUA_RELEASE);
		rc = EXIT_SUCCESS;
	} else if (rc == 0) {
		const char *why;
		if (!a.flag_keys && keys_from_environment(&a.keys, &why) != 0) {
			rc = failure(why);
		} else {
			a.config.keys = a.keys.list;
			a.config.key_count = a.keys.count;
			raise_open_files_limit();
			rc = serve(&a.config);
		}
	}
	for (int i = 0; i < a.keys.owned_count; i++)
		free(a.keys.owned[i]);
	return rc;
}
