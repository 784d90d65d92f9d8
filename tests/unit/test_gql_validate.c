/* Validation rules against the app schema.  Expected messages and
 * locations were produced by graphql-js 16 (validate() on the schema built
 * from our introspection), so they double as a conformance table. */
#include <string.h>

#include "app_schema.h"
#include "gql.h"
#include "testlib.h"

struct vcase {
	const char *doc;
	const char *msg;	/* first error, NULL if valid */
	int line, col;
	int nerrors;
};

static const struct vcase cases[] = {
	{ "{ a: status(id: 1) { reportID } a: status(id: 2) { reportID } }",
	  "Fields \"a\" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional.", 1, 3, 1 },
	{ "{ a: status(id: 1) { reportID } a: me { username } }",
	  "Fields \"a\" conflict because \"status\" and \"me\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 3, 1 },
	{ "{ status(id: 1) { x: reportID x: status } }",
	  "Fields \"x\" conflict because \"reportID\" and \"status\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 19, 1 },
	{ "{ status(id: 1) { reportID } status(id: 1) { reportID: progress } }",
	  "Fields \"status\" conflict because subfields \"reportID\" conflict because \"reportID\" and \"progress\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 3, 1 },
	{ "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
	  "Cannot spread fragment \"A\" within itself via \"B\".", 1, 38, 1 },
	{ "query { ...A } fragment A on Query { ...A }",
	  "Cannot spread fragment \"A\" within itself.", 1, 38, 1 },
	{ "query { ...A } fragment A on Query { me { username } ...B } fragment B on Query { ...C } fragment C on Query { ...A ...B }",
	  "Cannot spread fragment \"A\" within itself via \"B\", \"C\".", 1, 54, 2 },
	{ "query Q($id: Int) { status(id: $id) { reportID } }",
	  "Variable \"$id\" of type \"Int\" used in position expecting type \"Int!\".", 1, 9, 1 },
	{ "query Q($id: Int = 1) { status(id: $id) { reportID } }",
	  NULL, 0, 0, 0 },
	{ "query Q($f: ReportFormat) { downloadReport(id: 1, format: $f) { filename } }",
	  "Cannot query field \"downloadReport\" on type \"Query\".", 1, 29, 1 },
	{ "query Q($f: String) { reports(first: $f) { reportID } }",
	  "Variable \"$f\" of type \"String\" used in position expecting type \"Int\".", 1, 9, 1 },
	{ "query Q($id: Int!, $id: Int) { status(id: $id) { reportID } }",
	  "There can be only one variable named \"$id\".", 1, 10, 2 },
	{ "query Q { status(id: $nope) { reportID } }",
	  "Variable \"$nope\" is not defined by operation \"Q\".", 1, 22, 1 },
	{ "query Q($x: Int) { me { username } }",
	  "Variable \"$x\" is never used in operation \"Q\".", 1, 9, 1 },
	{ "query Q($x: Report) { me { username } }",
	  "Variable \"$x\" cannot be non-input type \"Report\".", 1, 13, 2 },
	{ "query Q($x: Nope) { me { username } }",
	  "Unknown type \"Nope\".", 1, 13, 2 },
	{ "{ me @skip(if: true) @skip(if: false) { username } }",
	  "The directive \"@skip\" can only be used once at this location.", 1, 6, 1 },
	{ "{ me @include { username } }",
	  "Directive \"@include\" argument \"if\" of type \"Boolean!\" is required, but it was not provided.", 1, 6, 1 },
	{ "{ me @foo { username } }",
	  "Unknown directive \"@foo\".", 1, 6, 1 },
	{ "query @skip(if: true) { me { username } }",
	  "Directive \"@skip\" may not be used on QUERY.", 1, 7, 1 },
	{ "{ status(id: 1, id: 2) { reportID } }",
	  "There can be only one argument named \"id\".", 1, 10, 1 },
	{ "mutation { login(loginInput: {username: \"a\", username: \"b\", password: \"c\"}) { accessToken } }",
	  "There can be only one input field named \"username\".", 1, 31, 1 },
	{ "mutation { login(loginInput: {username: \"a\"}) { accessToken } }",
	  "Field \"LoginInput.password\" of required type \"String!\" was not provided.", 1, 30, 1 },
	{ "mutation { login(loginInput: {username: \"a\", password: \"b\", extra: 1}) { accessToken } }",
	  "Field \"extra\" is not defined by type \"LoginInput\".", 1, 61, 1 },
	{ "mutation { login(loginInput: null) { accessToken } }",
	  "Expected value of type \"LoginInput!\", found null.", 1, 30, 1 },
	{ "{ status(id: 2147483648) { reportID } }",
	  "Int cannot represent non 32-bit signed integer value: 2147483648", 1, 14, 1 },
	{ "{ status(id: 1.5) { reportID } }",
	  "Int cannot represent non-integer value: 1.5", 1, 14, 1 },
	{ "{ reports(first: null) { reportID } }",
	  NULL, 0, 0, 0 },
	{ "{ reports(first: [1]) { reportID } }",
	  "Int cannot represent non-integer value: [1]", 1, 18, 1 },
	{ "subscription { reportReady reportProgress { reportID } }",
	  "Anonymous Subscription must select only one top level field.", 1, 28, 1 },
	{ "subscription S { __typename }",
	  "Subscription \"S\" must not select an introspection top level field.", 1, 18, 1 },
	{ "subscription S { reportReady ...F } fragment F on Subscription { reportProgress { reportID } }",
	  "Subscription \"S\" must select only one top level field.", 1, 66, 1 },
	{ "{ ... on Report { reportID } }",
	  "Fragment cannot be spread here as objects of type \"Query\" can never be of type \"Report\".", 1, 3, 1 },
	{ "{ ... on Int { x } }",
	  "Fragment cannot condition on non composite type \"Int\".", 1, 10, 1 },
	{ "fragment F on Int { x } { me { ...F } }",
	  "Fragment \"F\" cannot condition on non composite type \"Int\".", 1, 15, 1 },
	{ "{ me { ...Nope } }",
	  "Unknown fragment \"Nope\".", 1, 11, 1 },
	{ "{ me { ... on Nope { username } } }",
	  "Unknown type \"Nope\".", 1, 15, 1 },
	{ "fragment F on Report { reportID } { me { ...F } }",
	  "Fragment \"F\" cannot be spread here as objects of type \"User\" can never be of type \"Report\".", 1, 42, 1 },
	{ "query A { me { username } } query A { me { taxID } }",
	  "There can be only one operation named \"A\".", 1, 7, 1 },
	{ "{ me { username } } query B { me { taxID } }",
	  "This anonymous operation must be the only defined operation.", 1, 1, 1 },
	{ "{ statu(id: 1) { reportID } }",
	  "Cannot query field \"statu\" on type \"Query\". Did you mean \"status\"?", 1, 3, 1 },
	{ "{ status(id: 1) }",
	  "Field \"status\" of type \"Report\" must have a selection of subfields. Did you mean \"status { ... }\"?", 1, 3, 1 },
	{ "{ me { username { x } } }",
	  "Field \"username\" must not have a selection since type \"String!\" has no subfields.", 1, 17, 1 },
	{ "{ status(ids: 1) { reportID } }",
	  "Unknown argument \"ids\" on field \"Query.status\". Did you mean \"id\"?", 1, 10, 2 },
	{ "{ status { reportID } }",
	  "Field \"status\" argument \"id\" of type \"Int!\" is required, but it was not provided.", 1, 3, 1 },
	{ "{ __type(name: \"Report\") { name fields { name } } __schema { types { name } } }",
	  NULL, 0, 0, 0 },
	{ "{ downloadReport(id: 1, format: PDF) { filename } }",
	  "Cannot query field \"downloadReport\" on type \"Query\".", 1, 3, 1 },
	{ "query Q($v: [Int]) { status(id: $v) { reportID } }",
	  "Variable \"$v\" of type \"[Int]\" used in position expecting type \"Int!\".", 1, 9, 1 },
	{ "query Q($v: Int) { reports(first: 1, after: $v) { ...F } } fragment F on Report { reportID progress: status }",
	  NULL, 0, 0, 0 },
	{ "{ me { ... @include(if: true) { username } } }",
	  NULL, 0, 0, 0 },
	{ "query Q($b: Boolean!) { me @skip(if: $b) { username } }",
	  NULL, 0, 0, 0 },
	{ "query Q($b: Boolean) { me @skip(if: $b) { username } }",
	  "Variable \"$b\" of type \"Boolean\" used in position expecting type \"Boolean!\".", 1, 9, 1 },
	{ "{ status(id: 1) { providers { name } providers { name: status } } }",
	  "Fields \"providers\" conflict because subfields \"name\" conflict because \"name\" and \"status\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 19, 1 },
	{ "{ status(id: 1) { ... on Report { a: reportID } a: progress } }",
	  "Fields \"a\" conflict because \"reportID\" and \"progress\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 35, 1 },
	{ "{ me { ...F ...G } } fragment F on User { x: username } fragment G on User { x: taxID }",
	  "Fields \"x\" conflict because \"username\" and \"taxID\" are different fields. Use different aliases on the fields to fetch both if this was intentional.", 1, 43, 1 },
	/* the original service's documents (ORIGINAL_EXAMPLES.md) */
	{ "mutation CreateTenant {\n  createTenant(createTenantInput: {\n    tenantID: \"tenant-a\", "
	  "tenantName: \"tenant-a\",\n    dataSource: { host: \"db\", username: \"postgres\", "
	  "password: \"postgres\", port: \"5432\", db: \"tenantA\" }\n  }) { tenantID tenantName "
	  "dataSource }\n}", NULL, 0, 0, 0 },
	{ "mutation SignUp {\n  signUp(signUp: { tenantID: \"tenant-a\", username: \"user-a\", "
	  "password: \"pass\", taxID: \"tax-123\" }) {\n    tenantID username password taxID\n  }\n}",
	  NULL, 0, 0, 0 },
	{ "mutation Login {\n  login(loginInput: { username: \"user-a\", password: \"pass\", }) "
	  "{ accessToken userName taxID }\n}", NULL, 0, 0, 0 },
	{ "mutation CreateReport { createReport { status reportID progress } }", NULL, 0, 0, 0 },
	{ "query Status { status(id: 1) { status reportID fileURL progress } }", NULL, 0, 0, 0 },
	{ "query GetReportUrl { getReportUrl(id: 1) { status reportID fileURL progress } }",
	  NULL, 0, 0, 0 },
	{ "subscription { reportReady }", NULL, 0, 0, 0 },
	/* parse errors come out of validate_document too */
	{ "{ me { username }", "Syntax Error: Expected Name, found <EOF>.", 1, 18, 1 },
	{ "type Foo { a: Int }", "The \"Foo\" definition is not executable.", 1, 1, 1 },
};

static void t_rules(void)
{
	struct err e;
	struct gql_schema *s = app_schema_new(&e);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct vcase *c = &cases[i];
		json_object *errs = NULL;
		int rc = gql_validate_document(s, &lim, c->doc, strlen(c->doc), a, &errs);
		if (c->msg == NULL) {
			if (rc != 0)
				fprintf(stderr, "  case %zu: %s\n", i, json_object_to_json_string(errs));
			CHECK_INT_EQ(rc, 0);
		} else {
			CHECK(rc != 0);
			CHECK(errs != NULL);
			if (errs == NULL)
				continue;
			json_object *first = json_object_array_get_idx(errs, 0), *m, *locs, *code;
			CHECK(json_object_object_get_ex(first, "message", &m));
			CHECK_STR_EQ(json_object_get_string(m), c->msg);
			CHECK(json_object_object_get_ex(first, "locations", &locs));
			json_object *l0 = json_object_array_get_idx(locs, 0), *ln, *col;
			CHECK(json_object_object_get_ex(l0, "line", &ln));
			CHECK(json_object_object_get_ex(l0, "column", &col));
			CHECK_INT_EQ(json_object_get_int(ln), c->line);
			CHECK_INT_EQ(json_object_get_int(col), c->col);
			CHECK_INT_EQ(json_object_array_length(errs), c->nerrors);
			json_object *ext;
			CHECK(json_object_object_get_ex(first, "extensions", &ext));
			CHECK(json_object_object_get_ex(ext, "code", &code));
			CHECK_STR_EQ(json_object_get_string(code), strncmp(c->msg, "Syntax Error", 12) == 0 ?
			    "GRAPHQL_PARSE_FAILED" : "GRAPHQL_VALIDATION_FAILED");
		}
		json_object_put(errs);
		arena_reset(a);
	}
	arena_free(a);
	gql_schema_free(s);
}

static const char *first_message(const char *doc, const struct gql_limits *lim)
{
	static char buf[512];
	struct err e;
	struct gql_schema *s = app_schema_new(&e);
	struct arena *a = arena_new(0);
	json_object *errs = NULL;
	buf[0] = '\0';
	if (gql_validate_document(s, lim, doc, strlen(doc), a, &errs) != 0) {
		json_object *m;
		if (json_object_object_get_ex(json_object_array_get_idx(errs, 0), "message", &m)) {
			int n = snprintf(buf, sizeof buf, "%s", json_object_get_string(m));
			if (n < 0 || (size_t)n >= sizeof buf)
				buf[0] = '\0';
		}
	}
	json_object_put(errs);
	arena_free(a);
	gql_schema_free(s);
	return buf;
}

static void t_introspection_switch(void)
{
	struct gql_limits lim;
	gql_limits_default(&lim);
	CHECK_STR_EQ(first_message("{ __schema { types { name } } }", &lim), "");
	lim.introspection = false;
	CHECK_STR_EQ(first_message("{ __schema { types { name } } }", &lim),
	    "GraphQL introspection has been disabled, but the requested query contained "
	    "the field \"__schema\".");
	CHECK_STR_EQ(first_message("{ __type(name: \"Report\") { name } }", &lim),
	    "GraphQL introspection has been disabled, but the requested query contained "
	    "the field \"__type\".");
	CHECK_STR_EQ(first_message("{ __typename me { __typename } }", &lim), "");
}

static void t_limits(void)
{
	struct gql_limits lim;
	gql_limits_default(&lim);
	lim.max_depth = 3;
	CHECK_STR_EQ(first_message("{ status(id: 1) { providers { name } } }", &lim), "");
	CHECK_STR_EQ(first_message("{ __schema { types { fields { name } } } }", &lim),
	    "The operation exceeds the maximum selection depth of 3.");
	/* depth counts through fragments */
	CHECK_STR_EQ(first_message("{ __schema { ...A } } fragment A on __Schema { types "
	    "{ ...B } } fragment B on __Type { fields { name } }", &lim),
	    "The operation exceeds the maximum selection depth of 3.");
	gql_limits_default(&lim);
	lim.max_aliases = 2;
	CHECK_STR_EQ(first_message("{ a: me { username } b: me { username } }", &lim), "");
	CHECK_STR_EQ(first_message("{ ...F ...F2 } fragment F on Query { a: me { username } "
	    "b: me { username } } fragment F2 on Query { c: me { taxID } }", &lim),
	    "The operation uses more than 2 aliases.");
	gql_limits_default(&lim);
	lim.max_root_fields = 2;
	CHECK_STR_EQ(first_message("{ me { username } __typename x: __typename }", &lim),
	    "The operation selects more than 2 root fields.");
	/* cyclic fragments do not hang the limit walk */
	gql_limits_default(&lim);
	CHECK_STR_EQ(first_message("{ ...A } fragment A on Query { ...A }", &lim),
	    "Cannot spread fragment \"A\" within itself.");
}

static void t_many_errors(void)
{
	/* 300 unknown fields: reporting stops at max_errors */
	char doc[8192];
	size_t n = 0;
	doc[n++] = '{';
	for (int i = 0; i < 300; i++) {
		int k = snprintf(doc + n, sizeof doc - n, " f%d", i);
		CHECK(k > 0 && (size_t)k < sizeof doc - n);
		n += (size_t)k;
	}
	doc[n++] = '}';
	doc[n] = '\0';
	struct err e;
	struct gql_schema *s = app_schema_new(&e);
	struct gql_limits lim;
	gql_limits_default(&lim);
	lim.max_root_fields = 1000;
	struct arena *a = arena_new(0);
	json_object *errs = NULL;
	CHECK(gql_validate_document(s, &lim, doc, n, a, &errs) != 0);
	CHECK_INT_EQ(json_object_array_length(errs), 101);
	json_object *m;
	CHECK(json_object_object_get_ex(json_object_array_get_idx(errs, 100), "message", &m));
	CHECK_STR_EQ(json_object_get_string(m),
	    "Too many validation errors, error limit reached. Validation aborted.");
	json_object_put(errs);
	arena_free(a);
	gql_schema_free(s);
}

TEST_MAIN(
	{ "rules", t_rules },
	{ "introspection_switch", t_introspection_switch },
	{ "limits", t_limits },
	{ "many_errors", t_many_errors },
)
