#include "reportstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NUM_MAX = 24 };

/* reports.id is an int: larger ids cannot exist. */
static const long long DB_INT_MAX = 2147483647;

/* "{credit-bureau,tax-authority,property-registry}": the providers of a new
 * report as a text[] literal (the names need no quoting). */
#define PROVIDERS_ARRAY \
	"{" REPORT_PROVIDER_CREDIT "," REPORT_PROVIDER_TAX "," REPORT_PROVIDER_REGISTRY "}"
_Static_assert(REPORT_PROVIDERS_N == 3, "PROVIDERS_ARRAY lists every provider");

/* A bound above every reports.id (an int): "no cursor" for the list. */
static const char NO_CURSOR[] = "2147483648";

/* Epoch milliseconds of a timestamptz column, truncated to the millisecond
 * first so the float8 of date_part() rounds back to it exactly (cheaper
 * than the numeric arithmetic of extract()). */
#define EPOCH_MS(col) \
	"round(date_part('epoch', date_trunc('milliseconds', " col ")) * 1000)::bigint"

/* One statement, so one transaction: the report and its provider rows
 * exist together or not at all, in a single round trip. */
static const struct tenant_stmt st_create = {
	"reports_create",
	"WITH r AS ("
	" INSERT INTO reports (owner_id) VALUES ($1::bigint)"
	" RETURNING id, " EPOCH_MS("created_at") " AS created_ms),"
	" p AS (INSERT INTO report_providers (report_id, provider)"
	" SELECT r.id, unnest($2::text[]) FROM r)"
	" SELECT id, created_ms FROM r",
	2, true,	/* not idempotent: a lost connection means outcome unknown */
};

static const struct tenant_stmt st_mark_announced = {
	"reports_mark_announced",
	"UPDATE reports SET announced = true WHERE id = $1::int",
	1, false,
};

/* The columns every report read returns, one row per provider. */
#define VIEW_COLS \
	"r.id, r.owner_id, r.status, r.progress, r.attempts, r.error, r.announced," \
	" " EPOCH_MS("r.created_at") "," \
	" " EPOCH_MS("r.completed_at") "," \
	" p.provider, p.status, p.attempts, p.last_error"
enum {
	C_ID, C_OWNER, C_STATUS, C_PROGRESS, C_ATTEMPTS, C_ERROR, C_ANNOUNCED,
	C_CREATED, C_COMPLETED, C_PROVIDER, C_PSTATUS, C_PATTEMPTS, C_PERROR,
	C_NCOLS,
};

static const struct tenant_stmt st_get = {
	"reports_get",
	"SELECT " VIEW_COLS
	" FROM reports r LEFT JOIN report_providers p ON p.report_id = r.id"
	" WHERE r.id = $1::int AND ($2::bigint < 0 OR r.owner_id = $2::bigint)",
	2, false,
};

/* The report row alone: NULL provider columns, so fill_view() adds none. */
static const struct tenant_stmt st_get_summary = {
	"reports_get_summary",
	"SELECT r.id, r.owner_id, r.status, r.progress, r.attempts, r.error,"
	" r.announced, " EPOCH_MS("r.created_at") ", " EPOCH_MS("r.completed_at") ","
	" NULL::text, NULL::text, NULL::int, NULL::text"
	" FROM reports r"
	" WHERE r.id = $1::int AND ($2::bigint < 0 OR r.owner_id = $2::bigint)",
	2, false,
};

static const struct tenant_stmt st_list = {
	"reports_list",
	"WITH r AS (SELECT * FROM reports WHERE owner_id = $1::bigint"
	" AND id < $2::bigint ORDER BY id DESC LIMIT $3::int)"
	" SELECT " VIEW_COLS
	" FROM r LEFT JOIN report_providers p ON p.report_id = r.id"
	" ORDER BY r.id DESC",
	3, false,
};

/* Binary results: the bytea content arrives as raw bytes (text columns are
 * their bytes too). */
static const struct tenant_stmt st_file = {
	"reports_file",
	"SELECT r.status, f.content, f.sha256"
	" FROM reports r LEFT JOIN report_files f"
	" ON f.report_id = r.id AND f.format = $3"
	" WHERE r.id = $1::int AND ($2::bigint < 0 OR r.owner_id = $2::bigint)",
	3, false,
};

bool reportstore_id_valid(long long id)
{
	return id >= 1 && id <= REPORTSTORE_ID_MAX;
}

static long long num(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *opt_str(struct arena *a, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return arena_strndup(a, PQgetvalue(r, row, col),
	    (size_t)PQgetlength(r, row, col));
}

static int fmt_num(char *buf, size_t size, long long v)
{
	int n = snprintf(buf, size, "%lld", v);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void add_provider(struct report_view *v, struct arena *a,
    const PGresult *r, int row)
{
	if (v->nproviders >= REPORTSTORE_PROVIDERS_MAX)
		return;
	struct report_provider_view *p = &v->providers[v->nproviders++];
	copy_str(p->name, sizeof p->name, PQgetvalue(r, row, C_PROVIDER));
	copy_str(p->status, sizeof p->status, PQgetvalue(r, row, C_PSTATUS));
	p->attempts = (int)num(r, row, C_PATTEMPTS);
	p->error = opt_str(a, r, row, C_PERROR);
}

static bool known_provider(const char *name)
{
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		if (strcmp(name, report_providers[k]) == 0)
			return true;
	return false;
}

/* Fills v from rows [first, end) of one report. */
static void fill_view(struct report_view *v, struct arena *a, const PGresult *r,
    int first, int end)
{
	memset(v, 0, sizeof *v);
	v->id = num(r, first, C_ID);
	v->owner_id = num(r, first, C_OWNER);
	copy_str(v->status, sizeof v->status, PQgetvalue(r, first, C_STATUS));
	v->progress = (int)num(r, first, C_PROGRESS);
	v->attempts = (int)num(r, first, C_ATTEMPTS);
	v->error = opt_str(a, r, first, C_ERROR);
	v->announced = PQgetvalue(r, first, C_ANNOUNCED)[0] == 't';
	v->created_ms = num(r, first, C_CREATED);
	v->completed_ms = PQgetisnull(r, first, C_COMPLETED) ? -1 :
	    num(r, first, C_COMPLETED);
	/* The reportdef order first, then any other provider as stored. */
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		for (int i = first; i < end; i++)
			if (!PQgetisnull(r, i, C_PROVIDER) &&
			    strcmp(PQgetvalue(r, i, C_PROVIDER), report_providers[k]) == 0)
				add_provider(v, a, r, i);
	for (int i = first; i < end; i++)
		if (!PQgetisnull(r, i, C_PROVIDER) &&
		    !known_provider(PQgetvalue(r, i, C_PROVIDER)))
			add_provider(v, a, r, i);
}

static int bad_shape(PGresult *r, const char *what, struct err *e)
{
	err_set(e, APP_ERR_INTERNAL, "internal error", "%s: %d columns", what,
	    PQnfields(r));
	PQclear(r);
	return APP_ERR_INTERNAL;
}

int reportstore_create(struct tenant_conn *h, long long owner_id,
    struct report_view *out, struct err *e)
{
	char owner[NUM_MAX];
	if (owner_id < 1 || fmt_num(owner, sizeof owner, owner_id) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "reports_create: bad owner %lld", owner_id);
	const char *params[] = { owner, PROVIDERS_ARRAY };
	PGresult *r = tenant_exec_prepared(h, &st_create, params, e);
	if (r == NULL) {
		if (strstr(e->detail, "sqlstate=23503") != NULL)
			return err_set(e, APP_ERR_NOT_FOUND, "user not found",
			    "reports_create: owner %lld does not exist", owner_id);
		return e->code;
	}
	if (PQntuples(r) != 1 || PQnfields(r) != 2)
		return bad_shape(r, "reports_create", e);
	memset(out, 0, sizeof *out);
	out->id = num(r, 0, 0);
	out->created_ms = num(r, 0, 1);
	PQclear(r);
	out->owner_id = owner_id;
	copy_str(out->status, sizeof out->status, REPORT_PENDING);
	out->completed_ms = -1;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct report_provider_view *p = &out->providers[k];
		copy_str(p->name, sizeof p->name, report_providers[k]);
		copy_str(p->status, sizeof p->status, PROVIDER_PENDING);
	}
	out->nproviders = REPORT_PROVIDERS_N;
	return 0;
}

int reportstore_mark_announced(struct tenant_conn *h, long long report_id,
    struct err *e)
{
	char id[NUM_MAX];
	if (fmt_num(id, sizeof id, report_id) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad report id");
	const char *params[] = { id };
	PGresult *r = tenant_exec_prepared(h, &st_mark_announced, params, e);
	if (r == NULL)
		return e->code;
	PQclear(r);
	return 0;
}

/* reportstore_get() with st_get or st_get_summary. */
static int get_view(struct tenant_conn *h, const struct tenant_stmt *st,
    long long owner_id, long long report_id, struct arena *a,
    struct report_view *out, struct err *e)
{
	if (report_id < 1 || report_id > DB_INT_MAX)
		return err_set(e, APP_ERR_NOT_FOUND, "report not found",
		    "report id %lld out of range", report_id);
	char id[NUM_MAX], owner[NUM_MAX];
	if (fmt_num(id, sizeof id, report_id) != 0 ||
	    fmt_num(owner, sizeof owner, owner_id < 0 ? -1 : owner_id) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad number");
	const char *params[] = { id, owner };
	PGresult *r = tenant_exec_prepared(h, st, params, e);
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != C_NCOLS)
		return bad_shape(r, st->name, e);
	int rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return err_set(e, APP_ERR_NOT_FOUND, "report not found",
		    "report %lld: none of owner %lld", report_id, owner_id);
	}
	fill_view(out, a, r, 0, rows);
	PQclear(r);
	return 0;
}

int reportstore_get(struct tenant_conn *h, long long owner_id,
    long long report_id, struct arena *a, struct report_view *out,
    struct err *e)
{
	return get_view(h, &st_get, owner_id, report_id, a, out, e);
}

int reportstore_get_summary(struct tenant_conn *h, long long owner_id,
    long long report_id, struct arena *a, struct report_view *out,
    struct err *e)
{
	return get_view(h, &st_get_summary, owner_id, report_id, a, out, e);
}

int reportstore_list(struct tenant_conn *h, long long owner_id,
    long long before, int limit, struct arena *a, struct report_view **out,
    int *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > REPORTSTORE_LIST_MAX || before < 0)
		return err_set(e, APP_ERR_BAD_INPUT, "invalid page", "limit %d before %lld",
		    limit, before);
	char owner[NUM_MAX], bound[NUM_MAX], lim[NUM_MAX];
	if (fmt_num(owner, sizeof owner, owner_id) != 0 ||
	    fmt_num(lim, sizeof lim, limit) != 0 ||
	    fmt_num(bound, sizeof bound, before) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad number");
	const char *params[] = { owner, before == 0 ? NO_CURSOR : bound, lim };
	PGresult *r = tenant_exec_prepared(h, &st_list, params, e);
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != C_NCOLS)
		return bad_shape(r, "reports_list", e);
	int rows = PQntuples(r);
	if (rows > 0) {
		struct report_view *v = arena_calloc(a, (size_t)limit * sizeof *v);
		int count = 0;
		for (int i = 0; i < rows && count < limit;) {
			const char *id = PQgetvalue(r, i, C_ID);
			int end = i + 1;
			while (end < rows && strcmp(PQgetvalue(r, end, C_ID), id) == 0)
				end++;
			fill_view(&v[count++], a, r, i, end);
			i = end;
		}
		*out = v;
		*n = count;
	}
	PQclear(r);
	return 0;
}

int reportstore_file(struct tenant_conn *h, long long owner_id,
    long long report_id, const char *format, struct arena *a,
    struct report_file *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (report_id < 1 || report_id > DB_INT_MAX)
		return err_set(e, APP_ERR_NOT_FOUND, "report not found",
		    "report id %lld out of range", report_id);
	char id[NUM_MAX], owner[NUM_MAX];
	if (fmt_num(id, sizeof id, report_id) != 0 ||
	    fmt_num(owner, sizeof owner, owner_id < 0 ? -1 : owner_id) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad number");
	const char *params[] = { id, owner, format };
	PGresult *r = tenant_exec_prepared_bin(h, &st_file, params, NULL, NULL, 1, e);
	if (r == NULL)
		return e->code;
	if (PQnfields(r) != 3)
		return bad_shape(r, "reports_file", e);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return err_set(e, APP_ERR_NOT_FOUND, "report not found",
		    "report %lld: none of owner %lld", report_id, owner_id);
	}
	out->report_id = report_id;
	copy_str(out->status, sizeof out->status, PQgetvalue(r, 0, 0));
	if (!PQgetisnull(r, 0, 1) && !PQgetisnull(r, 0, 2)) {
		size_t len = (size_t)PQgetlength(r, 0, 1);
		char *buf = arena_alloc(a, len + 1);
		memcpy(buf, PQgetvalue(r, 0, 1), len);
		buf[len] = '\0';
		out->content = buf;
		out->len = len;
		copy_str(out->sha256, sizeof out->sha256, PQgetvalue(r, 0, 2));
		out->present = true;
	}
	PQclear(r);
	return 0;
}
