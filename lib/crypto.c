#include "crypto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cfg.h"
#include "xalloc.h"
#include "hex.h"

struct crypto_key {
	char id[CRYPTO_KEYID_MAX + 1];
	unsigned char key[CRYPTO_KEY_LEN];
};

struct crypto_keys {
	size_t n;			/* keys[0] is the current key */
	struct crypto_key keys[CRYPTO_MAX_KEYS];
};

static const char seal_version[] = "v1";

void crypto_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int crypto_random(void *buf, size_t n)
{
	if (n > INT32_MAX)
		return -1;
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int crypto_hex_encode(const void *in, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	if (outsz < 2 * n + 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
	return 0;
}

int crypto_hex_decode(const char *hex, void *out, size_t n)
{
	unsigned char *o = out;
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit((unsigned char)hex[2 * i]);
		int lo = hex_digit((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

long crypto_b64url_encode(const void *in, size_t n, char *out, size_t outsz)
{
	const unsigned char *p = in;
	size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (outsz < need + 1)
		return -1;
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return (long)o;
}

static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long crypto_b64url_decode(const char *in, size_t n, void *out, size_t outsz)
{
	unsigned char *o = out;
	if (n % 4 == 1)
		return -1;
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (need > outsz)
		return -1;
	uint32_t acc = 0;
	int bits = 0;
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[w++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: one encoding per value. */
	if (acc != 0)
		return -1;
	return (long)w;
}

/* HMAC through OpenSSL 3's one-shot HMAC() fetches the algorithm and sets
 * the key up on every call, which costs more than hashing a JWT.  The
 * process keeps the fetched algorithm and a few keyed contexts (the JWT
 * secret, the URL signing key, ...) and duplicates one per call. */
enum { MAC_CACHE = 8, MAC_KEY_MAX = 1024 };

static struct {
	EVP_MAC *mac;
	struct { EVP_MAC_CTX *ctx; size_t keylen; unsigned char key[MAC_KEY_MAX]; } slot[MAC_CACHE];
	unsigned next;
} hmac_cache;

/* A keyed HMAC-SHA256 template for key, from the cache or made now; NULL
 * on an OpenSSL failure or a key too long to cache. */
static EVP_MAC_CTX *hmac_template(const void *key, size_t keylen)
{
	for (unsigned i = 0; i < MAC_CACHE; i++)
		if (hmac_cache.slot[i].ctx != NULL && hmac_cache.slot[i].keylen == keylen &&
		    CRYPTO_memcmp(hmac_cache.slot[i].key, key, keylen) == 0)
			return hmac_cache.slot[i].ctx;
	if (keylen > MAC_KEY_MAX)
		return NULL;
	if (hmac_cache.mac == NULL && (hmac_cache.mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_cache.mac);
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", digest, 0),
		OSSL_PARAM_construct_end(),
	};
	if (ctx == NULL || EVP_MAC_init(ctx, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	unsigned i = hmac_cache.next++ % MAC_CACHE;
	EVP_MAC_CTX_free(hmac_cache.slot[i].ctx);
	hmac_cache.slot[i].ctx = ctx;
	hmac_cache.slot[i].keylen = keylen;
	memcpy(hmac_cache.slot[i].key, key, keylen);
	return ctx;
}

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	EVP_MAC_CTX *tmpl = hmac_template(key, keylen);
	if (tmpl == NULL) {
		unsigned int len = 0;
		if (keylen > INT32_MAX ||
		    HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) == NULL ||
		    len != CRYPTO_SHA256_LEN)
			return -1;
		return 0;
	}
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(tmpl);
	size_t len = 0;
	int ok = ctx != NULL && EVP_MAC_update(ctx, msg, n) == 1 &&
	    EVP_MAC_final(ctx, out, &len, CRYPTO_SHA256_LEN) == 1 &&
	    len == CRYPTO_SHA256_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

void crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX])
{
	unsigned char md[CRYPTO_SHA256_LEN];
	SHA256(data, n, md);
	/* Cannot fail: out has room for 64 digits and the NUL. */
	if (crypto_hex_encode(md, sizeof md, out, CRYPTO_SHA256_HEX) != 0)
		out[0] = '\0';
}

/* ---- key ring ---- */

static bool keyid_valid(const char *id, size_t n)
{
	if (n == 0 || n > CRYPTO_KEYID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int ring_add(struct crypto_keys *k, const char *id, size_t idlen,
    const char *hex, size_t hexlen, char *errbuf, size_t errlen)
{
	char hexbuf[2 * CRYPTO_KEY_LEN + 1];
	if (!keyid_valid(id, idlen)) {
		(void)snprintf(errbuf, errlen, "crypto: key id must be 1-%d chars of "
		    "[A-Za-z0-9_-]", CRYPTO_KEYID_MAX);
		return -1;
	}
	if (k->n == CRYPTO_MAX_KEYS) {
		(void)snprintf(errbuf, errlen, "crypto: more than %d keys",
		    CRYPTO_MAX_KEYS);
		return -1;
	}
	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->keys[i].id) == idlen &&
		    memcmp(k->keys[i].id, id, idlen) == 0) {
			(void)snprintf(errbuf, errlen, "crypto: key id %.*s appears "
			    "twice", (int)idlen, id);
			return -1;
		}
	if (hexlen != 2 * CRYPTO_KEY_LEN) {
		(void)snprintf(errbuf, errlen, "crypto: key %.*s must be %d hex "
		    "chars", (int)idlen, id, 2 * CRYPTO_KEY_LEN);
		return -1;
	}
	memcpy(hexbuf, hex, hexlen);
	hexbuf[hexlen] = '\0';
	struct crypto_key *ck = &k->keys[k->n];
	int rc = crypto_hex_decode(hexbuf, ck->key, CRYPTO_KEY_LEN);
	crypto_wipe(hexbuf, sizeof hexbuf);
	if (rc != 0) {
		crypto_wipe(ck->key, sizeof ck->key);
		(void)snprintf(errbuf, errlen, "crypto: key %.*s is not hex",
		    (int)idlen, id);
		return -1;
	}
	memcpy(ck->id, id, idlen);
	ck->id[idlen] = '\0';
	k->n++;
	return 0;
}

struct crypto_keys *crypto_keys_new(const char *key_hex, const char *key_id,
    const char *old_keys, char *errbuf, size_t errlen)
{
	struct crypto_keys *k = xcalloc(1, sizeof *k);
	if (key_hex == NULL || key_id == NULL) {
		(void)snprintf(errbuf, errlen, "crypto: no data key configured");
		goto fail;
	}
	if (ring_add(k, key_id, strlen(key_id), key_hex, strlen(key_hex), errbuf,
	    errlen) != 0)
		goto fail;
	const char *p = old_keys ? old_keys : "";
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		if (colon == NULL) {
			(void)snprintf(errbuf, errlen, "crypto: DATA_KEYS_OLD entries "
			    "must be id:hex");
			goto fail;
		}
		if (ring_add(k, p, (size_t)(colon - p), colon + 1,
		    len - (size_t)(colon - p) - 1, errbuf, errlen) != 0)
			goto fail;
		p += len;
		if (*p == ',')
			p++;
	}
	return k;
fail:
	crypto_keys_free(k);
	return NULL;
}

struct crypto_keys *crypto_keys_from_cfg(const struct config *c, char *errbuf,
    size_t errlen)
{
	return crypto_keys_new(c->data_key, c->data_key_id, c->data_keys_old,
	    errbuf, errlen);
}

void crypto_keys_free(struct crypto_keys *k)
{
	if (k == NULL)
		return;
	crypto_wipe(k, sizeof *k);
	free(k);
}

const char *crypto_keys_current_id(const struct crypto_keys *k)
{
	return k->keys[0].id;
}

/* ---- AES-256-GCM ---- */

/* One GCM operation: enc=1 seals in[0..n) into out[0..n) and writes tag;
 * enc=0 opens and checks tag.  Returns 0 or -1. */
static int gcm(int enc, const unsigned char key[CRYPTO_KEY_LEN],
    const unsigned char nonce[CRYPTO_NONCE_LEN], const void *aad, size_t aadlen,
    const unsigned char *in, size_t n, unsigned char *out,
    unsigned char tag[CRYPTO_TAG_LEN])
{
	int ok = -1, len = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return -1;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCE_LEN,
	    NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
		goto out;
	if (n > 0 && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
	    tag) != 1)
		goto out;
	/* Opening: fails here when the tag does not match. */
	if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN,
	    tag) != 1)
		goto out;
	ok = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

int crypto_seal(const struct crypto_keys *k, const void *plain, size_t n,
    char *out, size_t outsz)
{
	enum { RAW_MAX = CRYPTO_NONCE_LEN + CRYPTO_SEAL_PLAIN_MAX + CRYPTO_TAG_LEN };
	unsigned char raw[RAW_MAX];
	char aad[3 + CRYPTO_KEYID_MAX + 1];
	int rc = -1;
	if (outsz > 0)
		out[0] = '\0';
	if (n > CRYPTO_SEAL_PLAIN_MAX)
		return -1;
	const struct crypto_key *key = &k->keys[0];
	int alen = snprintf(aad, sizeof aad, "%s:%s", seal_version, key->id);
	if (alen < 0 || (size_t)alen >= sizeof aad)
		return -1;
	if (crypto_random(raw, CRYPTO_NONCE_LEN) != 0)
		goto out;
	if (gcm(1, key->key, raw, aad, (size_t)alen, plain, n,
	    raw + CRYPTO_NONCE_LEN, raw + CRYPTO_NONCE_LEN + n) != 0)
		goto out;
	size_t rawlen = CRYPTO_NONCE_LEN + n + CRYPTO_TAG_LEN;
	size_t b64len = 4 * ((rawlen + 2) / 3);
	if ((size_t)alen + 1 + b64len + 1 > outsz)
		goto out;
	memcpy(out, aad, (size_t)alen);
	out[alen] = ':';
	/* EVP_EncodeBlock writes standard base64 with padding and a NUL. */
	if (EVP_EncodeBlock((unsigned char *)out + alen + 1, raw, (int)rawlen) !=
	    (int)b64len)
		goto out;
	rc = 0;
out:
	crypto_wipe(raw, sizeof raw);
	if (rc != 0 && outsz > 0)
		out[0] = '\0';
	return rc;
}

int crypto_open(const struct crypto_keys *k, const char *sealed, char *out,
    size_t outsz, size_t *outlen, char *keyid_out)
{
	enum { RAW_MAX = CRYPTO_NONCE_LEN + CRYPTO_SEAL_PLAIN_MAX + CRYPTO_TAG_LEN + 3 };
	unsigned char raw[RAW_MAX];
	int rc = -1;
	if (outsz > 0)
		out[0] = '\0';
	if (outlen != NULL)
		*outlen = 0;
	size_t vlen = strlen(seal_version);
	if (strncmp(sealed, seal_version, vlen) != 0 || sealed[vlen] != ':')
		return -1;
	const char *id = sealed + vlen + 1;
	const char *colon = strchr(id, ':');
	if (colon == NULL)
		return -1;
	size_t idlen = (size_t)(colon - id);
	if (!keyid_valid(id, idlen))
		return -1;
	const struct crypto_key *key = NULL;
	for (size_t i = 0; i < k->n; i++)
		if (strlen(k->keys[i].id) == idlen &&
		    memcmp(k->keys[i].id, id, idlen) == 0)
			key = &k->keys[i];
	if (key == NULL)
		return -1;
	const char *b64 = colon + 1;
	size_t b64len = strlen(b64);
	if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > sizeof raw)
		return -1;
	int dec = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64len);
	if (dec < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes; remove them. */
	size_t rawlen = (size_t)dec;
	if (b64[b64len - 1] == '=')
		rawlen--;
	if (b64[b64len - 2] == '=')
		rawlen--;
	if (rawlen < CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
		goto out;
	size_t n = rawlen - CRYPTO_NONCE_LEN - CRYPTO_TAG_LEN;
	if (n + 1 > outsz)
		goto out;
	if (gcm(0, key->key, raw, sealed, vlen + 1 + idlen, raw + CRYPTO_NONCE_LEN,
	    n, (unsigned char *)out, raw + CRYPTO_NONCE_LEN + n) != 0) {
		crypto_wipe(out, n);
		goto out;
	}
	out[n] = '\0';
	if (outlen != NULL)
		*outlen = n;
	if (keyid_out != NULL) {
		memcpy(keyid_out, id, idlen);
		keyid_out[idlen] = '\0';
	}
	rc = 0;
out:
	crypto_wipe(raw, sizeof raw);
	if (rc != 0 && outsz > 0)
		out[0] = '\0';
	return rc;
}
