/* bench-gql: CPU time of parse + validate + execute of the original's
 * status query with a stub resolver, next to json-c parse + serialize of a
 * 1 KB document measured in the same run (a yardstick for this machine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app_schema.h"
#include "arena.h"
#include "gql.h"

static const char query[] =
	"query { status(id: 1) { status reportID fileURL progress } }";

static int stub_status(const struct gql_call *call, json_object **out, struct err *e)
{
	(void)call;
	(void)e;
	json_object *r = json_object_new_object();
	json_object_object_add(r, "reportID", json_object_new_int(1));
	json_object_object_add(r, "status", json_object_new_string("PENDING"));
	json_object_object_add(r, "progress", json_object_new_int(0));
	json_object_object_add(r, "fileURL", NULL);
	*out = r;
	return 0;
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	struct err e;
	err_clear(&e);
	struct gql_schema *s = app_schema_new(&e);
	if (s == NULL || gql_schema_set_resolver(s, "Query", "status", stub_status) != 0) {
		fprintf(stderr, "schema: %s\n", e.msg);
		return 1;
	}
	struct gql_limits lim;
	gql_limits_default(&lim);
	struct gql_request req = { .query = query, .query_len = sizeof query - 1 };
	struct gql_exec_opts opts = { 0 };
	struct arena *a = arena_new(0);

	double t0 = cpu_seconds();
	size_t bytes = 0;
	for (long i = 0; i < iters; i++) {
		json_object *resp = gql_execute_request(s, &lim, &req, NULL, NULL, &opts, a, NULL);
		bytes += strlen(json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PLAIN));
		json_object_put(resp);
		arena_reset(a);
	}
	double gql_us = (cpu_seconds() - t0) / (double)iters * 1e6;

	/* yardstick: json-c parse + serialize of ~1 KB */
	char doc[1100];
	size_t n = 0;
	n += (size_t)snprintf(doc + n, sizeof doc - n, "{\"items\":[");
	for (int i = 0; i < 20 && n < sizeof doc - 60; i++)
		n += (size_t)snprintf(doc + n, sizeof doc - n,
		    "%s{\"id\":%d,\"name\":\"item-%d\",\"ok\":true}", i ? "," : "", i, i);
	n += (size_t)snprintf(doc + n, sizeof doc - n, "]}");
	long jiters = iters / 4 + 1;
	t0 = cpu_seconds();
	for (long i = 0; i < jiters; i++) {
		json_object *o = json_tokener_parse(doc);
		bytes += strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	double json_us = (cpu_seconds() - t0) / (double)jiters * 1e6;

	printf("parse+validate+execute of status(id: 1) with a stub resolver: %.2f us CPU per request (target < 20 us), %ld iterations\n",
	    gql_us, iters);
	printf("yardstick: json-c parse+serialize of a %zu-byte document: %.2f us CPU\n", n, json_us);
	printf("(checksum %zu)\n", bytes);
	arena_free(a);
	gql_schema_free(s);
	return 0;
}
