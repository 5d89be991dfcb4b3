#include "stop_signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t received;
static struct sigaction saved_int, saved_term;
static volatile sig_atomic_t armed;

static void restore(void)
{
	sigaction(SIGINT, &saved_int, NULL);
	sigaction(SIGTERM, &saved_term, NULL);
	armed = 0;
}

static void on_signal(int sig)
{
	if (received) {
		restore();
		raise(sig);
		return;
	}
	received = sig;
}

void stop_signal_arm(void)
{
	struct sigaction act;
	memset(&act, 0, sizeof act);
	act.sa_handler = on_signal;
	sigemptyset(&act.sa_mask);
	received = 0;
	if (armed)
		return;
	sigaction(SIGINT, &act, &saved_int);
	sigaction(SIGTERM, &act, &saved_term);
	armed = 1;
}

void stop_signal_disarm(void)
{
	if (armed)
		restore();
}

int stop_signal_received(void)
{
	return received;
}
