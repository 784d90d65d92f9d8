/* libFuzzer harness: the GraphQL-over-HTTP request decoder (cgi/gqlhttp.c)
 * and, for what it accepts, gql_prepare() on the result.
 *
 * Input layout: byte 0 chooses the method and content type, byte 1 the
 * Accept header; the rest is the body (POST) or the query string (GET). */
#include <stdint.h>
#include <string.h>

#include "app_schema.h"
#include "arena.h"
#include "gql.h"
#include "gqlhttp.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	"application/json", "application/json; charset=utf-8", "text/plain",
	NULL, "APPLICATION/JSON ;q=1", "application/graphql",
};
static const char *const accepts[] = {
	NULL, "application/json", "application/graphql-response+json",
	"text/html", "*/*;q=0", "application/graphql-response+json;q=0, application/json",
	"application/*;q=0.5", "",
};

static struct gql_schema *fz_schema;
static struct arena *fz_arena;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fz_schema == NULL) {
		struct err e;
		log_init("fuzz", LOG_ERROR + 1);
		fz_schema = app_schema_new(&e);
		if (fz_schema == NULL)
			__builtin_trap();
		fz_arena = arena_new(0);
	}
	if (size < 2)
		return 0;
	bool post = data[0] & 1;
	const char *ct = content_types[(data[0] >> 1) % (sizeof content_types / sizeof content_types[0])];
	const char *accept = accepts[data[1] % (sizeof accepts / sizeof accepts[0])];
	(void)gqlhttp_negotiate(accept);

	/* GET takes a NUL-terminated query string: copy it. */
	char *rest = arena_strndup(fz_arena, (const char *)data + 2, size - 2);
	struct gqlhttp_in in = {
		.method = post ? "POST" : "GET",
		.content_type = ct,
		.query_string = post ? NULL : rest,
		.body = (const char *)data + 2,
		.body_len = size - 2,
	};
	struct gql_request req;
	const char *why = NULL;
	if (gqlhttp_decode(fz_arena, &in, &req, &why) == 0) {
		struct gql_limits lim;
		gql_limits_default(&lim);
		struct gql_prepared *prep = NULL;
		json_object *errors = NULL;
		if (gql_prepare(fz_schema, &lim, &req, fz_arena, &prep, &errors) != 0)
			json_object_put(errors);
	} else if (why == NULL) {
		__builtin_trap();	/* a rejection always says why */
	}
	arena_reset(fz_arena);
	return 0;
}
