/* graphql: POST/GET /graphql per the GraphQL-over-HTTP specification.
 *
 *  - POST with Content-Type application/json: {query, variables,
 *    operationName, extensions}; GET with the same as query parameters,
 *    for queries only (a mutation over GET is 405).
 *  - Responses are application/graphql-response+json when the client
 *    accepts it (request errors are then 4xx) and application/json
 *    otherwise (200 with "errors" for GraphQL request errors).
 *  - Requests that are not GraphQL requests at all (malformed JSON, no
 *    query, wrong content type) get a 4xx with a JSON error body.
 *  - CORS for the origins in CORS_ORIGINS.
 *  - X-Omit-Nulls: 1 drops null-valued fields from the response. */
#ifndef CGI_GRAPHQL_H
#define CGI_GRAPHQL_H

#include "deps.h"
#include "http.h"

/* Builds the schema and registers the resolvers (once per process).
 * Returns 0, or -1 after logging why. */
int graphql_init(void) __attribute__((warn_unused_result));

void graphql_shutdown(void);

void graphql_handle(struct http_req *r, struct deps *d);

#endif
