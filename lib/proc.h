/* proc: signal handling shared by the daemons.  SIGTERM and SIGINT stop,
 * SIGHUP reopens the log file.  Programs whose main thread only waits for
 * the order to stop (kafka-mock, mock-providers) block the signals and wait;
 * programs with their own event loop (worker, relay) install a handler. */
#ifndef PROC_H
#define PROC_H

#include <signal.h>

/* Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and fills *set
 * with them.  Call it before starting threads, which inherit the mask, so
 * that only proc_wait_stop() sees these signals.  Returns 0 or -1. */
int proc_block_signals(sigset_t *set) __attribute__((warn_unused_result));

/* Waits for SIGTERM or SIGINT, reopening the log on every SIGHUP meanwhile,
 * then logs ev=stopping_ev with the signal's name.  Returns 0, or -1 if
 * sigwait() failed (logged). */
int proc_wait_stop(const sigset_t *set, const char *stopping_ev)
	__attribute__((warn_unused_result));

/* Installs handler for SIGTERM, SIGINT and SIGHUP without SA_RESTART (so
 * a blocking wait returns and the loop sees the flag the handler sets) and
 * ignores SIGPIPE (a peer that went away is an error return, not death). */
void proc_on_signals(void (*handler)(int));

#endif
