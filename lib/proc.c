#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "log.h"

int proc_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	return pthread_sigmask(SIG_BLOCK, set, NULL) == 0 ? 0 : -1;
}

int proc_wait_stop(const sigset_t *set, const char *stopping_ev)
{
	for (;;) {
		int sig = 0;
		int se = sigwait(set, &sig);
		if (se != 0) {
			log_kv(LOG_ERROR, "sigwait_failed", "err", strerror(se), NULL);
			return -1;
		}
		if (sig == SIGHUP) {
			if (log_reopen() != 0)
				log_kv(LOG_WARN, "log_reopen_failed", "err", strerror(errno), NULL);
			continue;
		}
		log_kv(LOG_INFO, stopping_ev, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
		    NULL);
		return 0;
	}
}

void proc_on_signals(void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
