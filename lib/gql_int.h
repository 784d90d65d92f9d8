/* gql_int: internals shared by the gql_* modules (not for callers: use
 * gql.h).  The schema model, the name tables, value coercion helpers, the
 * validation entry point and the introspection wiring. */
#ifndef GQL_INT_H
#define GQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gql.h"
#include "gql_parse.h"
#include "sbuf.h"

/* ---- name table: open addressing, built once, read-only afterwards ---- */

struct gql_ntab {
	size_t mask;		/* capacity - 1 (power of two) or 0 when empty */
	const char **keys;
	void **vals;
};

/* Builds t in a for n entries; keys are not copied. */
void gql_ntab_init(struct gql_ntab *t, struct arena *a, size_t n);
/* Returns false if key is already present (nothing changed). */
bool gql_ntab_put(struct gql_ntab *t, const char *key, void *val);
void *gql_ntab_get(const struct gql_ntab *t, const char *key);

/* ---- schema model ---- */

enum gql_kind {
	GQL_K_SCALAR, GQL_K_OBJECT, GQL_K_INTERFACE, GQL_K_UNION, GQL_K_ENUM,
	GQL_K_INPUT_OBJECT, GQL_K_LIST, GQL_K_NON_NULL,
};

enum gql_scalar_id {
	GQL_SC_NONE, GQL_SC_INT, GQL_SC_FLOAT, GQL_SC_STRING, GQL_SC_BOOLEAN,
	GQL_SC_ID, GQL_SC_JSON,
};

struct gql_type;

struct gql_input_value {
	const char *name;
	const char *description;
	const struct gql_type *type;
	const struct gql_value *def;	/* default literal or NULL */
	json_object *def_json;		/* coerced default (owned by the schema) */
	const char *def_str;		/* default printed as a GraphQL literal */
	bool deprecated;
	const char *dep_reason;
};

struct gql_enum_value {
	const char *name;
	const char *description;
	bool deprecated;
	const char *dep_reason;
};

struct gql_field {
	const char *name;
	const char *description;
	const struct gql_type *type;
	struct gql_input_value *args;
	size_t nargs;
	bool deprecated;
	const char *dep_reason;
	gql_resolver_fn resolver;	/* NULL: default (property) resolver */
};

struct gql_type {
	enum gql_kind kind;
	const char *name;		/* NULL for LIST / NON_NULL */
	const char *description;
	enum gql_scalar_id scalar;
	const struct gql_type *of;	/* LIST / NON_NULL */
	struct gql_field *fields;	/* OBJECT */
	size_t nfields;
	struct gql_ntab field_tab;
	struct gql_input_value *inputs;	/* INPUT_OBJECT */
	size_t ninputs;
	struct gql_ntab input_tab;
	struct gql_enum_value *values;	/* ENUM */
	size_t nvalues;
	struct gql_ntab value_tab;
	bool builtin;			/* built-in scalar or introspection type */
	bool listed;			/* appears in __schema.types */
};

/* Directive locations (bit numbers follow __DirectiveLocation order). */
enum gql_dir_loc {
	GQL_DL_QUERY, GQL_DL_MUTATION, GQL_DL_SUBSCRIPTION, GQL_DL_FIELD,
	GQL_DL_FRAGMENT_DEFINITION, GQL_DL_FRAGMENT_SPREAD, GQL_DL_INLINE_FRAGMENT,
	GQL_DL_VARIABLE_DEFINITION, GQL_DL_SCHEMA, GQL_DL_SCALAR, GQL_DL_OBJECT,
	GQL_DL_FIELD_DEFINITION, GQL_DL_ARGUMENT_DEFINITION, GQL_DL_INTERFACE,
	GQL_DL_UNION, GQL_DL_ENUM, GQL_DL_ENUM_VALUE, GQL_DL_INPUT_OBJECT,
	GQL_DL_INPUT_FIELD_DEFINITION, GQL_DL_DIRECTIVE_DEFINITION, GQL_DL_COUNT,
};

extern const char *const gql_dir_loc_names[GQL_DL_COUNT];

struct gql_directive_def {
	const char *name;
	const char *description;
	unsigned locations;		/* bit set of enum gql_dir_loc */
	const char **location_names;	/* as declared, for introspection */
	size_t nlocation_names;
	struct gql_input_value *args;
	size_t nargs;
	bool repeatable;
};

struct gql_schema {
	struct arena *arena;		/* owns every schema allocation */
	const struct gql_type **types;	/* named types in definition order */
	size_t ntypes;
	struct gql_ntab type_tab;
	const struct gql_type *query, *mutation, *subscription;
	struct gql_directive_def *directives;
	size_t ndirectives;
	const char *description;
	/* meta fields: __schema and __type on the query type, __typename anywhere */
	const struct gql_field *meta_schema, *meta_type, *meta_typename;
	const struct gql_type *t_string, *t_boolean;
};

const struct gql_type *gql_schema_type(const struct gql_schema *s, const char *name);
const struct gql_field *gql_type_field(const struct gql_type *t, const char *name);
/* Field lookup including __typename (any composite type) and __schema /
 * __type (query root only). */
const struct gql_field *gql_schema_field(const struct gql_schema *s,
    const struct gql_type *t, const char *name);
const struct gql_input_value *gql_find_arg(const struct gql_input_value *args,
    size_t n, const char *name);
const struct gql_input_value *gql_type_input(const struct gql_type *t, const char *name);
const struct gql_enum_value *gql_type_enum_value(const struct gql_type *t,
    const char *name);
const struct gql_directive_def *gql_schema_directive(const struct gql_schema *s,
    const char *name);

const struct gql_type *gql_named(const struct gql_type *t);
const struct gql_type *gql_nullable(const struct gql_type *t);
bool gql_is_input_type(const struct gql_type *t);
bool gql_is_output_type(const struct gql_type *t);
bool gql_is_leaf(const struct gql_type *t);
bool gql_is_composite(const struct gql_type *t);
bool gql_type_equal(const struct gql_type *a, const struct gql_type *b);
/* "[Int!]!" into sb */
void gql_type_print(struct sbuf *sb, const struct gql_type *t);
const char *gql_type_str(struct arena *a, const struct gql_type *t);
/* Resolves an AST type reference (wrappers allocated in a); NULL if the
 * named type is unknown. */
const struct gql_type *gql_type_from_ref(const struct gql_schema *s,
    struct arena *a, const struct gql_type_ref *r);

/* ---- values ---- */

/* Prints an AST value as graphql-js print() does. */
void gql_value_print(struct sbuf *sb, const struct gql_value *v);
const char *gql_value_str(struct arena *a, const struct gql_value *v);
/* Prints a JSON value as graphql-js inspect() does (for messages). */
const char *gql_json_inspect(struct arena *a, json_object *j);
/* Prints a coerced JSON value as a GraphQL literal of type t (astFromValue):
 * for introspection defaultValue. */
void gql_json_print_literal(struct sbuf *sb, json_object *j, const struct gql_type *t);

/* Literal validity check (ValuesOfCorrectType for leaves): returns NULL if
 * v (not a variable) is a valid literal of leaf type t, else the scalar's
 * message (may be "" when graphql-js has none). */
const char *gql_leaf_literal_error(struct arena *a, const struct gql_type *t,
    const struct gql_value *v);

/* valueFromAST: converts literal v of type t to JSON, substituting
 * variables from vars (coerced, may be NULL).  Returns 0 with *out (new
 * ref, NULL for null) or -1 if invalid; *absent is set when the value is a
 * variable that was not provided. */
int gql_value_from_ast(const struct gql_type *t, const struct gql_value *v,
    json_object *vars, json_object **out, bool *absent);

/* coerceInputValue for a JSON input (variables).  Returns 0 with *out (new
 * ref) or -1 with msg (arena) in graphql-js form; path receives the path
 * (".a[0].b") and *bad the (borrowed) value where it failed. */
int gql_coerce_input(struct arena *a, const struct gql_type *t, json_object *in,
    json_object **out, const char **msg, struct sbuf *path, json_object **bad);

/* Suggestion helpers (graphql-js suggestionList / didYouMean). */
const char *gql_did_you_mean(struct arena *a, const char *input,
    const char *const *options, size_t n);
/* " Did you mean <sub> \"x\"?" */
const char *gql_did_you_mean_sub(struct arena *a, const char *sub, const char *input,
    const char *const *options, size_t n);

/* ---- errors collected in the arena ---- */

enum { GQL_ERR_MAX_LOCS = 8 };

struct gql_error {
	const char *message;
	struct gql_loc locs[GQL_ERR_MAX_LOCS];
	unsigned nlocs;
	const char *code;
	json_object *path;		/* owned; NULL if none */
	struct gql_error *next;
};

struct gql_errors {
	struct gql_error *head, **tail;
	size_t n;
};

void gql_errors_init(struct gql_errors *el);
struct gql_error *gql_errors_add(struct gql_errors *el, struct arena *a,
    const char *code, const char *msg);
void gql_error_loc(struct gql_error *e, struct gql_loc l);
/* A new JSON array of the errors (paths are moved into it). */
json_object *gql_errors_json(struct gql_errors *el);

/* ---- validation ---- */

/* Runs every rule on doc; errors are appended to el.  Returns the number of
 * errors. */
size_t gql_validate(const struct gql_schema *s, const struct gql_limits *lim,
    const struct gql_document *doc, struct arena *a, struct gql_errors *el);

/* ---- introspection ---- */

/* Wires the resolvers of __schema, __type and the introspection types. */
int gql_introspect_install(struct gql_schema *s) __attribute__((warn_unused_result));

/* Reports whether a directive list says to skip (spec @skip/@include). */
bool gql_should_skip(const struct gql_directive *d, json_object *vars);

/* Frees the json on arena reset. */
void gql_arena_put(struct arena *a, json_object *j);

#endif
