/* signurl: signed download URLs of report files.
 *
 * A URL names one file of one report of one tenant and carries its own
 * authorisation, so that following it needs no token:
 *
 *   <PUBLIC_BASE_URL>/reports/<tenant>/<id>.<csv|json>?exp=<unix s>&sig=<mac>
 *
 * mac is base64url (no padding, 43 chars) of HMAC-SHA256 under
 * URL_SIGNING_KEY of the unambiguous message
 *
 *   "v1\n" <tenant> "\n" <id> "\n" <csv|json> "\n" <exp>
 *
 * Tenant IDs are [A-Za-z0-9_-] and the numbers are canonical decimals (no
 * sign, no leading zero), so no two different URLs share a message.  The
 * signature is checked in constant time BEFORE the expiry, so an unsigned
 * or tampered URL never learns whether it would have expired.  A URL is
 * valid while now < exp.
 *
 * Used by the FastCGI pool (fileURL of status/getReportUrl and the
 * /reports/ route) and by the worker (fileURL of report.ready). */
#ifndef SIGNURL_H
#define SIGNURL_H

#include <stddef.h>

#include "tenant.h"

enum signurl_format { SIGNURL_CSV, SIGNURL_JSON };

enum {
	SIGNURL_SIG_LEN = 43,		/* base64url of 32 bytes, unpadded */
	SIGNURL_KEY_MIN = 32,		/* bytes of URL_SIGNING_KEY */
	SIGNURL_MAX = 2048,		/* longest URL made (base URL <= 1023) */
	SIGNURL_ID_MAX = 2147483647,	/* reports.id is an int */
};

/* Largest exp accepted or made: year 9999, so it always fits in 64 bits
 * and every formatting of it is bounded. */
#define SIGNURL_EXP_MAX 253402300799LL

/* Results of signurl_verify(). */
enum signurl_result {
	SIGNURL_OK = 0,
	SIGNURL_MALFORMED = -1,		/* not a download path or query at all */
	SIGNURL_BAD_SIGNATURE = -2,	/* well-formed, but the mac is wrong */
	SIGNURL_EXPIRED = -3,		/* correctly signed, now >= exp */
};

/* What a verified URL names. */
struct signurl_target {
	char tenant_id[TENANT_ID_MAX];
	long long report_id;
	enum signurl_format format;
	long long exp;
};

/* "csv" or "json". */
const char *signurl_format_ext(enum signurl_format f);

/* The base64url mac of (tenant_id, report_id, format, exp) under
 * key[0..keylen) into out (NUL-terminated).  Returns 0, or -1 if an input
 * is invalid (tenant ID, id outside 1..SIGNURL_ID_MAX, exp outside
 * 0..SIGNURL_EXP_MAX, key shorter than SIGNURL_KEY_MIN) or HMAC fails. */
int signurl_sign(const void *key, size_t keylen, const char *tenant_id,
    long long report_id, enum signurl_format format, long long exp,
    char out[SIGNURL_SIG_LEN + 1]) __attribute__((warn_unused_result));

/* Builds base_url (its trailing '/' dropped) + the signed path and query
 * into out[outsz].  Returns 0, or -1 (as signurl_sign(), or out too
 * small); out is then "". */
int signurl_make(const void *key, size_t keylen, const char *base_url,
    const char *tenant_id, long long report_id, enum signurl_format format,
    long long exp, char *out, size_t outsz) __attribute__((warn_unused_result));

/* Checks a request: path is the decoded URI path ("/reports/t/1.csv"),
 * query the raw query string ("exp=..&sig=..", other parameters are
 * ignored, exp and sig must appear exactly once).  now is Unix seconds.
 * Returns SIGNURL_OK and fills out, or another enum signurl_result (out is
 * then zeroed). */
int signurl_verify(const void *key, size_t keylen, const char *path,
    const char *query, long long now, struct signurl_target *out)
	__attribute__((warn_unused_result));

#endif
