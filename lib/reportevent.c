#include "reportevent.h"

#include <string.h>

#include "arena.h"
#include "cfg.h"
#include "clock.h"
#include "jsonh.h"
#include "signurl.h"
#include "utf8.h"

enum { ARENA_BLOCK = 4096 };

void reportevent_signer_from_cfg(struct reportevent_signer *s,
    const struct config *c)
{
	s->key = c->url_signing_key;
	s->keylen = strlen(c->url_signing_key);
	s->base_url = c->public_base_url;
	s->ttl_sec = c->download_url_ttl_sec;
}

/* A database text as a JSON string, or null (also for invalid UTF-8,
 * which no writer stores, as the API does). */
static void text_or_null(struct sbuf *sb, const char *s)
{
	if (s == NULL || !utf8_valid(s, strlen(s)))
		sbuf_puts(sb, "null");
	else
		sbuf_json_str(sb, s, strlen(s));
}

static void iso_or_null(struct sbuf *sb, int64_t ms)
{
	if (ms < 0) {
		sbuf_puts(sb, "null");
		return;
	}
	char buf[CLOCK_ISO_MAX];
	clock_iso8601(ms, buf);
	sbuf_json_str(sb, buf, strlen(buf));
}

int reportevent_json(const struct report_view *v, const char *tenant_id,
    const char *file_url, struct sbuf *out, struct err *e)
{
	size_t start = out->len;
	sbuf_puts(out, "{\"tenantID\":");
	sbuf_json_str(out, tenant_id, strlen(tenant_id));
	sbuf_printf(out, ",\"reportID\":%lld,\"userID\":%lld,\"status\":", v->id,
	    v->owner_id);
	sbuf_json_str(out, v->status, strlen(v->status));
	sbuf_printf(out, ",\"progress\":%d,\"fileURL\":", v->progress);
	text_or_null(out, file_url);
	sbuf_puts(out, ",\"error\":");
	text_or_null(out, v->error);
	sbuf_puts(out, ",\"createdAt\":");
	iso_or_null(out, v->created_ms);
	sbuf_puts(out, ",\"completedAt\":");
	iso_or_null(out, v->completed_ms);
	sbuf_puts(out, ",\"providers\":[");
	for (int i = 0; i < v->nproviders; i++) {
		const struct report_provider_view *p = &v->providers[i];
		sbuf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		sbuf_json_str(out, p->name, strlen(p->name));
		sbuf_puts(out, ",\"status\":");
		sbuf_json_str(out, p->status, strlen(p->status));
		sbuf_printf(out, ",\"attempts\":%d,\"error\":", p->attempts);
		text_or_null(out, p->error);
		sbuf_putc(out, '}');
	}
	sbuf_puts(out, "]}");
	if (out->failed || out->len - start > REPORTEVENT_MAX)
		return err_set(e, APP_ERR_TOO_LARGE, "event too large",
		    "report %lld: event over %d bytes", v->id, REPORTEVENT_MAX);
	return 0;
}

int reportevent_build(struct tenant_conn *h, long long report_id,
    const struct reportevent_signer *s, long long now_s, struct sbuf *out,
    char *status_out, struct err *e)
{
	struct arena *a = arena_new(ARENA_BLOCK);
	struct report_view v;
	int rc = reportstore_get(h, -1, report_id, a, &v, e);
	if (rc != 0)
		goto out;
	if (status_out != NULL) {
		memcpy(status_out, v.status, sizeof v.status);
		status_out[REPORTSTORE_STATUS_MAX - 1] = '\0';
	}
	char url[SIGNURL_MAX];
	const char *file_url = NULL;
	if (strcmp(v.status, REPORT_COMPLETED) == 0) {
		if (signurl_make(s->key, s->keylen, s->base_url,
		    tenant_conn_tenant(h), v.id, SIGNURL_CSV, now_s + s->ttl_sec,
		    url, sizeof url) != 0) {
			rc = err_set(e, APP_ERR_INTERNAL, "internal error",
			    "cannot sign the download URL of report %lld", v.id);
			goto out;
		}
		file_url = url;
	}
	rc = reportevent_json(&v, tenant_conn_tenant(h), file_url, out, e);
out:
	arena_free(a);
	return rc;
}

int reportevent_parse_create(const char *payload, size_t len,
    char tenant[TENANT_ID_MAX], long long *report_id)
{
	if (payload == NULL || len > REPORTEVENT_CREATE_MAX)
		return -1;
	const char *why = NULL;
	json_object *o = jsonh_parse(payload, len, 4, &why);
	if (o == NULL)
		return -1;
	int rc = -1;
	size_t n = 0;
	const char *t = jsonh_str(o, "tenantID", &n);
	int64_t rid = 0;
	if (json_object_is_type(o, json_type_object) && t != NULL && n < TENANT_ID_MAX &&
	    strlen(t) == n && tenant_id_valid(t) && jsonh_int(o, "reportID", &rid) &&
	    rid >= 1 && rid <= 2147483647) {
		memcpy(tenant, t, n + 1);
		*report_id = rid;
		rc = 0;
	}
	json_object_put(o);
	return rc;
}
