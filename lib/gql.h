/* gql: the GraphQL engine (public contract).
 *
 * Life cycle
 *   start-up:  s = gql_schema_new(sdl, ...)   (app_schema_new() does this)
 *              gql_schema_set_resolver(s, "Query", "status", my_status)
 *   request:   rc = gql_prepare(s, &limits, &req, arena, &prep, &errors)
 *              resp = gql_execute_prepared(prep, app, NULL, &opts, arena)
 *              (or resp = gql_execute_request(...) in one step)
 *   shutdown:  gql_schema_free(s)
 *
 * Memory: the schema owns its memory (malloc, freed by gql_schema_free()).
 * Everything made for a request comes from the caller's arena; json-c
 * values handed back to the caller are new references the caller puts.
 * A prepared operation lives as long as the arena it was prepared in, so a
 * subscription relay prepares once into a per-subscription arena and
 * executes each event with a per-event arena.
 *
 * Resolvers
 *   A resolver is a C function registered per (type, field).  It receives a
 *   struct gql_call and returns 0 with *out set to a NEW json-c reference
 *   (NULL means null), or a negative enum app_err with e filled: e->msg is
 *   shown to the client, e->detail is only logged.  APP_ERR_INTERNAL and
 *   APP_ERR_UNAVAILABLE errors are shown as "Internal server error" and
 *   their message and detail are logged.  The engine then completes the
 *   value against the field's type: leaf values are checked and serialised
 *   (Int 32-bit, Float finite, String, Boolean, ID, enum names; JSON passes
 *   anything); objects become the parent of their sub-selection.
 *   Fields without a resolver use the default resolver: the property of
 *   the parent JSON object named like the field (not the alias).
 *   Resolvers run in document order; mutation root fields run serially.
 *
 * Errors in responses follow the spec: {message, locations, path,
 * extensions:{code}} with codes from app_err_code().  Request errors
 * (parse, validation, variables, operation name) produce {"errors":[...]}
 * without "data"; execution errors produce {"errors":[...],"data":...}. */
#ifndef GQL_H
#define GQL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "arena.h"
#include "err.h"

struct gql_schema;
struct gql_prepared;

/* What a resolver receives.  All pointers are valid during the call only. */
struct gql_call {
	void *app;			/* caller's request context, opaque to the engine */
	struct arena *arena;		/* request arena */
	json_object *parent;		/* parent value (the root value at the root); may be NULL */
	json_object *args;		/* coerced arguments keyed by name, defaults applied; never NULL */
	const char *type_name;		/* parent type, e.g. "Query" */
	const char *field_name;		/* field name (not the alias) */
	const struct gql_schema *schema;
};

/* 0 and *out = a NEW json-c reference (NULL means null), or a negative
 * enum app_err with e filled (e->msg public, e->detail for the log). */
typedef int (*gql_resolver_fn)(const struct gql_call *call, json_object **out,
    struct err *e);

/* Limits against hostile documents (safe defaults: gql_limits_default()). */
struct gql_limits {
	size_t max_doc_bytes;		/* GQL_MAX_DOC_BYTES, default 64 KiB: parse error */
	size_t max_tokens;		/* GQL_MAX_TOKENS, default 10000: parse error */
	unsigned max_depth;		/* GQL_MAX_DEPTH, default 15 field levels, fragments expanded */
	unsigned max_aliases;		/* GQL_MAX_ALIASES, default 30 per operation, fragments expanded */
	unsigned max_root_fields;	/* GQL_MAX_ROOT_FIELDS, default 20 */
	unsigned max_nesting;		/* parser nesting of values/types/selections, default 64 */
	unsigned max_errors;		/* validation errors reported, default 100 */
	unsigned max_executed_fields;	/* field executions per response, default 100000 */
	bool introspection;		/* GQL_INTROSPECTION: __schema/__type allowed, default true */
};

/* Execution options. */
struct gql_exec_opts {
	bool omit_nulls;	/* drop null-valued fields from objects (X-Omit-Nulls: 1) */
};

/* A request as sent over HTTP/WebSocket. */
struct gql_request {
	const char *query;		/* document text (need not be NUL-terminated) */
	size_t query_len;
	const char *operation_name;	/* NULL or "": none given */
	json_object *variables;		/* NULL or a JSON object; borrowed */
};

void gql_limits_default(struct gql_limits *l);

/* Builds a schema from SDL (type-system subset: schema, scalar, enum, input,
 * type, descriptions, field arguments with defaults, @deprecated).  Built-in
 * scalars Int, Float, String, Boolean, ID and the JSON scalar are always
 * defined; introspection is wired in.  Returns NULL with e filled
 * (APP_ERR_INTERNAL, message naming the problem and its line) on a bad SDL. */
struct gql_schema *gql_schema_new(const char *sdl, struct err *e)
	__attribute__((warn_unused_result));

void gql_schema_free(struct gql_schema *s);

/* Registers fn for type.field (replacing any earlier one).  Returns 0, or
 * APP_ERR_NOT_FOUND if the schema has no such field. */
int gql_schema_set_resolver(struct gql_schema *s, const char *type,
    const char *field, gql_resolver_fn fn) __attribute__((warn_unused_result));

/* Parses, validates, selects the operation and coerces the variables.
 * Returns 0 with *out (arena memory), or a negative code with *errors set
 * to a new {"errors":[...]} response the caller puts:
 *   APP_ERR_PARSE       syntax error or parse-time limit (GRAPHQL_PARSE_FAILED)
 *   APP_ERR_TOO_LARGE   document larger than max_doc_bytes (GRAPHQL_PARSE_FAILED)
 *   APP_ERR_VALIDATION  spec validation or depth/alias/root-field limits
 *   APP_ERR_BAD_INPUT   operation not found/ambiguous, bad variables */
int gql_prepare(const struct gql_schema *s, const struct gql_limits *lim,
    const struct gql_request *req, struct arena *a, struct gql_prepared **out,
    json_object **errors) __attribute__((warn_unused_result));

enum gql_operation { GQL_OPERATION_QUERY, GQL_OPERATION_MUTATION,
	GQL_OPERATION_SUBSCRIPTION };

enum gql_operation gql_prepared_operation(const struct gql_prepared *p);

/* The operation's name, NULL if anonymous. */
const char *gql_prepared_name(const struct gql_prepared *p);

/* Name (not alias) of the first root field after @skip/@include, NULL if
 * the root selection is empty.  For a subscription, the single root field. */
const char *gql_prepared_root_field(const struct gql_prepared *p);

/* Coerced arguments of that root field (defaults applied) as a new JSON
 * object in *out.  Returns 0, or APP_ERR_BAD_INPUT with e filled. */
int gql_prepared_root_args(const struct gql_prepared *p, struct arena *a,
    json_object **out, struct err *e) __attribute__((warn_unused_result));

/* Executes the prepared operation.  root_value (borrowed, may be NULL) is
 * the parent of the root fields; a subscription relay passes
 * {"<rootField>": event}.  Returns a new response object, never NULL:
 * {"errors":[...],"data":{...}} ("errors" only when there are some). */
json_object *gql_execute_prepared(const struct gql_prepared *p, void *app,
    json_object *root_value, const struct gql_exec_opts *opts, struct arena *a)
	__attribute__((returns_nonnull));

/* gql_prepare() + gql_execute_prepared(); *rc (if not NULL) receives the
 * gql_prepare() code.  Never NULL. */
json_object *gql_execute_request(const struct gql_schema *s,
    const struct gql_limits *lim, const struct gql_request *req, void *app,
    json_object *root_value, const struct gql_exec_opts *opts, struct arena *a,
    int *rc) __attribute__((returns_nonnull));

/* Validates a whole document (no operation selected), as graphql-js
 * validate() does.  Returns 0 if valid, else a negative code with *errors a
 * new JSON array of {message, locations, extensions:{code}}. */
int gql_validate_document(const struct gql_schema *s, const struct gql_limits *lim,
    const char *query, size_t len, struct arena *a, json_object **errors)
	__attribute__((warn_unused_result));

/* A new JSON array holding one GraphQL error {message, extensions:{code}}
 * (no locations or path), for errors raised outside the engine. */
json_object *gql_error_list(const char *message, enum app_err code)
	__attribute__((returns_nonnull));

/* The text of graphql-js getIntrospectionQuery() (descriptions on). */
extern const char gql_introspection_query[];

#endif
