#include "auth.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "cfg.h"
#include "crypto.h"

int auth_user(struct caller *c, const struct http_req *r, const struct deps *d,
    const struct token_claims **out, struct err *e)
{
	if (!c->checked) {
		c->checked = true;
		err_clear(&c->e);
		const char *h = http_header(r, "Authorization");
		if (h == NULL || h[0] == '\0') {
			c->rc = err_set(&c->e, APP_ERR_UNAUTHENTICATED,
			    "authentication required: send Authorization: Bearer <token>",
			    "no authorization header");
		} else if (strncasecmp(h, "Bearer ", 7) != 0) {
			c->rc = err_set(&c->e, APP_ERR_UNAUTHENTICATED,
			    "Authorization must be a Bearer token", "bad scheme");
		} else {
			const char *tok = h + 7;
			while (*tok == ' ')
				tok++;
			size_t len = strlen(tok);
			while (len > 0 && tok[len - 1] == ' ')
				len--;
			c->rc = token_verify(&d->tokens, tok, len, time(NULL), &c->claims, &c->e);
		}
	}
	if (c->rc != 0) {
		*e = c->e;
		return c->rc;
	}
	*out = &c->claims;
	return 0;
}

int auth_admin(const struct http_req *r, struct err *e)
{
	const char *want = cfg()->admin_key;
	if (want[0] == '\0')
		return err_set(e, APP_ERR_FORBIDDEN,
		    "tenant administration is disabled: no ADMIN_KEY is configured", NULL);
	const char *got = http_header(r, "X-Admin-Key");
	if (got == NULL || got[0] == '\0')
		return err_set(e, APP_ERR_UNAUTHENTICATED,
		    "admin key required: send the X-Admin-Key header", NULL);
	/* Compare digests so that neither the content nor the length of the
	 * configured key leaks through timing. */
	unsigned char hw[32], hg[32];
	static const char label[] = "admin-key";
	if (crypto_hmac_sha256(label, sizeof label - 1, want, strlen(want), hw) != 0 ||
	    crypto_hmac_sha256(label, sizeof label - 1, got, strlen(got), hg) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "hmac failed");
	if (!crypto_equal(hw, hg, sizeof hw))
		return err_set(e, APP_ERR_FORBIDDEN, "invalid admin key", NULL);
	return 0;
}
