/* fcgi-select: the ceiling for the status(id) benchmark.  The least a
 * libfcgi program that reads a report can do: FCGI_WORKERS processes on
 * FCGI_SOCKET, each with one connection to the tenant database, running one
 * prepared primary-key SELECT per request and answering with a small JSON
 * body.  Same pool shape as graphql-fcgi.
 *
 *   fcgi-select '<libpq conninfo of the tenant database>' <report id>
 *
 * (the password may come from PGPASSWORD, which libpq reads itself). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "fcgi_pool.h"

enum { BODY_MAX = 256, HEAD_MAX = 160, DRAIN_CHUNK = 4096 };

static const char sql[] = "SELECT id, status, progress FROM reports WHERE id = $1::int";

/* argv[1]: the conninfo, argv[2]: the report id. */
static int serve(int fd, void *arg)
{
	char **argv = arg;
	const char *conninfo = argv[1], *report_id = argv[2];
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

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fcgi-select CONNINFO REPORT_ID\n");
		return 2;
	}
	return fcgi_pool_run(serve, argv);
}
