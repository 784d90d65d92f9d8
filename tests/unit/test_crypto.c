#include <string.h>

#include "crypto.h"
#include "testlib.h"

static const char key1[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char key2[] =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static struct crypto_keys *ring(const char *hex, const char *id, const char *old)
{
	char err[256] = "";
	struct crypto_keys *k = crypto_keys_new(hex, id, old, err, sizeof err);
	if (k == NULL)
		fprintf(stderr, "  crypto_keys_new: %s\n", err);
	return k;
}

static void t_seal_open_roundtrip(void)
{
	struct crypto_keys *k = ring(key1, "k1", NULL);
	CHECK(k != NULL);
	char sealed[CRYPTO_SEALED_MAX], out[64], kid[CRYPTO_KEYID_MAX + 1];
	size_t n = 0;
	CHECK_INT_EQ(crypto_seal(k, "s3cret pass", 11, sealed, sizeof sealed), 0);
	CHECK(strncmp(sealed, "v1:k1:", 6) == 0);
	CHECK_INT_EQ(crypto_open(k, sealed, out, sizeof out, &n, kid), 0);
	CHECK_STR_EQ(out, "s3cret pass");
	CHECK_INT_EQ(n, 11);
	CHECK_STR_EQ(kid, "k1");
	/* A fresh nonce each time: two seals of one secret differ. */
	char sealed2[CRYPTO_SEALED_MAX];
	CHECK_INT_EQ(crypto_seal(k, "s3cret pass", 11, sealed2, sizeof sealed2), 0);
	CHECK(strcmp(sealed, sealed2) != 0);
	/* Empty secret. */
	CHECK_INT_EQ(crypto_seal(k, "", 0, sealed2, sizeof sealed2), 0);
	CHECK_INT_EQ(crypto_open(k, sealed2, out, sizeof out, &n, NULL), 0);
	CHECK_INT_EQ(n, 0);
	/* Output buffer too small. */
	CHECK_INT_EQ(crypto_open(k, sealed, out, 5, &n, NULL), -1);
	crypto_keys_free(k);
}

static void t_tamper_fails(void)
{
	struct crypto_keys *k = ring(key1, "k1", NULL);
	char sealed[CRYPTO_SEALED_MAX], out[64];
	size_t n;
	CHECK_INT_EQ(crypto_seal(k, "password", 8, sealed, sizeof sealed), 0);
	size_t len = strlen(sealed);
	/* Flip one base64 character in every position of the payload. */
	int opened = 0;
	for (size_t i = 6; i < len; i++) {
		char t[CRYPTO_SEALED_MAX];
		memcpy(t, sealed, len + 1);
		if (t[i] == '=')
			continue;
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (crypto_open(k, t, out, sizeof out, &n, NULL) == 0)
			opened++;
	}
	CHECK_INT_EQ(opened, 0);
	/* Truncated, garbage, other version. */
	char t[CRYPTO_SEALED_MAX];
	memcpy(t, sealed, len + 1);
	t[len - 8] = '\0';
	CHECK_INT_EQ(crypto_open(k, t, out, sizeof out, &n, NULL), -1);
	CHECK_INT_EQ(crypto_open(k, "v1:k1:", out, sizeof out, &n, NULL), -1);
	CHECK_INT_EQ(crypto_open(k, "garbage", out, sizeof out, &n, NULL), -1);
	CHECK_INT_EQ(crypto_open(k, "v1:k1:!!!!", out, sizeof out, &n, NULL), -1);
	memcpy(t, sealed, len + 1);
	t[1] = '2';
	CHECK_INT_EQ(crypto_open(k, t, out, sizeof out, &n, NULL), -1);
	crypto_keys_free(k);
}

static void t_wrong_key_id(void)
{
	struct crypto_keys *a = ring(key1, "k1", NULL);
	struct crypto_keys *b = ring(key2, "k2", NULL);
	struct crypto_keys *c = ring(key2, "k1", NULL);	/* same id, other key */
	char sealed[CRYPTO_SEALED_MAX], out[64];
	size_t n;
	CHECK_INT_EQ(crypto_seal(a, "pw", 2, sealed, sizeof sealed), 0);
	CHECK_INT_EQ(crypto_open(b, sealed, out, sizeof out, &n, NULL), -1);
	CHECK_INT_EQ(crypto_open(c, sealed, out, sizeof out, &n, NULL), -1);
	/* Relabelling the key id breaks the authenticated data. */
	char t[CRYPTO_SEALED_MAX];
	CHECK_INT_EQ(crypto_seal(b, "pw", 2, sealed, sizeof sealed), 0);
	memcpy(t, sealed, strlen(sealed) + 1);
	t[4] = '1';
	/* k1 is key2 here: the same key, so only the AAD can tell. */
	struct crypto_keys *e = ring(key1, "k3", "k1:" "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
	CHECK(e != NULL);
	CHECK_INT_EQ(crypto_open(e, t, out, sizeof out, &n, NULL), -1);
	crypto_keys_free(a);
	crypto_keys_free(b);
	crypto_keys_free(c);
	crypto_keys_free(e);
}

static void t_rotation(void)
{
	struct crypto_keys *old = ring(key1, "k1", NULL);
	char sealed[CRYPTO_SEALED_MAX], out[64], kid[CRYPTO_KEYID_MAX + 1];
	size_t n;
	CHECK_INT_EQ(crypto_seal(old, "tenant-pw", 9, sealed, sizeof sealed), 0);
	char olds[128];
	snprintf(olds, sizeof olds, "k1:%s", key1);
	struct crypto_keys *cur = ring(key2, "k2", olds);
	CHECK(cur != NULL);
	CHECK_STR_EQ(crypto_keys_current_id(cur), "k2");
	CHECK_INT_EQ(crypto_open(cur, sealed, out, sizeof out, &n, kid), 0);
	CHECK_STR_EQ(out, "tenant-pw");
	CHECK_STR_EQ(kid, "k1");
	/* Re-sealing uses the new key, which the old ring cannot open. */
	char resealed[CRYPTO_SEALED_MAX];
	CHECK_INT_EQ(crypto_seal(cur, out, n, resealed, sizeof resealed), 0);
	CHECK(strncmp(resealed, "v1:k2:", 6) == 0);
	CHECK_INT_EQ(crypto_open(old, resealed, out, sizeof out, &n, NULL), -1);
	crypto_keys_free(old);
	crypto_keys_free(cur);
}

static void t_bad_keys(void)
{
	char err[256];
	CHECK(crypto_keys_new("abcd", "k1", NULL, err, sizeof err) == NULL);
	CHECK(strstr(err, "hex") != NULL);
	CHECK(crypto_keys_new(key1, "bad id!", NULL, err, sizeof err) == NULL);
	CHECK(crypto_keys_new(key1, "k1", "nocolon", err, sizeof err) == NULL);
	char dup[128];
	snprintf(dup, sizeof dup, "k1:%s", key2);
	CHECK(crypto_keys_new(key1, "k1", dup, err, sizeof err) == NULL);
	CHECK(crypto_keys_new("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	    "k1", NULL, err, sizeof err) == NULL);
	/* No key material in the message. */
	CHECK(strstr(err, "zz01") == NULL);
}

static void t_hmac_rfc4231_case2(void)
{
	unsigned char mac[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	const char *msg = "what do ya want for nothing?";
	CHECK_INT_EQ(crypto_hmac_sha256("Jefe", 4, msg, strlen(msg), mac), 0);
	CHECK_INT_EQ(crypto_hex_encode(mac, sizeof mac, hex, sizeof hex), 0);
	CHECK_STR_EQ(hex,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void t_sha256_abc(void)
{
	char hex[CRYPTO_SHA256_HEX];
	crypto_sha256_hex("abc", 3, hex);
	CHECK_STR_EQ(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256_hex("", 0, hex);
	CHECK_STR_EQ(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void t_equal_random_hex(void)
{
	CHECK(crypto_equal("abcd", "abcd", 4));
	CHECK(!crypto_equal("abcd", "abce", 4));
	unsigned char a[32], b[32];
	CHECK_INT_EQ(crypto_random(a, sizeof a), 0);
	CHECK_INT_EQ(crypto_random(b, sizeof b), 0);
	CHECK(!crypto_equal(a, b, sizeof a));
	unsigned char d[4];
	CHECK_INT_EQ(crypto_hex_decode("DEADbeef", d, 4), 0);
	CHECK_MEM_EQ(d, "\xde\xad\xbe\xef", 4);
	CHECK_INT_EQ(crypto_hex_decode("DEADbee", d, 4), -1);
	CHECK_INT_EQ(crypto_hex_decode("DEADbeeg", d, 4), -1);
}

static const struct { const char *raw; size_t n; const char *enc; } b64_cases[] = {
	{ "", 0, "" }, { "f", 1, "Zg" }, { "fo", 2, "Zm8" }, { "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" }, { "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" }, { "\xfb\xff", 2, "-_8" },
	{ "{\"alg\":\"none\",\"typ\":\"JWT\"}", 26,
	  "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0" },
};

static void t_b64url(void)
{
	for (size_t i = 0; i < sizeof b64_cases / sizeof b64_cases[0]; i++) {
		char enc[128];
		unsigned char dec[128];
		long n = crypto_b64url_encode(b64_cases[i].raw, b64_cases[i].n, enc,
		    sizeof enc);
		CHECK_INT_EQ(n, (long)strlen(b64_cases[i].enc));
		CHECK_STR_EQ(enc, b64_cases[i].enc);
		long m = crypto_b64url_decode(enc, strlen(enc), dec, sizeof dec);
		CHECK_INT_EQ(m, (long)b64_cases[i].n);
		CHECK_MEM_EQ(dec, b64_cases[i].raw, b64_cases[i].n);
	}
	unsigned char dec[8];
	CHECK_INT_EQ(crypto_b64url_decode("Zg==", 4, dec, sizeof dec), -1);
	CHECK_INT_EQ(crypto_b64url_decode("Z", 1, dec, sizeof dec), -1);
	CHECK_INT_EQ(crypto_b64url_decode("Zh", 2, dec, sizeof dec), -1); /* non-zero tail bits */
	CHECK_INT_EQ(crypto_b64url_decode("Zm9vYmFy", 8, dec, 5), -1);
	char small[3];
	CHECK_INT_EQ(crypto_b64url_encode("foo", 3, small, sizeof small), -1);
}

TEST_MAIN(
	{ "seal_open_roundtrip", t_seal_open_roundtrip },
	{ "tamper_fails", t_tamper_fails },
	{ "wrong_key_id", t_wrong_key_id },
	{ "rotation", t_rotation },
	{ "bad_keys", t_bad_keys },
	{ "hmac_rfc4231_case2", t_hmac_rfc4231_case2 },
	{ "sha256_abc", t_sha256_abc },
	{ "equal_random_hex", t_equal_random_hex },
	{ "b64url", t_b64url },
)
