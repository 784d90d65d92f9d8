/* health: GET /healthz — the state of each dependency of this worker.
 * 200 when all are up, 503 when one is down; the body names each. */
#ifndef CGI_HEALTH_H
#define CGI_HEALTH_H

#include "deps.h"
#include "http.h"

void health_handle(struct http_req *r, struct deps *d);

#endif
