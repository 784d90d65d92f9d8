#include "download.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "log.h"
#include "reportdef.h"
#include "reportstore.h"
#include "signurl.h"
#include "tenant_cache.h"

enum { ID_STR_MAX = 24, ETAG_MAX = 70 };	/* '"' + 64 hex + '"' + NUL */

/* True if the If-None-Match list (RFC 9110 13.1.2, weak comparison)
 * matches etag ("\"<hex>\""). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = p + strcspn(p, ",");
		const char *tend = end;
		while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t'))
			tend--;
		size_t n = (size_t)(tend - p);
		if (n == 1 && p[0] == '*')
			return true;
		if (n >= 2 && p[0] == 'W' && p[1] == '/') {
			p += 2;
			n -= 2;
		}
		if (n == elen && memcmp(p, etag, n) == 0)
			return true;
		p = end;
	}
	return false;
}

static void fail(struct http_req *r, int status, enum app_err code, const char *msg)
{
	http_respond_error(r, status, code, msg, "Cache-Control: no-store\r\n");
}

void download_handle(struct http_req *r, struct deps *d)
{
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		http_respond_error(r, 405, APP_ERR_BAD_INPUT, "method not allowed",
		    "Allow: GET, HEAD\r\n");
		return;
	}
	const struct config *c = cfg();
	struct signurl_target t;
	int v = signurl_verify(c->url_signing_key, strlen(c->url_signing_key), r->path,
	    r->query, (long long)time(NULL), &t);
	if (v == SIGNURL_EXPIRED) {
		fail(r, 410, APP_ERR_FORBIDDEN, "download link expired");
		return;
	}
	if (v != SIGNURL_OK) {
		/* Neither the path nor the query is logged: the query holds
		 * the signature, a bearer credential. */
		log_kv(LOG_INFO, "download_refused", "why", v == SIGNURL_MALFORMED ?
		    "malformed" : "bad_signature", NULL);
		fail(r, 403, APP_ERR_FORBIDDEN, "invalid download link");
		return;
	}
	char idbuf[ID_STR_MAX];
	int n = snprintf(idbuf, sizeof idbuf, "%lld", t.report_id);
	log_ctx_set("tenant", t.tenant_id);
	log_ctx_set("report", n > 0 && (size_t)n < sizeof idbuf ? idbuf : NULL);

	struct err e;
	err_clear(&e);
	const char *ext = signurl_format_ext(t.format);
	struct tenant_conn *h = tenant_acquire(d->tenants, t.tenant_id, &e);
	struct report_file f;
	int rc = h == NULL ? (int)e.code :
	    reportstore_file(h, -1, t.report_id, ext, r->arena, &f, &e);
	tenant_release(h);
	if (rc == APP_ERR_NOT_FOUND) {
		fail(r, 404, APP_ERR_NOT_FOUND, "report not found");
		return;
	}
	if (rc != 0) {
		log_kv(LOG_ERROR, "download_failed", "err", e.msg, "detail", e.detail, NULL);
		fail(r, rc == APP_ERR_UNAVAILABLE ? 503 : 500, APP_ERR_INTERNAL,
		    "internal error");
		return;
	}
	if (strcmp(f.status, REPORT_COMPLETED) != 0 || !f.present) {
		fail(r, 404, APP_ERR_NOT_FOUND, "report file not found");
		return;
	}
	char etag[ETAG_MAX];
	n = snprintf(etag, sizeof etag, "\"%s\"", f.sha256);
	if (n < 0 || (size_t)n >= sizeof etag) {
		fail(r, 500, APP_ERR_INTERNAL, "internal error");
		return;
	}
	/* The URL is a credential: shared caches must not keep the file;
	 * the client revalidates with the ETag. */
	const char *inm = http_header(r, "If-None-Match");
	if (inm != NULL && etag_matches(inm, etag)) {
		http_respond(r, 304, NULL, arena_printf(r->arena,
		    "ETag: %s\r\nCache-Control: private, no-cache\r\n", etag), "", 0);
		return;
	}
	bool json = t.format == SIGNURL_JSON;
	const char *headers = arena_printf(r->arena,
	    "Content-Disposition: attachment; filename=\"report-%lld.%s\"\r\n"
	    "ETag: %s\r\n"
	    "Cache-Control: private, no-cache\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    t.report_id, ext, etag);
	http_respond(r, 200, json ? "application/json" : "text/csv; charset=utf-8",
	    headers, f.content, f.len);
}
