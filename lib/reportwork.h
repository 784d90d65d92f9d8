/* reportwork: the worker's side of a report — its statements on the tenant
 * database, the parsing of provider answers and the report builders.
 *
 * Database.  Functions take a tenant handle (lib/tenant.h) the caller
 * acquired and releases.  Every write is guarded so that a worker holding
 * a stale job (its lease was taken over) can never undo a finished report:
 * provider rows and progress change only while the report is PENDING or
 * IN_PROGRESS, progress never decreases, a COMPLETED provider row is never
 * overwritten, and the terminal transition is one conditional statement
 * (the report files are inserted by the same statement), so exactly one
 * caller ever sees `changed` for a report.
 *
 * A provider's job handle (the jobID its API gave) lives in
 * report_providers.data as {"jobID":"..."} while the row is PROCESSING; once
 * COMPLETED, data holds the provider's answer.  So any worker can take a job
 * over and keep polling the same provider job.
 *
 * Files.  CSV (RFC 4180, CRLF line ends) with the header `section,field,value`
 * and one row per scalar: section "report" (reportID, generatedAt) then one
 * section per provider in lib/reportdef.h order, field the dotted path of the
 * value in the provider's data (array elements by index: properties.0.city),
 * nulls skipped.  JSON: {"reportID":..,"generatedAt":..,"providers":{
 * "credit-bureau":{..},"tax-authority":{..},"property-registry":{..}}}, nulls
 * skipped.  Neither file holds the tax ID or the user name: a signed
 * download URL may be shared, so the file carries only what the providers
 * said.  Text values that a spreadsheet would run as a formula (starting
 * with = + - @ TAB CR and not a number) get a leading apostrophe in the CSV.
 *
 * Errors: 0 or a negative enum app_err with e filled (lib/db.h mapping). */
#ifndef REPORTWORK_H
#define REPORTWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "err.h"
#include "reportdef.h"
#include "sbuf.h"
#include "tenant_cache.h"

enum {
	REPORTWORK_JOBID_MAX = 64,		/* bytes of a provider job ID */
	REPORTWORK_TAXID_MAX = 64,		/* bytes of a tax ID kept */
	REPORTWORK_ERROR_MAX = 200,		/* bytes of a provider error kept */
	REPORTWORK_STATUS_MAX = 16,
	REPORTWORK_BODY_MAX = 256 * 1024,	/* largest provider answer */
	REPORTWORK_DATA_DEPTH = 16,		/* deepest provider data */
	REPORTWORK_FILE_MAX = 4 * 1024 * 1024,	/* largest built file */
	REPORTWORK_LOAD_MAX = 1000,		/* reports per load or batch statement */
	REPORTWORK_BATCH_ROUND = 1024 * 1024,	/* data bytes per batch statement */
	REPORTWORK_BATCH_MAX = 64 * 1024 * 1024,	/* largest batch statement text */
};

/* ---- pure parts --------------------------------------------------------- */

/* Progress of a report with `done` of `total` providers finished: the
 * share in percent rounded down, 100 only when all are done; 0 for bad
 * input. */
int reportwork_progress(int done, int total);

/* Appends s[0..n) as one CSV field (RFC 4180): quoted when it holds a
 * comma, quote, CR or LF or starts/ends with a space, quotes doubled. */
void reportwork_csv_field(struct sbuf *sb, const char *s, size_t n);

/* Removes null members and null array elements from o, recursively. */
void reportwork_strip_nulls(json_object *o);

/* Builds the CSV / JSON file of report_id from the providers' data objects
 * (data[k] for report_providers[k], borrowed; NULL counts as {}), stamped
 * generated_ms (epoch ms).  Appends to out; returns 0, or APP_ERR_TOO_LARGE
 * when the file would exceed REPORTWORK_FILE_MAX (e filled). */
int reportwork_build_csv(long long report_id, int64_t generated_ms,
    json_object *const data[REPORT_PROVIDERS_N], struct sbuf *out, struct err *e)
	__attribute__((warn_unused_result));
int reportwork_build_json(long long report_id, int64_t generated_ms,
    json_object *const data[REPORT_PROVIDERS_N], struct sbuf *out, struct err *e)
	__attribute__((warn_unused_result));

/* What a provider answered, after validation. */
enum reportwork_answer_kind {
	REPORTWORK_ANSWER_PROCESSING,	/* job running; job_id set */
	REPORTWORK_ANSWER_COMPLETED,	/* data set (caller json_object_put()s) */
	REPORTWORK_ANSWER_MALFORMED,	/* why set */
};

struct reportwork_answer {
	enum reportwork_answer_kind kind;
	char job_id[REPORTWORK_JOBID_MAX + 1];
	json_object *data;
	const char *why;		/* static text */
};

/* Parses a 2xx body of the provider API: {"jobID":"<id>","status":
 * "processing"} or {"status":"completed","data":{...}} (jobID optional
 * then).  Rejects bodies over REPORTWORK_BODY_MAX, invalid JSON or UTF-8,
 * nesting over REPORTWORK_DATA_DEPTH, job IDs that are not 1..64 bytes of
 * [A-Za-z0-9_-], data that is not an object or holds U+0000 (which the
 * database's jsonb cannot store), unknown status values. */
void reportwork_parse_answer(const char *body, size_t len,
    struct reportwork_answer *out);

/* ---- database ----------------------------------------------------------- */

/* One report_providers row as the worker sees it. */
struct reportwork_provider {
	char status[REPORTWORK_STATUS_MAX];	/* PROVIDER_* */
	int attempts;
	char job_id[REPORTWORK_JOBID_MAX + 1];	/* PROCESSING: the provider's job */
	bool has_error;
	char error[REPORTWORK_ERROR_MAX + 1];	/* last_error when has_error */
};

/* What one attempt needs about a report. */
struct reportwork_ctx {
	long long report_id;
	long long owner_id;
	char status[REPORTWORK_STATUS_MAX];	/* REPORT_* */
	int progress;
	char tax_id[REPORTWORK_TAXID_MAX + 1];	/* sent to the providers only */
	struct reportwork_provider p[REPORT_PROVIDERS_N];	/* reportdef order */
};

/* A load of up to REPORTWORK_LOAD_MAX reports of one tenant in one
 * statement: ids[0..n) into out[0..n); found[i] tells whether ids[i]
 * exists; the data of COMPLETED providers goes into data[i *
 * REPORT_PROVIDERS_N + k] (malloc'd JSON text the caller frees; NULL
 * otherwise).  The caller fills the first six fields. */
struct reportwork_load {
	const long long *ids;
	int n;
	struct reportwork_ctx *out;
	bool *found;
	char **data;
	struct sbuf arr;	/* private */
	bool sent;		/* private */
};

/* Sends the load without waiting (several tenants' loads then run at
 * once); every send is followed by reportwork_load_collect() on h. */
void reportwork_load_send(struct tenant_conn *h, struct reportwork_load *l);

/* Waits for it and fills out/found/data.  Returns 0 or an error
 * (APP_ERR_UNAVAILABLE, APP_ERR_INTERNAL) for all of them. */
int reportwork_load_collect(struct tenant_conn *h, struct reportwork_load *l,
    struct err *e) __attribute__((warn_unused_result));

/* What reportwork_save_send() stored for a report: enough, with the
 * context, for the report.progress event without reading it again. */
struct reportwork_saved {
	int progress;			/* -1: the report is terminal, nothing changed */
	int64_t created_ms;		/* epoch ms */
};

/* One report's attempt for reportwork_save_send(). */
struct reportwork_save_item {
	const struct reportwork_ctx *ctx;	/* the report and its provider rows */
	unsigned mask;				/* rows to store: bit 1 << k */
	const char *const *data;		/* [REPORT_PROVIDERS_N]: JSON text of
						 * rows that became COMPLETED, else NULL */
	int progress;				/* 0..100 */
	int attempt;
	struct reportwork_saved out;		/* filled */
	int rc;					/* 0, or the error of its statement */
	struct err e;
};

/* A batch statement sent and not collected yet. */
struct reportwork_batch;

/* Sends the attempts of items[0..n) (1..REPORTWORK_LOAD_MAX reports of h's
 * tenant) to be stored: per report the provider rows whose bit is set in
 * mask (data[k] for rows that became COMPLETED), status IN_PROGRESS,
 * progress = greatest(progress, item's) and attempts = greatest(attempts,
 * item's) — only while the report is not terminal.  Does not wait: collect
 * with reportwork_batch_collect() (items must stay valid until then), which
 * fills each item's out with the stored progress (-1 when the report is
 * terminal or unknown: nothing changed) and the creation time, or sets its
 * rc/e when its statement failed.  The reports go in as few statements as
 * the sizes allow (one per REPORTWORK_BATCH_ROUND bytes of data; a report
 * given twice goes in a later one); when the database refuses a statement
 * (an error other than a lost connection), its reports are tried once more
 * one by one, so a report it cannot store fails alone. */
struct reportwork_batch *reportwork_save_send(struct tenant_conn *h,
    struct reportwork_save_item *items, int n) __attribute__((warn_unused_result));

/* The providers' data of report_id (JSON objects, new references put into
 * out[k]; NULL when a row has none).  Returns 0 or an error (out all NULL). */
int reportwork_load_data(struct tenant_conn *h, long long report_id,
    json_object *out[REPORT_PROVIDERS_N], struct err *e)
	__attribute__((warn_unused_result));

/* The outcome of a terminal transition. */
struct reportwork_end {
	bool changed;		/* only the caller whose statement moved the report */
	int64_t created_ms;	/* epoch ms, when changed */
	int64_t completed_ms;
};

/* One report's terminal transition for reportwork_complete_send(). */
struct reportwork_done_item {
	long long report_id;
	const struct sbuf *csv, *json;	/* the built files */
	int attempt;
	struct reportwork_end out;	/* filled */
	int rc;				/* 0, or the error of its statement */
	struct err e;
};

/* Sends the terminal transition to COMPLETED of items[0..n) (1..
 * REPORTWORK_LOAD_MAX reports of h's tenant), each with both files:
 * progress 100, completed_at now, files inserted (ON CONFLICT DO NOTHING),
 * only while the report is not terminal.  Collect with
 * reportwork_batch_collect(): items whose statement succeeded have out
 * (changed only for the caller whose statement moved the report); a
 * statement that failed sets rc/e of its items (not retried after a lost
 * connection: the outcome is unknown).  Rounds and the one-by-one retry
 * after a refused statement as reportwork_save_send(). */
struct reportwork_batch *reportwork_complete_send(struct tenant_conn *h,
    struct reportwork_done_item *items, int n) __attribute__((warn_unused_result));

/* Waits for a batch sent on h and runs its later rounds; frees b.  Returns
 * 0 or the first error that failed items (each failed item has its own rc
 * and e). */
int reportwork_batch_collect(struct tenant_conn *h, struct reportwork_batch *b,
    struct err *e);

/* The terminal transition to FAILED with reason; unfinished provider rows
 * become FAILED. */
int reportwork_fail(struct tenant_conn *h, long long report_id,
    const char *reason, int attempt, struct reportwork_end *out, struct err *e)
	__attribute__((warn_unused_result));

/* ready_announced = true for ids[0..n) (1..REPORTWORK_LOAD_MAX). */
int reportwork_mark_ready_announced(struct tenant_conn *h, const long long *ids,
    int n, struct err *e) __attribute__((warn_unused_result));

/* The reconciler: ids of reports not terminal and not touched for grace_ms
 * (oldest first), or terminal, not ready_announced and finished more than
 * grace_ms ago (by id); at most max into ids, count in *n. */
int reportwork_list_open(struct tenant_conn *h, int grace_ms, int max,
    long long *ids, int *n, struct err *e) __attribute__((warn_unused_result));
int reportwork_list_unannounced(struct tenant_conn *h, int grace_ms, int max,
    long long *ids, int *n, struct err *e) __attribute__((warn_unused_result));

#endif
