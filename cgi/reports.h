/* reports: the GraphQL resolvers of the report request side.
 *
 *   Mutation.createReport      record the report (PENDING) in the caller's
 *                              tenant database, announce it on report.create
 *   Query.status(id)           the caller's own report
 *   Query.getReportUrl(id)     the same; fileURL is set once COMPLETED
 *   Query.reports(first,after) the caller's reports, newest first
 *   Mutation.downloadReport    the report file as text (CSV or JSON)
 *
 * Every one needs a valid bearer token and only ever reads the caller's
 * tenant database and the caller's own reports: any other report ID is
 * NOT_FOUND "report not found".  Resolver contract: lib/gql.h. */
#ifndef CGI_REPORTS_H
#define CGI_REPORTS_H

#include "gql.h"

int reports_create(const struct gql_call *call, json_object **out, struct err *e);
int reports_status(const struct gql_call *call, json_object **out, struct err *e);
int reports_list(const struct gql_call *call, json_object **out, struct err *e);
/* Report.providers: the parent's list if it has one, else read now (status
 * and getReportUrl read the report row alone, the common case being a
 * client that does not ask for the providers). */
int reports_providers(const struct gql_call *call, json_object **out, struct err *e);
int reports_download(const struct gql_call *call, json_object **out, struct err *e);

#endif
