#include "fcgi_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cfg.h"

enum { POOL_MAX = 256 };

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int fcgi_pool_run(int (*serve)(int fd, void *arg), void *arg)
{
	cfg_load_or_exit(CFG_CGI);
	const struct config *c = cfg();
	if (FCGX_Init() != 0)
		return 1;
	unlink(c->fcgi_socket);
	int fd = FCGX_OpenSocket(c->fcgi_socket, 1024);
	if (fd < 0) {
		perror("FCGX_OpenSocket");
		return 1;
	}
	if (chmod(c->fcgi_socket, 0660) != 0)
		perror("chmod");
	/* No SA_RESTART: wait() must return when SIGTERM arrives. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pid_t kids[POOL_MAX];
	int nkids = 0;
	for (int i = 0; i < c->fcgi_workers && nkids < POOL_MAX; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(serve(fd, arg));
		}
		if (pid > 0)
			kids[nkids++] = pid;
	}
	while (!stop)
		if (wait(NULL) < 0 && errno != EINTR)
			break;
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	unlink(c->fcgi_socket);
	return 0;
}
