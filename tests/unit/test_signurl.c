#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "signurl.h"
#include "testlib.h"

static const char key[] = "0123456789abcdef0123456789abcdef-signing-key";
#define KEYLEN (sizeof key - 1)
static const long long EXP = 1900000000LL;
static const long long NOW = 1800000000LL;

/* Splits a made URL into its path and query (after the base URL). */
static void split(const char *url, const char *base, char *path, size_t psz,
    char *query, size_t qsz)
{
	const char *p = url + strlen(base);
	const char *q = strchr(p, '?');
	snprintf(path, psz, "%.*s", (int)(q - p), p);
	snprintf(query, qsz, "%s", q + 1);
}

static void t_make_format(void)
{
	char url[SIGNURL_MAX], sig[SIGNURL_SIG_LEN + 1], want[SIGNURL_MAX];
	CHECK_INT_EQ(signurl_make(key, KEYLEN, "http://localhost:3000/", "tenant-a", 1,
	    SIGNURL_CSV, EXP, url, sizeof url), 0);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "tenant-a", 1, SIGNURL_CSV, EXP, sig), 0);
	CHECK_INT_EQ(strlen(sig), SIGNURL_SIG_LEN);
	snprintf(want, sizeof want,
	    "http://localhost:3000/reports/tenant-a/1.csv?exp=1900000000&sig=%s", sig);
	CHECK_STR_EQ(url, want);
	/* The mac is HMAC-SHA256 over the documented message. */
	static const char msg[] = "v1\ntenant-a\n1\ncsv\n1900000000";
	unsigned char mac[32];
	char b64[64];
	CHECK_INT_EQ(crypto_hmac_sha256(key, KEYLEN, msg, sizeof msg - 1, mac), 0);
	CHECK_INT_EQ(crypto_b64url_encode(mac, sizeof mac, b64, sizeof b64), 43);
	CHECK_STR_EQ(sig, b64);
	/* JSON format differs and is signed differently. */
	char sig2[SIGNURL_SIG_LEN + 1];
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "tenant-a", 1, SIGNURL_JSON, EXP, sig2), 0);
	CHECK(strcmp(sig, sig2) != 0);
}

static void t_roundtrip(void)
{
	static const struct { const char *tenant; long long id; enum signurl_format f; } cases[] = {
		{ "tenant-a", 1, SIGNURL_CSV },
		{ "T_9", 2147483647LL, SIGNURL_JSON },
		{ "a", 42, SIGNURL_CSV },
		{ "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", 7, SIGNURL_JSON },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char url[SIGNURL_MAX], path[512], query[256];
		const char *base = "https://reports.example.com";
		CHECK_INT_EQ(signurl_make(key, KEYLEN, base, cases[i].tenant, cases[i].id,
		    cases[i].f, EXP, url, sizeof url), 0);
		split(url, base, path, sizeof path, query, sizeof query);
		struct signurl_target t;
		CHECK_INT_EQ(signurl_verify(key, KEYLEN, path, query, NOW, &t), SIGNURL_OK);
		CHECK_STR_EQ(t.tenant_id, cases[i].tenant);
		CHECK_INT_EQ(t.report_id, cases[i].id);
		CHECK_INT_EQ(t.format, cases[i].f);
		CHECK_INT_EQ(t.exp, EXP);
		/* Order of parameters and unrelated parameters do not matter. */
		char q2[256];
		const char *sig = strstr(query, "sig=");
		snprintf(q2, sizeof q2, "x=1&%s&exp=%lld&utm=y", sig, EXP);
		CHECK_INT_EQ(signurl_verify(key, KEYLEN, path, q2, NOW, &t), SIGNURL_OK);
	}
}

/* Every field of a valid URL changed: never accepted. */
static void t_tampered(void)
{
	char sig[SIGNURL_SIG_LEN + 1], q[256], bad[SIGNURL_SIG_LEN + 1];
	struct signurl_target t;
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "tenant-a", 12, SIGNURL_CSV, EXP, sig), 0);
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP, sig);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/12.csv", q, NOW, &t), SIGNURL_OK);
	/* tenant, id, format */
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-b/12.csv", q, NOW, &t),
	    SIGNURL_BAD_SIGNATURE);
	CHECK_STR_EQ(t.tenant_id, "");
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/13.csv", q, NOW, &t),
	    SIGNURL_BAD_SIGNATURE);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/1.csv", q, NOW, &t),
	    SIGNURL_BAD_SIGNATURE);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/12.json", q, NOW, &t),
	    SIGNURL_BAD_SIGNATURE);
	/* exp moved later */
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP + 1, sig);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/12.csv", q, NOW, &t),
	    SIGNURL_BAD_SIGNATURE);
	/* every character of the signature */
	for (size_t i = 0; i < SIGNURL_SIG_LEN; i++) {
		memcpy(bad, sig, sizeof bad);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP, bad);
		CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/tenant-a/12.csv", q, NOW, &t),
		    SIGNURL_BAD_SIGNATURE);
	}
	/* another key */
	static const char key2[] = "0123456789abcdef0123456789abcdef-signing-kez";
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP, sig);
	CHECK_INT_EQ(signurl_verify(key2, sizeof key2 - 1, "/reports/tenant-a/12.csv", q,
	    NOW, &t), SIGNURL_BAD_SIGNATURE);
}

static void t_expiry_boundary(void)
{
	char sig[SIGNURL_SIG_LEN + 1], q[256];
	struct signurl_target t;
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 5, SIGNURL_CSV, EXP, sig), 0);
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP, sig);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", q, EXP - 1, &t), SIGNURL_OK);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", q, EXP, &t), SIGNURL_EXPIRED);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", q, EXP + 1, &t),
	    SIGNURL_EXPIRED);
	CHECK_INT_EQ(t.report_id, 0);
	/* An expired URL with a wrong signature is refused as tampered: the
	 * expiry is only looked at once the signature holds. */
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP - 10, sig);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", q, EXP, &t),
	    SIGNURL_BAD_SIGNATURE);
	/* exp 0 can be signed and is always expired. */
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 5, SIGNURL_CSV, 0, sig), 0);
	snprintf(q, sizeof q, "exp=0&sig=%s", sig);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", q, NOW, &t), SIGNURL_EXPIRED);
}

static void t_malformed(void)
{
	char sig[SIGNURL_SIG_LEN + 1], q[256];
	struct signurl_target t;
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 5, SIGNURL_CSV, EXP, sig), 0);
	snprintf(q, sizeof q, "exp=%lld&sig=%s", EXP, sig);
	static const char *const paths[] = {
		"", "/", "/reports/", "/reports/t1", "/reports/t1/", "/reports/t1/5",
		"/reports/t1/5.", "/reports/t1/5.CSV", "/reports/t1/5.csv/", "/reports/t1/5.csvx",
		"/reports/t1/05.csv", "/reports/t1/+5.csv", "/reports/t1/-5.csv",
		"/reports/t1/0.csv", "/reports/t1/2147483648.csv", "/reports/t1/5.5.csv",
		"/reports//5.csv", "/reports/t 1/5.csv", "/reports/t.1/5.csv",
		"/reports/../t1/5.csv", "/reports/t1/x/5.csv", "/report/t1/5.csv",
		"/reports/t1/99999999999999999999999.csv", "/REPORTS/t1/5.csv",
		"/reports/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-x/5.csv",
		"/reports/t\xc3\xa9/5.csv",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		int rc = signurl_verify(key, KEYLEN, paths[i], q, NOW, &t);
		if (rc != SIGNURL_MALFORMED)
			fprintf(stderr, "  path %s: %d\n", paths[i], rc);
		CHECK_INT_EQ(rc, SIGNURL_MALFORMED);
	}
	char qs[12][256];
	snprintf(qs[0], 256, "%s", "");
	snprintf(qs[1], 256, "exp=%lld", EXP);
	snprintf(qs[2], 256, "sig=%s", sig);
	snprintf(qs[3], 256, "exp=%lld&sig=%s&sig=%s", EXP, sig, sig);
	snprintf(qs[4], 256, "exp=%lld&exp=%lld&sig=%s", EXP, EXP, sig);
	snprintf(qs[5], 256, "exp=0%lld&sig=%s", EXP, sig);
	snprintf(qs[6], 256, "exp=-1&sig=%s", sig);
	snprintf(qs[7], 256, "exp=%lld&sig=%sA", EXP, sig);
	snprintf(qs[8], 256, "exp=%lld&sig=%.42s", EXP, sig);
	snprintf(qs[9], 256, "exp=99999999999999999999&sig=%s", sig);
	snprintf(qs[10], 256, "exp=%lldx&sig=%s", EXP, sig);
	snprintf(qs[11], 256, "exp=&sig=%s", sig);
	for (size_t i = 0; i < 12; i++) {
		int rc = signurl_verify(key, KEYLEN, "/reports/t1/5.csv", qs[i], NOW, &t);
		if (rc != SIGNURL_MALFORMED)
			fprintf(stderr, "  query %s: %d\n", qs[i], rc);
		CHECK_INT_EQ(rc, SIGNURL_MALFORMED);
	}
	/* NULL inputs and a short key */
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, NULL, q, NOW, &t), SIGNURL_MALFORMED);
	CHECK_INT_EQ(signurl_verify(key, KEYLEN, "/reports/t1/5.csv", NULL, NOW, &t),
	    SIGNURL_MALFORMED);
	CHECK_INT_EQ(signurl_verify(key, 31, "/reports/t1/5.csv", q, NOW, &t), SIGNURL_MALFORMED);
}

static void t_sign_rejects_bad_inputs(void)
{
	char sig[SIGNURL_SIG_LEN + 1], url[64];
	CHECK_INT_EQ(signurl_sign(key, 31, "t1", 1, SIGNURL_CSV, EXP, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "bad/tenant", 1, SIGNURL_CSV, EXP, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "", 1, SIGNURL_CSV, EXP, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 0, SIGNURL_CSV, EXP, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 2147483648LL, SIGNURL_CSV, EXP, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 1, SIGNURL_CSV, -1, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 1, SIGNURL_CSV, SIGNURL_EXP_MAX + 1, sig), -1);
	CHECK_INT_EQ(signurl_sign(key, KEYLEN, "t1", 1, (enum signurl_format)7, EXP, sig), -1);
	CHECK_STR_EQ(sig, "");
	/* out too small: nothing partial is left */
	CHECK_INT_EQ(signurl_make(key, KEYLEN, "http://localhost:3000", "t1", 1,
	    SIGNURL_CSV, EXP, url, sizeof url), -1);
	CHECK_STR_EQ(url, "");
	CHECK_INT_EQ(signurl_make(key, KEYLEN, NULL, "t1", 1, SIGNURL_CSV, EXP, url,
	    sizeof url), -1);
}

TEST_MAIN(
	{ "make_format", t_make_format },
	{ "roundtrip", t_roundtrip },
	{ "tampered", t_tampered },
	{ "expiry_boundary", t_expiry_boundary },
	{ "malformed", t_malformed },
	{ "sign_rejects_bad_inputs", t_sign_rejects_bad_inputs },
)
