/* reportdef: names shared by every program that touches reports — the
 * three providers, the status values, the Kafka topics' payload keys.
 * Changing a name here changes the wire format and the database content. */
#ifndef REPORTDEF_H
#define REPORTDEF_H

/* The three slow external providers, in report column order.  The names
 * are the provider paths of the mock-providers service and the `provider`
 * column of report_providers. */
#define REPORT_PROVIDER_CREDIT "credit-bureau"
#define REPORT_PROVIDER_TAX "tax-authority"
#define REPORT_PROVIDER_REGISTRY "property-registry"

enum { REPORT_PROVIDERS_N = 3 };

static const char *const report_providers[REPORT_PROVIDERS_N] = {
	REPORT_PROVIDER_CREDIT, REPORT_PROVIDER_TAX, REPORT_PROVIDER_REGISTRY,
};

/* reports.status (the GraphQL enum ReportStatus) */
#define REPORT_PENDING "PENDING"
#define REPORT_IN_PROGRESS "IN_PROGRESS"
#define REPORT_COMPLETED "COMPLETED"
#define REPORT_FAILED "FAILED"

/* report_providers.status (ProviderState.status) */
#define PROVIDER_PENDING "PENDING"		/* not asked yet */
#define PROVIDER_PROCESSING "PROCESSING"	/* job started, not ready */
#define PROVIDER_COMPLETED "COMPLETED"		/* data stored */
#define PROVIDER_FAILED "FAILED"		/* gave up on this provider */

#endif
