/* gql_schema: SDL -> schema, lookups, resolver registration, error lists,
 * suggestions. */
#include "gql_int.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

/* ---- name table ---- */

static size_t hash_name(const char *s)
{
	size_t h = 1469598103934665603ULL & SIZE_MAX;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (1099511628211ULL & SIZE_MAX);
	return h;
}

void gql_ntab_init(struct gql_ntab *t, struct arena *a, size_t n)
{
	size_t cap = 4;
	while (cap < n * 2)
		cap *= 2;
	t->mask = cap - 1;
	t->keys = arena_calloc(a, cap * sizeof *t->keys);
	t->vals = arena_calloc(a, cap * sizeof *t->vals);
}

bool gql_ntab_put(struct gql_ntab *t, const char *key, void *val)
{
	for (size_t i = hash_name(key) & t->mask;; i = (i + 1) & t->mask) {
		if (t->keys[i] == NULL) {
			t->keys[i] = key;
			t->vals[i] = val;
			return true;
		}
		if (strcmp(t->keys[i], key) == 0)
			return false;
	}
}

void *gql_ntab_get(const struct gql_ntab *t, const char *key)
{
	if (t->mask == 0 || key == NULL)
		return NULL;
	for (size_t i = hash_name(key) & t->mask;; i = (i + 1) & t->mask) {
		if (t->keys[i] == NULL)
			return NULL;
		if (strcmp(t->keys[i], key) == 0)
			return t->vals[i];
	}
}

/* ---- lookups ---- */

const struct gql_type *gql_schema_type(const struct gql_schema *s, const char *name)
{
	return gql_ntab_get(&s->type_tab, name);
}

const struct gql_field *gql_type_field(const struct gql_type *t, const char *name)
{
	if (t == NULL || t->kind != GQL_K_OBJECT)
		return NULL;
	return gql_ntab_get(&t->field_tab, name);
}

const struct gql_field *gql_schema_field(const struct gql_schema *s,
    const struct gql_type *t, const char *name)
{
	if (t == NULL)
		return NULL;
	if (name[0] == '_' && name[1] == '_') {
		if (strcmp(name, "__typename") == 0 && gql_is_composite(t))
			return s->meta_typename;
		if (t == s->query) {
			if (strcmp(name, "__schema") == 0)
				return s->meta_schema;
			if (strcmp(name, "__type") == 0)
				return s->meta_type;
		}
	}
	return gql_type_field(t, name);
}

const struct gql_input_value *gql_find_arg(const struct gql_input_value *args,
    size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(args[i].name, name) == 0)
			return &args[i];
	return NULL;
}

const struct gql_input_value *gql_type_input(const struct gql_type *t, const char *name)
{
	if (t == NULL || t->kind != GQL_K_INPUT_OBJECT)
		return NULL;
	return gql_ntab_get(&t->input_tab, name);
}

const struct gql_enum_value *gql_type_enum_value(const struct gql_type *t,
    const char *name)
{
	if (t == NULL || t->kind != GQL_K_ENUM)
		return NULL;
	return gql_ntab_get(&t->value_tab, name);
}

const struct gql_directive_def *gql_schema_directive(const struct gql_schema *s,
    const char *name)
{
	for (size_t i = 0; i < s->ndirectives; i++)
		if (strcmp(s->directives[i].name, name) == 0)
			return &s->directives[i];
	return NULL;
}

const struct gql_type *gql_named(const struct gql_type *t)
{
	while (t && (t->kind == GQL_K_LIST || t->kind == GQL_K_NON_NULL))
		t = t->of;
	return t;
}

const struct gql_type *gql_nullable(const struct gql_type *t)
{
	return t && t->kind == GQL_K_NON_NULL ? t->of : t;
}

bool gql_is_input_type(const struct gql_type *t)
{
	t = gql_named(t);
	return t && (t->kind == GQL_K_SCALAR || t->kind == GQL_K_ENUM ||
	    t->kind == GQL_K_INPUT_OBJECT);
}

bool gql_is_output_type(const struct gql_type *t)
{
	t = gql_named(t);
	return t && t->kind != GQL_K_INPUT_OBJECT;
}

bool gql_is_leaf(const struct gql_type *t)
{
	return t && (t->kind == GQL_K_SCALAR || t->kind == GQL_K_ENUM);
}

bool gql_is_composite(const struct gql_type *t)
{
	return t && (t->kind == GQL_K_OBJECT || t->kind == GQL_K_INTERFACE ||
	    t->kind == GQL_K_UNION);
}

bool gql_type_equal(const struct gql_type *a, const struct gql_type *b)
{
	while (a && b) {
		if (a->kind != b->kind)
			return false;
		if (a->kind != GQL_K_LIST && a->kind != GQL_K_NON_NULL)
			return a == b;
		a = a->of;
		b = b->of;
	}
	return a == b;
}

void gql_type_print(struct sbuf *sb, const struct gql_type *t)
{
	if (t == NULL)
		return;
	if (t->kind == GQL_K_LIST) {
		sbuf_putc(sb, '[');
		gql_type_print(sb, t->of);
		sbuf_putc(sb, ']');
	} else if (t->kind == GQL_K_NON_NULL) {
		gql_type_print(sb, t->of);
		sbuf_putc(sb, '!');
	} else {
		sbuf_puts(sb, t->name);
	}
}

const char *gql_type_str(struct arena *a, const struct gql_type *t)
{
	if (t && t->name)
		return t->name;
	struct sbuf sb;
	sbuf_init(&sb, 4096);
	gql_type_print(&sb, t);
	char *r = arena_strndup(a, sb.p, sb.len);
	sbuf_clear(&sb);
	return r;
}

const struct gql_type *gql_type_from_ref(const struct gql_schema *s,
    struct arena *a, const struct gql_type_ref *r)
{
	if (r->kind == GQL_TR_NAMED)
		return gql_schema_type(s, r->name);
	const struct gql_type *inner = gql_type_from_ref(s, a, r->of);
	if (inner == NULL)
		return NULL;
	struct gql_type *w = arena_calloc(a, sizeof *w);
	w->kind = r->kind == GQL_TR_LIST ? GQL_K_LIST : GQL_K_NON_NULL;
	w->of = inner;
	return w;
}

/* ---- errors ---- */

void gql_errors_init(struct gql_errors *el)
{
	el->head = NULL;
	el->tail = &el->head;
	el->n = 0;
}

struct gql_error *gql_errors_add(struct gql_errors *el, struct arena *a,
    const char *code, const char *msg)
{
	struct gql_error *e = arena_calloc(a, sizeof *e);
	e->code = code;
	e->message = msg;
	*el->tail = e;
	el->tail = &e->next;
	el->n++;
	return e;
}

void gql_error_loc(struct gql_error *e, struct gql_loc l)
{
	if (e->nlocs < GQL_ERR_MAX_LOCS && l.line > 0)
		e->locs[e->nlocs++] = l;
}

json_object *gql_errors_json(struct gql_errors *el)
{
	json_object *arr = json_object_new_array();
	for (struct gql_error *e = el->head; e; e = e->next) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "message", json_object_new_string(e->message));
		if (e->nlocs > 0) {
			json_object *locs = json_object_new_array();
			for (unsigned i = 0; i < e->nlocs; i++) {
				json_object *l = json_object_new_object();
				json_object_object_add(l, "line",
				    json_object_new_int((int)e->locs[i].line));
				json_object_object_add(l, "column",
				    json_object_new_int((int)e->locs[i].col));
				json_object_array_add(locs, l);
			}
			json_object_object_add(o, "locations", locs);
		}
		if (e->path) {
			json_object_object_add(o, "path", e->path);
			e->path = NULL;
		}
		json_object *ext = json_object_new_object();
		json_object_object_add(ext, "code", json_object_new_string(e->code));
		json_object_object_add(o, "extensions", ext);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void put_cleanup(void *p)
{
	json_object_put(p);
}

void gql_arena_put(struct arena *a, json_object *j)
{
	if (j != NULL)
		arena_cleanup_add(a, put_cleanup, j);
}

/* ---- suggestions (graphql-js suggestionList + didYouMean) ---- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Damerau-Levenshtein (optimal string alignment) on lower-cased names;
 * -1 when above threshold. */
static int lexical_distance(const char *input, const char *option, int threshold)
{
	if (strcmp(input, option) == 0)
		return 0;
	size_t la = strlen(option), lb = strlen(input);
	bool same_lower = la == lb;
	for (size_t i = 0; same_lower && i < la; i++)
		if (lower((unsigned char)option[i]) != lower((unsigned char)input[i]))
			same_lower = false;
	if (same_lower)
		return 1;
	const char *a = option, *b = input;
	if (la < lb) {
		const char *t = a; a = b; b = t;
		size_t tl = la; la = lb; lb = tl;
	}
	if ((int)(la - lb) > threshold || lb > 200)
		return -1;
	int rows[3][202];
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int *up = rows[(i - 1) % 3], *cur = rows[i % 3];
		int smallest = cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int cost = lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 1]) ? 0 : 1;
			int c = up[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			if (up[j - 1] + cost < c)
				c = up[j - 1] + cost;
			if (i > 1 && j > 1 &&
			    lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 2]) &&
			    lower((unsigned char)a[i - 2]) == lower((unsigned char)b[j - 1])) {
				int d = rows[(i - 2) % 3][j - 2] + 1;
				if (d < c)
					c = d;
			}
			if (c < smallest)
				smallest = c;
			cur[j] = c;
		}
		if (smallest > threshold)
			return -1;
	}
	int d = rows[la % 3][lb];
	return d <= threshold ? d : -1;
}

static int natural_compare(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			const char *ea = a, *eb = b;
			while (*ea == '0') ea++;
			while (*eb == '0') eb++;
			const char *sa = ea, *sb = eb;
			while (*ea >= '0' && *ea <= '9') ea++;
			while (*eb >= '0' && *eb <= '9') eb++;
			if (ea - sa != eb - sb)
				return (int)((ea - sa) - (eb - sb));
			int c = strncmp(sa, sb, (size_t)(ea - sa));
			if (c != 0)
				return c;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

const char *gql_did_you_mean(struct arena *a, const char *input,
    const char *const *options, size_t n)
{
	return gql_did_you_mean_sub(a, NULL, input, options, n);
}

const char *gql_did_you_mean_sub(struct arena *a, const char *sub, const char *input,
    const char *const *options, size_t n)
{
	enum { MAX_OPT = 256, MAX_SHOW = 5 };
	const char *sel[MAX_OPT];
	int dist[MAX_OPT];
	size_t k = 0;
	int threshold = (int)(strlen(input) * 4 / 10) + 1;
	for (size_t i = 0; i < n && k < MAX_OPT; i++) {
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(sel[j], options[i]) == 0;
		if (dup)
			continue;
		int d = lexical_distance(input, options[i], threshold);
		if (d >= 0) {
			sel[k] = options[i];
			dist[k++] = d;
		}
	}
	if (k == 0)
		return "";
	/* insertion sort: distance, then natural order */
	for (size_t i = 1; i < k; i++) {
		for (size_t j = i; j > 0; j--) {
			bool swap = dist[j] < dist[j - 1] ||
			    (dist[j] == dist[j - 1] && natural_compare(sel[j], sel[j - 1]) < 0);
			if (!swap)
				break;
			const char *ts = sel[j]; sel[j] = sel[j - 1]; sel[j - 1] = ts;
			int td = dist[j]; dist[j] = dist[j - 1]; dist[j - 1] = td;
		}
	}
	if (k > MAX_SHOW)
		k = MAX_SHOW;
	struct sbuf sb;
	sbuf_init(&sb, 4096);
	sbuf_puts(&sb, " Did you mean ");
	if (sub != NULL) {
		sbuf_puts(&sb, sub);
		sbuf_putc(&sb, ' ');
	}
	for (size_t i = 0; i < k; i++) {
		if (i > 0)
			sbuf_puts(&sb, k == 2 ? " or " : (i == k - 1 ? ", or " : ", "));
		sbuf_printf(&sb, "\"%s\"", sel[i]);
	}
	sbuf_putc(&sb, '?');
	const char *r = sb.failed ? "" : arena_strndup(a, sb.p, sb.len);
	sbuf_clear(&sb);
	return r;
}

/* ---- building the schema ---- */

const char *const gql_dir_loc_names[GQL_DL_COUNT] = {
	"QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION",
	"FRAGMENT_SPREAD", "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA",
	"SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
	"UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
	"DIRECTIVE_DEFINITION",
};

static const char builtin_sdl[] =
"\"The `Int` scalar type represents non-fractional signed whole numeric values. "
"Int can represent values between -(2^31) and 2^31 - 1.\"\n"
"scalar Int\n"
"\"The `Float` scalar type represents signed double-precision fractional values "
"as specified by [IEEE 754](https://en.wikipedia.org/wiki/IEEE_floating_point).\"\n"
"scalar Float\n"
"\"The `String` scalar type represents textual data, represented as UTF-8 "
"character sequences. The String type is most often used by GraphQL to "
"represent free-form human-readable text.\"\n"
"scalar String\n"
"\"The `Boolean` scalar type represents `true` or `false`.\"\n"
"scalar Boolean\n"
"\"The `ID` scalar type represents a unique identifier, often used to refetch "
"an object or as key for a cache. The ID type appears in a JSON response as a "
"String; however, it is not intended to be human-readable. When expected as an "
"input type, any string (such as `\\\"4\\\"`) or integer (such as `4`) input "
"value will be accepted as an ID.\"\n"
"scalar ID\n"
"\"Directs the executor to include this field or fragment only when the `if` "
"argument is true.\"\n"
"directive @include(\"Included when true.\" if: Boolean!) "
"on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
"\"Directs the executor to skip this field or fragment when the `if` argument "
"is true.\"\n"
"directive @skip(\"Skipped when true.\" if: Boolean!) "
"on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT\n"
"\"Marks an element of a GraphQL schema as no longer supported.\"\n"
"directive @deprecated(\"Explains why this element was deprecated, usually also "
"including a suggestion for how to access supported similar data. Formatted "
"using the Markdown syntax, as specified by "
"[CommonMark](https://commonmark.org/).\" reason: String = \"No longer supported\") "
"on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE | DIRECTIVE_DEFINITION\n"
"\"Exposes a URL that specifies the behavior of this scalar.\"\n"
"directive @specifiedBy(\"The URL that specifies the behavior of this scalar.\" url: String!) on SCALAR\n"
"\"Indicates exactly one field must be supplied and this field must not be `null`.\"\n"
"directive @oneOf on INPUT_OBJECT\n"
"\"A GraphQL Schema defines the capabilities of a GraphQL server. It exposes all "
"available types and directives on the server, as well as the entry points for "
"query, mutation, and subscription operations.\"\n"
"type __Schema {\n"
"  description: String\n"
"  \"A list of all types supported by this server.\" types: [__Type!]!\n"
"  \"The type that query operations will be rooted at.\" queryType: __Type!\n"
"  \"If this server supports mutation, the type that mutation operations will be rooted at.\" mutationType: __Type\n"
"  \"If this server support subscription, the type that subscription operations will be rooted at.\" subscriptionType: __Type\n"
"  \"A list of all directives supported by this server.\" directives(includeDeprecated: Boolean! = false): [__Directive!]!\n"
"}\n"
"\"The fundamental unit of any GraphQL Schema is the type. There are many kinds "
"of types in GraphQL as represented by the `__TypeKind` enum.\\n\\nDepending on "
"the kind of a type, certain fields describe information about that type. "
"Scalar types provide no information beyond a name, description and optional "
"`specifiedByURL`, while Enum types provide their values. Object and Interface "
"types provide the fields they describe. Abstract types, Union and Interface, "
"provide the Object types possible at runtime. List and NonNull types compose "
"other types.\"\n"
"type __Type {\n"
"  kind: __TypeKind!\n  name: String\n  description: String\n"
"  specifiedByURL: String\n"
"  fields(includeDeprecated: Boolean = false): [__Field!]\n"
"  interfaces: [__Type!]\n  possibleTypes: [__Type!]\n"
"  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]\n"
"  inputFields(includeDeprecated: Boolean = false): [__InputValue!]\n"
"  ofType: __Type\n"
"  isOneOf: Boolean\n"
"}\n"
"\"An enum describing what kind of type a given `__Type` is.\"\n"
"enum __TypeKind {\n"
"  \"Indicates this type is a scalar.\" SCALAR\n"
"  \"Indicates this type is an object. `fields` and `interfaces` are valid fields.\" OBJECT\n"
"  \"Indicates this type is an interface. `fields`, `interfaces`, and `possibleTypes` are valid fields.\" INTERFACE\n"
"  \"Indicates this type is a union. `possibleTypes` is a valid field.\" UNION\n"
"  \"Indicates this type is an enum. `enumValues` is a valid field.\" ENUM\n"
"  \"Indicates this type is an input object. `inputFields` is a valid field.\" INPUT_OBJECT\n"
"  \"Indicates this type is a list. `ofType` is a valid field.\" LIST\n"
"  \"Indicates this type is a non-null. `ofType` is a valid field.\" NON_NULL\n"
"}\n"
"\"Object and Interface types are described by a list of Fields, each of which "
"has a name, potentially a list of arguments, and a return type.\"\n"
"type __Field {\n"
"  name: String!\n  description: String\n"
"  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
"  type: __Type!\n  isDeprecated: Boolean!\n  deprecationReason: String\n"
"}\n"
"\"Arguments provided to Fields or Directives and the input fields of an "
"InputObject are represented as Input Values which describe their type and "
"optionally a default value.\"\n"
"type __InputValue {\n"
"  name: String!\n  description: String\n  type: __Type!\n"
"  \"A GraphQL-formatted string representing the default value for this input value.\" defaultValue: String\n"
"  isDeprecated: Boolean!\n  deprecationReason: String\n"
"}\n"
"\"One possible value for a given Enum. Enum values are unique values, not a "
"placeholder for a string or numeric value. However an Enum value is returned "
"in a JSON response as a string.\"\n"
"type __EnumValue {\n"
"  name: String!\n  description: String\n  isDeprecated: Boolean!\n"
"  deprecationReason: String\n"
"}\n"
"\"A Directive provides a way to describe alternate runtime execution and type "
"validation behavior in a GraphQL document.\\n\\nIn some cases, you need to "
"provide options to alter GraphQL's execution behavior in ways field arguments "
"will not suffice, such as conditionally including or skipping a field. "
"Directives provide this by describing additional information to the executor.\"\n"
"type __Directive {\n"
"  name: String!\n  description: String\n  isRepeatable: Boolean!\n"
"  locations: [__DirectiveLocation!]!\n"
"  args(includeDeprecated: Boolean = false): [__InputValue!]!\n"
"  isDeprecated: Boolean!\n  deprecationReason: String\n"
"}\n"
"\"A Directive can be adjacent to many parts of the GraphQL language, a "
"__DirectiveLocation describes one such possible adjacencies.\"\n"
"enum __DirectiveLocation {\n"
"  \"Location adjacent to a query operation.\" QUERY\n"
"  \"Location adjacent to a mutation operation.\" MUTATION\n"
"  \"Location adjacent to a subscription operation.\" SUBSCRIPTION\n"
"  \"Location adjacent to a field.\" FIELD\n"
"  \"Location adjacent to a fragment definition.\" FRAGMENT_DEFINITION\n"
"  \"Location adjacent to a fragment spread.\" FRAGMENT_SPREAD\n"
"  \"Location adjacent to an inline fragment.\" INLINE_FRAGMENT\n"
"  \"Location adjacent to a variable definition.\" VARIABLE_DEFINITION\n"
"  \"Location adjacent to a schema definition.\" SCHEMA\n"
"  \"Location adjacent to a scalar definition.\" SCALAR\n"
"  \"Location adjacent to an object type definition.\" OBJECT\n"
"  \"Location adjacent to a field definition.\" FIELD_DEFINITION\n"
"  \"Location adjacent to an argument definition.\" ARGUMENT_DEFINITION\n"
"  \"Location adjacent to an interface definition.\" INTERFACE\n"
"  \"Location adjacent to a union definition.\" UNION\n"
"  \"Location adjacent to an enum definition.\" ENUM\n"
"  \"Location adjacent to an enum value definition.\" ENUM_VALUE\n"
"  \"Location adjacent to an input object type definition.\" INPUT_OBJECT\n"
"  \"Location adjacent to an input object field definition.\" INPUT_FIELD_DEFINITION\n"
"  \"Location adjacent to a directive definition.\" DIRECTIVE_DEFINITION\n"
"}\n"
"type __Meta {\n"
"  \"Access the current type schema of this server.\" __schema: __Schema!\n"
"  \"Request the type information of a single type.\" __type(name: String!): __Type\n"
"  \"The name of the current Object type at runtime.\" __typename: String!\n"
"}\n";

struct builder {
	struct gql_schema *s;
	struct arena *a;
	struct err *e;
	const char *what;	/* "schema" or "built-in" for messages */
};

static int build_fail(struct builder *b, struct gql_loc l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int build_fail(struct builder *b, struct gql_loc l, const char *fmt, ...)
{
	char m[200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (n < 0)
		m[0] = '\0';	/* truncation is fine for this message */
	return err_set(b->e, APP_ERR_INTERNAL, "invalid schema",
	    "%s SDL %u:%u: %s", b->what, l.line, l.col, m);
}

static int resolve_ref(struct builder *b, const struct gql_type_ref *r,
    const struct gql_type **out)
{
	*out = gql_type_from_ref(b->s, b->a, r);
	if (*out != NULL)
		return 0;
	const struct gql_type_ref *n = r;
	while (n->kind != GQL_TR_NAMED)
		n = n->of;
	return build_fail(b, r->loc, "unknown type \"%s\"", n->name);
}

static void apply_deprecated(const struct gql_directive *d, bool *dep, const char **reason)
{
	for (; d; d = d->next) {
		if (strcmp(d->name, "deprecated") != 0)
			continue;
		*dep = true;
		*reason = "No longer supported";
		for (const struct gql_argument *a = d->args; a; a = a->next)
			if (strcmp(a->name, "reason") == 0 && a->value->kind == GQL_V_STRING)
				*reason = a->value->s;
	}
}

static size_t count_items(const struct gql_sdl_item *it)
{
	size_t n = 0;
	for (; it; it = it->next)
		n++;
	return n;
}

static int build_inputs(struct builder *b, const struct gql_sdl_item *items,
    struct gql_input_value **out, size_t *nout)
{
	size_t n = count_items(items);
	struct gql_input_value *iv = arena_calloc(b->a, (n ? n : 1) * sizeof *iv);
	size_t i = 0;
	for (const struct gql_sdl_item *it = items; it; it = it->next, i++) {
		iv[i].name = it->name;
		iv[i].description = it->description;
		for (size_t j = 0; j < i; j++)
			if (strcmp(iv[j].name, it->name) == 0)
				return build_fail(b, it->loc, "duplicate \"%s\"", it->name);
		int rc = resolve_ref(b, it->type, &iv[i].type);
		if (rc != 0)
			return rc;
		if (!gql_is_input_type(iv[i].type))
			return build_fail(b, it->loc, "\"%s\" must be an input type", it->name);
		apply_deprecated(it->directives, &iv[i].deprecated, &iv[i].dep_reason);
		iv[i].def = it->def;
	}
	*out = iv;
	*nout = n;
	return 0;
}

/* Defaults are coerced once the whole type graph exists. */
static int finish_defaults(struct builder *b, struct gql_input_value *iv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (iv[i].def == NULL)
			continue;
		json_object *j = NULL;
		bool absent = false;
		if (gql_value_from_ast(iv[i].type, iv[i].def, NULL, &j, &absent) != 0)
			return build_fail(b, iv[i].def->loc, "bad default value for \"%s\"",
			    iv[i].name);
		iv[i].def_json = j;
		gql_arena_put(b->a, j);
		struct sbuf sb;
		sbuf_init(&sb, 65536);
		gql_json_print_literal(&sb, j, iv[i].type);
		iv[i].def_str = arena_strndup(b->a, sb.p, sb.len);
		sbuf_clear(&sb);
	}
	return 0;
}

static int declare_types(struct builder *b, const struct gql_document *doc, bool builtin)
{
	for (const struct gql_definition *d = doc->defs; d; d = d->next) {
		enum gql_kind k;
		if (d->extension)
			return build_fail(b, d->loc, "type extensions are not supported");
		switch (d->kind) {
		case GQL_DEF_SCALAR: k = GQL_K_SCALAR; break;
		case GQL_DEF_OBJECT: k = GQL_K_OBJECT; break;
		case GQL_DEF_ENUM: k = GQL_K_ENUM; break;
		case GQL_DEF_INPUT: k = GQL_K_INPUT_OBJECT; break;
		case GQL_DEF_SCHEMA:
		case GQL_DEF_DIRECTIVE:
			continue;
		default:
			return build_fail(b, d->loc, "unsupported definition");
		}
		struct gql_type *t = arena_calloc(b->a, sizeof *t);
		t->kind = k;
		t->name = d->name;
		t->description = d->description;
		t->builtin = builtin;
		if (k == GQL_K_SCALAR) {
			static const struct { const char *n; enum gql_scalar_id id; } sc[] = {
				{ "Int", GQL_SC_INT }, { "Float", GQL_SC_FLOAT },
				{ "String", GQL_SC_STRING }, { "Boolean", GQL_SC_BOOLEAN },
				{ "ID", GQL_SC_ID },
			};
			t->scalar = GQL_SC_JSON;	/* custom scalars pass JSON through */
			for (size_t i = 0; builtin && i < sizeof sc / sizeof sc[0]; i++)
				if (strcmp(sc[i].n, d->name) == 0)
					t->scalar = sc[i].id;
		}
		if (!gql_ntab_put(&b->s->type_tab, t->name, t))
			return build_fail(b, d->name_loc, "type \"%s\" defined twice", d->name);
	}
	return 0;
}

static int define_type(struct builder *b, const struct gql_definition *d)
{
	struct gql_type *t = gql_ntab_get(&b->s->type_tab, d->name);
	size_t n = count_items(d->items);
	int rc;
	switch (d->kind) {
	case GQL_DEF_OBJECT: {
		t->fields = arena_calloc(b->a, (n ? n : 1) * sizeof *t->fields);
		gql_ntab_init(&t->field_tab, b->a, n);
		size_t i = 0;
		for (const struct gql_sdl_item *it = d->items; it; it = it->next, i++) {
			struct gql_field *f = &t->fields[i];
			f->name = it->name;
			f->description = it->description;
			if ((rc = resolve_ref(b, it->type, &f->type)) != 0)
				return rc;
			if (!gql_is_output_type(f->type))
				return build_fail(b, it->loc, "field \"%s.%s\" must have an output type",
				    d->name, it->name);
			if ((rc = build_inputs(b, it->args, &f->args, &f->nargs)) != 0)
				return rc;
			apply_deprecated(it->directives, &f->deprecated, &f->dep_reason);
			if (!gql_ntab_put(&t->field_tab, f->name, f))
				return build_fail(b, it->loc, "field \"%s.%s\" defined twice",
				    d->name, it->name);
		}
		t->nfields = n;
		return 0;
	}
	case GQL_DEF_INPUT:
		if ((rc = build_inputs(b, d->items, &t->inputs, &t->ninputs)) != 0)
			return rc;
		gql_ntab_init(&t->input_tab, b->a, n);
		for (size_t i = 0; i < n; i++)
			(void)gql_ntab_put(&t->input_tab, t->inputs[i].name, &t->inputs[i]);
		return 0;	/* duplicates were rejected by build_inputs */
	case GQL_DEF_ENUM: {
		t->values = arena_calloc(b->a, (n ? n : 1) * sizeof *t->values);
		gql_ntab_init(&t->value_tab, b->a, n);
		size_t i = 0;
		for (const struct gql_sdl_item *it = d->items; it; it = it->next, i++) {
			struct gql_enum_value *v = &t->values[i];
			v->name = it->name;
			v->description = it->description;
			apply_deprecated(it->directives, &v->deprecated, &v->dep_reason);
			if (!gql_ntab_put(&t->value_tab, v->name, v))
				return build_fail(b, it->loc, "enum value \"%s\" defined twice",
				    it->name);
		}
		t->nvalues = n;
		return 0;
	}
	default:
		return 0;
	}
}

static int define_directive(struct builder *b, const struct gql_definition *d,
    struct gql_directive_def *dd)
{
	dd->name = d->name;
	dd->description = d->description;
	dd->repeatable = d->repeatable;
	dd->location_names = d->members;
	dd->nlocation_names = d->nmembers;
	for (size_t i = 0; i < d->nmembers; i++) {
		size_t k = 0;
		while (k < GQL_DL_COUNT && strcmp(gql_dir_loc_names[k], d->members[i]) != 0)
			k++;
		if (k == GQL_DL_COUNT)
			return build_fail(b, d->loc, "unknown directive location %s",
			    d->members[i]);
		dd->locations |= 1u << k;
	}
	return build_inputs(b, d->items, &dd->args, &dd->nargs);
}

static void mark_scalars(const struct gql_type *t)
{
	t = gql_named(t);
	if (t && t->kind == GQL_K_SCALAR)
		((struct gql_type *)t)->listed = true;
}

static int build(struct builder *b, const char *sdl)
{
	struct gql_schema *s = b->s;
	char msg[256];
	struct gql_loc loc;
	struct gql_document *bdoc, *adoc;
	struct gql_parse_opts po = { 0, 256 };
	b->what = "built-in";
	if (gql_parse(builtin_sdl, sizeof builtin_sdl - 1, &po, b->a, &bdoc, msg,
	    sizeof msg, &loc) != 0)
		return build_fail(b, loc, "%s", msg);
	b->what = "application";
	if (gql_parse(sdl, strlen(sdl), &po, b->a, &adoc, msg, sizeof msg, &loc) != 0)
		return build_fail(b, loc, "%s", msg);
	gql_ntab_init(&s->type_tab, b->a, bdoc->ndefs + adoc->ndefs);
	int rc;
	b->what = "built-in";
	if ((rc = declare_types(b, bdoc, true)) != 0)
		return rc;
	b->what = "application";
	if ((rc = declare_types(b, adoc, false)) != 0)
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		const struct gql_document *doc = pass ? adoc : bdoc;
		b->what = pass ? "application" : "built-in";
		for (const struct gql_definition *d = doc->defs; d; d = d->next)
			if ((rc = define_type(b, d)) != 0)
				return rc;
	}
	/* directives: built-in only */
	size_t nd = 0;
	for (const struct gql_definition *d = bdoc->defs; d; d = d->next)
		nd += d->kind == GQL_DEF_DIRECTIVE;
	s->directives = arena_calloc(b->a, nd * sizeof *s->directives);
	b->what = "built-in";
	for (const struct gql_definition *d = bdoc->defs; d; d = d->next)
		if (d->kind == GQL_DEF_DIRECTIVE &&
		    (rc = define_directive(b, d, &s->directives[s->ndirectives++])) != 0)
			return rc;
	b->what = "application";
	/* roots */
	const char *roots[3] = { "Query", "Mutation", "Subscription" };
	for (const struct gql_definition *d = adoc->defs; d; d = d->next) {
		if (d->kind == GQL_DEF_SCHEMA) {
			for (int i = 0; i < 3; i++)
				roots[i] = d->root_names[i];
			s->description = d->description;
		} else if (d->kind == GQL_DEF_DIRECTIVE) {
			return build_fail(b, d->loc, "custom directives are not supported");
		}
	}
	const struct gql_type **rt[3] = { &s->query, &s->mutation, &s->subscription };
	for (int i = 0; i < 3; i++) {
		*rt[i] = roots[i] ? gql_schema_type(s, roots[i]) : NULL;
		if (*rt[i] && (*rt[i])->kind != GQL_K_OBJECT)
			return build_fail(b, loc, "root type %s is not an object type", roots[i]);
	}
	if (s->query == NULL)
		return build_fail(b, loc, "the schema has no query type");
	/* defaults, now that every type exists */
	for (int pass = 0; pass < 2; pass++) {
		const struct gql_document *doc = pass ? adoc : bdoc;
		for (const struct gql_definition *d = doc->defs; d; d = d->next) {
			struct gql_type *t = d->name ? gql_ntab_get(&s->type_tab, d->name) : NULL;
			if (t == NULL || d->kind == GQL_DEF_DIRECTIVE)
				continue;
			if (t->kind == GQL_K_INPUT_OBJECT &&
			    (rc = finish_defaults(b, t->inputs, t->ninputs)) != 0)
				return rc;
			for (size_t i = 0; i < t->nfields; i++)
				if ((rc = finish_defaults(b, t->fields[i].args,
				    t->fields[i].nargs)) != 0)
					return rc;
		}
	}
	for (size_t i = 0; i < s->ndirectives; i++)
		if ((rc = finish_defaults(b, s->directives[i].args,
		    s->directives[i].nargs)) != 0)
			return rc;
	/* the listed types: application types, referenced built-in scalars,
	 * introspection types (graphql-js lists only the scalars in use) */
	size_t total = bdoc->ndefs + adoc->ndefs;
	s->types = arena_calloc(b->a, total * sizeof *s->types);
	for (const struct gql_definition *d = adoc->defs; d; d = d->next) {
		struct gql_type *t = d->name ? gql_ntab_get(&s->type_tab, d->name) : NULL;
		if (t == NULL || d->kind == GQL_DEF_DIRECTIVE)
			continue;
		t->listed = true;
		for (size_t i = 0; i < t->nfields; i++) {
			mark_scalars(t->fields[i].type);
			for (size_t j = 0; j < t->fields[i].nargs; j++)
				mark_scalars(t->fields[i].args[j].type);
		}
		for (size_t i = 0; i < t->ninputs; i++)
			mark_scalars(t->inputs[i].type);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (const struct gql_definition *d = pass ? bdoc->defs : adoc->defs; d;
		    d = d->next) {
			struct gql_type *t = d->name ? gql_ntab_get(&s->type_tab, d->name) : NULL;
			if (t == NULL || d->kind == GQL_DEF_DIRECTIVE)
				continue;
			if (pass == 1) {
				if (strcmp(t->name, "String") == 0 || strcmp(t->name, "Boolean") == 0)
					t->listed = true;
				else if (t->kind != GQL_K_SCALAR && strcmp(t->name, "__Meta") != 0)
					t->listed = true;
			}
			if (t->listed)
				s->types[s->ntypes++] = t;
		}
	}
	const struct gql_type *meta = gql_schema_type(s, "__Meta");
	s->meta_schema = gql_type_field(meta, "__schema");
	s->meta_type = gql_type_field(meta, "__type");
	s->meta_typename = gql_type_field(meta, "__typename");
	s->t_string = gql_schema_type(s, "String");
	s->t_boolean = gql_schema_type(s, "Boolean");
	return gql_introspect_install(s);
}

struct gql_schema *gql_schema_new(const char *sdl, struct err *e)
{
	struct arena *a = arena_new(0);
	struct gql_schema *s = arena_calloc(a, sizeof *s);
	s->arena = a;
	struct builder b = { s, a, e, "application" };
	if (build(&b, sdl) != 0) {
		arena_free(a);
		return NULL;
	}
	return s;
}

void gql_schema_free(struct gql_schema *s)
{
	if (s != NULL)
		arena_free(s->arena);
}

int gql_schema_set_resolver(struct gql_schema *s, const char *type,
    const char *field, gql_resolver_fn fn)
{
	const struct gql_type *t = gql_schema_type(s, type);
	struct gql_field *f = t && t->kind == GQL_K_OBJECT ?
	    gql_ntab_get(&t->field_tab, field) : NULL;
	if (f == NULL) {
		log_kv(LOG_ERROR, "gql_resolver_unknown_field", "type", type,
		    "field", field, NULL);
		return APP_ERR_NOT_FOUND;
	}
	f->resolver = fn;
	return 0;
}

void gql_limits_default(struct gql_limits *l)
{
	l->max_doc_bytes = 64 * 1024;
	l->max_tokens = 10000;
	l->max_depth = 15;
	l->max_aliases = 30;
	l->max_root_fields = 20;
	l->max_nesting = 64;
	l->max_errors = 100;
	l->max_executed_fields = 100000;
	l->introspection = true;
}

json_object *gql_error_list(const char *message, enum app_err code)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object *ext = json_object_new_object();
	json_object_object_add(ext, "code", json_object_new_string(app_err_code(code)));
	json_object_object_add(e, "extensions", ext);
	json_object *a = json_object_new_array();
	json_object_array_add(a, e);
	return a;
}
