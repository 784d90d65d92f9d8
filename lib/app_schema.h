/* app_schema: the public GraphQL schema of the report service (the SDL of
 * DESIGN.md, "GraphQL contract") and the function that builds it.
 *
 * Adding a field: one SDL line in app_schema.c, plus a
 * gql_schema_set_resolver() call by the program that serves it if the
 * default resolver (the parent object's property of the same name) is not
 * enough. */
#ifndef APP_SCHEMA_H
#define APP_SCHEMA_H

#include "err.h"
#include "gql.h"

/* The SDL text. */
extern const char app_schema_sdl[];

/* Builds the schema with no resolvers registered (default resolvers only).
 * Returns NULL with e filled if the SDL is invalid (a programming error). */
struct gql_schema *app_schema_new(struct err *e) __attribute__((warn_unused_result));

struct config;

/* Engine limits from the configuration (GQL_* settings). */
void app_schema_limits(const struct config *c, struct gql_limits *out);

#endif
