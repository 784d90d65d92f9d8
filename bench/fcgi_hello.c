/* fcgi-hello: the ceiling for the HTTP benchmark.  The least a libfcgi
 * program can do: FCGI_WORKERS processes on FCGI_SOCKET answering every
 * request with a fixed JSON body.  Same pool shape as graphql-fcgi. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cfg.h"

static const char body[] = "{\"data\":{\"__typename\":\"Query\"}}";
_Static_assert(sizeof body - 1 == 31, "Content-Length below");

static int serve(int fd)
{
	FCGX_Request req;
	if (FCGX_InitRequest(&req, fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "Content-Length: 31\r\n\r\n", req.out);
		FCGX_PutStr(body, (int)sizeof body - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
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
	struct sigaction sa = { .sa_handler = on_term };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	pid_t kids[256];
	int nkids = 0;
	for (int i = 0; i < c->fcgi_workers && nkids < 256; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			_exit(serve(fd));
		}
		if (pid > 0)
			kids[nkids++] = pid;
	}
	while (!stop)
		if (wait(NULL) < 0 && errno != EINTR)
			break;
	/* Our own workers only: the process group may hold the caller too. */
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	unlink(c->fcgi_socket);
	return 0;
}
