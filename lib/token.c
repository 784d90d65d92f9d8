#include "token.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <json.h>

#include "cfg.h"
#include "crypto.h"
#include "jsonh.h"

enum { HEADER_JSON_MAX = 1024 };

void token_cfg_from(struct token_cfg *tc, const struct config *c)
{
	tc->secret = c->jwt_secret;
	tc->secret_len = c->jwt_secret ? strlen(c->jwt_secret) : 0;
	tc->ttl_sec = c->jwt_ttl_sec;
	tc->issuer = c->jwt_issuer;
}

static bool has_issuer(const struct token_cfg *tc)
{
	return tc->issuer != NULL && tc->issuer[0] != '\0';
}

int token_sign(const struct token_cfg *tc, const struct token_claims *c,
    time_t now, char *out, size_t outsz, long long *exp_out, struct err *e)
{
	jwt_t *jwt = NULL;
	char *s = NULL;
	char sub[24];
	int rc = APP_ERR_INTERNAL;
	if (outsz > 0)
		out[0] = '\0';
	if (tc->secret == NULL || tc->secret_len < TOKEN_SECRET_MIN ||
	    tc->secret_len > INT_MAX)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "token: JWT_SECRET shorter than %d bytes", TOKEN_SECRET_MIN);
	if (tc->ttl_sec <= 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "token: ttl %d", tc->ttl_sec);
	if (strnlen(c->username, TOKEN_USERNAME_MAX) == TOKEN_USERNAME_MAX ||
	    strnlen(c->tenant_id, TOKEN_TENANT_MAX) == TOKEN_TENANT_MAX)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "token: claim too long");
	int n = snprintf(sub, sizeof sub, "%lld", c->user_id);
	if (n < 0 || (size_t)n >= sizeof sub)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "token: sub");
	long long exp = (long long)now + tc->ttl_sec;
	if (jwt_new(&jwt) != 0) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "token: jwt_new");
		goto out;
	}
	if (jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant(jwt, "username", c->username) != 0 ||
	    jwt_add_grant(jwt, "tenantId", c->tenant_id) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)exp) != 0 ||
	    (has_issuer(tc) && jwt_add_grant(jwt, "iss", tc->issuer) != 0) ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)tc->secret,
	    (int)tc->secret_len) != 0) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "token: building claims");
		goto out;
	}
	s = jwt_encode_str(jwt);
	if (s == NULL) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "token: jwt_encode_str");
		goto out;
	}
	size_t len = strlen(s);
	if (len > TOKEN_MAX_LEN || len + 1 > outsz) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "token: %zu bytes", len);
		goto out;
	}
	memcpy(out, s, len + 1);
	if (exp_out != NULL)
		*exp_out = exp;
	rc = 0;
out:
	free(s);	/* libjwt allocates with the default allocator */
	jwt_free(jwt);
	return rc;
}

static int bad(struct err *e, const char *why)
{
	return err_set(e, APP_ERR_UNAUTHENTICATED, "invalid token", "token: %s", why);
}

/* Checks the header segment: JSON object, alg exactly "HS256", typ JWT if
 * present, no crit.  Returns 0 or -1 with *why set. */
static int check_header(const char *seg, size_t n, const char **why)
{
	char json[HEADER_JSON_MAX];
	long dl = crypto_b64url_decode(seg, n, json, sizeof json - 1);
	if (dl <= 0) {
		*why = "header is not base64url";
		return -1;
	}
	json[dl] = '\0';
	if (memchr(json, '\0', (size_t)dl) != NULL) {
		*why = "header contains NUL";
		return -1;
	}
	int rc = -1;
	json_tokener *tk = json_tokener_new();
	if (tk == NULL) {
		*why = "out of memory";
		return -1;
	}
	json_object *h = json_tokener_parse_ex(tk, json, (int)dl);
	json_object *v;
	if (h == NULL || json_tokener_get_error(tk) != json_tokener_success ||
	    json_tokener_get_parse_end(tk) != (size_t)dl || !json_object_is_type(h, json_type_object)) {
		*why = "header is not a JSON object";
		goto out;
	}
	if (!json_object_object_get_ex(h, "alg", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "HS256") != 0) {
		*why = "header alg is not HS256";
		goto out;
	}
	if (json_object_object_get_ex(h, "typ", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "JWT") != 0)) {
		*why = "header typ is not JWT";
		goto out;
	}
	if (json_object_object_get_ex(h, "crit", NULL)) {
		*why = "header has crit";
		goto out;
	}
	rc = 0;
out:
	json_object_put(h);
	json_tokener_free(tk);
	return rc;
}

/* An integer claim: 1 present (value in *v), 0 absent, -1 wrong type. */
static int int_claim(json_object *claims, const char *name, long long *v)
{
	json_object *x;
	if (!json_object_object_get_ex(claims, name, &x))
		return 0;
	if (!json_object_is_type(x, json_type_int))
		return -1;
	*v = json_object_get_int64(x);
	return 1;
}

/* Copies string claim name into out[size]: 0, or -1 missing/not a
 * string/too long/empty. */
static int str_claim(json_object *claims, const char *name, char *out, size_t size)
{
	json_object *x;
	if (!json_object_object_get_ex(claims, name, &x) ||
	    !json_object_is_type(x, json_type_string))
		return -1;
	size_t n = (size_t)json_object_get_string_len(x);
	const char *s = json_object_get_string(x);
	if (n == 0 || n >= size || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

/* The payload segment as a JSON object, or NULL. */
static json_object *decode_payload(const char *seg, size_t n)
{
	char json[TOKEN_MAX_LEN];
	long dl = crypto_b64url_decode(seg, n, json, sizeof json);
	if (dl <= 0)
		return NULL;
	const char *why;
	json_object *o = jsonh_parse(json, (size_t)dl, 16, &why);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int token_verify(const struct token_cfg *tc, const char *tok, size_t len,
    time_t now, struct token_claims *out, struct err *e)
{
	char buf[TOKEN_MAX_LEN + 1];
	json_object *claims = NULL;
	int rc;
	memset(out, 0, sizeof *out);
	if (tc->secret == NULL || tc->secret_len < TOKEN_SECRET_MIN ||
	    tc->secret_len > INT_MAX)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "token: JWT_SECRET shorter than %d bytes", TOKEN_SECRET_MIN);
	if (tok == NULL || len == 0)
		return bad(e, "empty");
	if (len > TOKEN_MAX_LEN)
		return bad(e, "too long");
	if (memchr(tok, '\0', len) != NULL)
		return bad(e, "contains NUL");
	memcpy(buf, tok, len);
	buf[len] = '\0';

	char *dot1 = memchr(buf, '.', len);
	char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - buf)) : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return bad(e, "not three segments");
	if (dot1 == buf || dot2 == dot1 + 1 || dot2[1] == '\0')
		return bad(e, "empty segment");
	const char *why = NULL;
	if (check_header(buf, (size_t)(dot1 - buf), &why) != 0)
		return bad(e, why);

	/* Our own constant-time HMAC check before libjwt parses anything. */
	unsigned char want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN + 3];
	if (crypto_hmac_sha256(tc->secret, tc->secret_len, buf,
	    (size_t)(dot2 - buf), want) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "token: hmac");
	long sl = crypto_b64url_decode(dot2 + 1, strlen(dot2 + 1), got, sizeof got);
	if (sl != CRYPTO_SHA256_LEN || !crypto_equal(want, got, CRYPTO_SHA256_LEN))
		return bad(e, "bad signature");

	/* The signature is good: the claims are ours. */
	claims = decode_payload(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (claims == NULL) {
		rc = bad(e, "payload is not a JSON object");
		goto out;
	}
	long long exp = 0, nbf = 0, iat = 0;
	int has = int_claim(claims, "exp", &exp);
	if (has <= 0) {
		rc = bad(e, has == 0 ? "exp missing" : "exp is not a number");
		goto out;
	}
	if ((long long)now >= exp + TOKEN_LEEWAY_SEC) {
		rc = err_set(e, APP_ERR_UNAUTHENTICATED, "token expired",
		    "token: expired at %lld, now %lld", exp, (long long)now);
		goto out;
	}
	has = int_claim(claims, "nbf", &nbf);
	if (has < 0 || (has == 1 && (long long)now + TOKEN_LEEWAY_SEC < nbf)) {
		rc = bad(e, has < 0 ? "nbf is not a number" : "not yet valid (nbf)");
		goto out;
	}
	if (int_claim(claims, "iat", &iat) < 0) {
		rc = bad(e, "iat is not a number");
		goto out;
	}
	if (has_issuer(tc)) {
		char iss[TOKEN_ISSUER_MAX];
		if (str_claim(claims, "iss", iss, sizeof iss) != 0 ||
		    strcmp(iss, tc->issuer) != 0) {
			rc = bad(e, "wrong issuer");
			goto out;
		}
	}
	char sub[24];
	if (str_claim(claims, "sub", sub, sizeof sub) != 0) {
		rc = bad(e, "sub missing");
		goto out;
	}
	char *end;
	errno = 0;
	long long uid = strtoll(sub, &end, 10);
	if (errno != 0 || *end != '\0' || sub[0] < '0' || sub[0] > '9' || uid <= 0) {
		rc = bad(e, "sub is not a user id");
		goto out;
	}
	if (str_claim(claims, "username", out->username, sizeof out->username) != 0 ||
	    str_claim(claims, "tenantId", out->tenant_id, sizeof out->tenant_id) != 0) {
		memset(out, 0, sizeof *out);
		rc = bad(e, "username or tenantId missing");
		goto out;
	}
	out->user_id = uid;
	out->exp = exp;
	out->iat = iat;
	rc = 0;
out:
	json_object_put(claims);
	return rc;
}
