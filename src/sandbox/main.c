/* pulse-sandbox: a local emulator of the Pulse API. See usage() and README.md. */
#include "sandbox.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 16

static void usage(FILE *out)
{
	fprintf(out, "usage: pulse-sandbox [options]\n"
	             "  --port N                listen on 127.0.0.1:N (0, the default: a free port)\n"
	             "  --api-key KEY           accept KEY (repeatable: the keys share one organization's\n"
	             "                          bucket); default: $PULSE_API_KEY\n"
	             "  --rate-limit L/W/B      L calls every W seconds, bucket of B (default 60/60/60)\n"
	             "  --retry-after FORM      Retry-After as 'seconds' (default) or 'http-date'\n"
	             "  --seed N                seed for the sample data and random faults (default 1)\n"
	             "  --faults SPEC           faults to inject, e.g. '503:count=3,latency:ms=200'\n"
	             "                          (see README.md)\n"
	             "  --tls CERT KEY          serve HTTPS with these PEM files\n"
	             "  --log FILE              one JSON line per request (never the key)\n"
	             "  --help\n"
	             "The first line on stdout is 'listening on http://127.0.0.1:PORT'.\n");
}

static int parse_rate_limit(const char *text, struct sandbox_config *c)
{
	char extra;
	if (sscanf(text, "%lf/%lf/%lf%c", &c->limit, &c->window, &c->burst, &extra) != 3)
		return -1;
	return c->limit > 0 && c->window > 0 && c->burst >= 1 ? 0 : -1;
}

static int fail(const char *message, const char *arg)
{
	fprintf(stderr, "pulse-sandbox: %s%s\n", message, arg ? arg : "");
	return EXIT_FAILURE;
}

/* The keys given, or $PULSE_API_KEY. */
struct keys {
	const char *list[MAX_KEYS];
	int count;
};

/* Reads one option that takes a value into config or keys. Returns 0, or
 * the exit status after saying what is wrong. */
static int parse_option(const char *a, const char *value, struct sandbox_config *config, struct keys *keys)
{
	char *end;
	if (strcmp(a, "--port") == 0) {
		long port = strtol(value, &end, 10);
		if (*end || port < 0 || port > 65535)
			return fail("--port takes 0..65535, not ", value);
		config->port = (int)port;
	} else if (strcmp(a, "--api-key") == 0) {
		if (keys->count == MAX_KEYS)
			return fail("too many --api-key options", NULL);
		if (!*value)
			return fail("--api-key cannot be empty", NULL);
		keys->list[keys->count++] = value;
	} else if (strcmp(a, "--rate-limit") == 0) {
		if (parse_rate_limit(value, config) != 0)
			return fail("--rate-limit takes LIMIT/WINDOW/BURST, positive numbers, not ", value);
	} else if (strcmp(a, "--retry-after") == 0) {
		if (strcmp(value, "seconds") != 0 && strcmp(value, "http-date") != 0)
			return fail("--retry-after takes 'seconds' or 'http-date', not ", value);
		config->retry_after = value;
	} else if (strcmp(a, "--refill") == 0) {
		if (strcmp(value, "window") != 0 && strcmp(value, "continuous") != 0)
			return fail("--refill takes 'window' or 'continuous', not ", value);
		config->refill = value;
	} else if (strcmp(a, "--seed") == 0) {
		config->seed = strtol(value, &end, 10);
		if (*end)
			return fail("--seed takes an integer, not ", value);
	} else if (strcmp(a, "--faults") == 0) {
		config->faults = value;
	} else if (strcmp(a, "--log") == 0) {
		config->log_path = value;
	} else {
		usage(stderr);
		return fail("unknown option ", a);
	}
	return 0;
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
	struct sandbox *sandbox = sandbox_start(config, err, sizeof err);
	if (!sandbox)
		return fail(err, NULL);
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
	struct sandbox_config config = sandbox_default_config();
	struct keys keys = {.count = 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_SUCCESS;
		}
		if (strcmp(a, "--tls") == 0) {
			if (i + 2 >= argc)
				return fail("--tls needs CERT and KEY", NULL);
			config.tls_cert = argv[++i];
			config.tls_key = argv[++i];
			continue;
		}
		if (i + 1 >= argc)
			return fail("missing value for ", a);
		int status = parse_option(a, argv[++i], &config, &keys);
		if (status != 0)
			return status;
	}
	if (keys.count == 0) {
		const char *env = getenv("PULSE_API_KEY");
		if (!env || !*env)
			return fail("no key: give --api-key KEY or set PULSE_API_KEY", NULL);
		keys.list[keys.count++] = env;
	}
	config.keys = keys.list;
	config.key_count = keys.count;
	return serve(&config);
}
