/* token: access tokens (JWT, HS256 only) with libjwt.
 *
 * Claims: sub (user id as a decimal string), username, tenantId, iat, exp,
 * and iss when an issuer is configured.  Verification accepts only HS256:
 * the header's alg is checked first ("none", HS512, RS256... are refused),
 * then the HMAC in constant time, and only then are the claims parsed.
 * libjwt signs.  exp is required; nbf is honoured when
 * present; iss must match when configured. */
#ifndef TOKEN_H
#define TOKEN_H

#include <stddef.h>
#include <time.h>

#include "err.h"

struct config;

enum {
	TOKEN_MAX_LEN = 4096,		/* longest token accepted or made */
	TOKEN_SECRET_MIN = 32,		/* bytes of JWT_SECRET */
	TOKEN_USERNAME_MAX = 256,	/* bytes incl. NUL (64 chars of UTF-8) */
	TOKEN_TENANT_MAX = 64,		/* bytes incl. NUL */
	TOKEN_ISSUER_MAX = 256,		/* bytes incl. NUL */
	TOKEN_LEEWAY_SEC = 0,		/* clock skew tolerated on exp and nbf */
};

struct token_cfg {
	const char *secret;		/* JWT_SECRET */
	size_t secret_len;
	int ttl_sec;			/* JWT_TTL_SEC */
	const char *issuer;		/* JWT_ISSUER; NULL or "": none */
};

struct token_claims {
	long long user_id;		/* sub */
	char username[TOKEN_USERNAME_MAX];
	char tenant_id[TOKEN_TENANT_MAX];
	long long iat;
	long long exp;
};

/* Fills tc from the configuration (pointers into it). */
void token_cfg_from(struct token_cfg *tc, const struct config *c);

/* Signs a token for c->user_id, c->username, c->tenant_id issued at now
 * (iat = now, exp = now + ttl; c->iat/exp are ignored) into out[outsz].
 * Returns 0 and sets *exp_out (may be NULL), or APP_ERR_INTERNAL with e
 * filled (secret too short, fields too long, libjwt failure). */
int token_sign(const struct token_cfg *tc, const struct token_claims *c,
    time_t now, char *out, size_t outsz, long long *exp_out, struct err *e)
	__attribute__((warn_unused_result));

/* Verifies tok[0..len) at time now and fills out.  Returns 0, or
 * APP_ERR_UNAUTHENTICATED with public message "invalid token" or
 * "token expired" and the precise reason in e->detail. */
int token_verify(const struct token_cfg *tc, const char *tok, size_t len,
    time_t now, struct token_claims *out, struct err *e)
	__attribute__((warn_unused_result));

#endif
