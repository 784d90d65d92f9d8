/* fcgi-select: the ceiling for the status(id) benchmark.  The least a
 * libfcgi program that reads a report can do: FCGI_WORKERS processes on
 * FCGI_SOCKET, each with one connection to the tenant database, running one
 * prepared primary-key SELECT per request and answering with a small JSON
 * body.  Same pool shape as graphql-fcgi.
 *
 *   fcgi-select '<libpq conninfo of the tenant database>' <report id>
 *
 * (the password may come from PGPASSWORD, which libpq reads itself). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "cfg.h"

enum { BODY_MAX = 256, HEAD_MAX = 160, DRAIN_CHUNK = 4096 };

static const char sql[] = "SELECT id, status, progress FROM reports WHERE id = $1::int";

static int serve(int fd, const char *conninfo, const char *report_id)
{
	PGconn *pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "fcgi-select: connect: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return 1;
	}
	PGresult *r = PQprepare(pg, "sel", sql, 1, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "fcgi-select: prepare: %s", PQerrorMessage(pg));
		PQclear(r);
		PQfinish(pg);
		return 1;
	}
	PQclear(r);
	FCGX_Request req;
	if (FCGX_InitRequest(&req, fd, 0) != 0) {
		PQfinish(pg);
		return 1;
	}
	const char *params[] = { report_id };
	char drain[DRAIN_CHUNK], body[BODY_MAX], head[HEAD_MAX];
	while (FCGX_Accept_r(&req) >= 0) {
		/* Read the request body as the real pool does. */
		while (FCGX_GetStr(drain, sizeof drain, req.in) > 0)
			;
		r = PQexecPrepared(pg, "sel", 1, params, NULL, NULL, 0);
		int n;
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			n = snprintf(body, sizeof body,
			    "{\"data\":{\"status\":{\"reportID\":%s,\"status\":\"%s\",\"progress\":%s}}}",
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
		else
			n = snprintf(body, sizeof body, "{\"errors\":[{\"message\":\"not found\"}]}");
		PQclear(r);
		if (n < 0 || (size_t)n >= sizeof body)
			n = 0;
		int h = snprintf(head, sizeof head, "Status: 200 OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: %d\r\n\r\n", n);
		if (h > 0 && (size_t)h < sizeof head) {
			FCGX_PutStr(head, h, req.out);
			FCGX_PutStr(body, n, req.out);
		}
		FCGX_Finish_r(&req);
	}
	PQfinish(pg);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fcgi-select CONNINFO REPORT_ID\n");
		return 2;
	}
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
	pid_t kids[256];
	int nkids = 0;
	for (int i = 0; i < c->fcgi_workers && nkids < 256; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			_exit(serve(fd, argv[1], argv[2]));
		}
		if (pid > 0)
			kids[nkids++] = pid;
	}
	while (!stop)
		if (wait(NULL) < 0 && errno != EINTR)
			break;
	/* Only our own workers, by pid (not the process group, which the
	 * calling script shares). */
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	unlink(c->fcgi_socket);
	return 0;
}
