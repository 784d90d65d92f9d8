/* http: one FastCGI request as seen by the handlers, and its response.
 *
 * Request fields point into libfcgi's parameter storage or the request
 * arena and live until the request ends.  Exactly one http_respond*() call
 * answers a request. */
#ifndef CGI_HTTP_H
#define CGI_HTTP_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

struct http_req {
	FCGX_Request *fcgi;
	struct arena *arena;
	const char *method;		/* "GET", "POST", ... (arena copy) */
	const char *path;		/* DOCUMENT_URI, decoded by nginx (arena copy) */
	const char *query;		/* QUERY_STRING, raw, never NULL */
	const char *content_type;	/* never NULL */
	const char *request_id;		/* nginx $request_id, never NULL */
	const char *body;		/* after http_read_body(), NUL-terminated */
	size_t body_len;
	bool responded;
};

/* Fills r from the accepted FastCGI request. */
void http_req_init(struct http_req *r, FCGX_Request *fcgi, struct arena *a);

/* A request header by its HTTP name ("Accept", "X-Admin-Key"); NULL if
 * absent. */
const char *http_header(const struct http_req *r, const char *name);

/* Reads the body (at most max bytes) into the arena.  Returns 0, or
 * APP_ERR_TOO_LARGE when the body is larger than max, or APP_ERR_BAD_INPUT
 * when it is shorter than its Content-Length. */
int http_read_body(struct http_req *r, size_t max, struct err *e)
	__attribute__((warn_unused_result));

/* Sends status, the Content-Type, extra header lines (each ending in
 * "\r\n", may be NULL) and the body. */
void http_respond(struct http_req *r, int status, const char *content_type,
    const char *extra_headers, const char *body, size_t len);

/* A JSON body holding one GraphQL-format error with extensions.code. */
void http_respond_error(struct http_req *r, int status, enum app_err code,
    const char *message, const char *extra_headers);

#endif
