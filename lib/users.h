/* users: sign-up, login and lookup of a tenant's users.
 *
 * A user lives in its tenant's database (users: username, bcrypt hash, tax
 * ID).  Usernames are unique across tenants through the master table
 * user_directory (username → tenant), which also lets login take only a
 * username and a password.
 *
 * Sign-up reserves the name in the directory first (its primary key makes
 * exactly one of concurrent sign-ups win), then inserts the user into the
 * tenant database; if that fails the reservation is removed again, so
 * neither a directory entry without a user nor a user without an entry is
 * left behind.  (A process killed between the two steps leaves a
 * reservation without a user: login treats it as an unknown user.)
 *
 * Login answers APP_ERR_UNAUTHENTICATED "invalid credentials" for an unknown
 * user and for a wrong password alike, after the same single bcrypt
 * verification. */
#ifndef USERS_H
#define USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "err.h"
#include "tenant_cache.h"

struct config;

enum {
	USERS_NAME_CHARS_MAX = 64,	/* characters (code points) */
	USERS_NAME_MAX = 256,		/* bytes incl. NUL */
	USERS_TAXID_MAX = 33,		/* 32 chars + NUL */
};

struct users_ctx {
	struct db *master;		/* borrowed */
	struct tenant_cache *cache;	/* borrowed */
	int bcrypt_cost;		/* BCRYPT_COST */
	int password_min_len;		/* PASSWORD_MIN_LEN */
};

struct user_info {
	long long id;
	char tenant_id[TENANT_ID_MAX];
	char username[USERS_NAME_MAX];
	char tax_id[USERS_TAXID_MAX];
};

/* Fills ctx from the configuration and the borrowed master and cache. */
void users_ctx_init(struct users_ctx *ctx, const struct config *c,
    struct db *master, struct tenant_cache *cache);

/* True if s is a valid username: 1-64 characters, each an ASCII letter or
 * digit, one of "-_.@", or a non-ASCII letter-like code point (not
 * punctuation, spaces, format/bidi controls or private use). */
bool users_name_valid(const char *s);

/* True if s is a valid tax ID: 1-32 of ASCII letters, digits, '-', '.', '/'. */
bool users_taxid_valid(const char *s);

/* Creates a user of tenant_id.  password[0..pwlen) may contain any bytes
 * but NUL.  Returns 0 and fills out (may be NULL), or with e filled:
 * APP_ERR_BAD_INPUT (invalid username, tax ID or password), APP_ERR_NOT_FOUND
 * (no such tenant), APP_ERR_CONFLICT (username taken, in any tenant),
 * APP_ERR_UNAVAILABLE, APP_ERR_INTERNAL. */
int users_signup(const struct users_ctx *ctx, const char *tenant_id,
    const char *username, const char *password, size_t pwlen,
    const char *tax_id, struct user_info *out, struct err *e)
	__attribute__((warn_unused_result));

/* Checks a username and password.  Returns 0 and fills out (what the access
 * token needs), or APP_ERR_UNAUTHENTICATED "invalid credentials" (unknown
 * user or wrong password), APP_ERR_UNAVAILABLE or APP_ERR_INTERNAL with e
 * filled. */
int users_login(const struct users_ctx *ctx, const char *username,
    const char *password, size_t pwlen, struct user_info *out, struct err *e)
	__attribute__((warn_unused_result));

/* The user user_id of tenant_id (for `me`).  Returns 0, or APP_ERR_NOT_FOUND,
 * APP_ERR_UNAVAILABLE, APP_ERR_INTERNAL with e filled. */
int users_get(const struct users_ctx *ctx, const char *tenant_id,
    long long user_id, struct user_info *out, struct err *e)
	__attribute__((warn_unused_result));

#endif
