/* gql_test_stubs: stub resolvers over the app schema, shared by
 * tools/gql-tool.c, the gql unit tests and the fuzz harness.  Header-only
 * (static functions) so that nothing test-only lands in libapp.a.
 *
 *   Query.status(id) / getReportUrl(id): a fixed Report with reportID = id;
 *     id 404 -> NOT_FOUND error, id 500 -> INTERNAL error (detail logged),
 *     id 13 -> a Report whose non-null "status" is null (null propagation),
 *     id 7 -> a Report with a bad enum value in "status".
 *   Query.reports(first, after): `first` reports (at most 50), ids after+1...
 *   Query.me: a User.
 *   Mutation.*: canned answers echoing their input. */
#ifndef GQL_TEST_STUBS_H
#define GQL_TEST_STUBS_H

#include <stdio.h>

#include "gql.h"

static json_object *stub_report(int id)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "reportID", json_object_new_int(id));
	json_object_object_add(r, "status", json_object_new_string(
	    id == 7 ? "DONE" : "COMPLETED"));
	if (id == 13)
		json_object_object_add(r, "status", NULL);
	json_object_object_add(r, "progress", json_object_new_int(100));
	json_object_object_add(r, "fileURL", json_object_new_string(
	    "https://reports.example/r/1.csv?sig=abc"));
	json_object *ps = json_object_new_array();
	static const char *const names[] = { "alpha", "beta", "gamma" };
	for (int i = 0; i < 3; i++) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "name", json_object_new_string(names[i]));
		json_object_object_add(p, "status", json_object_new_string("done"));
		json_object_object_add(p, "attempts", json_object_new_int(i + 1));
		json_object_object_add(p, "error", NULL);
		json_object_array_add(ps, p);
	}
	json_object_object_add(r, "providers", ps);
	json_object_object_add(r, "createdAt", json_object_new_string("2026-01-01T00:00:00Z"));
	json_object_object_add(r, "completedAt", json_object_new_string("2026-01-01T00:05:00Z"));
	json_object_object_add(r, "error", NULL);
	return r;
}

static int stub_arg_int(const struct gql_call *c, const char *name, int def)
{
	json_object *v;
	if (json_object_object_get_ex(c->args, name, &v) && v != NULL)
		return json_object_get_int(v);
	return def;
}

static int stub_status(const struct gql_call *c, json_object **out, struct err *e)
{
	int id = stub_arg_int(c, "id", 0);
	if (id == 404)
		return err_set(e, APP_ERR_NOT_FOUND, "report not found", NULL);
	if (id == 500)
		return err_set(e, APP_ERR_INTERNAL, "db exploded", "stub: id 500");
	*out = stub_report(id);
	return 0;
}

static int stub_reports(const struct gql_call *c, json_object **out, struct err *e)
{
	int first = stub_arg_int(c, "first", 20), after = stub_arg_int(c, "after", 0);
	(void)e;
	if (first > 50)
		first = 50;
	*out = json_object_new_array();
	for (int i = 0; i < first; i++)
		json_object_array_add(*out, stub_report(after + i + 1));
	return 0;
}

static json_object *stub_user(const char *tenant, const char *user)
{
	json_object *u = json_object_new_object();
	json_object_object_add(u, "tenantID", json_object_new_string(tenant));
	json_object_object_add(u, "username", json_object_new_string(user));
	json_object_object_add(u, "taxID", json_object_new_string("tax-123"));
	return u;
}

static int stub_me(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)c;
	(void)e;
	*out = stub_user("tenant-a", "user-a");
	return 0;
}

static const char *stub_input_str(const struct gql_call *c, const char *arg,
    const char *field)
{
	json_object *in, *v;
	if (json_object_object_get_ex(c->args, arg, &in) &&
	    json_object_object_get_ex(in, field, &v))
		return json_object_get_string(v);
	return "";
}

static int stub_sign_up(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)e;
	*out = stub_user(stub_input_str(c, "signUp", "tenantID"),
	    stub_input_str(c, "signUp", "username"));
	return 0;
}

static int stub_login(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)e;
	*out = json_object_new_object();
	json_object_object_add(*out, "accessToken", json_object_new_string("tok"));
	json_object_object_add(*out, "userName", json_object_new_string(
	    stub_input_str(c, "loginInput", "username")));
	json_object_object_add(*out, "taxID", json_object_new_string("tax-123"));
	json_object_object_add(*out, "expiresAt", json_object_new_string("2026-01-02T00:00:00Z"));
	return 0;
}

static int stub_create_tenant(const struct gql_call *c, json_object **out, struct err *e)
{
	json_object *in, *ds;
	(void)e;
	*out = json_object_new_object();
	json_object_object_add(*out, "tenantID", json_object_new_string(
	    stub_input_str(c, "createTenantInput", "tenantID")));
	json_object_object_add(*out, "tenantName", json_object_new_string(
	    stub_input_str(c, "createTenantInput", "tenantName")));
	if (json_object_object_get_ex(c->args, "createTenantInput", &in) &&
	    json_object_object_get_ex(in, "dataSource", &ds)) {
		json_object *copy = NULL;
		if (json_object_deep_copy(ds, &copy, NULL) == 0) {
			json_object_object_del(copy, "password");
			json_object_object_add(*out, "dataSource", copy);
		}
	}
	return 0;
}

static int stub_create_report(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)c;
	(void)e;
	*out = stub_report(1);
	json_object_object_add(*out, "status", json_object_new_string("PENDING"));
	json_object_object_add(*out, "progress", json_object_new_int(0));
	json_object_object_add(*out, "fileURL", NULL);
	return 0;
}

static int stub_download(const struct gql_call *c, json_object **out, struct err *e)
{
	json_object *f;
	(void)e;
	*out = json_object_new_object();
	json_object_object_add(*out, "reportID", json_object_new_int(stub_arg_int(c, "id", 0)));
	json_object_object_add(*out, "format", json_object_object_get_ex(c->args, "format", &f) ?
	    json_object_get(f) : NULL);
	json_object_object_add(*out, "filename", json_object_new_string("report-1.csv"));
	json_object_object_add(*out, "contentType", json_object_new_string("text/csv"));
	json_object_object_add(*out, "content", json_object_new_string("a,b\n1,2\n"));
	return 0;
}

/* Registers every stub; 0 or the first failure. */
static int gql_test_stubs_install(struct gql_schema *s)
{
	static const struct { const char *t, *f; gql_resolver_fn fn; } tab[] = {
		{ "Query", "status", stub_status },
		{ "Query", "getReportUrl", stub_status },
		{ "Query", "reports", stub_reports },
		{ "Query", "me", stub_me },
		{ "Mutation", "signUp", stub_sign_up },
		{ "Mutation", "login", stub_login },
		{ "Mutation", "createTenant", stub_create_tenant },
		{ "Mutation", "createReport", stub_create_report },
		{ "Mutation", "downloadReport", stub_download },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		int rc = gql_schema_set_resolver(s, tab[i].t, tab[i].f, tab[i].fn);
		if (rc != 0)
			return rc;
	}
	return 0;
}

#endif
