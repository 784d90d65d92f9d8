/* crypto: the few primitives the service needs, on OpenSSL 3.
 *
 * Sealing: AES-256-GCM of a small secret (a tenant database password) under
 * a configured key, as text for a text column:
 *
 *   v1:<keyid>:<base64(nonce[12] || ciphertext || tag[16])>
 *
 * The nonce is 96 random bits per seal; "v1:<keyid>" is authenticated as
 * additional data, so a value cannot be moved to another key id.  Opening
 * picks the key whose id matches (current key or one of DATA_KEYS_OLD), which
 * is how keys are rotated: add a new current key, keep the old one in
 * DATA_KEYS_OLD until every value has been re-sealed.
 *
 * Also: HMAC-SHA256, SHA-256 hex, constant-time comparison, secure random
 * bytes, hex and base64url helpers. */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

struct config;

enum {
	CRYPTO_KEY_LEN = 32,		/* AES-256 */
	CRYPTO_KEYID_MAX = 32,		/* bytes of a key id, [A-Za-z0-9_-] */
	CRYPTO_MAX_KEYS = 8,		/* current + retired keys */
	CRYPTO_NONCE_LEN = 12,
	CRYPTO_TAG_LEN = 16,
	CRYPTO_SEAL_PLAIN_MAX = 1024,	/* largest secret seal() accepts */
	/* "v1:" + id + ":" + base64 of nonce+plain+tag + NUL */
	CRYPTO_SEALED_MAX = 3 + CRYPTO_KEYID_MAX + 1 +
	    4 * ((CRYPTO_NONCE_LEN + CRYPTO_SEAL_PLAIN_MAX + CRYPTO_TAG_LEN + 2) / 3) + 1,
	CRYPTO_SHA256_LEN = 32,
	CRYPTO_SHA256_HEX = 65,		/* 64 hex digits + NUL */
};

/* A key ring: one current key (used to seal) and retired ones (open only).
 * Key bytes live in malloc'd memory owned by the ring and are wiped by
 * crypto_keys_free(). */
struct crypto_keys;

/* Builds a ring from the current key (64 hex chars), its id, and
 * old_keys ("id:hex,id:hex", may be NULL or "").  Returns NULL and a one-line
 * message in errbuf (never containing key material) if anything is bad. */
struct crypto_keys *crypto_keys_new(const char *key_hex, const char *key_id,
    const char *old_keys, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

/* crypto_keys_new() from DATA_KEY, DATA_KEY_ID and DATA_KEYS_OLD. */
struct crypto_keys *crypto_keys_from_cfg(const struct config *c, char *errbuf,
    size_t errlen) __attribute__((warn_unused_result));

/* Wipes and frees; NULL is a no-op. */
void crypto_keys_free(struct crypto_keys *k);

/* The id of the current key (owned by the ring). */
const char *crypto_keys_current_id(const struct crypto_keys *k);

/* Seals plain[0..n) (n <= CRYPTO_SEAL_PLAIN_MAX) with the current key into
 * out[outsz] as NUL-terminated text.  Returns 0, or -1 (n too large, out too
 * small, OpenSSL failure); out is then "". */
int crypto_seal(const struct crypto_keys *k, const void *plain, size_t n,
    char *out, size_t outsz) __attribute__((warn_unused_result));

/* Opens a value made by crypto_seal() into out[outsz] (NUL-terminated; *outlen
 * gets the length without the NUL).  Returns 0, or -1 if the text is
 * malformed, the key id is unknown, or authentication fails (tampering, wrong
 * key); out is then wiped.  If keyid_out is not NULL it receives the key id
 * (at most CRYPTO_KEYID_MAX + 1 bytes). */
int crypto_open(const struct crypto_keys *k, const char *sealed, char *out,
    size_t outsz, size_t *outlen, char *keyid_out)
	__attribute__((warn_unused_result));

/* HMAC-SHA256 of msg under key into out.  Returns 0 or -1.  The keyed
 * context of the last few keys is cached (and so a copy of each key kept)
 * for speed; the cache is not thread-safe: call from one thread. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t n, unsigned char out[CRYPTO_SHA256_LEN])
	__attribute__((warn_unused_result));

/* SHA-256 of data as 64 lower-case hex digits + NUL. */
void crypto_sha256_hex(const void *data, size_t n, char out[CRYPTO_SHA256_HEX]);

/* Compares n bytes in time independent of their contents. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* n bytes from the OS CSPRNG (via OpenSSL).  Returns 0 or -1. */
int crypto_random(void *buf, size_t n) __attribute__((warn_unused_result));

/* Overwrites n bytes with zeros in a way the compiler keeps. */
void crypto_wipe(void *p, size_t n);

/* Lower-case hex of in[0..n) into out[2n+1].  Returns 0, or -1 if outsz is
 * too small. */
int crypto_hex_encode(const void *in, size_t n, char *out, size_t outsz)
	__attribute__((warn_unused_result));

/* Decodes exactly 2*n hex digits of hex into out[n].  Returns 0, or -1 if
 * hex has another length or a non-hex character. */
int crypto_hex_decode(const char *hex, void *out, size_t n)
	__attribute__((warn_unused_result));

/* base64url without padding (RFC 4648 §5) of in[0..n) into out[outsz].
 * Returns the length written (without the NUL), or -1 if out is too small. */
long crypto_b64url_encode(const void *in, size_t n, char *out, size_t outsz)
	__attribute__((warn_unused_result));

/* Decodes unpadded base64url in[0..n) into out[outsz].  Returns the number of
 * bytes, or -1 on a bad character, bad length or a too small out. */
long crypto_b64url_decode(const char *in, size_t n, void *out, size_t outsz)
	__attribute__((warn_unused_result));

#endif
