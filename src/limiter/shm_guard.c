#include "shm_guard.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* A process maps one file per shm: limiter it opens: a few at most. */
#define GUARDS 64

struct guard {
	char *addr; /* NULL: free */
	size_t len;
	volatile sig_atomic_t *cut;
};

static struct guard guards[GUARDS];
static struct sigaction previous;
static int installed;

/* The handler that was there before, as the kernel would have run it. */
static void pass_on(int sig, siginfo_t *info, void *context)
{
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, context);
	} else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
	} else {
		/* Back to the default: the access faults again, and the process
		 * dies of it, as it would have without the guard. */
		sigaction(SIGBUS, &previous, NULL);
	}
}

static void on_sigbus(int sig, siginfo_t *info, void *context)
{
	char *at = info->si_addr;
	for (int i = 0; i < GUARDS; i++) {
		struct guard *g = &guards[i];
		if (g->addr && at >= g->addr && at < g->addr + g->len) {
			/* mmap is a plain system call here, safe in a handler. */
			if (mmap(g->addr, g->len, PROT_READ | PROT_WRITE,
			         MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != MAP_FAILED) {
				*g->cut = 1;
				return;
			}
		}
	}
	pass_on(sig, info, context);
}

int shm_guard_add(void *addr, size_t len, volatile sig_atomic_t *cut)
{
	if (!installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, &previous) != 0)
			return -1;
		installed = 1;
	}
	for (int i = 0; i < GUARDS; i++) {
		if (!guards[i].addr) {
			guards[i].len = len;
			guards[i].cut = cut;
			guards[i].addr = addr; /* last: the handler sees a whole guard */
			return 0;
		}
	}
	errno = EMFILE;
	return -1;
}

void shm_guard_remove(void *addr)
{
	for (int i = 0; i < GUARDS; i++)
		if (guards[i].addr == addr)
			guards[i].addr = NULL;
}
