/* download: GET/HEAD /reports/<tenant>/<id>.<csv|json>?exp=..&sig=..
 *
 * Serves a report file named by a signed URL (lib/signurl.h); the URL is
 * the authorisation, no token is needed.  Answers:
 *   200  the file, with Content-Type, Content-Disposition (attachment;
 *        filename="report-<id>.<ext>"), Content-Length, ETag "<sha256>"
 *   304  If-None-Match matches the ETag
 *   403  malformed or tampered URL (signature checked in constant time)
 *   404  no such tenant, report or file, or the report is not COMPLETED
 *   405  another method
 *   410  correctly signed but expired
 *   503  the tenant database is unreachable
 * Errors carry a small JSON body in the GraphQL error format. */
#ifndef CGI_DOWNLOAD_H
#define CGI_DOWNLOAD_H

#include "deps.h"
#include "http.h"

void download_handle(struct http_req *r, struct deps *d);

#endif
