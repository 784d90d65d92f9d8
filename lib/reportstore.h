/* reportstore: every SQL statement about reports in a tenant database
 * (tables reports, report_providers, report_files of sql/tenant/).
 *
 * The statements are prepared once per tenant connection through the
 * tenant cache (lib/tenant.h).  Functions take a tenant handle the caller
 * acquired and releases; they never release it.  Reads are scoped by
 * owner when an owner is given, so a caller can only ever see its own
 * reports; report IDs are per tenant (serial) and collide across tenants.
 *
 * Memory: strings of a struct report_view (error texts) and file contents
 * are copied into the caller's arena; nothing else is kept.
 *
 * Errors: APP_ERR_NOT_FOUND "report not found", APP_ERR_UNAVAILABLE (the
 * tenant database is unreachable, or the connection broke during a
 * non-idempotent statement: outcome unknown), APP_ERR_INTERNAL, each with
 * e filled as lib/db.h describes. */
#ifndef REPORTSTORE_H
#define REPORTSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "reportdef.h"
#include "tenant_cache.h"

enum {
	REPORTSTORE_ID_MAX = 1000000000,	/* largest report ID accepted as input */
	REPORTSTORE_LIST_MAX = 100,		/* most reports one list returns */
	REPORTSTORE_STATUS_MAX = 16,		/* "IN_PROGRESS" + NUL, and more */
	REPORTSTORE_PROVIDER_MAX = 32,		/* provider name + NUL */
	REPORTSTORE_PROVIDERS_MAX = 8,		/* provider rows kept per report */
};

/* One report_providers row. */
struct report_provider_view {
	char name[REPORTSTORE_PROVIDER_MAX];
	char status[REPORTSTORE_STATUS_MAX];
	int attempts;
	const char *error;		/* last_error (arena) or NULL */
};

/* One reports row with its providers, in lib/reportdef.h order (unknown
 * provider names, if any, follow in storage order). */
struct report_view {
	long long id;
	long long owner_id;
	char status[REPORTSTORE_STATUS_MAX];
	int progress;
	int attempts;
	const char *error;		/* failure reason (arena) or NULL */
	bool announced;
	int64_t created_ms;		/* epoch milliseconds */
	int64_t completed_ms;		/* epoch milliseconds; -1: not completed */
	int nproviders;
	struct report_provider_view providers[REPORTSTORE_PROVIDERS_MAX];
};

/* A report file (report_files row). */
struct report_file {
	long long report_id;
	char status[REPORTSTORE_STATUS_MAX];	/* the report's status */
	bool present;				/* a file of that format exists */
	const char *content;			/* arena copy, NUL-terminated */
	size_t len;
	char sha256[65];			/* lower-case hex */
};

/* True if id is a report ID a client may pass (1..REPORTSTORE_ID_MAX). */
bool reportstore_id_valid(long long id);

/* Creates a report of owner_id (status PENDING, progress 0, not announced)
 * and one PENDING report_providers row per provider of lib/reportdef.h, in
 * one statement, hence one transaction: either both exist or neither.
 * Fills out.  Not retried after a lost connection (APP_ERR_UNAVAILABLE:
 * the report may or may not exist). */
int reportstore_create(struct tenant_conn *h, long long owner_id,
    struct report_view *out, struct err *e) __attribute__((warn_unused_result));

/* Records that report.create was acknowledged by Kafka for report_id. */
int reportstore_mark_announced(struct tenant_conn *h, long long report_id,
    struct err *e) __attribute__((warn_unused_result));

/* The report report_id of owner_id (owner_id < 0: of any owner, for
 * internal callers such as the worker).  APP_ERR_NOT_FOUND if there is no
 * such report or it belongs to someone else. */
int reportstore_get(struct tenant_conn *h, long long owner_id,
    long long report_id, struct arena *a, struct report_view *out,
    struct err *e) __attribute__((warn_unused_result));

/* reportstore_get() without the providers (out->nproviders is 0): one
 * primary-key read, for callers that were not asked for them. */
int reportstore_get_summary(struct tenant_conn *h, long long owner_id,
    long long report_id, struct arena *a, struct report_view *out,
    struct err *e) __attribute__((warn_unused_result));

/* owner_id's reports with id < before (before 0: no bound), newest first,
 * at most limit (1..REPORTSTORE_LIST_MAX).  *out is an arena array of *n
 * views (NULL when *n is 0). */
int reportstore_list(struct tenant_conn *h, long long owner_id,
    long long before, int limit, struct arena *a, struct report_view **out,
    int *n, struct err *e) __attribute__((warn_unused_result));

/* The file of report_id in format ("csv" or "json"), owner-scoped as in
 * reportstore_get() (owner_id < 0: any owner; a signed URL authorises the
 * download itself).  Returns APP_ERR_NOT_FOUND if the report does not
 * exist (for that owner); otherwise 0 with out->status and out->present
 * telling whether there is a file, and its content copied into a. */
int reportstore_file(struct tenant_conn *h, long long owner_id,
    long long report_id, const char *format, struct arena *a,
    struct report_file *out, struct err *e) __attribute__((warn_unused_result));

#endif
