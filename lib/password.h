/* password: bcrypt ($2b$, libxcrypt) hashing and verification, and the
 * password policy.
 *
 * bcrypt only reads the first 72 bytes of a password, so longer passwords
 * are rejected instead of silently truncated; so are passwords containing a
 * NUL byte.  Verification compares in constant time, and
 * password_dummy_verify() lets a login for an unknown user cost as much as
 * one for a known user with a wrong password. */
#ifndef PASSWORD_H
#define PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

enum {
	PASSWORD_MAX_LEN = 72,		/* bcrypt's limit, in bytes */
	PASSWORD_HASH_MAX = 128,	/* a $2b$ hash is 60 chars + NUL */
	PASSWORD_COST_MIN = 4,
	PASSWORD_COST_MAX = 15,
	PASSWORD_COST_DEFAULT = 10,
};

/* Checks pw[0..len) against the policy: min_len..PASSWORD_MAX_LEN bytes, no
 * NUL byte.  Returns 0 or APP_ERR_BAD_INPUT with a public message in e. */
int password_policy_check(const char *pw, size_t len, int min_len,
    struct err *e) __attribute__((warn_unused_result));

/* Hashes pw[0..len) (policy is the caller's business, but len > 72 or an
 * embedded NUL is refused) with bcrypt at cost (4-15) into out as
 * "$2b$NN$...".  Returns 0, or APP_ERR_BAD_INPUT (password unusable) or
 * APP_ERR_INTERNAL (libxcrypt or the RNG failed) with e filled. */
int password_hash(const char *pw, size_t len, int cost,
    char out[PASSWORD_HASH_MAX], struct err *e)
	__attribute__((warn_unused_result));

/* True if pw[0..len) matches hash (a bcrypt hash).  False for a malformed
 * hash, a password longer than 72 bytes or containing NUL.  The final
 * comparison is constant-time. */
bool password_verify(const char *pw, size_t len, const char *hash)
	__attribute__((warn_unused_result));

/* Costs one bcrypt verification at the given cost and returns nothing: call
 * it when the user is unknown so the answer takes as long as a wrong
 * password.  Cost 10 uses a built-in hash; another cost makes (once per
 * process) a hash of a random password. */
void password_dummy_verify(const char *pw, size_t len, int cost);

#endif
