#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "crypto.h"
#include "token.h"
#include "testlib.h"

static const char secret[] = "0123456789abcdef0123456789abcdef-test";
static const time_t now = 1800000000;

static struct token_cfg cfg_of(const char *s, const char *iss)
{
	struct token_cfg tc = { s, strlen(s), 3600, iss };
	return tc;
}

static struct token_claims claims(void)
{
	struct token_claims c;
	memset(&c, 0, sizeof c);
	c.user_id = 42;
	snprintf(c.username, sizeof c.username, "%s", "alice");
	snprintf(c.tenant_id, sizeof c.tenant_id, "%s", "tenant-a");
	return c;
}

/* header.payload.signature from JSON texts; sig_alg "HS256" signs with key,
 * "" leaves the signature empty. */
static void craft(char *out, size_t outsz, const char *header, const char *payload,
    const char *key, int sign)
{
	char h[512], p[1024];
	CHECK(crypto_b64url_encode(header, strlen(header), h, sizeof h) >= 0);
	CHECK(crypto_b64url_encode(payload, strlen(payload), p, sizeof p) >= 0);
	int n = snprintf(out, outsz, "%s.%s.", h, p);
	CHECK(n > 0 && (size_t)n < outsz);
	if (sign) {
		unsigned char mac[CRYPTO_SHA256_LEN];
		CHECK_INT_EQ(crypto_hmac_sha256(key, strlen(key), out, (size_t)n - 1,
		    mac), 0);
		CHECK(crypto_b64url_encode(mac, sizeof mac, out + n, outsz - (size_t)n) > 0);
	}
}

static int verify(const struct token_cfg *tc, const char *tok, time_t at,
    struct token_claims *out, struct err *e)
{
	return token_verify(tc, tok, strlen(tok), at, out, e);
}

static void t_roundtrip(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims c = claims(), got;
	char tok[TOKEN_MAX_LEN + 1];
	long long exp = 0;
	struct err e;
	CHECK_INT_EQ(token_sign(&tc, &c, now, tok, sizeof tok, &exp, &e), 0);
	CHECK_INT_EQ(exp, (long long)now + 3600);
	CHECK_INT_EQ(verify(&tc, tok, now + 10, &got, &e), 0);
	CHECK_INT_EQ(got.user_id, 42);
	CHECK_STR_EQ(got.username, "alice");
	CHECK_STR_EQ(got.tenant_id, "tenant-a");
	CHECK_INT_EQ(got.exp, exp);
	CHECK_INT_EQ(got.iat, (long long)now);
	/* Unicode username survives. */
	snprintf(c.username, sizeof c.username, "%s", "J\xc3\xbcrgen");
	CHECK_INT_EQ(token_sign(&tc, &c, now, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), 0);
	CHECK_STR_EQ(got.username, "J\xc3\xbcrgen");
}

static void t_expired(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims c = claims(), got;
	char tok[TOKEN_MAX_LEN + 1];
	struct err e;
	CHECK_INT_EQ(token_sign(&tc, &c, now - 7200, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK_STR_EQ(e.msg, "token expired");
	/* Exactly at exp: expired. */
	CHECK_INT_EQ(token_sign(&tc, &c, now - 3600, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK_INT_EQ(verify(&tc, tok, now - 1, &got, &e), 0);
}

static void t_nbf_and_exp_claims(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims got;
	struct err e;
	char tok[2048], pl[512];
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	snprintf(pl, sizeof pl, "{\"sub\":\"7\",\"username\":\"bob\",\"tenantId\":\"t1\","
	    "\"exp\":%lld,\"nbf\":%lld}", (long long)now + 7200, (long long)now + 3600);
	craft(tok, sizeof tok, hdr, pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK(strstr(e.detail, "nbf") != NULL);
	CHECK_INT_EQ(verify(&tc, tok, now + 3601, &got, &e), 0);
	CHECK_INT_EQ(got.user_id, 7);
	/* exp is required. */
	craft(tok, sizeof tok, hdr, "{\"sub\":\"7\",\"username\":\"bob\","
	    "\"tenantId\":\"t1\"}", secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK(strstr(e.detail, "exp") != NULL);
	/* exp as a string is not a number. */
	craft(tok, sizeof tok, hdr, "{\"sub\":\"7\",\"username\":\"bob\","
	    "\"tenantId\":\"t1\",\"exp\":\"9999999999\"}", secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	/* sub must be a positive id. */
	snprintf(pl, sizeof pl, "{\"sub\":\"x7\",\"username\":\"bob\",\"tenantId\":\"t1\","
	    "\"exp\":%lld}", (long long)now + 60);
	craft(tok, sizeof tok, hdr, pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	/* tenantId missing. */
	snprintf(pl, sizeof pl, "{\"sub\":\"7\",\"username\":\"bob\",\"exp\":%lld}",
	    (long long)now + 60);
	craft(tok, sizeof tok, hdr, pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
}

static void t_alg_none_rejected(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims got;
	struct err e;
	char tok[2048], pl[512];
	snprintf(pl, sizeof pl, "{\"sub\":\"1\",\"username\":\"admin\",\"tenantId\":\"t1\","
	    "\"exp\":%lld}", (long long)now + 3600);
	craft(tok, sizeof tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, NULL, 0);
	CHECK(strncmp(tok, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.", 36) == 0);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK_STR_EQ(e.msg, "invalid token");
	CHECK_STR_EQ(got.username, "");
	/* "none" with a valid HS256 signature attached: still refused. */
	craft(tok, sizeof tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	/* Case games. */
	craft(tok, sizeof tok, "{\"alg\":\"hs256\"}", pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	craft(tok, sizeof tok, "{\"alg\":\"HS256\",\"crit\":[\"x\"]}", pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	craft(tok, sizeof tok, "[\"alg\",\"HS256\"]", pl, secret, 1);
	CHECK_INT_EQ(verify(&tc, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
}

static void t_hs512_rejected(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims got;
	struct err e;
	jwt_t *jwt = NULL;
	CHECK_INT_EQ(jwt_new(&jwt), 0);
	CHECK_INT_EQ(jwt_add_grant(jwt, "sub", "1"), 0);
	CHECK_INT_EQ(jwt_add_grant(jwt, "username", "alice"), 0);
	CHECK_INT_EQ(jwt_add_grant(jwt, "tenantId", "t1"), 0);
	CHECK_INT_EQ(jwt_add_grant_int(jwt, "exp", (long)now + 3600), 0);
	CHECK_INT_EQ(jwt_set_alg(jwt, JWT_ALG_HS512, (const unsigned char *)secret,
	    (int)strlen(secret)), 0);
	char *s = jwt_encode_str(jwt);
	CHECK(s != NULL);
	CHECK_INT_EQ(verify(&tc, s, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK(strstr(e.detail, "alg") != NULL);
	free(s);
	jwt_free(jwt);
}

static void t_tampered_payload(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims c = claims(), got;
	char tok[TOKEN_MAX_LEN + 1], forged[TOKEN_MAX_LEN + 1], pl[512], p64[1024];
	struct err e;
	CHECK_INT_EQ(token_sign(&tc, &c, now, tok, sizeof tok, NULL, &e), 0);
	/* Replace the payload, keep header and signature. */
	snprintf(pl, sizeof pl, "{\"sub\":\"1\",\"username\":\"admin\",\"tenantId\":"
	    "\"tenant-a\",\"iat\":%lld,\"exp\":%lld}", (long long)now,
	    (long long)now + 3600);
	CHECK(crypto_b64url_encode(pl, strlen(pl), p64, sizeof p64) > 0);
	char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
	int n = snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - tok), tok,
	    p64, d2);
	CHECK(n > 0 && (size_t)n < sizeof forged);
	CHECK_INT_EQ(verify(&tc, forged, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK(strstr(e.detail, "signature") != NULL);
	/* One flipped character of the signature. */
	memcpy(forged, tok, strlen(tok) + 1);
	size_t L = strlen(forged);
	forged[L - 2] = forged[L - 2] == 'A' ? 'B' : 'A';
	CHECK_INT_EQ(verify(&tc, forged, now, &got, &e), APP_ERR_UNAUTHENTICATED);
}

static void t_wrong_secret(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_cfg other = cfg_of("another-secret-of-at-least-32-bytes!!", NULL);
	struct token_claims c = claims(), got;
	char tok[TOKEN_MAX_LEN + 1];
	struct err e;
	CHECK_INT_EQ(token_sign(&tc, &c, now, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&other, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	/* A short secret is refused outright. */
	struct token_cfg shortc = cfg_of("short", NULL);
	CHECK_INT_EQ(token_sign(&shortc, &c, now, tok, sizeof tok, NULL, &e),
	    APP_ERR_INTERNAL);
	CHECK_INT_EQ(verify(&shortc, tok, now, &got, &e), APP_ERR_INTERNAL);
}

static void t_issuer(void)
{
	struct token_cfg with = cfg_of(secret, "reportsvc");
	struct token_cfg other = cfg_of(secret, "someone-else");
	struct token_cfg none = cfg_of(secret, "");
	struct token_claims c = claims(), got;
	char tok[TOKEN_MAX_LEN + 1];
	struct err e;
	CHECK_INT_EQ(token_sign(&with, &c, now, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&with, tok, now, &got, &e), 0);
	CHECK_INT_EQ(verify(&other, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK_INT_EQ(verify(&none, tok, now, &got, &e), 0);
	CHECK_INT_EQ(token_sign(&none, &c, now, tok, sizeof tok, NULL, &e), 0);
	CHECK_INT_EQ(verify(&with, tok, now, &got, &e), APP_ERR_UNAUTHENTICATED);
}

static void t_too_long_and_garbage(void)
{
	struct token_cfg tc = cfg_of(secret, NULL);
	struct token_claims got;
	struct err e;
	static char big[TOKEN_MAX_LEN + 100];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[10] = '.';
	big[20] = '.';
	CHECK_INT_EQ(verify(&tc, big, now, &got, &e), APP_ERR_UNAUTHENTICATED);
	CHECK(strstr(e.detail, "too long") != NULL);
	static const char *garbage[] = {
		"", "abc", "a.b", "a.b.c", "a.b.c.d", "..", "...", ".x.y", "x..y",
		"eyJhbGciOiJIUzI1NiJ9..sig", "eyJhbGciOiJIUzI1NiJ9.e30.",
		"!!!.###.$$$", "eyJhbGciOiJIUzI1NiJ9.e30.e30", "Bearer x.y.z",
		"eyJhbGciOiJIUzI1NiJ9\n.e30.AAAA",
	};
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		CHECK_INT_EQ(verify(&tc, garbage[i], now, &got, &e),
		    APP_ERR_UNAUTHENTICATED);
	/* An embedded NUL within the given length. */
	CHECK_INT_EQ(token_verify(&tc, "a.b\0.c", 6, now, &got, &e),
	    APP_ERR_UNAUTHENTICATED);
	CHECK_INT_EQ(token_verify(&tc, NULL, 0, now, &got, &e),
	    APP_ERR_UNAUTHENTICATED);
}

TEST_MAIN(
	{ "roundtrip", t_roundtrip },
	{ "expired", t_expired },
	{ "nbf_and_exp_claims", t_nbf_and_exp_claims },
	{ "alg_none_rejected", t_alg_none_rejected },
	{ "hs512_rejected", t_hs512_rejected },
	{ "tampered_payload", t_tampered_payload },
	{ "wrong_secret", t_wrong_secret },
	{ "issuer", t_issuer },
	{ "too_long_and_garbage", t_too_long_and_garbage },
)
