#include "signurl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"

static const char PATH_PREFIX[] = "/reports/";

enum {
	/* "v1\n" + tenant + "\n" + id + "\n" + "json" + "\n" + exp */
	MSG_MAX = 3 + TENANT_ID_MAX + 1 + 20 + 1 + 4 + 1 + 20 + 1,
	DEC_DIGITS_MAX = 19,	/* a canonical decimal that fits long long */
};

const char *signurl_format_ext(enum signurl_format f)
{
	return f == SIGNURL_JSON ? "json" : "csv";
}

static bool inputs_valid(size_t keylen, const char *tenant_id, long long report_id,
    enum signurl_format format, long long exp)
{
	return keylen >= SIGNURL_KEY_MIN && tenant_id != NULL &&
	    tenant_id_valid(tenant_id) && report_id >= 1 &&
	    report_id <= SIGNURL_ID_MAX && exp >= 0 && exp <= SIGNURL_EXP_MAX &&
	    (format == SIGNURL_CSV || format == SIGNURL_JSON);
}

int signurl_sign(const void *key, size_t keylen, const char *tenant_id,
    long long report_id, enum signurl_format format, long long exp,
    char out[SIGNURL_SIG_LEN + 1])
{
	out[0] = '\0';
	if (key == NULL || !inputs_valid(keylen, tenant_id, report_id, format, exp))
		return -1;
	char msg[MSG_MAX];
	int n = snprintf(msg, sizeof msg, "v1\n%s\n%lld\n%s\n%lld", tenant_id,
	    report_id, signurl_format_ext(format), exp);
	if (n < 0 || (size_t)n >= sizeof msg)
		return -1;
	unsigned char mac[CRYPTO_SHA256_LEN];
	if (crypto_hmac_sha256(key, keylen, msg, (size_t)n, mac) != 0)
		return -1;
	long len = crypto_b64url_encode(mac, sizeof mac, out, SIGNURL_SIG_LEN + 1);
	crypto_wipe(mac, sizeof mac);
	if (len != SIGNURL_SIG_LEN) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

int signurl_make(const void *key, size_t keylen, const char *base_url,
    const char *tenant_id, long long report_id, enum signurl_format format,
    long long exp, char *out, size_t outsz)
{
	if (outsz == 0)
		return -1;
	out[0] = '\0';
	char sig[SIGNURL_SIG_LEN + 1];
	if (base_url == NULL ||
	    signurl_sign(key, keylen, tenant_id, report_id, format, exp, sig) != 0)
		return -1;
	size_t blen = strlen(base_url);
	while (blen > 0 && base_url[blen - 1] == '/')
		blen--;
	if (blen > (size_t)SIGNURL_MAX)
		return -1;
	int n = snprintf(out, outsz, "%.*s%s%s/%lld.%s?exp=%lld&sig=%s", (int)blen,
	    base_url, PATH_PREFIX, tenant_id, report_id, signurl_format_ext(format),
	    exp, sig);
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* A canonical decimal s[0..n) (digits only, no leading zero) <= max. */
static bool parse_dec(const char *s, size_t n, long long max, long long *out)
{
	if (n == 0 || n > DEC_DIGITS_MAX || (s[0] == '0' && n > 1))
		return false;
	long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');	/* 19 digits cannot overflow */
		if (v > max)
			return false;
	}
	*out = v;
	return true;
}

/* Parses "/reports/<tenant>/<id>.<ext>" into t. */
static bool parse_path(const char *path, struct signurl_target *t)
{
	size_t plen = sizeof PATH_PREFIX - 1;
	if (strncmp(path, PATH_PREFIX, plen) != 0)
		return false;
	const char *ten = path + plen;
	const char *slash = strchr(ten, '/');
	if (slash == NULL || slash == ten || (size_t)(slash - ten) >= TENANT_ID_MAX)
		return false;
	memcpy(t->tenant_id, ten, (size_t)(slash - ten));
	t->tenant_id[slash - ten] = '\0';
	if (!tenant_id_valid(t->tenant_id))
		return false;
	const char *file = slash + 1;
	const char *dot = strchr(file, '.');
	if (dot == NULL || !parse_dec(file, (size_t)(dot - file), SIGNURL_ID_MAX,
	    &t->report_id) || t->report_id < 1)
		return false;
	if (strcmp(dot + 1, "csv") == 0)
		t->format = SIGNURL_CSV;
	else if (strcmp(dot + 1, "json") == 0)
		t->format = SIGNURL_JSON;
	else
		return false;
	return true;
}

/* Finds exp and sig in a query string; each must occur exactly once. */
static bool parse_query(const char *q, const char **exp, size_t *exp_len,
    const char **sig, size_t *sig_len)
{
	*exp = *sig = NULL;
	*exp_len = *sig_len = 0;
	for (const char *p = q; *p != '\0';) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		if (eq != NULL) {
			size_t klen = (size_t)(eq - p);
			const char *v = eq + 1;
			size_t vlen = len - klen - 1;
			if (klen == 3 && memcmp(p, "exp", 3) == 0) {
				if (*exp != NULL)
					return false;
				*exp = v;
				*exp_len = vlen;
			} else if (klen == 3 && memcmp(p, "sig", 3) == 0) {
				if (*sig != NULL)
					return false;
				*sig = v;
				*sig_len = vlen;
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return *exp != NULL && *sig != NULL;
}

int signurl_verify(const void *key, size_t keylen, const char *path,
    const char *query, long long now, struct signurl_target *out)
{
	struct signurl_target t;
	memset(&t, 0, sizeof t);
	memset(out, 0, sizeof *out);
	if (key == NULL || path == NULL || query == NULL || !parse_path(path, &t))
		return SIGNURL_MALFORMED;
	const char *exp_s, *sig;
	size_t exp_len, sig_len;
	if (!parse_query(query, &exp_s, &exp_len, &sig, &sig_len) ||
	    !parse_dec(exp_s, exp_len, SIGNURL_EXP_MAX, &t.exp) ||
	    sig_len != SIGNURL_SIG_LEN)
		return SIGNURL_MALFORMED;
	char want[SIGNURL_SIG_LEN + 1];
	if (signurl_sign(key, keylen, t.tenant_id, t.report_id, t.format, t.exp,
	    want) != 0)
		return SIGNURL_MALFORMED;
	/* Comparing the canonical encodings also refuses a non-canonical
	 * last base64url character that would decode to the same mac. */
	bool ok = crypto_equal(want, sig, SIGNURL_SIG_LEN);
	crypto_wipe(want, sizeof want);
	if (!ok)
		return SIGNURL_BAD_SIGNATURE;
	if (now >= t.exp)
		return SIGNURL_EXPIRED;
	*out = t;
	return SIGNURL_OK;
}
