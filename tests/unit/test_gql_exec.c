/* Execution: coercion of variables and arguments, null propagation with
 * paths, @skip/@include, fragments, operation selection, errors from
 * resolvers, subscriptions (prepare once, execute per event), omit-nulls,
 * introspection shape, limits, and a timing loop (printed, not asserted). */
#include <string.h>
#include <time.h>

#include "app_schema.h"
#include "gql.h"
#include "gql_test_stubs.h"
#include "log.h"
#include "testlib.h"

static struct gql_schema *schema(void)
{
	struct err e;
	struct gql_schema *s = app_schema_new(&e);
	if (s == NULL || gql_test_stubs_install(s) != 0) {
		fprintf(stderr, "schema: %s %s\n", e.msg, e.detail);
		exit(1);
	}
	return s;
}

/* Runs query with variables (JSON text or NULL); returns the response text
 * in a static buffer. */
static const char *run(struct gql_schema *s, const struct gql_limits *lim,
    const char *query, const char *vars, const char *op, bool omit_nulls)
{
	static char buf[65536];
	struct arena *a = arena_new(0);
	json_object *v = vars ? json_tokener_parse(vars) : NULL;
	struct gql_request req = { query, strlen(query), op, v };
	struct gql_exec_opts o = { omit_nulls };
	struct gql_limits dl;
	gql_limits_default(&dl);
	json_object *r = gql_execute_request(s, lim ? lim : &dl, &req, NULL, NULL, &o, a, NULL);
	int n = snprintf(buf, sizeof buf, "%s", json_object_to_json_string_ext(r,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	if (n < 0 || (size_t)n >= sizeof buf)
		buf[0] = '\0';
	json_object_put(r);
	json_object_put(v);
	arena_free(a);
	return buf;
}

struct ecase {
	const char *query, *vars, *op;
	const char *want;
};

static const struct ecase cases[] = {
	/* the performance query */
	{ "query { status(id: 1) { status reportID fileURL progress } }", NULL, NULL,
	  "{\"data\":{\"status\":{\"status\":\"COMPLETED\",\"reportID\":1,\"fileURL\":"
	  "\"https://reports.example/r/1.csv?sig=abc\",\"progress\":100}}}" },
	/* null propagation: Report.status is non-null, status() nullable */
	{ "query($id: Int!) { status(id: $id) { reportID status providers { name attempts } } }",
	  "{\"id\":13}", NULL,
	  "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field Report.status.\","
	  "\"locations\":[{\"line\":1,\"column\":47}],\"path\":[\"status\",\"status\"],"
	  "\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":{\"status\":null}}" },
	/* through a non-null list to the nullable parent: reports is [Report!]! so
	 * the error reaches data */
	{ "{ reports(first: 2, after: 12) { reportID status } }", NULL, NULL,
	  "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field Report.status.\","
	  "\"locations\":[{\"line\":1,\"column\":43}],\"path\":[\"reports\",0,\"status\"],"
	  "\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":null}" },
	/* resolver errors: public message, INTERNAL masked, bad enum serialisation */
	{ "{ a: status(id: 404) { reportID } b: status(id: 500) { reportID } "
	  "c: status(id: 7) { status } }", NULL, NULL,
	  "{\"errors\":[{\"message\":\"report not found\",\"locations\":[{\"line\":1,\"column\":3}],"
	  "\"path\":[\"a\"],\"extensions\":{\"code\":\"NOT_FOUND\"}},{\"message\":\"Internal server "
	  "error\",\"locations\":[{\"line\":1,\"column\":35}],\"path\":[\"b\"],\"extensions\":"
	  "{\"code\":\"INTERNAL_SERVER_ERROR\"}},{\"message\":\"Enum \\\"ReportStatus\\\" cannot "
	  "represent value: \\\"DONE\\\"\",\"locations\":[{\"line\":1,\"column\":86}],\"path\":"
	  "[\"c\",\"status\"],\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":"
	  "{\"a\":null,\"b\":null,\"c\":null}}" },
	/* variables */
	{ "query($id: Int!) { status(id: $id) { reportID } }", "{\"id\":\"x\"}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" got invalid value \\\"x\\\"; Int cannot "
	  "represent non-integer value: \\\"x\\\"\",\"locations\":[{\"line\":1,\"column\":7}],"
	  "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "query($id: Int!) { status(id: $id) { reportID } }", "{\"id\":3000000000}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" got invalid value 3000000000; Int cannot "
	  "represent non 32-bit signed integer value: 3000000000\",\"locations\":[{\"line\":1,"
	  "\"column\":7}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "query($id: Int!) { status(id: $id) { reportID } }", "{\"id\":4.0}", NULL,
	  "{\"data\":{\"status\":{\"reportID\":4}}}" },
	{ "query($id: Int!) { status(id: $id) { reportID } }", "{}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of required type \\\"Int!\\\" was not "
	  "provided.\",\"locations\":[{\"line\":1,\"column\":7}],\"extensions\":{\"code\":"
	  "\"BAD_USER_INPUT\"}}]}" },
	{ "query($id: Int!) { status(id: $id) { reportID } }", "{\"id\":null}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" of non-null type \\\"Int!\\\" must not be "
	  "null.\",\"locations\":[{\"line\":1,\"column\":7}],\"extensions\":{\"code\":"
	  "\"BAD_USER_INPUT\"}}]}" },
	{ "query($id: Int = 5) { status(id: $id) { reportID } }", NULL, NULL,
	  "{\"data\":{\"status\":{\"reportID\":5}}}" },
	{ "mutation($in: LoginInput!) { login(loginInput: $in) { userName } }",
	  "{\"in\":{\"username\":\"a\"}}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$in\\\" got invalid value { username: \\\"a\\\" }; "
	  "Field \\\"password\\\" of required type \\\"String!\\\" was not provided.\",\"locations\":"
	  "[{\"line\":1,\"column\":10}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "mutation($in: LoginInput!) { login(loginInput: $in) { userName } }",
	  "{\"in\":{\"username\":\"a\",\"password\":\"b\",\"pasword\":1}}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$in\\\" got invalid value { username: \\\"a\\\", "
	  "password: \\\"b\\\", pasword: 1 }; Field \\\"pasword\\\" is not defined by type "
	  "\\\"LoginInput\\\". Did you mean \\\"password\\\"?\",\"locations\":[{\"line\":1,\"column\":"
	  "10}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "mutation($t: CreateTenantInput!) { createTenant(createTenantInput: $t) { tenantID } }",
	  "{\"t\":{\"tenantID\":\"a\",\"tenantName\":\"b\",\"dataSource\":{\"host\":\"h\","
	  "\"username\":\"u\",\"password\":\"p\",\"port\":5432,\"db\":\"d\"}}}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$t\\\" got invalid value 5432 at "
	  "\\\"t.dataSource.port\\\"; String cannot represent a non string value: 5432\","
	  "\"locations\":[{\"line\":1,\"column\":10}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "mutation($f: ReportFormat) { downloadReport(id: 3, format: $f) { reportID format } "
	  "d2: downloadReport(id: 4) { format } }", "{\"f\":\"JSON\"}", NULL,
	  "{\"data\":{\"downloadReport\":{\"reportID\":3,\"format\":\"JSON\"},\"d2\":{\"format\":"
	  "\"CSV\"}}}" },
	{ "mutation($f: ReportFormat) { downloadReport(id: 3, format: $f) { format } }",
	  "{\"f\":\"PDF\"}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$f\\\" got invalid value \\\"PDF\\\"; Value "
	  "\\\"PDF\\\" does not exist in \\\"ReportFormat\\\" enum.\",\"locations\":[{\"line\":1,"
	  "\"column\":10}],\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "query($id: Int) { status(id: 1) { reportID } reports(after: $id) { reportID } }",
	  "{\"id\":[1]}", NULL,
	  "{\"errors\":[{\"message\":\"Variable \\\"$id\\\" got invalid value [1]; Int cannot "
	  "represent non-integer value: [1]\",\"locations\":[{\"line\":1,\"column\":7}],"
	  "\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	/* arguments: defaults, explicit null, variable not provided */
	{ "query($a: Int) { reports(first: 1, after: $a) { reportID } }", NULL, NULL,
	  "{\"data\":{\"reports\":[{\"reportID\":1}]}}" },
	{ "{ reports(first: 1, after: null) { reportID } }", NULL, NULL,
	  "{\"data\":{\"reports\":[{\"reportID\":1}]}}" },
	/* literal input objects (the original's trailing comma) */
	{ "mutation Login { login(loginInput: { username: \"user-a\", password: \"pass\", }) "
	  "{ accessToken userName taxID } }", NULL, NULL,
	  "{\"data\":{\"login\":{\"accessToken\":\"tok\",\"userName\":\"user-a\",\"taxID\":"
	  "\"tax-123\"}}}" },
	{ "mutation { createTenant(createTenantInput: { tenantID: \"t\", tenantName: \"n\", "
	  "dataSource: { host: \"db\", username: \"u\", password: \"p\", port: \"5432\", db: "
	  "\"d\" } }) { tenantID dataSource } }", NULL, NULL,
	  "{\"data\":{\"createTenant\":{\"tenantID\":\"t\",\"dataSource\":{\"host\":\"db\","
	  "\"username\":\"u\",\"port\":\"5432\",\"db\":\"d\"}}}}" },
	/* @skip / @include with variables and literals */
	{ "query($s: Boolean!) { me @skip(if: $s) { username } x: me @include(if: $s) { taxID } "
	  "... on Query @skip(if: true) { reports { reportID } } }", "{\"s\":true}", NULL,
	  "{\"data\":{\"x\":{\"taxID\":\"tax-123\"}}}" },
	/* fragments merge in selection order; __typename everywhere */
	{ "{ __typename me { ...U username } ... on Query { me { tenantID } } } "
	  "fragment U on User { __typename username password }", NULL, NULL,
	  "{\"data\":{\"__typename\":\"Query\",\"me\":{\"__typename\":\"User\",\"username\":"
	  "\"user-a\",\"password\":null,\"tenantID\":\"tenant-a\"}}}" },
	/* operation selection */
	{ "query A { me { username } } query B { me { taxID } }", NULL, NULL,
	  "{\"errors\":[{\"message\":\"Must provide operation name if query contains multiple "
	  "operations.\",\"extensions\":{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "query A { me { username } } query B { me { taxID } }", NULL, "C",
	  "{\"errors\":[{\"message\":\"Unknown operation named \\\"C\\\".\",\"extensions\":"
	  "{\"code\":\"BAD_USER_INPUT\"}}]}" },
	{ "query A { me { username } } query B { me { taxID } }", NULL, "B",
	  "{\"data\":{\"me\":{\"taxID\":\"tax-123\"}}}" },
	/* introspection */
	{ "{ __type(name: \"ReportFormat\") { kind name enumValues { name } } "
	  "t2: __type(name: \"Nope\") { name } }", NULL, NULL,
	  "{\"data\":{\"__type\":{\"kind\":\"ENUM\",\"name\":\"ReportFormat\",\"enumValues\":"
	  "[{\"name\":\"CSV\"},{\"name\":\"JSON\"}]},\"t2\":null}}" },
	{ "{ __type(name: \"User\") { fields { name } all: fields(includeDeprecated: true) "
	  "{ name isDeprecated deprecationReason } } }", NULL, NULL,
	  "{\"data\":{\"__type\":{\"fields\":[{\"name\":\"tenantID\"},{\"name\":\"username\"},"
	  "{\"name\":\"taxID\"}],\"all\":[{\"name\":\"tenantID\",\"isDeprecated\":false,"
	  "\"deprecationReason\":null},{\"name\":\"username\",\"isDeprecated\":false,"
	  "\"deprecationReason\":null},{\"name\":\"taxID\",\"isDeprecated\":false,"
	  "\"deprecationReason\":null},{\"name\":\"password\",\"isDeprecated\":true,"
	  "\"deprecationReason\":\"never returned\"}]}}}" },
	{ "{ __type(name: \"Query\") { fields { name args { name defaultValue type { kind "
	  "ofType { name } } } } } }", NULL, NULL,
	  "{\"data\":{\"__type\":{\"fields\":[{\"name\":\"status\",\"args\":[{\"name\":\"id\","
	  "\"defaultValue\":null,\"type\":{\"kind\":\"NON_NULL\",\"ofType\":{\"name\":\"Int\"}}}]},"
	  "{\"name\":\"getReportUrl\",\"args\":[{\"name\":\"id\",\"defaultValue\":null,\"type\":"
	  "{\"kind\":\"NON_NULL\",\"ofType\":{\"name\":\"Int\"}}}]},{\"name\":\"reports\",\"args\":"
	  "[{\"name\":\"first\",\"defaultValue\":\"20\",\"type\":{\"kind\":\"SCALAR\",\"ofType\":"
	  "null}},{\"name\":\"after\",\"defaultValue\":null,\"type\":{\"kind\":\"SCALAR\","
	  "\"ofType\":null}}]},{\"name\":\"me\",\"args\":[]}]}}}" },
	/* parse and validation errors have no data */
	{ "{ me { username }", NULL, NULL,
	  "{\"errors\":[{\"message\":\"Syntax Error: Expected Name, found <EOF>.\",\"locations\":"
	  "[{\"line\":1,\"column\":18}],\"extensions\":{\"code\":\"GRAPHQL_PARSE_FAILED\"}}]}" },
	{ "{ me { nope } }", NULL, NULL,
	  "{\"errors\":[{\"message\":\"Cannot query field \\\"nope\\\" on type \\\"User\\\".\","
	  "\"locations\":[{\"line\":1,\"column\":8}],\"extensions\":{\"code\":"
	  "\"GRAPHQL_VALIDATION_FAILED\"}}]}" },
	/* mutations run serially in document order */
	{ "mutation { a: createReport { status progress } b: signUp(signUp: { tenantID: \"t\", "
	  "username: \"u\", password: \"p\", taxID: \"x\" }) { username password } }", NULL, NULL,
	  "{\"data\":{\"a\":{\"status\":\"PENDING\",\"progress\":0},\"b\":{\"username\":\"u\","
	  "\"password\":null}}}" },
};

static void t_table(void)
{
	struct gql_schema *s = schema();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *got = run(s, NULL, cases[i].query, cases[i].vars, cases[i].op, false);
		if (strcmp(got, cases[i].want) != 0)
			fprintf(stderr, "  case %zu\n", i);
		CHECK_STR_EQ(got, cases[i].want);
	}
	gql_schema_free(s);
}

static void t_omit_nulls(void)
{
	struct gql_schema *s = schema();
	CHECK_STR_EQ(run(s, NULL, "{ me { username password } status(id: 404) { reportID } }",
	    NULL, NULL, true),
	    "{\"errors\":[{\"message\":\"report not found\",\"locations\":[{\"line\":1,\"column\":"
	    "28}],\"path\":[\"status\"],\"extensions\":{\"code\":\"NOT_FOUND\"}}],\"data\":{\"me\":"
	    "{\"username\":\"user-a\"}}}");
	gql_schema_free(s);
}

static void t_subscription(void)
{
	struct gql_schema *s = schema();
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *pa = arena_new(0), *ea = arena_new(0);
	static const char q[] = "subscription W($id: Int) { p: reportProgress(id: $id) "
	    "{ reportID progress } }";
	json_object *vars = json_tokener_parse("{\"id\":9}");
	struct gql_request req = { q, sizeof q - 1, NULL, vars };
	struct gql_prepared *p = NULL;
	json_object *errs = NULL;
	CHECK_INT_EQ(gql_prepare(s, &lim, &req, pa, &p, &errs), 0);
	json_object_put(vars);	/* the prepared keeps its own coerced copy */
	if (p == NULL) {
		json_object_put(errs);
		goto out;
	}
	CHECK_INT_EQ(gql_prepared_operation(p), GQL_OPERATION_SUBSCRIPTION);
	CHECK_STR_EQ(gql_prepared_name(p), "W");
	CHECK_STR_EQ(gql_prepared_root_field(p), "reportProgress");
	json_object *args = NULL;
	struct err e;
	CHECK_INT_EQ(gql_prepared_root_args(p, ea, &args, &e), 0);
	CHECK_STR_EQ(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), "{\"id\":9}");
	json_object_put(args);
	for (int ev = 0; ev < 3; ev++) {
		json_object *root = json_object_new_object(), *event = json_object_new_object();
		json_object_object_add(event, "reportID", json_object_new_int(9));
		json_object_object_add(event, "progress", json_object_new_int(ev * 50));
		json_object_object_add(root, "reportProgress", event);
		json_object *r = gql_execute_prepared(p, NULL, root, NULL, ea);
		char want[128];
		int n = snprintf(want, sizeof want,
		    "{\"data\":{\"p\":{\"reportID\":9,\"progress\":%d}}}", ev * 50);
		CHECK(n > 0 && (size_t)n < sizeof want);
		CHECK_STR_EQ(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), want);
		json_object_put(r);
		json_object_put(root);
		arena_reset(ea);
	}
	/* reportReady: JSON! passes any JSON through */
	static const char q2[] = "subscription { reportReady }";
	struct gql_request req2 = { q2, sizeof q2 - 1, NULL, NULL };
	CHECK_INT_EQ(gql_prepare(s, &lim, &req2, pa, &p, &errs), 0);
	json_object *root = json_tokener_parse("{\"reportReady\":{\"reportID\":1,\"status\":"
	    "\"COMPLETED\",\"fileURL\":\"u\",\"x\":[1,2.5,null,true]}}");
	json_object *r = gql_execute_prepared(p, NULL, root, NULL, ea);
	CHECK_STR_EQ(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
	    "{\"data\":{\"reportReady\":{\"reportID\":1,\"status\":\"COMPLETED\",\"fileURL\":\"u\","
	    "\"x\":[1,2.5,null,true]}}}");
	json_object_put(r);
	json_object_put(root);
	/* event missing: non-null root field -> data null */
	r = gql_execute_prepared(p, NULL, NULL, NULL, ea);
	CHECK_STR_EQ(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
	    "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field "
	    "Subscription.reportReady.\",\"locations\":[{\"line\":1,\"column\":16}],\"path\":"
	    "[\"reportReady\"],\"extensions\":{\"code\":\"INTERNAL_SERVER_ERROR\"}}],\"data\":null}");
	json_object_put(r);
	/* two root fields: validation error */
	static const char q3[] = "subscription { reportReady reportProgress { reportID } }";
	struct gql_request req3 = { q3, sizeof q3 - 1, NULL, NULL };
	CHECK_INT_EQ(gql_prepare(s, &lim, &req3, pa, &p, &errs), APP_ERR_VALIDATION);
	json_object_put(errs);
out:
	arena_free(ea);
	arena_free(pa);
	gql_schema_free(s);
}

static void t_introspection_shape(void)
{
	struct gql_schema *s = schema();
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *a = arena_new(0);
	struct gql_request req = { gql_introspection_query, strlen(gql_introspection_query),
		NULL, NULL };
	json_object *r = gql_execute_request(s, &lim, &req, NULL, NULL, NULL, a, NULL);
	json_object *data, *sch, *types, *dirs, *qt, *name;
	CHECK(!json_object_object_get_ex(r, "errors", NULL));
	CHECK(json_object_object_get_ex(r, "data", &data));
	CHECK(json_object_object_get_ex(data, "__schema", &sch));
	CHECK(json_object_object_get_ex(sch, "queryType", &qt));
	CHECK(json_object_object_get_ex(qt, "name", &name));
	CHECK_STR_EQ(json_object_get_string(name), "Query");
	CHECK(json_object_object_get_ex(sch, "types", &types));
	CHECK(json_object_object_get_ex(sch, "directives", &dirs));
	size_t found = 0;
	for (size_t i = 0; i < json_object_array_length(types); i++) {
		json_object *t = json_object_array_get_idx(types, i), *n, *k, *pt, *ifs;
		CHECK(json_object_object_get_ex(t, "name", &n));
		CHECK(json_object_object_get_ex(t, "kind", &k));
		CHECK(json_object_object_get_ex(t, "possibleTypes", &pt) && pt == NULL);
		const char *tn = json_object_get_string(n);
		if (strcmp(tn, "Report") == 0 || strcmp(tn, "__Type") == 0 ||
		    strcmp(tn, "JSON") == 0 || strcmp(tn, "String") == 0)
			found++;
		if (strcmp(json_object_get_string(k), "OBJECT") == 0)
			CHECK(json_object_object_get_ex(t, "interfaces", &ifs) &&
			    json_object_is_type(ifs, json_type_array));
		CHECK(strcmp(tn, "__Meta") != 0);
	}
	CHECK_INT_EQ(found, 4);
	CHECK(json_object_array_length(dirs) >= 3);
	json_object_put(r);
	arena_free(a);
	gql_schema_free(s);
}

static void t_limits(void)
{
	struct gql_schema *s = schema();
	struct gql_limits lim;
	gql_limits_default(&lim);
	/* deep nesting: values, selections, list types */
	enum { N = 100000 };
	char *doc = malloc(N * 3 + 64);
	static const char *const shapes[][3] = {
		{ "{ reports(first: ", "[", "]" },
		{ "{ ", "a{", "}" },
		{ "query($v: ", "[", "]" },
		{ "{ me(a: ", "{a:", "}" },
	};
	for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
		size_t n = 0;
		n += (size_t)snprintf(doc + n, 64, "%s", shapes[k][0]);
		size_t pl = strlen(shapes[k][1]);
		for (int i = 0; i < N / 2; i++) {
			memcpy(doc + n, shapes[k][1], pl);
			n += pl;
		}
		doc[n] = '\0';
		lim.max_doc_bytes = N * 3;
		lim.max_tokens = N * 3;
		const char *got = run(s, &lim, doc, NULL, NULL, false);
		if (strstr(got, "nesting exceeds") == NULL)
			fprintf(stderr, "  shape %zu: %s\n", k, got);
		CHECK(strstr(got, "GRAPHQL_PARSE_FAILED") != NULL);
		CHECK(strstr(got, "nesting exceeds") != NULL);
	}
	/* document size and tokens */
	gql_limits_default(&lim);
	memset(doc, ' ', N);
	memcpy(doc, "{ me { username } }", 19);
	doc[N] = '\0';
	CHECK(strstr(run(s, &lim, doc, NULL, NULL, false),
	    "Document is larger than the maximum of 65536 bytes") != NULL);
	size_t n = 0;
	doc[n++] = '{';
	for (int i = 0; i < 12000; i++) {
		memcpy(doc + n, " a", 2);
		n += 2;
	}
	doc[n++] = '}';
	doc[n] = '\0';
	CHECK(strstr(run(s, &lim, doc, NULL, NULL, false),
	    "Syntax Error: Document contains more than 10000 tokens. Parsing aborted.") != NULL);
	/* many identical fields: merging stays cheap */
	n = 0;
	doc[n++] = '{';
	for (int i = 0; i < 3000; i++) {
		memcpy(doc + n, " me{username}", 13);
		n += 13;
	}
	doc[n++] = '}';
	doc[n] = '\0';
	lim.max_tokens = 100000;
	lim.max_root_fields = 100000;
	CHECK(strstr(run(s, &lim, doc, NULL, NULL, false), "{\"data\":{\"me\":{\"username\":"
	    "\"user-a\"}}}") != NULL);
	/* exponential fragment fan-out is bounded by CollectFields' visited set */
	n = (size_t)snprintf(doc, 256, "{ ...F0 }");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(doc + n, 256, " fragment F%d on Query { ...F%d ...F%d }", i,
		    i + 1, i + 1);
	n += (size_t)snprintf(doc + n, 256, " fragment F30 on Query { me { username } }");
	CHECK_STR_EQ(run(s, &lim, doc, NULL, NULL, false),
	    "{\"data\":{\"me\":{\"username\":\"user-a\"}}}");
	/* fan-out through introspection is cut by the field budget */
	gql_limits_default(&lim);
	lim.max_executed_fields = 100;
	const char *got = run(s, &lim, "{ __schema { types { fields { type { fields { type { name "
	    "} } } } } } }", NULL, NULL, false);
	if (strstr(got, "exceeds the maximum of 100 ") == NULL)
		fprintf(stderr, "  got %.300s\n", got);
	CHECK(strstr(got, "\"The response exceeds the maximum of 100 fields.\"") != NULL);
	CHECK(strstr(got, "\"data\":null") != NULL);
	free(doc);
	gql_schema_free(s);
}

static double cpu_now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void t_timing(void)
{
	static const char q[] = "query { status(id: 1) { status reportID fileURL progress } }";
	struct gql_schema *s = schema();
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *a = arena_new(0);
	enum { ITER = 20000 };
	double t0 = cpu_now();
	for (int i = 0; i < ITER; i++) {
		struct gql_request req = { q, sizeof q - 1, NULL, NULL };
		json_object *r = gql_execute_request(s, &lim, &req, NULL, NULL, NULL, a, NULL);
		json_object_put(r);
		arena_reset(a);
	}
	double t1 = cpu_now();
	printf("     timing: parse+validate+execute %.2f us/request (CPU, %d iterations)\n",
	    (t1 - t0) * 1e6 / ITER, ITER);
	arena_free(a);
	gql_schema_free(s);
}

TEST_MAIN(
	{ "table", t_table },
	{ "omit_nulls", t_omit_nulls },
	{ "subscription", t_subscription },
	{ "introspection_shape", t_introspection_shape },
	{ "limits", t_limits },
	{ "timing", t_timing },
)
