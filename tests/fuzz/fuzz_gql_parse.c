/* libFuzzer harness: parse + validate + execute (with the stub resolvers)
 * of arbitrary input against the app schema.  The first byte selects the
 * option set (introspection on/off, omit nulls, tight limits); a trailing
 * "\n#vars:" part, if present, is passed as the variables JSON.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -Itests/unit \
 *     tests/fuzz/fuzz_gql_parse.c lib/gql_*.c lib/app_schema.c ... \
 *     $(pkg-config --cflags --libs json-c)   (see the report for the full line) */
#include <stdint.h>
#include <string.h>

#include "app_schema.h"
#include "gql.h"
#include "gql_test_stubs.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gql_schema *fz_schema;
static struct arena *fz_arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fz_schema == NULL) {
		struct err e;
		log_init("fuzz", LOG_ERROR + 1);
		fz_schema = app_schema_new(&e);
		if (fz_schema == NULL || gql_test_stubs_install(fz_schema) != 0)
			__builtin_trap();
		fz_arena = arena_new(0);
	}
	if (size == 0)
		return 0;
	unsigned mode = data[0];
	const char *q = (const char *)data + 1;
	size_t qlen = size - 1, vlen = 0;
	const char *v = NULL;
	static const char mark[] = "\n#vars:";
	for (size_t i = 0; i + sizeof mark - 1 <= qlen; i++)
		if (memcmp(q + i, mark, sizeof mark - 1) == 0) {
			v = q + i + sizeof mark - 1;
			vlen = qlen - i - (sizeof mark - 1);
			qlen = i;
			break;
		}
	struct gql_limits lim;
	gql_limits_default(&lim);
	lim.introspection = !(mode & 1);
	if (mode & 4) {
		lim.max_depth = 4;
		lim.max_aliases = 2;
		lim.max_root_fields = 3;
		lim.max_tokens = 200;
		lim.max_nesting = 8;
	}
	json_object *vars = NULL;
	if (v != NULL) {
		json_tokener *tok = json_tokener_new_ex(32);
		vars = json_tokener_parse_ex(tok, v, (int)vlen);
		json_tokener_free(tok);
	}
	struct gql_request req = { q, qlen, (mode & 8) ? "A" : NULL, vars };
	struct gql_exec_opts o = { (mode & 2) != 0 };
	struct gql_prepared *p = NULL;
	json_object *errs = NULL;
	if (gql_prepare(fz_schema, &lim, &req, fz_arena, &p, &errs) == 0) {
		const char *rf = gql_prepared_root_field(p);
		json_object *root = NULL;
		if (gql_prepared_operation(p) == GQL_OPERATION_SUBSCRIPTION && rf) {
			root = json_object_new_object();
			json_object_object_add(root, rf, json_object_new_int(1));
		}
		json_object *args = NULL;
		struct err e;
		if (gql_prepared_root_args(p, fz_arena, &args, &e) == 0)
			json_object_put(args);
		json_object *r = gql_execute_prepared(p, NULL, root, &o, fz_arena);
		(void)json_object_to_json_string(r);
		json_object_put(r);
		json_object_put(root);
	} else {
		(void)json_object_to_json_string(errs);
		json_object_put(errs);
	}
	json_object *verrs = NULL;
	if (gql_validate_document(fz_schema, &lim, q, qlen, fz_arena, &verrs) != 0)
		json_object_put(verrs);
	json_object_put(vars);
	arena_reset(fz_arena);
	return 0;
}
