/*
 * A guard on the shm: limiter's mappings: the file is anyone's with write
 * access to it, and one cut short under a mapping (a cleanup's ': > file')
 * raises SIGBUS at the next access, which would kill the process, a
 * drain with writes in flight included. The guard's SIGBUS handler maps
 * zeroed memory over a guarded mapping that faulted, so that the access
 * goes on, and raises the mapping's flag: the limiter, reading it after
 * each use, never trusts that mapping again. A fault anywhere else goes to
 * the handler there was before (the default: the process dies, as it
 * would have). Checking the file's size instead would cost a system call
 * per take (a microsecond here, as much as the take).
 */
#ifndef PULSE_LIMITER_SHM_GUARD_H
#define PULSE_LIMITER_SHM_GUARD_H

#include <signal.h>
#include <stddef.h>

/* Guards [addr, addr + len): *cut becomes 1 if it faults. 0, or -1 when
 * every guard is taken or the handler cannot be installed (errno). */
int shm_guard_add(void *addr, size_t len, volatile sig_atomic_t *cut);

/* Stops guarding the mapping at addr (before it is unmapped). */
void shm_guard_remove(void *addr);

#endif
