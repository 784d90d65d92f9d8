/* resolvers: the C functions behind the schema's fields, and the request
 * context they receive as gql_call.app. */
#ifndef CGI_RESOLVERS_H
#define CGI_RESOLVERS_H

#include "auth.h"
#include "deps.h"
#include "err.h"
#include "gql.h"
#include "http.h"

/* What every resolver of a FastCGI request can reach. */
struct app_ctx {
	struct http_req *req;
	struct deps *deps;
	struct caller caller;	/* verified lazily by auth_user() */
};

/* Registers every resolver on s.  Returns 0, or a negative code with e
 * naming the field that could not be registered. */
int resolvers_register(struct gql_schema *s, struct err *e)
	__attribute__((warn_unused_result));

#endif
