#include "resolvers.h"

#include <stddef.h>

#include "account.h"
#include "reports.h"

struct resolver_def {
	const char *type;
	const char *field;
	gql_resolver_fn fn;
};

/* Fields resolved by C functions; every other field takes its value from
 * its parent object (the engine's default resolver). */
static const struct resolver_def defs[] = {
	{ "Mutation", "createTenant", account_create_tenant },
	{ "Mutation", "signUp", account_sign_up },
	{ "Mutation", "login", account_login },
	{ "Query", "me", account_me },
	{ "Query", "status", reports_status },
	{ "Query", "getReportUrl", reports_status },
	{ "Query", "reports", reports_list },
	{ "Report", "providers", reports_providers },
	{ "Mutation", "createReport", reports_create },
	{ "Mutation", "downloadReport", reports_download },
	{ NULL, NULL, NULL },
};

int resolvers_register(struct gql_schema *s, struct err *e)
{
	for (size_t i = 0; defs[i].type != NULL; i++) {
		if (gql_schema_set_resolver(s, defs[i].type, defs[i].field, defs[i].fn) != 0)
			return err_set(e, APP_ERR_INTERNAL, "resolver for a missing field",
			    "%s.%s", defs[i].type, defs[i].field);
	}
	return 0;
}
