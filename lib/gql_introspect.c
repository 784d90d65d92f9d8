/* gql_introspect: resolvers of __schema, __type and the introspection
 * types.  Types travel between resolvers as small JSON references:
 * {"name":"Report"} for a named type, {"kind":"NON_NULL","ofType":{...}}
 * for wrappers; everything else is looked up in the schema on demand, so
 * no cyclic JSON is ever built. */
#include "gql_int.h"

#include <string.h>

static const char *const kind_names[] = {
	[GQL_K_SCALAR] = "SCALAR", [GQL_K_OBJECT] = "OBJECT",
	[GQL_K_INTERFACE] = "INTERFACE", [GQL_K_UNION] = "UNION",
	[GQL_K_ENUM] = "ENUM", [GQL_K_INPUT_OBJECT] = "INPUT_OBJECT",
	[GQL_K_LIST] = "LIST", [GQL_K_NON_NULL] = "NON_NULL",
};

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *type_ref(const struct gql_type *t)
{
	json_object *o = json_object_new_object();
	if (t->kind == GQL_K_LIST || t->kind == GQL_K_NON_NULL) {
		json_object_object_add(o, "kind", json_object_new_string(kind_names[t->kind]));
		json_object_object_add(o, "ofType", type_ref(t->of));
	} else {
		json_object_object_add(o, "name", json_object_new_string(t->name));
	}
	return o;
}

static const struct gql_type *parent_type(const struct gql_call *c)
{
	json_object *n;
	if (c->parent && json_object_object_get_ex(c->parent, "name", &n))
		return gql_schema_type(c->schema, json_object_get_string(n));
	return NULL;
}

static bool include_deprecated(const struct gql_call *c)
{
	json_object *v;
	return json_object_object_get_ex(c->args, "includeDeprecated", &v) &&
	    json_object_get_boolean(v);
}

static void add_deprecation(json_object *o, bool dep, const char *reason)
{
	json_object_object_add(o, "isDeprecated", json_object_new_boolean(dep));
	json_object_object_add(o, "deprecationReason", dep ? str_or_null(reason) : NULL);
}

static json_object *input_values(const struct gql_input_value *iv, size_t n, bool all)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		if (iv[i].deprecated && !all)
			continue;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(iv[i].name));
		json_object_object_add(o, "description", str_or_null(iv[i].description));
		json_object_object_add(o, "type", type_ref(iv[i].type));
		json_object_object_add(o, "defaultValue", str_or_null(iv[i].def_str));
		add_deprecation(o, iv[i].deprecated, iv[i].dep_reason);
		json_object_array_add(arr, o);
	}
	return arr;
}

static int r_schema(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)c;
	(void)e;
	*out = json_object_new_object();
	return 0;
}

static int r_type(const struct gql_call *c, json_object **out, struct err *e)
{
	json_object *n;
	(void)e;
	*out = NULL;
	if (json_object_object_get_ex(c->args, "name", &n)) {
		const struct gql_type *t = gql_schema_type(c->schema, json_object_get_string(n));
		if (t && t->listed)
			*out = type_ref(t);
	}
	return 0;
}

static int r_schema_types(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)e;
	*out = json_object_new_array();
	for (size_t i = 0; i < c->schema->ntypes; i++)
		json_object_array_add(*out, type_ref(c->schema->types[i]));
	return 0;
}

static int r_schema_root(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = c->schema->query;
	(void)e;
	if (strcmp(c->field_name, "mutationType") == 0)
		t = c->schema->mutation;
	else if (strcmp(c->field_name, "subscriptionType") == 0)
		t = c->schema->subscription;
	*out = t ? type_ref(t) : NULL;
	return 0;
}

static int r_schema_description(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)e;
	*out = str_or_null(c->schema->description);
	return 0;
}

static int r_schema_directives(const struct gql_call *c, json_object **out, struct err *e)
{
	(void)e;
	*out = json_object_new_array();
	for (size_t i = 0; i < c->schema->ndirectives; i++) {
		const struct gql_directive_def *d = &c->schema->directives[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(d->name));
		json_object_object_add(o, "description", str_or_null(d->description));
		json_object_object_add(o, "isRepeatable", json_object_new_boolean(d->repeatable));
		json_object *locs = json_object_new_array();
		for (size_t k = 0; k < d->nlocation_names; k++)
			json_object_array_add(locs, json_object_new_string(d->location_names[k]));
		json_object_object_add(o, "locations", locs);
		json_object_object_add(o, "args", input_values(d->args, d->nargs, true));
		add_deprecation(o, false, NULL);
		json_object_array_add(*out, o);
	}
	return 0;
}

static int r_type_kind(const struct gql_call *c, json_object **out, struct err *e)
{
	json_object *k;
	(void)e;
	if (json_object_object_get_ex(c->parent, "kind", &k)) {
		*out = json_object_get(k);
		return 0;
	}
	const struct gql_type *t = parent_type(c);
	*out = t ? json_object_new_string(kind_names[t->kind]) : NULL;
	return 0;
}

static int r_type_description(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = t ? str_or_null(t->description) : NULL;
	return 0;
}

static int r_type_fields(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = NULL;
	if (t == NULL || t->kind != GQL_K_OBJECT)
		return 0;
	bool all = include_deprecated(c);
	*out = json_object_new_array();
	for (size_t i = 0; i < t->nfields; i++) {
		const struct gql_field *f = &t->fields[i];
		if (f->deprecated && !all)
			continue;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(f->name));
		json_object_object_add(o, "description", str_or_null(f->description));
		json_object_object_add(o, "args", input_values(f->args, f->nargs, true));
		json_object_object_add(o, "type", type_ref(f->type));
		add_deprecation(o, f->deprecated, f->dep_reason);
		json_object_array_add(*out, o);
	}
	return 0;
}

static int r_type_interfaces(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = t && t->kind == GQL_K_OBJECT ? json_object_new_array() : NULL;
	return 0;
}

static int r_type_enum_values(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = NULL;
	if (t == NULL || t->kind != GQL_K_ENUM)
		return 0;
	bool all = include_deprecated(c);
	*out = json_object_new_array();
	for (size_t i = 0; i < t->nvalues; i++) {
		const struct gql_enum_value *v = &t->values[i];
		if (v->deprecated && !all)
			continue;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(v->name));
		json_object_object_add(o, "description", str_or_null(v->description));
		add_deprecation(o, v->deprecated, v->dep_reason);
		json_object_array_add(*out, o);
	}
	return 0;
}

static int r_type_is_one_of(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = t && t->kind == GQL_K_INPUT_OBJECT ? json_object_new_boolean(false) : NULL;
	return 0;
}

static int r_type_input_fields(const struct gql_call *c, json_object **out, struct err *e)
{
	const struct gql_type *t = parent_type(c);
	(void)e;
	*out = NULL;
	if (t != NULL && t->kind == GQL_K_INPUT_OBJECT)
		*out = input_values(t->inputs, t->ninputs, include_deprecated(c));
	return 0;
}

/* __Field.args / __Directive.args: the parent carries all of them */
static int r_args(const struct gql_call *c, json_object **out, struct err *e)
{
	json_object *all;
	(void)e;
	*out = NULL;
	if (!json_object_object_get_ex(c->parent, "args", &all))
		return 0;
	if (include_deprecated(c)) {
		*out = json_object_get(all);
		return 0;
	}
	*out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *a = json_object_array_get_idx(all, i), *d;
		if (json_object_object_get_ex(a, "isDeprecated", &d) && json_object_get_boolean(d))
			continue;
		json_object_array_add(*out, json_object_get(a));
	}
	return 0;
}

int gql_introspect_install(struct gql_schema *s)
{
	static const struct {
		const char *type, *field;
		gql_resolver_fn fn;
	} tab[] = {
		{ "__Meta", "__schema", r_schema },
		{ "__Meta", "__type", r_type },
		{ "__Schema", "description", r_schema_description },
		{ "__Schema", "types", r_schema_types },
		{ "__Schema", "queryType", r_schema_root },
		{ "__Schema", "mutationType", r_schema_root },
		{ "__Schema", "subscriptionType", r_schema_root },
		{ "__Schema", "directives", r_schema_directives },
		{ "__Type", "kind", r_type_kind },
		{ "__Type", "description", r_type_description },
		{ "__Type", "fields", r_type_fields },
		{ "__Type", "interfaces", r_type_interfaces },
		{ "__Type", "enumValues", r_type_enum_values },
		{ "__Type", "inputFields", r_type_input_fields },
		{ "__Type", "isOneOf", r_type_is_one_of },
		{ "__Field", "args", r_args },
		{ "__Directive", "args", r_args },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		int rc = gql_schema_set_resolver(s, tab[i].type, tab[i].field, tab[i].fn);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* graphql-js 16 getIntrospectionQuery() (descriptions on) */
const char gql_introspection_query[] =
"\n"
"    query IntrospectionQuery {\n"
"      __schema {\n"
"        \n"
"        queryType { name kind }\n"
"        mutationType { name kind }\n"
"        subscriptionType { name kind }\n"
"        types {\n"
"          ...FullType\n"
"        }\n"
"        directives {\n"
"          name\n"
"          description\n"
"          \n"
"          \n"
"          \n"
"          locations\n"
"          args {\n"
"            ...InputValue\n"
"          }\n"
"        }\n"
"      }\n"
"    }\n"
"\n"
"    fragment FullType on __Type {\n"
"      kind\n"
"      name\n"
"      description\n"
"      \n"
"      \n"
"      fields(includeDeprecated: true) {\n"
"        name\n"
"        description\n"
"        args {\n"
"          ...InputValue\n"
"        }\n"
"        type {\n"
"          ...TypeRef\n"
"        }\n"
"        isDeprecated\n"
"        deprecationReason\n"
"      }\n"
"      inputFields {\n"
"        ...InputValue\n"
"      }\n"
"      interfaces {\n"
"        ...TypeRef\n"
"      }\n"
"      enumValues(includeDeprecated: true) {\n"
"        name\n"
"        description\n"
"        isDeprecated\n"
"        deprecationReason\n"
"      }\n"
"      possibleTypes {\n"
"        ...TypeRef\n"
"      }\n"
"    }\n"
"\n"
"    fragment InputValue on __InputValue {\n"
"      name\n"
"      description\n"
"      type { ...TypeRef }\n"
"      defaultValue\n"
"      \n"
"      \n"
"    }\n"
"\n"
"    fragment TypeRef on __Type {\n"
"      kind\n"
"      name\n"
"      ofType {\n"
"        name\n"
"        kind\n"
"        ofType {\n"
"          name\n"
"          kind\n"
"          ofType {\n"
"            name\n"
"            kind\n"
"            ofType {\n"
"              name\n"
"              kind\n"
"              ofType {\n"
"                name\n"
"                kind\n"
"                ofType {\n"
"                  name\n"
"                  kind\n"
"                  ofType {\n"
"                    name\n"
"                    kind\n"
"                    ofType {\n"
"                      name\n"
"                      kind\n"
"                      ofType {\n"
"                        name\n"
"                        kind\n"
"                      }\n"
"                    }\n"
"                  }\n"
"                }\n"
"              }\n"
"            }\n"
"          }\n"
"        }\n"
"      }\n"
"    }\n"
"  \n";
