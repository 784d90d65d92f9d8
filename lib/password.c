#include "password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "xalloc.h"

enum { BCRYPT_HASH_LEN = 60 };

/* A $2b$10$ hash of a password nobody uses ("dummy-password-never-matches"). */
static const char dummy_hash_10[] =
    "$2b$10$QIkDbRJyMzjRmCfh.jFC0eM1nzBTdhIoly79gHOPCPeCxbar5dvsu";

/* Dummy hashes of other costs, made on first use. */
static char dummy_hashes[PASSWORD_COST_MAX + 1][PASSWORD_HASH_MAX];

int password_policy_check(const char *pw, size_t len, int min_len,
    struct err *e)
{
	if (len < (size_t)(min_len > 0 ? min_len : 1))
		return err_set(e, APP_ERR_BAD_INPUT, "password is too short",
		    "len=%zu min=%d", len, min_len);
	if (len > PASSWORD_MAX_LEN)
		return err_set(e, APP_ERR_BAD_INPUT,
		    "password is too long (at most 72 bytes)", "len=%zu", len);
	if (memchr(pw, '\0', len) != NULL)
		return err_set(e, APP_ERR_BAD_INPUT,
		    "password must not contain a NUL character", NULL);
	return 0;
}

/* The password as a NUL-terminated string for crypt_rn(); NULL if unusable. */
static bool usable(const char *pw, size_t len)
{
	return len <= PASSWORD_MAX_LEN && memchr(pw, '\0', len) == NULL;
}

/* crypt_rn() into out; struct crypt_data is ~32 KB, so it lives on the heap.
 * Returns 0 or -1. */
static int run_crypt(const char *pw, size_t len, const char *setting,
    char out[PASSWORD_HASH_MAX])
{
	char buf[PASSWORD_MAX_LEN + 1];
	int rc = -1;
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	memcpy(buf, pw, len);
	buf[len] = '\0';
	const char *h = crypt_rn(buf, setting, cd, (int)sizeof *cd);
	/* On failure crypt_rn returns NULL or a string starting with '*'. */
	if (h != NULL && h[0] != '*' && strlen(h) < PASSWORD_HASH_MAX) {
		memcpy(out, h, strlen(h) + 1);
		rc = 0;
	}
	crypto_wipe(buf, sizeof buf);
	crypto_wipe(cd, sizeof *cd);
	free(cd);
	return rc;
}

static bool hash_wellformed(const char *hash)
{
	return hash != NULL && strlen(hash) == BCRYPT_HASH_LEN &&
	    (strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$2a$", 4) == 0 ||
	    strncmp(hash, "$2y$", 4) == 0);
}

int password_hash(const char *pw, size_t len, int cost,
    char out[PASSWORD_HASH_MAX], struct err *e)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	char rnd[16];
	out[0] = '\0';
	if (!usable(pw, len))
		return err_set(e, APP_ERR_BAD_INPUT,
		    "password is too long or contains a NUL character", NULL);
	if (cost < PASSWORD_COST_MIN || cost > PASSWORD_COST_MAX)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "bcrypt cost %d out of range", cost);
	/* Our own random bytes rather than libxcrypt's choice, so the source is
	 * the same CSPRNG as everything else. */
	if (crypto_random(rnd, sizeof rnd) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "random bytes unavailable");
	errno = 0;
	if (crypt_gensalt_rn("$2b$", (unsigned long)cost, rnd, (int)sizeof rnd,
	    salt, (int)sizeof salt) == NULL)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "crypt_gensalt_rn failed: errno=%d", errno);
	if (run_crypt(pw, len, salt, out) != 0 || !hash_wellformed(out)) {
		out[0] = '\0';
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "crypt_rn failed");
	}
	return 0;
}

bool password_verify(const char *pw, size_t len, const char *hash)
{
	char got[PASSWORD_HASH_MAX];
	if (!hash_wellformed(hash) || !usable(pw, len))
		return false;
	if (run_crypt(pw, len, hash, got) != 0 || strlen(got) != BCRYPT_HASH_LEN)
		return false;
	bool ok = crypto_equal(got, hash, BCRYPT_HASH_LEN);
	crypto_wipe(got, sizeof got);
	return ok;
}

void password_dummy_verify(const char *pw, size_t len, int cost)
{
	const char *hash = dummy_hash_10;
	if (cost != 10 && cost >= PASSWORD_COST_MIN && cost <= PASSWORD_COST_MAX) {
		if (dummy_hashes[cost][0] == '\0') {
			char rnd[24], hex[2 * sizeof rnd + 1];
			struct err e;
			if (crypto_random(rnd, sizeof rnd) == 0 &&
			    crypto_hex_encode(rnd, sizeof rnd, hex, sizeof hex) == 0 &&
			    password_hash(hex, PASSWORD_MAX_LEN / 2, cost,
			    dummy_hashes[cost], &e) != 0)
				dummy_hashes[cost][0] = '\0';
		}
		if (dummy_hashes[cost][0] != '\0')
			hash = dummy_hashes[cost];
	}
	/* Unusable passwords still pay for a hash, of a fixed stand-in. */
	if (!usable(pw, len)) {
		pw = "x";
		len = 1;
	}
	bool matched = password_verify(pw, len, hash);
	/* The answer is meaningless; only the time spent matters. */
	(void)matched;
}
