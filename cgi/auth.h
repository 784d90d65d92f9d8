/* auth: who is calling.  The bearer token of a request is verified once,
 * on the first resolver that needs it; the admin key is compared in
 * constant time. */
#ifndef CGI_AUTH_H
#define CGI_AUTH_H

#include <stdbool.h>

#include "deps.h"
#include "err.h"
#include "http.h"
#include "token.h"

struct caller {
	bool checked;		/* the Authorization header was looked at */
	int rc;			/* 0: claims are valid */
	struct err e;		/* why not, when rc != 0 */
	struct token_claims claims;
};

/* The verified claims of the request's bearer token.  Returns 0 with *out,
 * or APP_ERR_UNAUTHENTICATED with e filled (no token, malformed header, bad
 * or expired token). */
int auth_user(struct caller *c, const struct http_req *r, const struct deps *d,
    const struct token_claims **out, struct err *e)
	__attribute__((warn_unused_result));

/* Checks the X-Admin-Key header against ADMIN_KEY.  Returns 0, or
 * APP_ERR_FORBIDDEN (no key configured: the operation is disabled; or a
 * wrong key) or APP_ERR_UNAUTHENTICATED (no key sent) with e filled. */
int auth_admin(const struct http_req *r, struct err *e)
	__attribute__((warn_unused_result));

#endif
