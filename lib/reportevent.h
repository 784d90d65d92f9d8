/* reportevent: the report.progress / report.ready event of a report, built
 * from the database, so the worker and the reconciler (and anything else
 * that announces a report) always send the same thing:
 *
 *   {"tenantID":"tenant-a","reportID":1,"userID":7,"status":"IN_PROGRESS",
 *    "progress":33,"fileURL":null,"error":null,
 *    "createdAt":"2026-11-29T08:30:00.123Z","completedAt":null,
 *    "providers":[{"name":"credit-bureau","status":"COMPLETED","attempts":2,
 *                  "error":null}, ...]}
 *
 * It is the public view of the report (the GraphQL Report type's fields,
 * read through lib/reportstore.h) plus tenantID and userID (the owner's
 * users.id).  fileURL is a fresh signed CSV URL (lib/signurl.h) once the
 * report is COMPLETED, else null.  No personal data: no tax ID, no name. */
#ifndef REPORTEVENT_H
#define REPORTEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "reportstore.h"
#include "sbuf.h"
#include "tenant_cache.h"

enum {
	REPORTEVENT_MAX = 16 * 1024,		/* longest event built */
	REPORTEVENT_CREATE_MAX = 1024,		/* longest report.create accepted */
};

/* How fileURL is signed (strings borrowed). */
struct reportevent_signer {
	const char *key;	/* URL_SIGNING_KEY */
	size_t keylen;
	const char *base_url;	/* PUBLIC_BASE_URL */
	int ttl_sec;		/* DOWNLOAD_URL_TTL_SEC */
};

/* Fills s from the configuration (pointers into c). */
void reportevent_signer_from_cfg(struct reportevent_signer *s,
    const struct config *c);

/* Appends the event JSON of v (tenant tenant_id) to out; file_url (may be
 * NULL) is put as fileURL.  Returns 0, or APP_ERR_TOO_LARGE (e filled). */
int reportevent_json(const struct report_view *v, const char *tenant_id,
    const char *file_url, struct sbuf *out, struct err *e)
	__attribute__((warn_unused_result));

/* Reads report_id of h's tenant and appends its event to out; the report's
 * status goes to status_out (may be NULL; REPORTSTORE_STATUS_MAX bytes).
 * now_s is the Unix time the URL's expiry counts from.  Returns 0,
 * APP_ERR_NOT_FOUND, APP_ERR_UNAVAILABLE, APP_ERR_INTERNAL. */
int reportevent_build(struct tenant_conn *h, long long report_id,
    const struct reportevent_signer *s, long long now_s, struct sbuf *out,
    char *status_out, struct err *e) __attribute__((warn_unused_result));

/* Parses a report.create event, {"tenantID":"<id>","reportID":<n>, ...}
 * (other members ignored), at most REPORTEVENT_CREATE_MAX bytes: tenant
 * gets a valid tenant ID (lib/tenant.h), *report_id 1..2^31-1.  Returns 0,
 * or -1 for anything else (not JSON, too deep, not an object, missing or
 * bad members). */
int reportevent_parse_create(const char *payload, size_t len,
    char tenant[TENANT_ID_MAX], long long *report_id)
	__attribute__((warn_unused_result));

#endif
