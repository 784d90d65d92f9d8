#include "reports.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "cfg.h"
#include "clock.h"
#include "jsonh.h"
#include "kafka.h"
#include "log.h"
#include "reportstore.h"
#include "resolvers.h"
#include "sbuf.h"
#include "signurl.h"
#include "tenant_cache.h"
#include "utf8.h"

enum {
	LIST_DEFAULT = 20,
	EVENT_MAX = 256,	/* {"tenantID":"<63>","reportID":<10>} fits */
	ID_STR_MAX = 24,
};
_Static_assert(REPORTSTORE_ID_MAX == 1000000000, "the messages of arg_id()");

/* The caller's claims and a handle on its tenant database.  A tenant that
 * no longer exists makes the token useless: UNAUTHENTICATED. */
static int open_caller(struct app_ctx *app, const struct token_claims **who,
    struct tenant_conn **h, struct err *e)
{
	int rc = auth_user(&app->caller, app->req, app->deps, who, e);
	if (rc != 0)
		return rc;
	log_ctx_set("tenant", (*who)->tenant_id);
	*h = tenant_acquire(app->deps->tenants, (*who)->tenant_id, e);
	if (*h == NULL) {
		if (e->code == APP_ERR_NOT_FOUND)
			return err_set(e, APP_ERR_UNAUTHENTICATED,
			    "the token's tenant no longer exists", "%s", e->detail);
		return e->code;
	}
	return 0;
}

/* The id argument: BAD_USER_INPUT unless 1..REPORTSTORE_ID_MAX. */
static int arg_id(json_object *args, const char *name, long long *out, struct err *e)
{
	int64_t v = 0;
	if (!jsonh_int(args, name, &v) || !reportstore_id_valid(v))
		return err_set(e, APP_ERR_BAD_INPUT, strcmp(name, "after") == 0 ?
		    "after must be a report ID between 1 and 1000000000" :
		    "id must be a report ID between 1 and 1000000000", NULL);
	*out = v;
	return 0;
}

static json_object *iso_or_null(int64_t ms)
{
	if (ms < 0)
		return NULL;
	char buf[CLOCK_ISO_MAX];
	clock_iso8601(ms, buf);
	return json_object_new_string(buf);
}

/* A string of the database as a JSON string (invalid UTF-8, which no
 * writer should store, becomes null rather than broken output). */
static json_object *text_or_null(const char *s)
{
	if (s == NULL || !utf8_valid(s, strlen(s)))
		return NULL;
	return json_object_new_string(s);
}

/* The ProviderState list of v. */
static json_object *providers_json(const struct report_view *v)
{
	json_object *ps = json_object_new_array_ext(v->nproviders);
	for (int i = 0; i < v->nproviders; i++) {
		const struct report_provider_view *p = &v->providers[i];
		json_object *po = json_object_new_object();
		json_object_object_add(po, "name", json_object_new_string(p->name));
		json_object_object_add(po, "status", json_object_new_string(p->status));
		json_object_object_add(po, "attempts", json_object_new_int(p->attempts));
		json_object_object_add(po, "error", text_or_null(p->error));
		json_object_array_add(ps, po);
	}
	return ps;
}

/* The Report type for v of tenant_id; fileURL is a fresh signed URL once
 * the report is COMPLETED.  with_providers false leaves "providers" out:
 * reports_providers() then reads them if the query asks for them. */
static int report_json(const struct report_view *v, const char *tenant_id,
    bool with_providers, json_object **out, struct err *e)
{
	json_object *url = NULL;
	if (strcmp(v->status, REPORT_COMPLETED) == 0) {
		const struct config *c = cfg();
		char buf[SIGNURL_MAX];
		long long exp = (long long)time(NULL) + c->download_url_ttl_sec;
		if (signurl_make(c->url_signing_key, strlen(c->url_signing_key),
		    c->public_base_url, tenant_id, v->id, SIGNURL_CSV, exp, buf,
		    sizeof buf) != 0)
			return err_set(e, APP_ERR_INTERNAL, "internal error",
			    "cannot sign the download URL of report %lld", v->id);
		url = json_object_new_string(buf);
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "reportID", json_object_new_int64(v->id));
	json_object_object_add(o, "status", json_object_new_string(v->status));
	json_object_object_add(o, "progress", json_object_new_int(v->progress));
	json_object_object_add(o, "fileURL", url);
	if (with_providers)
		json_object_object_add(o, "providers", providers_json(v));
	json_object_object_add(o, "createdAt", iso_or_null(v->created_ms));
	json_object_object_add(o, "completedAt", iso_or_null(v->completed_ms));
	json_object_object_add(o, "error", text_or_null(v->error));
	*out = o;
	return 0;
}

/* Publishes report.create and waits for Kafka's acknowledgement within
 * REPORT_ANNOUNCE_TIMEOUT_MS.  0 when acknowledged. */
static int announce(struct app_ctx *app, const char *tenant_id, long long report_id,
    struct err *e)
{
	struct kafka_producer *p = deps_kafka(app->deps, e);
	if (p == NULL)
		return e->code;
	struct sbuf sb;
	sbuf_init(&sb, EVENT_MAX);
	sbuf_puts(&sb, "{\"tenantID\":");
	sbuf_json_str(&sb, tenant_id, strlen(tenant_id));
	sbuf_printf(&sb, ",\"reportID\":%lld}", report_id);
	int rc;
	if (sb.failed)
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "event too long");
	else
		rc = kafka_produce_wait(p, KAFKA_TOPIC_CREATE, tenant_id,
		    strlen(tenant_id), sb.p, sb.len, cfg()->report_announce_timeout_ms, e);
	sbuf_clear(&sb);
	return rc;
}

int reports_create(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	struct tenant_conn *h = NULL;
	struct report_view v;
	int rc = open_caller(app, &who, &h, e);
	if (rc != 0)
		goto out;
	rc = reportstore_create(h, who->user_id, &v, e);
	if (rc == APP_ERR_NOT_FOUND)
		rc = err_set(e, APP_ERR_UNAUTHENTICATED,
		    "the token's user no longer exists", "%s", e->detail);
	if (rc != 0)
		goto out;
	char idbuf[ID_STR_MAX];
	int n = snprintf(idbuf, sizeof idbuf, "%lld", v.id);
	log_ctx_set("report", n > 0 && (size_t)n < sizeof idbuf ? idbuf : NULL);

	/* The report is committed: from here on the request succeeds.  If
	 * Kafka does not confirm in time, announced stays false and the
	 * worker's reconciler announces it later (consumers tolerate a
	 * duplicate, should the late message still arrive). */
	struct err ke;
	err_clear(&ke);
	int64_t t0 = clock_mono_ms();
	if (announce(app, who->tenant_id, v.id, &ke) == 0) {
		struct err me;
		err_clear(&me);
		if (reportstore_mark_announced(h, v.id, &me) == 0)
			v.announced = true;
		else
			log_kv(LOG_WARN, "report_announced_flag_failed", "err", me.msg,
			    "detail", me.detail, NULL);
	} else {
		struct log_line l;
		log_begin(&l, LOG_WARN, "report_not_announced");
		log_str(&l, "err", ke.detail[0] ? ke.detail : ke.msg);
		log_int(&l, "ms", clock_mono_ms() - t0);
		log_end(&l);
	}
	{
		struct log_line l;
		log_begin(&l, LOG_INFO, "report_created");
		log_int(&l, "user", who->user_id);
		log_str(&l, "announced", v.announced ? "true" : "false");
		log_end(&l);
	}
	rc = report_json(&v, who->tenant_id, true, out, e);
out:
	tenant_release(h);
	return rc;
}

int reports_status(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	struct tenant_conn *h = NULL;
	long long id = 0;
	int rc = auth_user(&app->caller, app->req, app->deps, &who, e);
	if (rc == 0)
		rc = arg_id(call->args, "id", &id, e);
	if (rc == 0)
		rc = open_caller(app, &who, &h, e);
	if (rc != 0)
		goto out;
	struct report_view v;
	rc = reportstore_get_summary(h, who->user_id, id, call->arena, &v, e);
	if (rc == 0)
		rc = report_json(&v, who->tenant_id, false, out, e);
out:
	tenant_release(h);
	return rc;
}

int reports_providers(const struct gql_call *call, json_object **out, struct err *e)
{
	json_object *have;
	if (json_object_object_get_ex(call->parent, "providers", &have)) {
		*out = json_object_get(have);
		return 0;
	}
	int64_t id = 0;
	if (!jsonh_int(call->parent, "reportID", &id))
		return err_set(e, APP_ERR_INTERNAL, "internal error", "Report without reportID");
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	struct tenant_conn *h = NULL;
	int rc = open_caller(app, &who, &h, e);
	if (rc != 0)
		goto out;
	struct report_view v;
	rc = reportstore_get(h, who->user_id, id, call->arena, &v, e);
	if (rc == 0)
		*out = providers_json(&v);
out:
	tenant_release(h);
	return rc;
}

int reports_list(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	struct tenant_conn *h = NULL;
	json_object *arr = NULL;
	int rc = auth_user(&app->caller, app->req, app->deps, &who, e);
	if (rc != 0)
		goto out;
	int64_t first = LIST_DEFAULT;
	json_object *fv = NULL;
	if (json_object_object_get_ex(call->args, "first", &fv) && fv != NULL &&
	    (!jsonh_int(call->args, "first", &first) || first < 1 ||
	    first > REPORTSTORE_LIST_MAX)) {
		rc = err_set(e, APP_ERR_BAD_INPUT, "first must be between 1 and 100", NULL);
		goto out;
	}
	long long after = 0;
	json_object *av = NULL;
	if (json_object_object_get_ex(call->args, "after", &av) && av != NULL) {
		rc = arg_id(call->args, "after", &after, e);
		if (rc != 0)
			goto out;
	}
	rc = open_caller(app, &who, &h, e);
	if (rc != 0)
		goto out;
	struct report_view *vs;
	int n;
	rc = reportstore_list(h, who->user_id, after, (int)first, call->arena, &vs, &n, e);
	if (rc != 0)
		goto out;
	arr = json_object_new_array_ext(n);
	for (int i = 0; i < n; i++) {
		json_object *o;
		rc = report_json(&vs[i], who->tenant_id, true, &o, e);
		if (rc != 0)
			goto out;
		json_object_array_add(arr, o);
	}
	*out = arr;
	arr = NULL;
out:
	json_object_put(arr);
	tenant_release(h);
	return rc;
}

int reports_download(const struct gql_call *call, json_object **out, struct err *e)
{
	struct app_ctx *app = call->app;
	const struct token_claims *who;
	struct tenant_conn *h = NULL;
	long long id = 0;
	const char *fmt = jsonh_str(call->args, "format", NULL);
	bool json = fmt != NULL && strcmp(fmt, "JSON") == 0;
	int rc = auth_user(&app->caller, app->req, app->deps, &who, e);
	if (rc == 0)
		rc = arg_id(call->args, "id", &id, e);
	if (rc == 0 && fmt != NULL && !json && strcmp(fmt, "CSV") != 0)
		rc = err_set(e, APP_ERR_BAD_INPUT, "format must be CSV or JSON", NULL);
	if (rc == 0)
		rc = open_caller(app, &who, &h, e);
	if (rc != 0)
		goto out;
	struct report_file f;
	rc = reportstore_file(h, who->user_id, id, json ? "json" : "csv", call->arena,
	    &f, e);
	if (rc != 0)
		goto out;
	if (strcmp(f.status, REPORT_COMPLETED) != 0) {
		rc = err_set(e, APP_ERR_CONFLICT, "report is not completed yet",
		    "report %lld is %s", id, f.status);
		goto out;
	}
	if (!f.present) {
		log_kv(LOG_WARN, "report_file_missing", "format", json ? "json" : "csv", NULL);
		rc = err_set(e, APP_ERR_NOT_FOUND, "report file not found",
		    "report %lld is COMPLETED without a %s file", id, json ? "json" : "csv");
		goto out;
	}
	if (!utf8_valid(f.content, f.len)) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error",
		    "report %lld: stored file is not UTF-8", id);
		goto out;
	}
	char name[64];
	int n = snprintf(name, sizeof name, "report-%lld.%s", id, json ? "json" : "csv");
	if (n < 0 || (size_t)n >= sizeof name) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "file name");
		goto out;
	}
	json_object *o = json_object_new_object();
	json_object_object_add(o, "reportID", json_object_new_int64(id));
	json_object_object_add(o, "format", json_object_new_string(json ? "JSON" : "CSV"));
	json_object_object_add(o, "filename", json_object_new_string(name));
	json_object_object_add(o, "contentType", json_object_new_string(json ?
	    "application/json" : "text/csv; charset=utf-8"));
	json_object_object_add(o, "content",
	    json_object_new_string_len(f.content, (int)f.len));
	*out = o;
out:
	tenant_release(h);
	return rc;
}
