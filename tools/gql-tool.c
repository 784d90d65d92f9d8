/* gql-tool: the GraphQL engine from the command line (used by tests and
 * the graphql-js oracle).
 *
 *   gql-tool introspect         full introspection result of the app schema
 *   gql-tool validate [--service-limits] FILE...
 *                               one JSON line per file: {file, valid, errors};
 *                               like graphql-js validate(), so the service's
 *                               depth/alias/root-field limits apply only with
 *                               --service-limits
 *   gql-tool execute            request JSON on stdin -> response on stdout
 *   gql-tool bench [N]          parse+validate+execute timing of a small query
 *
 * Limits are the engine defaults (the GQL_* settings' defaults).  Exit
 * status 0 unless the tool itself fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app_schema.h"
#include "gql.h"
#include "gql_test_stubs.h"
#include "log.h"
#include "sbuf.h"

enum { MAX_INPUT = 64 * 1024 * 1024 };

static int read_all(FILE *f, struct sbuf *sb)
{
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sbuf_append(sb, buf, n);
	return ferror(f) || sb->failed ? -1 : 0;
}

static void print_json(json_object *j)
{
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int cmd_execute_text(struct gql_schema *s, const char *query, size_t len,
    json_object *vars, const char *op, json_object **out)
{
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *a = arena_new(0);
	struct gql_request req = { query, len, op, vars };
	struct gql_exec_opts o = { false };
	*out = gql_execute_request(s, &lim, &req, NULL, NULL, &o, a, NULL);
	arena_free(a);
	return 0;
}

static int cmd_introspect(struct gql_schema *s)
{
	json_object *r;
	if (cmd_execute_text(s, gql_introspection_query, strlen(gql_introspection_query),
	    NULL, NULL, &r) != 0)
		return 1;
	print_json(r);
	json_object_put(r);
	return 0;
}

static int cmd_validate(struct gql_schema *s, int argc, char **argv)
{
	struct gql_limits lim;
	gql_limits_default(&lim);
	int status = 0;
	if (argc > 0 && strcmp(argv[0], "--service-limits") == 0) {
		argc--;
		argv++;
	} else {
		lim.max_depth = lim.max_aliases = lim.max_root_fields = ~0u;
	}
	for (int i = 0; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		struct sbuf sb;
		sbuf_init(&sb, MAX_INPUT);
		if (f == NULL || read_all(f, &sb) != 0) {
			fprintf(stderr, "gql-tool: cannot read %s\n", argv[i]);
			if (f)
				fclose(f);
			sbuf_clear(&sb);
			status = 1;
			continue;
		}
		fclose(f);
		struct arena *a = arena_new(0);
		json_object *errs = NULL;
		int rc = gql_validate_document(s, &lim, sb.p, sb.len, a, &errs);
		json_object *line = json_object_new_object();
		json_object_object_add(line, "file", json_object_new_string(argv[i]));
		json_object_object_add(line, "valid", json_object_new_boolean(rc == 0));
		json_object_object_add(line, "errors", errs ? errs : json_object_new_array());
		print_json(line);
		json_object_put(line);
		arena_free(a);
		sbuf_clear(&sb);
	}
	return status;
}

static void print_request_error(const char *msg)
{
	json_object *r = json_object_new_object(), *arr = json_object_new_array();
	json_object *e = json_object_new_object(), *ext = json_object_new_object();
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(ext, "code", json_object_new_string("BAD_USER_INPUT"));
	json_object_object_add(e, "extensions", ext);
	json_object_array_add(arr, e);
	json_object_object_add(r, "errors", arr);
	print_json(r);
	json_object_put(r);
}

static int cmd_execute(struct gql_schema *s)
{
	struct sbuf sb;
	sbuf_init(&sb, MAX_INPUT);
	if (read_all(stdin, &sb) != 0) {
		fprintf(stderr, "gql-tool: cannot read stdin\n");
		sbuf_clear(&sb);
		return 1;
	}
	json_tokener *tok = json_tokener_new();
	json_object *req = json_tokener_parse_ex(tok, sb.p, (int)sb.len);
	bool bad = json_tokener_get_error(tok) != json_tokener_success;
	json_tokener_free(tok);
	sbuf_clear(&sb);
	json_object *q = NULL, *v = NULL, *op = NULL;
	if (bad || !json_object_is_type(req, json_type_object)) {
		print_request_error("The request body is not a JSON object.");
	} else if (!json_object_object_get_ex(req, "query", &q) ||
	    !json_object_is_type(q, json_type_string)) {
		print_request_error("The request has no \"query\" string.");
	} else {
		(void)json_object_object_get_ex(req, "variables", &v);
		(void)json_object_object_get_ex(req, "operationName", &op);
		json_object *r;
		if (cmd_execute_text(s, json_object_get_string(q),
		    (size_t)json_object_get_string_len(q), v,
		    op && json_object_is_type(op, json_type_string) ?
		    json_object_get_string(op) : NULL, &r) == 0) {
			print_json(r);
			json_object_put(r);
		}
	}
	json_object_put(req);
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_bench(struct gql_schema *s, long n)
{
	static const char q[] = "query { status(id: 1) { status reportID fileURL progress } }";
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct arena *a = arena_new(0);
	struct gql_exec_opts o = { false };
	double t0 = cpu_now();
	for (long i = 0; i < n; i++) {
		struct gql_request req = { q, sizeof q - 1, NULL, NULL };
		json_object *r = gql_execute_request(s, &lim, &req, NULL, NULL, &o, a, NULL);
		json_object_put(r);
		arena_reset(a);
	}
	double t1 = cpu_now();
	arena_free(a);
	printf("{\"iterations\":%ld,\"us_per_request\":%.3f}\n", n, (t1 - t0) * 1e6 / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("gql-tool", LOG_WARN);
	if (argc < 2) {
		fprintf(stderr, "usage: gql-tool introspect | validate FILE... | execute | bench [N]\n");
		return 2;
	}
	struct err e;
	err_clear(&e);
	struct gql_schema *s = app_schema_new(&e);
	if (s == NULL) {
		fprintf(stderr, "gql-tool: %s: %s\n", e.msg, e.detail);
		return 1;
	}
	int rc;
	if (strcmp(argv[1], "introspect") == 0) {
		rc = cmd_introspect(s);
	} else if (strcmp(argv[1], "validate") == 0) {
		rc = cmd_validate(s, argc - 2, argv + 2);
	} else if (strcmp(argv[1], "execute") == 0) {
		rc = gql_test_stubs_install(s) == 0 ? cmd_execute(s) : 1;
	} else if (strcmp(argv[1], "bench") == 0) {
		long n = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
		rc = gql_test_stubs_install(s) == 0 ? cmd_bench(s, n > 0 ? n : 1) : 1;
	} else {
		fprintf(stderr, "gql-tool: unknown command %s\n", argv[1]);
		rc = 2;
	}
	gql_schema_free(s);
	return rc;
}
