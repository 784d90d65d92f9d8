#include "reportwork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "jsonh.h"
#include "utf8.h"
#include "xalloc.h"

enum { NUM_MAX = 24, PATH_MAX_BYTES = 1024 };

/* ---- pure parts --------------------------------------------------------- */

int reportwork_progress(int done, int total)
{
	if (total <= 0 || done < 0)
		return 0;
	if (done >= total)
		return 100;
	return (int)((long long)done * 100 / total);
}

void reportwork_csv_field(struct sbuf *sb, const char *s, size_t n)
{
	bool quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; i < n && !quote; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			quote = true;
	if (!quote) {
		sbuf_append(sb, s, n);
		return;
	}
	sbuf_putc(sb, '"');
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') {
			sbuf_append(sb, s + from, i + 1 - from);
			sbuf_putc(sb, '"');
			from = i + 1;
		}
	}
	sbuf_append(sb, s + from, n - from);
	sbuf_putc(sb, '"');
}

void reportwork_strip_nulls(json_object *o)
{
	if (json_object_is_type(o, json_type_object)) {
		/* Collect first: deleting while iterating is not allowed. */
		const char *gone[64];
		for (;;) {
			size_t n = 0;
			json_object_object_foreach(o, k, v) {
				if (v == NULL) {
					if (n < sizeof gone / sizeof gone[0])
						gone[n++] = k;
				} else {
					reportwork_strip_nulls(v);
				}
			}
			if (n == 0)
				break;
			for (size_t i = 0; i < n; i++)
				json_object_object_del(o, gone[i]);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t len = json_object_array_length(o);
		for (size_t i = len; i-- > 0;) {
			json_object *v = json_object_array_get_idx(o, i);
			if (v == NULL)
				json_object_array_del_idx(o, i, 1);
			else
				reportwork_strip_nulls(v);
		}
	}
}

/* True if s is a JSON-style number ("-12", "3.5e2"). */
static bool looks_numeric(const char *s)
{
	char *end = NULL;
	if (*s == '\0')
		return false;
	(void)strtod(s, &end);	/* only the end position matters */
	return end != NULL && *end == '\0';
}

static void csv_value(struct sbuf *sb, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string: {
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		if (n > 0 && strchr("=+-@\t\r", s[0]) != NULL && !looks_numeric(s)) {
			struct sbuf t;
			sbuf_init(&t, REPORTWORK_FILE_MAX);
			sbuf_putc(&t, '\'');
			sbuf_append(&t, s, n);
			reportwork_csv_field(sb, t.p, t.len);
			if (t.failed)
				sb->failed = true;
			sbuf_clear(&t);
		} else {
			reportwork_csv_field(sb, s, n);
		}
		break;
	}
	case json_type_int:
		sbuf_printf(sb, "%lld", (long long)json_object_get_int64(v));
		break;
	case json_type_boolean:
		sbuf_puts(sb, json_object_get_boolean(v) ? "true" : "false");
		break;
	default: {
		const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		reportwork_csv_field(sb, t, strlen(t));
		break;
	}
	}
}

/* One row per scalar below v; path holds the dotted path so far. */
static void csv_walk(struct sbuf *sb, const char *section, struct sbuf *path,
    json_object *v, int depth)
{
	if (v == NULL || depth > REPORTWORK_DATA_DEPTH)
		return;
	size_t mark = path->len;
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, sub) {
			if (path->len > 0)
				sbuf_putc(path, '.');
			sbuf_puts(path, k);
			csv_walk(sb, section, path, sub, depth + 1);
			path->len = mark;
			path->p[mark] = '\0';
		}
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			sbuf_printf(path, "%s%zu", path->len > 0 ? "." : "", i);
			csv_walk(sb, section, path, json_object_array_get_idx(v, i), depth + 1);
			path->len = mark;
			path->p[mark] = '\0';
		}
	} else {
		reportwork_csv_field(sb, section, strlen(section));
		sbuf_putc(sb, ',');
		reportwork_csv_field(sb, path->p, path->len);
		sbuf_putc(sb, ',');
		csv_value(sb, v);
		sbuf_puts(sb, "\r\n");
	}
}

static int too_large(struct err *e, const char *what)
{
	return err_set(e, APP_ERR_TOO_LARGE, "report too large", "%s exceeds %d bytes",
	    what, REPORTWORK_FILE_MAX);
}

int reportwork_build_csv(long long report_id, int64_t generated_ms,
    json_object *const data[REPORT_PROVIDERS_N], struct sbuf *out, struct err *e)
{
	char ts[CLOCK_ISO_MAX];
	clock_iso8601(generated_ms, ts);
	struct sbuf path;
	sbuf_init(&path, PATH_MAX_BYTES);
	sbuf_puts(out, "section,field,value\r\n");
	sbuf_printf(out, "report,reportID,%lld\r\nreport,generatedAt,%s\r\n", report_id, ts);
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		sbuf_reset(&path);
		csv_walk(out, report_providers[k], &path, data[k], 0);
		if (path.failed)
			out->failed = true;
	}
	sbuf_clear(&path);
	if (out->failed || out->len > REPORTWORK_FILE_MAX)
		return too_large(e, "csv");
	return 0;
}

int reportwork_build_json(long long report_id, int64_t generated_ms,
    json_object *const data[REPORT_PROVIDERS_N], struct sbuf *out, struct err *e)
{
	char ts[CLOCK_ISO_MAX];
	clock_iso8601(generated_ms, ts);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "reportID", json_object_new_int64(report_id));
	json_object_object_add(o, "generatedAt", json_object_new_string(ts));
	json_object *ps = json_object_new_object();
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		json_object *copy = NULL;
		if (data[k] == NULL || json_object_deep_copy(data[k], &copy, NULL) != 0)
			copy = json_object_new_object();
		reportwork_strip_nulls(copy);
		json_object_object_add(ps, report_providers[k], copy);
	}
	json_object_object_add(o, "providers", ps);
	size_t len = 0;
	const char *text = jsonh_text(o, &len);
	sbuf_append(out, text, len);
	json_object_put(o);
	if (out->failed || out->len > REPORTWORK_FILE_MAX)
		return too_large(e, "json");
	return 0;
}

static bool job_id_valid(const char *s, size_t n)
{
	if (n < 1 || n > REPORTWORK_JOBID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* True if JSON text holds the escape \u0000 (a backslash that is not
 * itself escaped, then u0000): PostgreSQL's jsonb cannot store U+0000. */
static bool has_nul_escape(const char *text)
{
	for (const char *p = strstr(text, "\\u0000"); p != NULL; p = strstr(p + 1, "\\u0000")) {
		size_t slashes = 1;
		while (p - (ptrdiff_t)slashes >= text && p[-(ptrdiff_t)slashes] == '\\')
			slashes++;
		if (slashes % 2 == 1)
			return true;
	}
	return false;
}

void reportwork_parse_answer(const char *body, size_t len,
    struct reportwork_answer *out)
{
	memset(out, 0, sizeof *out);
	out->kind = REPORTWORK_ANSWER_MALFORMED;
	if (len > REPORTWORK_BODY_MAX) {
		out->why = "response too large";
		return;
	}
	if (!utf8_valid(body, len)) {
		out->why = "response is not UTF-8";
		return;
	}
	const char *why = NULL;
	json_object *o = jsonh_parse(body, len, REPORTWORK_DATA_DEPTH + 2, &why);
	if (o == NULL) {
		out->why = "malformed JSON response";
		return;
	}
	if (!json_object_is_type(o, json_type_object)) {
		out->why = "response is not an object";
		goto out;
	}
	const char *status = jsonh_str(o, "status", NULL);
	size_t idlen = 0;
	const char *id = jsonh_str(o, "jobID", &idlen);
	if (id != NULL && !job_id_valid(id, idlen)) {
		out->why = "invalid jobID";
		goto out;
	}
	if (status != NULL && strcmp(status, "processing") == 0) {
		if (id == NULL) {
			out->why = "processing without jobID";
			goto out;
		}
		memcpy(out->job_id, id, idlen);
		out->job_id[idlen] = '\0';
		out->kind = REPORTWORK_ANSWER_PROCESSING;
	} else if (status != NULL && strcmp(status, "completed") == 0) {
		json_object *data = jsonh_obj(o, "data");
		if (data == NULL) {
			out->why = "completed without a data object";
			goto out;
		}
		const char *text = jsonh_text(data, NULL);
		if (text == NULL || has_nul_escape(text)) {
			out->why = "data holds a U+0000 character";
			goto out;
		}
		if (id != NULL) {
			memcpy(out->job_id, id, idlen);
			out->job_id[idlen] = '\0';
		}
		out->data = json_object_get(data);
		out->kind = REPORTWORK_ANSWER_COMPLETED;
	} else {
		out->why = "unknown status";
	}
out:
	json_object_put(o);
}

/* ---- database ----------------------------------------------------------- */

static const struct tenant_stmt st_load_many = {
	"work_load_many",
	"SELECT r.status, r.owner_id, r.progress, u.tax_id, p.provider, p.status,"
	" p.attempts, CASE WHEN p.status = 'PROCESSING' THEN p.data->>'jobID' END,"
	" p.last_error, r.id, CASE WHEN p.status = 'COMPLETED' THEN p.data::text END"
	" FROM reports r JOIN users u ON u.id = r.owner_id"
	" LEFT JOIN report_providers p ON p.report_id = r.id"
	" WHERE r.id = ANY ($1::int[])",
	1, false,
};

/* The reports and their provider rows come as one JSON array (escaped by
 * sbuf_json_str), so the statement is constant whatever their number:
 * [{"id":..,"progress":..,"attempts":..,"providers":[{"provider":..,
 * "status":..,"attempts":..,"last_error":..,"data":..}, ..]}, ..]. */
static const struct tenant_stmt st_save = {
	"work_save_many",
	"WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
	" AS x(id int, progress int, attempts int, providers jsonb)),"
	" r AS (UPDATE reports t SET status = 'IN_PROGRESS',"
	" progress = greatest(t.progress, x.progress),"
	" attempts = greatest(t.attempts, x.attempts), updated_at = now()"
	" FROM x WHERE t.id = x.id AND t.status IN ('PENDING', 'IN_PROGRESS')"
	" RETURNING t.id, t.progress,"
	" floor(extract(epoch FROM t.created_at) * 1000)::bigint AS created_ms),"
	" p AS (INSERT INTO report_providers AS rp"
	" (report_id, provider, status, attempts, last_error, data, updated_at)"
	" SELECT r.id, y.provider, y.status, y.attempts, y.last_error, y.data, now()"
	" FROM r JOIN x ON x.id = r.id, jsonb_to_recordset(x.providers) AS y(provider text,"
	" status text, attempts int, last_error text, data jsonb)"
	" ON CONFLICT (report_id, provider) DO UPDATE SET status = excluded.status,"
	" attempts = excluded.attempts, last_error = excluded.last_error,"
	" data = excluded.data, updated_at = now()"
	" WHERE rp.status <> 'COMPLETED')"
	" SELECT id, progress, created_ms FROM r",
	1, false,
};

static const struct tenant_stmt st_load_data = {
	"work_load_data",
	"SELECT provider, data::text FROM report_providers"
	" WHERE report_id = $1::int AND status = 'COMPLETED' AND data IS NOT NULL",
	1, false,
};

#define END_TIMES \
	"floor(extract(epoch FROM created_at) * 1000)::bigint AS created_ms," \
	" floor(extract(epoch FROM completed_at) * 1000)::bigint AS completed_ms"

/* One statement: the files exist exactly when the report is COMPLETED.
 * The reports come as a JSON array [{"id":..,"attempts":..,"csv":..,
 * "csv_sha":..,"json":..,"json_sha":..}, ..] (json, not jsonb: parsed
 * once, never stored as such). */
static const struct tenant_stmt st_complete = {
	"work_complete_many",
	"WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(id int,"
	" attempts int, csv text, csv_sha text, json text, json_sha text)),"
	" u AS (UPDATE reports t SET status = 'COMPLETED', progress = 100,"
	" error = NULL, completed_at = now(), updated_at = now(),"
	" attempts = greatest(t.attempts, x.attempts)"
	" FROM x WHERE t.id = x.id AND t.status IN ('PENDING', 'IN_PROGRESS')"
	" RETURNING t.id, " END_TIMES "),"
	" f AS (INSERT INTO report_files (report_id, format, content, sha256)"
	" SELECT u.id, 'csv', convert_to(x.csv, 'UTF8'), x.csv_sha FROM u JOIN x ON x.id = u.id"
	" UNION ALL SELECT u.id, 'json', convert_to(x.json, 'UTF8'), x.json_sha"
	" FROM u JOIN x ON x.id = u.id"
	" ON CONFLICT DO NOTHING)"
	" SELECT id, created_ms, completed_ms FROM u",
	1, true,
};

static const struct tenant_stmt st_fail = {
	"work_fail",
	"WITH u AS (UPDATE reports SET status = 'FAILED', error = $2::text,"
	" completed_at = now(), updated_at = now(), attempts = greatest(attempts, $3::int)"
	" WHERE id = $1::int AND status IN ('PENDING', 'IN_PROGRESS') RETURNING id, " END_TIMES "),"
	" p AS (UPDATE report_providers rp SET status = 'FAILED', updated_at = now()"
	" FROM u WHERE rp.report_id = u.id AND rp.status <> 'COMPLETED')"
	" SELECT created_ms, completed_ms FROM u",
	3, true,
};

static const struct tenant_stmt st_ready_announced = {
	"work_ready_announced",
	"UPDATE reports SET ready_announced = true WHERE id = ANY ($1::int[])",
	1, false,
};

static const struct tenant_stmt st_list_open = {
	"work_list_open",
	"SELECT id FROM reports WHERE status IN ('PENDING', 'IN_PROGRESS')"
	" AND updated_at < now() - make_interval(secs => $1::int / 1000.0)"
	" ORDER BY updated_at LIMIT $2::int",
	2, false,
};

static const struct tenant_stmt st_list_unannounced = {
	"work_list_unannounced",
	"SELECT id FROM reports WHERE status IN ('COMPLETED', 'FAILED')"
	" AND NOT ready_announced"
	" AND completed_at < now() - make_interval(secs => $1::int / 1000.0)"
	" ORDER BY id LIMIT $2::int",
	2, false,
};

static int fmt_num(char *buf, size_t size, long long v)
{
	int n = snprintf(buf, size, "%lld", v);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int provider_index(const char *name)
{
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		if (strcmp(name, report_providers[k]) == 0)
			return k;
	return -1;
}

static int bad_shape(PGresult *r, const char *what, struct err *e)
{
	err_set(e, APP_ERR_INTERNAL, "internal error", "%s: unexpected result shape",
	    what);
	PQclear(r);
	return APP_ERR_INTERNAL;
}

static void ctx_init(struct reportwork_ctx *out, long long report_id,
    const PGresult *r, int row)
{
	memset(out, 0, sizeof *out);
	out->report_id = report_id;
	copy_str(out->status, sizeof out->status, PQgetvalue(r, row, 0));
	out->owner_id = strtoll(PQgetvalue(r, row, 1), NULL, 10);
	out->progress = atoi(PQgetvalue(r, row, 2));
	copy_str(out->tax_id, sizeof out->tax_id, PQgetvalue(r, row, 3));
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		copy_str(out->p[k].status, sizeof out->p[k].status, PROVIDER_PENDING);
}

static void ctx_add(struct reportwork_ctx *out, const PGresult *r, int i)
{
	if (PQgetisnull(r, i, 4))
		return;
	int k = provider_index(PQgetvalue(r, i, 4));
	if (k < 0)
		return;
	struct reportwork_provider *p = &out->p[k];
	copy_str(p->status, sizeof p->status, PQgetvalue(r, i, 5));
	p->attempts = atoi(PQgetvalue(r, i, 6));
	if (!PQgetisnull(r, i, 7)) {
		const char *j = PQgetvalue(r, i, 7);
		if (job_id_valid(j, strlen(j)))
			copy_str(p->job_id, sizeof p->job_id, j);
	}
	if (!PQgetisnull(r, i, 8)) {
		p->has_error = true;
		copy_str(p->error, sizeof p->error, PQgetvalue(r, i, 8));
	}
}

static int id_array(struct sbuf *arr, const long long *ids, int n)
{
	sbuf_init(arr, (size_t)n * 12 + 3);
	sbuf_putc(arr, '{');
	for (int i = 0; i < n; i++)
		sbuf_printf(arr, "%s%lld", i ? "," : "", ids[i]);
	sbuf_putc(arr, '}');
	return arr->failed ? -1 : 0;
}

void reportwork_load_send(struct tenant_conn *h, struct reportwork_load *l)
{
	l->sent = false;
	if (l->n < 1 || l->n > REPORTWORK_LOAD_MAX)
		return;
	for (int i = 0; i < l->n; i++) {
		l->found[i] = false;
		for (int k = 0; k < REPORT_PROVIDERS_N; k++)
			l->data[i * REPORT_PROVIDERS_N + k] = NULL;
	}
	if (id_array(&l->arr, l->ids, l->n) != 0) {
		sbuf_clear(&l->arr);
		return;
	}
	l->sent = true;
	const char *params[] = { l->arr.p };
	tenant_send_prepared(h, &st_load_many, params);
}

int reportwork_load_collect(struct tenant_conn *h, struct reportwork_load *l,
    struct err *e)
{
	if (!l->sent)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "load_many: %d ids",
		    l->n);
	l->sent = false;
	int rc = 0;
	const char *params[] = { l->arr.p };
	PGresult *r = tenant_collect(h, &st_load_many, params, e);
	if (r == NULL) {
		rc = e->code;
		goto out;
	}
	if (PQnfields(r) != 11) {
		rc = bad_shape(r, "work_load_many", e);
		r = NULL;
		goto out;
	}
	for (int row = 0; row < PQntuples(r); row++) {
		long long id = strtoll(PQgetvalue(r, row, 9), NULL, 10);
		for (int i = 0; i < l->n; i++) {
			if (l->ids[i] != id)
				continue;
			if (!l->found[i]) {
				ctx_init(&l->out[i], id, r, row);
				l->found[i] = true;
			}
			ctx_add(&l->out[i], r, row);
			int k = PQgetisnull(r, row, 4) ? -1 : provider_index(PQgetvalue(r, row, 4));
			char **d = k < 0 ? NULL : &l->data[i * REPORT_PROVIDERS_N + k];
			if (d != NULL && *d == NULL && !PQgetisnull(r, row, 10))
				*d = xstrndup(PQgetvalue(r, row, 10), (size_t)PQgetlength(r, row, 10));
		}
	}
out:
	PQclear(r);
	sbuf_clear(&l->arr);
	return rc;
}

/* Appends item's report as one element of st_save's array. */
static void save_json(struct sbuf *sb, const struct reportwork_save_item *it)
{
	const struct reportwork_ctx *c = it->ctx;
	int progress = it->progress < 0 ? 0 : it->progress > 100 ? 100 : it->progress;
	sbuf_printf(sb, "{\"id\":%lld,\"progress\":%d,\"attempts\":%d,\"providers\":[",
	    c->report_id, progress, it->attempt < 0 ? 0 : it->attempt);
	bool first = true;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		if (!(it->mask & (1u << k)))
			continue;
		const struct reportwork_provider *p = &c->p[k];
		sbuf_puts(sb, first ? "{\"provider\":" : ",{\"provider\":");
		first = false;
		sbuf_json_str(sb, report_providers[k], strlen(report_providers[k]));
		sbuf_puts(sb, ",\"status\":");
		sbuf_json_str(sb, p->status, strlen(p->status));
		sbuf_printf(sb, ",\"attempts\":%d,\"last_error\":", p->attempts);
		if (p->has_error)
			sbuf_json_str(sb, p->error, strlen(p->error));
		else
			sbuf_puts(sb, "null");
		sbuf_puts(sb, ",\"data\":");
		if (strcmp(p->status, PROVIDER_COMPLETED) == 0 && it->data[k] != NULL) {
			sbuf_puts(sb, it->data[k]);
		} else if (strcmp(p->status, PROVIDER_PROCESSING) == 0 && p->job_id[0]) {
			sbuf_puts(sb, "{\"jobID\":");
			sbuf_json_str(sb, p->job_id, strlen(p->job_id));
			sbuf_putc(sb, '}');
		} else {
			sbuf_puts(sb, "null");
		}
		sbuf_putc(sb, '}');
	}
	sbuf_puts(sb, "]}");
}

/* Marks in take[] the next statement's share of n items not done yet:
 * the first one, then every later one whose report is not taken yet (a
 * statement may touch a row once), while the items' bytes stay under
 * budget.  Returns how many were taken. */
static int pick_round(int n, const long long *ids, const size_t *bytes,
    const bool *done, size_t budget, bool *take)
{
	size_t used = 0;
	int taken = 0;
	for (int i = 0; i < n; i++) {
		take[i] = false;
		if (done[i] || (taken > 0 && used + bytes[i] > budget))
			continue;
		bool dup = false;
		for (int k = 0; k < i && !dup; k++)
			dup = take[k] && ids[k] == ids[i];
		if (dup)
			continue;
		take[i] = true;
		used += bytes[i];
		taken++;
	}
	return taken;
}

/* The rounds of a batch statement: ids and sizes of its items, and which
 * are done or in the current round. */
struct rounds {
	int n;
	long long *ids;
	size_t *bytes;
	bool *done, *take;
};

static void rounds_init(struct rounds *r, int n)
{
	r->n = n;
	r->ids = xcalloc((size_t)n, sizeof *r->ids);
	r->bytes = xcalloc((size_t)n, sizeof *r->bytes);
	r->done = xcalloc((size_t)n, sizeof *r->done);
	r->take = xcalloc((size_t)n, sizeof *r->take);
}

/* Picks the next round; false when every item is done. */
static bool rounds_next(struct rounds *r, size_t budget)
{
	for (int i = 0; i < r->n; i++)
		if (r->take[i])
			r->done[i] = true;
	return pick_round(r->n, r->ids, r->bytes, r->done, budget, r->take) > 0;
}

static void rounds_free(struct rounds *r)
{
	free(r->ids);
	free(r->bytes);
	free(r->done);
	free(r->take);
}

/* ---- batch statements: one JSON array parameter, sent in rounds ---------
 * Round 1 is sent by *_send without waiting (so the statements of several
 * tenants run at once); reportwork_batch_collect() takes its result and
 * runs any later rounds synchronously. */

struct batch_kind {
	const struct tenant_stmt *st;
	int nfields;				/* of each result row */
	size_t item_size;
	void (*build)(struct sbuf *sb, const void *item);	/* one element */
	long long (*id)(const void *item);
	void (*row)(void *item, const PGresult *r, int row);	/* its result row */
	void (*failed)(void *item, int rc, const struct err *e);
	size_t (*start)(void *item);	/* clears its outputs; its size in bytes */
};

struct reportwork_batch {
	const struct batch_kind *k;
	char *items;
	int n;
	struct rounds rd;
	struct sbuf sb;
	bool built;			/* round 1 is in sb (and maybe sent) */
};

static void *item_at(const struct reportwork_batch *b, int i)
{
	return b->items + (size_t)i * b->k->item_size;
}

/* Builds the round in take[] into sb; false when it does not fit. */
static bool batch_build(struct reportwork_batch *b)
{
	sbuf_reset(&b->sb);
	sbuf_putc(&b->sb, '[');
	bool first = true;
	for (int i = 0; i < b->n; i++) {
		if (!b->rd.take[i])
			continue;
		if (!first)
			sbuf_putc(&b->sb, ',');
		first = false;
		b->k->build(&b->sb, item_at(b, i));
	}
	sbuf_putc(&b->sb, ']');
	return !b->sb.failed;
}

/* The result of the round in take[]: fills its items; 0 or an error. */
static int batch_result(struct reportwork_batch *b, PGresult *r, struct err *e)
{
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != b->k->nfields)
		return bad_shape(r, b->k->st->name, e);
	for (int row = 0; row < PQntuples(r); row++) {
		long long id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
		for (int i = 0; i < b->n; i++)
			if (b->rd.take[i] && b->k->id(item_at(b, i)) == id)
				b->k->row(item_at(b, i), r, row);
	}
	PQclear(r);
	return 0;
}

static struct reportwork_batch *batch_send(struct tenant_conn *h,
    const struct batch_kind *k, void *items, int n)
{
	struct reportwork_batch *b = xcalloc(1, sizeof *b);
	b->k = k;
	b->items = items;
	b->n = n;
	sbuf_init(&b->sb, REPORTWORK_BATCH_MAX);
	if (n < 1 || n > REPORTWORK_LOAD_MAX)
		return b;	/* collect reports it */
	rounds_init(&b->rd, n);
	for (int i = 0; i < n; i++) {
		b->rd.bytes[i] = k->start(item_at(b, i));
		b->rd.ids[i] = k->id(item_at(b, i));
	}
	if (rounds_next(&b->rd, REPORTWORK_BATCH_ROUND) && batch_build(b)) {
		b->built = true;
		const char *params[] = { b->sb.p };
		tenant_send_prepared(h, k->st, params);
	}
	return b;
}

/* Runs the round in take[] synchronously (it is built into sb unless
 * built is false); 0 or its error in e. */
static int batch_run(struct tenant_conn *h, struct reportwork_batch *b, bool built,
    struct err *e)
{
	if (!built)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "%s: data too large",
		    b->k->st->name);
	const char *params[] = { b->sb.p };
	return batch_result(b, tenant_exec_prepared(h, b->k->st, params, e), e);
}

/* The round in take[] failed with rc other than a lost database: runs
 * each of its reports alone, so that one the database refuses does not
 * fail the others; those that fail again get their error.  Returns 0 or
 * the first such error (in e). */
static int batch_isolate(struct tenant_conn *h, struct reportwork_batch *b,
    struct err *first)
{
	int rc = 0;
	bool *round = xcalloc((size_t)b->n, sizeof *round);
	memcpy(round, b->rd.take, (size_t)b->n * sizeof *round);
	for (int i = 0; i < b->n; i++) {
		if (!round[i])
			continue;
		memset(b->rd.take, 0, (size_t)b->n * sizeof *b->rd.take);
		b->rd.take[i] = true;
		struct err e;
		err_clear(&e);
		int r = batch_run(h, b, batch_build(b), &e);
		if (r == 0)
			continue;
		b->k->failed(item_at(b, i), r, &e);
		if (rc == 0) {
			rc = r;
			*first = e;
		}
	}
	memcpy(b->rd.take, round, (size_t)b->n * sizeof *round);
	free(round);
	return rc;
}

int reportwork_batch_collect(struct tenant_conn *h, struct reportwork_batch *b,
    struct err *e)
{
	int rc = 0;
	if (b->n < 1 || b->n > REPORTWORK_LOAD_MAX) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "%s: %d items",
		    b->k->st->name, b->n);
		for (int i = 0; i < b->n; i++)
			b->k->failed(item_at(b, i), rc, e);
		goto out;
	}
	bool first = true;
	do {
		struct err re;
		err_clear(&re);
		int r;
		if (first && b->built) {
			const char *params[] = { b->sb.p };
			r = batch_result(b, tenant_collect(h, b->k->st, params, &re), &re);
		} else {
			r = batch_run(h, b, first ? b->built : batch_build(b), &re);
		}
		first = false;
		if (r == 0)
			continue;
		int taken = 0;
		for (int i = 0; i < b->n; i++)
			taken += b->rd.take[i];
		if (r != APP_ERR_UNAVAILABLE && taken > 1) {
			err_clear(&re);
			r = batch_isolate(h, b, &re);
		} else {
			for (int i = 0; i < b->n; i++)
				if (b->rd.take[i])
					b->k->failed(item_at(b, i), r, &re);
		}
		if (r == 0)
			continue;
		if (rc == 0) {
			rc = r;
			*e = re;
		}
	} while (rounds_next(&b->rd, REPORTWORK_BATCH_ROUND));
out:
	if (b->n >= 1 && b->n <= REPORTWORK_LOAD_MAX)
		rounds_free(&b->rd);
	sbuf_clear(&b->sb);
	free(b);
	return rc;
}

/* -- saves -- */

static void save_build(struct sbuf *sb, const void *item)
{
	save_json(sb, item);
}

static long long save_id(const void *item)
{
	return ((const struct reportwork_save_item *)item)->ctx->report_id;
}

static void save_row(void *item, const PGresult *r, int row)
{
	struct reportwork_save_item *it = item;
	it->out.progress = atoi(PQgetvalue(r, row, 1));
	it->out.created_ms = strtoll(PQgetvalue(r, row, 2), NULL, 10);
}

static void save_failed(void *item, int rc, const struct err *e)
{
	struct reportwork_save_item *it = item;
	it->rc = rc;
	it->e = *e;
}

static size_t save_start(void *item)
{
	struct reportwork_save_item *it = item;
	it->out.progress = -1;
	it->out.created_ms = 0;
	it->rc = 0;
	size_t bytes = 256;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		if (it->data[k] != NULL)
			bytes += strlen(it->data[k]);
	return bytes;
}

static const struct batch_kind save_kind = {
	&st_save, 3, sizeof(struct reportwork_save_item), save_build, save_id,
	save_row, save_failed, save_start,
};

struct reportwork_batch *reportwork_save_send(struct tenant_conn *h,
    struct reportwork_save_item *items, int n)
{
	return batch_send(h, &save_kind, items, n);
}

/* -- terminal COMPLETED transitions -- */

static void done_build(struct sbuf *sb, const void *item)
{
	const struct reportwork_done_item *it = item;
	char csv_sha[CRYPTO_SHA256_HEX], json_sha[CRYPTO_SHA256_HEX];
	crypto_sha256_hex(it->csv->p, it->csv->len, csv_sha);
	crypto_sha256_hex(it->json->p, it->json->len, json_sha);
	sbuf_printf(sb, "{\"id\":%lld,\"attempts\":%d,\"csv_sha\":\"%s\","
	    "\"json_sha\":\"%s\",\"csv\":", it->report_id,
	    it->attempt < 0 ? 0 : it->attempt, csv_sha, json_sha);
	sbuf_json_str(sb, it->csv->p, it->csv->len);
	sbuf_puts(sb, ",\"json\":");
	sbuf_json_str(sb, it->json->p, it->json->len);
	sbuf_putc(sb, '}');
}

static long long done_id(const void *item)
{
	return ((const struct reportwork_done_item *)item)->report_id;
}

static void done_row(void *item, const PGresult *r, int row)
{
	struct reportwork_done_item *it = item;
	it->out.changed = true;
	it->out.created_ms = strtoll(PQgetvalue(r, row, 1), NULL, 10);
	it->out.completed_ms = strtoll(PQgetvalue(r, row, 2), NULL, 10);
}

static void done_failed(void *item, int rc, const struct err *e)
{
	struct reportwork_done_item *it = item;
	it->rc = rc;
	it->e = *e;
}

static size_t done_start(void *item)
{
	struct reportwork_done_item *it = item;
	memset(&it->out, 0, sizeof it->out);
	it->rc = 0;
	/* JSON escaping may grow text up to 6x; budget the usual 1.2x. */
	return 256 + (it->csv->len + it->json->len) * 6 / 5;
}

static const struct batch_kind done_kind = {
	&st_complete, 3, sizeof(struct reportwork_done_item), done_build, done_id,
	done_row, done_failed, done_start,
};

struct reportwork_batch *reportwork_complete_send(struct tenant_conn *h,
    struct reportwork_done_item *items, int n)
{
	return batch_send(h, &done_kind, items, n);
}

int reportwork_load_data(struct tenant_conn *h, long long report_id,
    json_object *out[REPORT_PROVIDERS_N], struct err *e)
{
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		out[k] = NULL;
	char id[NUM_MAX];
	if (fmt_num(id, sizeof id, report_id) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad id");
	const char *params[] = { id };
	PGresult *r = tenant_exec_prepared(h, &st_load_data, params, e);
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != 2)
		return bad_shape(r, "work_load_data", e);
	for (int i = 0; i < PQntuples(r); i++) {
		int k = provider_index(PQgetvalue(r, i, 0));
		if (k < 0 || out[k] != NULL)
			continue;
		const char *why = NULL;
		out[k] = jsonh_parse(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
		    REPORTWORK_DATA_DEPTH + 2, &why);
	}
	PQclear(r);
	return 0;
}

static int end_result(PGresult *r, const char *what, struct reportwork_end *out,
    struct err *e)
{
	if (PQnfields(r) != 2 || PQntuples(r) > 1)
		return bad_shape(r, what, e);
	if (PQntuples(r) == 1) {
		out->changed = true;
		out->created_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		out->completed_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return 0;
}

int reportwork_fail(struct tenant_conn *h, long long report_id,
    const char *reason, int attempt, struct reportwork_end *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	char id[NUM_MAX], att[NUM_MAX];
	if (fmt_num(id, sizeof id, report_id) != 0 ||
	    fmt_num(att, sizeof att, attempt < 0 ? 0 : attempt) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad number");
	const char *params[] = { id, reason, att };
	PGresult *r = tenant_exec_prepared(h, &st_fail, params, e);
	if (r == NULL)
		return e->code;
	return end_result(r, "work_fail", out, e);
}

int reportwork_mark_ready_announced(struct tenant_conn *h, const long long *ids,
    int n, struct err *e)
{
	if (n < 1 || n > REPORTWORK_LOAD_MAX)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "mark: %d ids", n);
	struct sbuf arr;
	int rc = 0;
	if (id_array(&arr, ids, n) != 0) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "mark: ids");
		goto out;
	}
	const char *params[] = { arr.p };
	PGresult *r = tenant_exec_prepared(h, &st_ready_announced, params, e);
	if (r == NULL) {
		rc = e->code;
		goto out;
	}
	PQclear(r);
out:
	sbuf_clear(&arr);
	return rc;
}

static int list_ids(struct tenant_conn *h, const struct tenant_stmt *st,
    int grace_ms, int max, long long *ids, int *n, struct err *e)
{
	*n = 0;
	char g[NUM_MAX], m[NUM_MAX];
	if (fmt_num(g, sizeof g, grace_ms < 0 ? 0 : grace_ms) != 0 ||
	    fmt_num(m, sizeof m, max < 1 ? 1 : max) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad number");
	const char *params[] = { g, m };
	PGresult *r = tenant_exec_prepared(h, st, params, e);
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != 1)
		return bad_shape(r, st->name, e);
	for (int i = 0; i < PQntuples(r) && *n < max; i++)
		ids[(*n)++] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int reportwork_list_open(struct tenant_conn *h, int grace_ms, int max,
    long long *ids, int *n, struct err *e)
{
	return list_ids(h, &st_list_open, grace_ms, max, ids, n, e);
}

int reportwork_list_unannounced(struct tenant_conn *h, int grace_ms, int max,
    long long *ids, int *n, struct err *e)
{
	return list_ids(h, &st_list_unannounced, grace_ms, max, ids, n, e);
}
