/* gqlhttp: decoding of a GraphQL-over-HTTP request, without I/O.
 *
 * Kept apart from the FastCGI handler so that it can be unit-tested and
 * fuzzed: the input is what the request carried (method, headers, query
 * string, body), the output a struct gql_request or the HTTP status and the
 * public reason of a request that is not a GraphQL request at all. */
#ifndef CGI_GQLHTTP_H
#define CGI_GQLHTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "gql.h"

/* The response media types (GraphQL over HTTP, "Accept" negotiation). */
enum gqlhttp_media {
	GQLHTTP_MEDIA_NONE,	/* the client accepts neither: 406 */
	GQLHTTP_MEDIA_JSON,	/* application/json: request errors are 200 */
	GQLHTTP_MEDIA_GQL,	/* application/graphql-response+json: 4xx */
};

struct gqlhttp_in {
	const char *method;		/* "GET", "HEAD" or "POST" */
	const char *content_type;	/* may be NULL */
	const char *query_string;	/* may be NULL */
	const char *body;		/* POST body, need not be NUL-terminated */
	size_t body_len;
};

/* The media type to answer in for an Accept header (NULL: none sent). */
enum gqlhttp_media gqlhttp_negotiate(const char *accept);

/* Decodes the request into *out.  JSON values parsed on the way are owned
 * by the arena (freed at its reset).  Returns 0, or the HTTP status of a
 * malformed request (400, 415) with *why set to a public reason. */
int gqlhttp_decode(struct arena *a, const struct gqlhttp_in *in,
    struct gql_request *out, const char **why)
	__attribute__((warn_unused_result));

/* The value of parameter name in an application/x-www-form-urlencoded
 * string, decoded into the arena; NULL if absent, or if badly encoded
 * (then *bad is set). */
const char *gqlhttp_form_value(struct arena *a, const char *form,
    const char *name, bool *bad);

#endif
