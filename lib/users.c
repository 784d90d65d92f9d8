#include "users.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "crypto.h"
#include "log.h"
#include "password.h"
#include "utf8.h"

enum { ID_STR_MAX = 24 };

static const char sql_dir_reserve[] =
    "INSERT INTO user_directory (username, tenant_id) VALUES ($1, $2)"
    " ON CONFLICT (username) DO NOTHING RETURNING username";
static const char sql_dir_release[] =
    "DELETE FROM user_directory WHERE username = $1 AND tenant_id = $2";
static const char sql_dir_lookup[] =
    "SELECT tenant_id FROM user_directory WHERE username = $1";

static const struct tenant_stmt st_user_insert = {
	"users_insert",
	"INSERT INTO users (username, password_hash, tax_id) VALUES ($1, $2, $3)"
	" RETURNING id::text",
	3, true,	/* not idempotent: an unknown outcome is checked instead */
};
static const struct tenant_stmt st_user_by_hash = {
	"users_by_name_hash",
	"SELECT id::text FROM users WHERE username = $1 AND password_hash = $2",
	2, false,
};
static const struct tenant_stmt st_user_by_name = {
	"users_by_name",
	"SELECT id::text, password_hash, tax_id FROM users WHERE username = $1",
	1, false,
};
static const struct tenant_stmt st_user_by_id = {
	"users_by_id",
	"SELECT username, tax_id FROM users WHERE id = $1::bigint",
	1, false,
};

void users_ctx_init(struct users_ctx *ctx, const struct config *c,
    struct db *master, struct tenant_cache *cache)
{
	ctx->master = master;
	ctx->cache = cache;
	ctx->bcrypt_cost = c->bcrypt_cost;
	ctx->password_min_len = c->password_min_len;
}

/* Non-ASCII code points allowed in usernames: everything that is not a
 * control, space, punctuation, format/bidi control, private use or
 * non-character.  A coarse "letter" test that needs no Unicode tables. */
static bool cp_letterlike(uint32_t cp)
{
	static const struct { uint32_t lo, hi; } bad[] = {
		{ 0x0080, 0x00BF },	/* C1 controls, Latin-1 punctuation */
		{ 0x00D7, 0x00D7 }, { 0x00F7, 0x00F7 },
		{ 0x034F, 0x034F },	/* combining grapheme joiner */
		{ 0x061C, 0x061C },	/* Arabic letter mark */
		{ 0x115F, 0x1160 }, { 0x17B4, 0x17B5 }, { 0x180B, 0x180F },
		{ 0x1680, 0x1680 },
		{ 0x2000, 0x206F },	/* spaces, ZW*, bidi, punctuation */
		{ 0x2E00, 0x2E7F },	/* supplemental punctuation */
		{ 0x3000, 0x3000 }, { 0x3164, 0x3164 },
		{ 0xD800, 0xF8FF },	/* surrogates, private use */
		{ 0xFDD0, 0xFDEF },	/* non-characters */
		{ 0xFE00, 0xFE0F },	/* variation selectors */
		{ 0xFEFF, 0xFEFF },	/* BOM / ZWNBSP */
		{ 0xFFA0, 0xFFA0 }, { 0xFFF0, 0xFFFF },
		{ 0x1D173, 0x1D17A }, { 0xE0000, 0xE0FFF },
		{ 0xF0000, 0x10FFFF },	/* private use planes */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cp >= bad[i].lo && cp <= bad[i].hi)
			return false;
	return (cp & 0xFFFE) != 0xFFFE;
}

static uint32_t decode_cp(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0];
	if (n == 2)
		return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
	if (n == 3)
		return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 |
		    (s[2] & 0x3F);
	return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
	    (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

bool users_name_valid(const char *s)
{
	size_t n = strlen(s), chars = 0;
	if (n == 0 || n >= USERS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.' || c == '@'))
				return false;
			i++;
		} else {
			size_t l = utf8_valid_seq(s + i, n - i);
			if (l == 0 ||
			    !cp_letterlike(decode_cp((const unsigned char *)s + i, l)))
				return false;
			i += l;
		}
		if (++chars > USERS_NAME_CHARS_MAX)
			return false;
	}
	return true;
}

bool users_taxid_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= USERS_TAXID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '/'))
			return false;
	}
	return true;
}

/* Copies src into dst[size], truncating; dst is always NUL-terminated. */
static void copy_bounded(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fill_info(struct user_info *out, long long id, const char *tenant_id,
    const char *username, const char *tax_id)
{
	if (out == NULL)
		return;
	memset(out, 0, sizeof *out);
	out->id = id;
	/* Sizes are validated (or come from validated columns); truncation
	 * cannot happen, but keep the copies bounded anyway. */
	copy_bounded(out->tenant_id, sizeof out->tenant_id, tenant_id);
	copy_bounded(out->username, sizeof out->username, username);
	copy_bounded(out->tax_id, sizeof out->tax_id, tax_id);
}

static long long parse_id(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' && end != s ? v : -1;
}

/* Removes the directory reservation of a sign-up that did not complete. */
static void release_name(const struct users_ctx *ctx, const char *username,
    const char *tenant_id)
{
	struct err e2;
	const char *p[] = { username, tenant_id };
	PGresult *r = db_exec(ctx->master, sql_dir_release, 2, p, "directory release",
	    &e2);
	if (r == NULL) {
		/* Left behind: a name reserved without a user.  Login treats it
		 * as unknown; the name stays taken until cleaned up. */
		struct log_line l;
		log_begin(&l, LOG_ERROR, "user_directory_orphan");
		log_str(&l, "tenant", tenant_id);
		log_str(&l, "err", e2.detail);
		log_end(&l);
		return;
	}
	PQclear(r);
}

int users_signup(const struct users_ctx *ctx, const char *tenant_id,
    const char *username, const char *password, size_t pwlen,
    const char *tax_id, struct user_info *out, struct err *e)
{
	char hash[PASSWORD_HASH_MAX];
	struct tenant_conn *h = NULL;
	PGresult *r = NULL;
	int rc;
	bool reserved = false;
	if (username == NULL || !users_name_valid(username))
		return err_set(e, APP_ERR_BAD_INPUT, "username must be 1-64 "
		    "characters: letters, digits, '-', '_', '.', '@'", NULL);
	if (tax_id == NULL || !users_taxid_valid(tax_id))
		return err_set(e, APP_ERR_BAD_INPUT, "taxID must be 1-32 characters: "
		    "letters, digits, '-', '.', '/'", NULL);
	if (password == NULL)
		return err_set(e, APP_ERR_BAD_INPUT, "password is required", NULL);
	if ((rc = password_policy_check(password, pwlen, ctx->password_min_len,
	    e)) != 0)
		return rc;
	struct tenant_info ti;
	if ((rc = tenant_get(ctx->master, tenant_id, &ti, e)) != 0)
		return rc;
	/* The slow part first, so a reservation lives only for milliseconds. */
	if ((rc = password_hash(password, pwlen, ctx->bcrypt_cost, hash, e)) != 0)
		return rc;

	const char *p1[] = { username, tenant_id };
	/* Sent once: after an unknown outcome a re-send would find our own
	 * reservation and call it a conflict. */
	r = db_exec_once(ctx->master, sql_dir_reserve, 2, p1, "directory reserve", e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_UNAVAILABLE;
		if (strstr(e ? e->detail : "", "sqlstate=23503") != NULL)
			rc = err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
			    "tenant %s deleted during sign-up", tenant_id);
		goto out;
	}
	if (PQntuples(r) != 1) {
		rc = err_set(e, APP_ERR_CONFLICT, "username already taken", NULL);
		goto out;
	}
	reserved = true;
	PQclear(r);
	r = NULL;

	h = tenant_acquire(ctx->cache, tenant_id, e);
	if (h == NULL) {
		rc = e ? (int)e->code : APP_ERR_UNAVAILABLE;
		goto out;
	}
	const char *p2[] = { username, hash, tax_id };
	r = tenant_exec_prepared(h, &st_user_insert, p2, e);
	if (r == NULL && e != NULL && e->code == APP_ERR_UNAVAILABLE) {
		/* The connection broke: did the INSERT commit?  The hash is
		 * unique (random salt), so finding it settles the question. */
		struct err e2;
		const char *p3[] = { username, hash };
		r = tenant_exec_prepared(h, &st_user_by_hash, p3, &e2);
		if (r != NULL && PQntuples(r) != 1) {
			PQclear(r);
			r = NULL;
		}
	}
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_INTERNAL;
		if (rc == APP_ERR_CONFLICT)
			err_set(e, APP_ERR_CONFLICT, "username already taken",
			    "tenant %s already has the user", tenant_id);
		goto out;
	}
	long long id = parse_id(PQgetvalue(r, 0, 0));
	fill_info(out, id, tenant_id, username, tax_id);
	{
		struct log_line l;
		log_begin(&l, LOG_INFO, "user_signed_up");
		log_str(&l, "tenant", tenant_id);
		log_int(&l, "user", id);
		log_end(&l);
	}
	reserved = false;	/* kept: the sign-up is complete */
	rc = 0;
out:
	PQclear(r);
	tenant_release(h);
	if (reserved)
		release_name(ctx, username, tenant_id);
	crypto_wipe(hash, sizeof hash);
	return rc;
}

static int invalid_credentials(struct err *e, const char *why)
{
	return err_set(e, APP_ERR_UNAUTHENTICATED, "invalid credentials", "%s", why);
}

int users_login(const struct users_ctx *ctx, const char *username,
    const char *password, size_t pwlen, struct user_info *out, struct err *e)
{
	struct tenant_conn *h = NULL;
	PGresult *r = NULL;
	char tenant_id[TENANT_ID_MAX];
	int rc;
	if (out != NULL)
		memset(out, 0, sizeof *out);
	if (password == NULL)
		password = "";
	if (username == NULL || !users_name_valid(username)) {
		password_dummy_verify(password, pwlen, ctx->bcrypt_cost);
		return invalid_credentials(e, "login: malformed username");
	}
	const char *p1[] = { username };
	r = db_exec(ctx->master, sql_dir_lookup, 1, p1, "directory lookup", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	if (PQntuples(r) != 1) {
		PQclear(r);
		password_dummy_verify(password, pwlen, ctx->bcrypt_cost);
		return invalid_credentials(e, "login: unknown user");
	}
	copy_bounded(tenant_id, sizeof tenant_id, PQgetvalue(r, 0, 0));
	PQclear(r);
	r = NULL;

	h = tenant_acquire(ctx->cache, tenant_id, e);
	if (h == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	r = tenant_exec_prepared(h, &st_user_by_name, p1, e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_UNAVAILABLE;
		goto out;
	}
	if (PQntuples(r) != 1) {
		/* A reservation whose sign-up never completed. */
		password_dummy_verify(password, pwlen, ctx->bcrypt_cost);
		rc = invalid_credentials(e, "login: directory entry without user");
		goto out;
	}
	/* password_verify refuses > 72 bytes, so a long password can never
	 * match through bcrypt's truncation. */
	if (!password_verify(password, pwlen, PQgetvalue(r, 0, 1))) {
		rc = invalid_credentials(e, "login: wrong password");
		goto out;
	}
	fill_info(out, parse_id(PQgetvalue(r, 0, 0)), tenant_id, username,
	    PQgetvalue(r, 0, 2));
	rc = 0;
out:
	PQclear(r);
	tenant_release(h);
	return rc;
}

int users_get(const struct users_ctx *ctx, const char *tenant_id,
    long long user_id, struct user_info *out, struct err *e)
{
	char id[ID_STR_MAX];
	int rc;
	if (out != NULL)
		memset(out, 0, sizeof *out);
	int n = snprintf(id, sizeof id, "%lld", user_id);
	if (n < 0 || (size_t)n >= sizeof id)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "user id");
	struct tenant_conn *h = tenant_acquire(ctx->cache, tenant_id, e);
	if (h == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	const char *p[] = { id };
	PGresult *r = tenant_exec_prepared(h, &st_user_by_id, p, e);
	if (r == NULL) {
		rc = e ? (int)e->code : APP_ERR_UNAVAILABLE;
	} else if (PQntuples(r) != 1) {
		rc = err_set(e, APP_ERR_NOT_FOUND, "user not found", "user %lld",
		    user_id);
	} else {
		fill_info(out, user_id, tenant_id, PQgetvalue(r, 0, 0),
		    PQgetvalue(r, 0, 1));
		rc = 0;
	}
	PQclear(r);
	tenant_release(h);
	return rc;
}
