/* gql_parse: the GraphQL document AST and its parser.
 *
 * One parser reads both executable documents (operations, fragments) and
 * the type-system subset our schema uses (schema, scalar, type, interface,
 * union, enum, input, directive definitions).  Validation rejects
 * type-system definitions in requests ("... definition is not executable");
 * the schema builder rejects executable ones.
 *
 * Every node lives in the arena passed to gql_parse(); lists are singly
 * linked through `next`, in document order.  Nesting (selection sets,
 * values, type references) is bounded while parsing, so hostile input like
 * "[[[[..." cannot exhaust the stack. */
#ifndef GQL_PARSE_H
#define GQL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "gql_lex.h"

enum gql_value_kind {
	GQL_V_VARIABLE, GQL_V_INT, GQL_V_FLOAT, GQL_V_STRING, GQL_V_BOOLEAN,
	GQL_V_NULL, GQL_V_ENUM, GQL_V_LIST, GQL_V_OBJECT,
};

struct gql_value {
	enum gql_value_kind kind;
	struct gql_loc loc;
	const char *s;		/* INT/FLOAT raw text, STRING decoded, ENUM/VARIABLE name */
	size_t slen;
	bool b;			/* BOOLEAN */
	bool block;		/* STRING came from a block string */
	struct gql_value *items;	/* LIST items, OBJECT field values */
	const char *field;	/* set on the items of an OBJECT: the field name */
	struct gql_loc field_loc;
	struct gql_value *next;
};

enum gql_type_ref_kind { GQL_TR_NAMED, GQL_TR_LIST, GQL_TR_NON_NULL };

struct gql_type_ref {
	enum gql_type_ref_kind kind;
	struct gql_loc loc;
	const char *name;	/* NAMED */
	struct gql_type_ref *of;	/* LIST, NON_NULL */
};

struct gql_argument {
	const char *name;
	struct gql_loc loc;	/* of the name */
	struct gql_value *value;
	struct gql_argument *next;
};

struct gql_directive {
	const char *name;
	struct gql_loc loc;	/* of the '@' */
	struct gql_loc name_loc;
	struct gql_argument *args;
	struct gql_directive *next;
};

enum gql_sel_kind { GQL_SEL_FIELD, GQL_SEL_SPREAD, GQL_SEL_INLINE };

struct gql_selection {
	enum gql_sel_kind kind;
	struct gql_loc loc;
	const char *alias;	/* FIELD: NULL if none */
	const char *name;	/* FIELD name, SPREAD fragment name */
	struct gql_loc name_loc;
	struct gql_argument *args;
	struct gql_directive *directives;
	struct gql_selection *sel;	/* FIELD, INLINE: the selection set */
	bool has_sel;		/* a selection set was written */
	struct gql_loc sel_loc;	/* of its '{' */
	const char *type_cond;	/* INLINE: NULL if none */
	struct gql_loc type_cond_loc;
	struct gql_selection *next;
};

enum gql_op_type { GQL_OP_QUERY, GQL_OP_MUTATION, GQL_OP_SUBSCRIPTION };

struct gql_var_def {
	const char *name;
	struct gql_loc loc;	/* of the '$' */
	struct gql_loc name_loc;
	struct gql_type_ref *type;
	struct gql_value *def;	/* default value or NULL */
	struct gql_directive *directives;
	struct gql_var_def *next;
};

/* Type-system pieces: a field, argument, input field or enum value. */
struct gql_sdl_item {
	const char *description;
	const char *name;
	struct gql_loc loc;
	struct gql_sdl_item *args;	/* field arguments */
	struct gql_type_ref *type;	/* NULL for enum values */
	struct gql_value *def;
	struct gql_directive *directives;
	struct gql_sdl_item *next;
};

enum gql_def_kind {
	GQL_DEF_OPERATION, GQL_DEF_FRAGMENT, GQL_DEF_SCHEMA, GQL_DEF_SCALAR,
	GQL_DEF_OBJECT, GQL_DEF_INTERFACE, GQL_DEF_UNION, GQL_DEF_ENUM,
	GQL_DEF_INPUT, GQL_DEF_DIRECTIVE,
};

struct gql_definition {
	enum gql_def_kind kind;
	struct gql_loc loc;
	const char *name;	/* NULL: anonymous operation, schema */
	struct gql_loc name_loc;
	/* operations and fragments */
	enum gql_op_type op;
	struct gql_var_def *vars;
	struct gql_directive *directives;
	struct gql_selection *sel;
	struct gql_loc sel_loc;
	const char *type_cond;	/* FRAGMENT */
	struct gql_loc type_cond_loc;
	/* type system */
	const char *description;
	struct gql_sdl_item *items;	/* fields, input fields, enum values, directive args */
	const char *root_names[3];	/* SCHEMA: query, mutation, subscription type */
	const char **members;	/* UNION members, DIRECTIVE locations, OBJECT interfaces */
	size_t nmembers;
	bool repeatable;	/* DIRECTIVE */
	bool extension;		/* "extend ..." */
	struct gql_definition *next;
};

struct gql_document {
	struct gql_definition *defs;
	size_t ndefs;
	size_t ntokens;
};

struct gql_parse_opts {
	size_t max_tokens;	/* 0: unlimited */
	unsigned max_nesting;	/* selection sets, values, types; 0: default 64 */
};

/* Parses src[0..len) into *out (arena memory).  Returns 0, or
 * APP_ERR_PARSE with msg ("Syntax Error: ...", NUL-terminated, at most
 * msg_size bytes) and *loc set. */
int gql_parse(const char *src, size_t len, const struct gql_parse_opts *opts,
    struct arena *a, struct gql_document **out, char *msg, size_t msg_size,
    struct gql_loc *loc) __attribute__((warn_unused_result));

/* The name of an operation type: "query", "mutation", "subscription". */
const char *gql_op_type_name(enum gql_op_type t);

#endif
