/* fcgi-hello: the ceiling for the HTTP benchmark.  The least a libfcgi
 * program can do: FCGI_WORKERS processes on FCGI_SOCKET answering every
 * request with a fixed JSON body.  Same pool shape as graphql-fcgi. */
#include <stddef.h>

#include <fcgiapp.h>

#include "fcgi_pool.h"

static const char body[] = "{\"data\":{\"__typename\":\"Query\"}}";
_Static_assert(sizeof body - 1 == 31, "Content-Length below");

static int serve(int fd, void *arg)
{
	(void)arg;
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

int main(void)
{
	return fcgi_pool_run(serve, NULL);
}
