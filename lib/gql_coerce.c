/* gql_coerce: printing values, literal checks, valueFromAST and
 * coerceInputValue (spec section 5.6 / 6.1.2 / 6.4.1). */
#include "gql_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- printing ---- */

static void print_gql_string(struct sbuf *sb, const char *s, size_t n)
{
	sbuf_putc(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': sbuf_puts(sb, "\\\""); break;
		case '\\': sbuf_puts(sb, "\\\\"); break;
		case '\b': sbuf_puts(sb, "\\b"); break;
		case '\f': sbuf_puts(sb, "\\f"); break;
		case '\n': sbuf_puts(sb, "\\n"); break;
		case '\r': sbuf_puts(sb, "\\r"); break;
		case '\t': sbuf_puts(sb, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				sbuf_printf(sb, "\\u%04X", c);
			else
				sbuf_putc(sb, (char)c);
		}
	}
	sbuf_putc(sb, '"');
}

void gql_value_print(struct sbuf *sb, const struct gql_value *v)
{
	switch (v->kind) {
	case GQL_V_VARIABLE:
		sbuf_putc(sb, '$');
		sbuf_puts(sb, v->s);
		break;
	case GQL_V_INT: case GQL_V_FLOAT: case GQL_V_ENUM:
		sbuf_append(sb, v->s, v->slen);
		break;
	case GQL_V_STRING:
		if (v->block) {
			sbuf_puts(sb, "\"\"\"");
			for (size_t i = 0; i < v->slen; i++) {
				if (i + 2 < v->slen && memcmp(v->s + i, "\"\"\"", 3) == 0) {
					sbuf_puts(sb, "\\\"\"\"");
					i += 2;
				} else {
					sbuf_putc(sb, v->s[i]);
				}
			}
			sbuf_puts(sb, "\"\"\"");
		} else {
			print_gql_string(sb, v->s, v->slen);
		}
		break;
	case GQL_V_BOOLEAN:
		sbuf_puts(sb, v->b ? "true" : "false");
		break;
	case GQL_V_NULL:
		sbuf_puts(sb, "null");
		break;
	case GQL_V_LIST:
		sbuf_putc(sb, '[');
		for (const struct gql_value *i = v->items; i; i = i->next) {
			gql_value_print(sb, i);
			if (i->next)
				sbuf_puts(sb, ", ");
		}
		sbuf_putc(sb, ']');
		break;
	case GQL_V_OBJECT:
		sbuf_putc(sb, '{');
		for (const struct gql_value *i = v->items; i; i = i->next) {
			sbuf_puts(sb, i->field);
			sbuf_puts(sb, ": ");
			gql_value_print(sb, i);
			if (i->next)
				sbuf_puts(sb, ", ");
		}
		sbuf_putc(sb, '}');
		break;
	}
}

static const char *sb_finish(struct arena *a, struct sbuf *sb)
{
	const char *r = sb->failed ? "..." : arena_strndup(a, sb->p, sb->len);
	sbuf_clear(sb);
	return r;
}

const char *gql_value_str(struct arena *a, const struct gql_value *v)
{
	struct sbuf sb;
	sbuf_init(&sb, 16384);
	gql_value_print(&sb, v);
	return sb_finish(a, &sb);
}

static void inspect(struct sbuf *sb, json_object *j, int depth)
{
	switch (json_object_get_type(j)) {
	case json_type_null:
		sbuf_puts(sb, "null");
		break;
	case json_type_string:
		sbuf_json_str(sb, json_object_get_string(j), (size_t)json_object_get_string_len(j));
		break;
	case json_type_array: {
		size_t n = json_object_array_length(j);
		if (n == 0) {
			sbuf_puts(sb, "[]");
			break;
		}
		if (depth >= 2) {
			sbuf_puts(sb, "[Array]");
			break;
		}
		sbuf_putc(sb, '[');
		for (size_t i = 0; i < n && i < 10; i++) {
			if (i)
				sbuf_puts(sb, ", ");
			inspect(sb, json_object_array_get_idx(j, i), depth + 1);
		}
		if (n > 10)
			sbuf_printf(sb, ", ... %zu more item%s", n - 10, n - 10 > 1 ? "s" : "");
		sbuf_putc(sb, ']');
		break;
	}
	case json_type_object: {
		if (json_object_object_length(j) == 0) {
			sbuf_puts(sb, "{}");
			break;
		}
		if (depth >= 2) {
			sbuf_puts(sb, "[Object]");
			break;
		}
		sbuf_puts(sb, "{ ");
		bool first = true;
		json_object_object_foreach(j, k, v) {
			if (!first)
				sbuf_puts(sb, ", ");
			first = false;
			sbuf_puts(sb, k);
			sbuf_puts(sb, ": ");
			inspect(sb, v, depth + 1);
		}
		sbuf_puts(sb, " }");
		break;
	}
	default:
		sbuf_puts(sb, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	}
}

const char *gql_json_inspect(struct arena *a, json_object *j)
{
	struct sbuf sb;
	sbuf_init(&sb, 16384);
	inspect(&sb, j, 0);
	return sb_finish(a, &sb);
}

static void print_number(struct sbuf *sb, json_object *j)
{
	if (json_object_is_type(j, json_type_int)) {
		sbuf_printf(sb, "%lld", (long long)json_object_get_int64(j));
		return;
	}
	double d = json_object_get_double(j);
	if (d == floor(d) && fabs(d) < 1e15)
		sbuf_printf(sb, "%.0f", d);
	else
		sbuf_printf(sb, "%.17g", d);
}

static void print_untyped(struct sbuf *sb, json_object *j)
{
	switch (json_object_get_type(j)) {
	case json_type_null: sbuf_puts(sb, "null"); break;
	case json_type_boolean: sbuf_puts(sb, json_object_get_boolean(j) ? "true" : "false"); break;
	case json_type_int: case json_type_double: print_number(sb, j); break;
	case json_type_string:
		print_gql_string(sb, json_object_get_string(j),
		    (size_t)json_object_get_string_len(j));
		break;
	case json_type_array:
		sbuf_putc(sb, '[');
		for (size_t i = 0; i < json_object_array_length(j); i++) {
			if (i)
				sbuf_puts(sb, ", ");
			print_untyped(sb, json_object_array_get_idx(j, i));
		}
		sbuf_putc(sb, ']');
		break;
	case json_type_object: {
		sbuf_putc(sb, '{');
		bool first = true;
		json_object_object_foreach(j, k, v) {
			if (!first)
				sbuf_puts(sb, ", ");
			first = false;
			sbuf_printf(sb, "%s: ", k);
			print_untyped(sb, v);
		}
		sbuf_putc(sb, '}');
		break;
	}
	}
}

void gql_json_print_literal(struct sbuf *sb, json_object *j, const struct gql_type *t)
{
	t = gql_nullable(t);
	if (j == NULL || json_object_is_type(j, json_type_null)) {
		sbuf_puts(sb, "null");
		return;
	}
	if (t->kind == GQL_K_LIST) {
		if (!json_object_is_type(j, json_type_array)) {
			gql_json_print_literal(sb, j, t->of);
			return;
		}
		sbuf_putc(sb, '[');
		for (size_t i = 0; i < json_object_array_length(j); i++) {
			if (i)
				sbuf_puts(sb, ", ");
			gql_json_print_literal(sb, json_object_array_get_idx(j, i), t->of);
		}
		sbuf_putc(sb, ']');
		return;
	}
	if (t->kind == GQL_K_INPUT_OBJECT) {
		sbuf_putc(sb, '{');
		bool first = true;
		for (size_t i = 0; i < t->ninputs; i++) {
			json_object *v;
			if (!json_object_object_get_ex(j, t->inputs[i].name, &v))
				continue;
			if (!first)
				sbuf_puts(sb, ", ");
			first = false;
			sbuf_printf(sb, "%s: ", t->inputs[i].name);
			gql_json_print_literal(sb, v, t->inputs[i].type);
		}
		sbuf_putc(sb, '}');
		return;
	}
	if (t->kind == GQL_K_ENUM) {
		sbuf_puts(sb, json_object_get_string(j));
		return;
	}
	if (t->scalar == GQL_SC_ID && json_object_is_type(j, json_type_string)) {
		const char *s = json_object_get_string(j);
		size_t n = strlen(s), k = s[0] == '-' ? 1 : 0;
		bool intlike = n > k && (s[k] != '0' || n == k + 1);
		for (size_t i = k; i < n && intlike; i++)
			intlike = s[i] >= '0' && s[i] <= '9';
		if (intlike) {
			sbuf_puts(sb, s);
			return;
		}
	}
	print_untyped(sb, j);
}

/* ---- literals ---- */

static bool parse_int32(const char *s, int32_t *out)
{
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

static const char *enum_suggest(struct arena *a, const struct gql_type *t, const char *in)
{
	const char **names = arena_alloc(a, (t->nvalues ? t->nvalues : 1) * sizeof *names);
	for (size_t i = 0; i < t->nvalues; i++)
		names[i] = t->values[i].name;
	return gql_did_you_mean_sub(a, "the enum value", in, names, t->nvalues);
}

const char *gql_leaf_literal_error(struct arena *a, const struct gql_type *t,
    const struct gql_value *v)
{
	int32_t iv;
	if (t->kind == GQL_K_ENUM) {
		const char *vs = gql_value_str(a, v);
		if (v->kind != GQL_V_ENUM)
			return arena_printf(a, "Enum \"%s\" cannot represent non-enum value: %s.%s",
			    t->name, vs, enum_suggest(a, t, vs));
		if (gql_type_enum_value(t, v->s) == NULL)
			return arena_printf(a, "Value \"%s\" does not exist in \"%s\" enum.%s",
			    vs, t->name, enum_suggest(a, t, vs));
		return NULL;
	}
	switch (t->scalar) {
	case GQL_SC_INT:
		if (v->kind != GQL_V_INT)
			return arena_printf(a, "Int cannot represent non-integer value: %s",
			    gql_value_str(a, v));
		if (!parse_int32(v->s, &iv))
			return arena_printf(a, "Int cannot represent non 32-bit signed integer "
			    "value: %s", v->s);
		return NULL;
	case GQL_SC_FLOAT:
		if (v->kind != GQL_V_INT && v->kind != GQL_V_FLOAT)
			return arena_printf(a, "Float cannot represent non numeric value: %s",
			    gql_value_str(a, v));
		return NULL;
	case GQL_SC_STRING:
		if (v->kind != GQL_V_STRING)
			return arena_printf(a, "String cannot represent a non string value: %s",
			    gql_value_str(a, v));
		return NULL;
	case GQL_SC_BOOLEAN:
		if (v->kind != GQL_V_BOOLEAN)
			return arena_printf(a, "Boolean cannot represent a non boolean value: %s",
			    gql_value_str(a, v));
		return NULL;
	case GQL_SC_ID:
		if (v->kind != GQL_V_STRING && v->kind != GQL_V_INT)
			return arena_printf(a, "ID cannot represent a non-string and non-integer "
			    "value: %s", gql_value_str(a, v));
		return NULL;
	default:
		return NULL;	/* JSON: any literal */
	}
}

static json_object *json_lookup(json_object *obj, const char *key, bool *found)
{
	json_object *v = NULL;
	*found = obj != NULL && json_object_object_get_ex(obj, key, &v);
	return v;
}

/* valueFromASTUntyped for the JSON scalar; variables substituted. */
static json_object *untyped(const struct gql_value *v, json_object *vars, bool *absent)
{
	bool found;
	switch (v->kind) {
	case GQL_V_VARIABLE: {
		json_object *j = json_lookup(vars, v->s, &found);
		if (!found)
			*absent = true;
		return json_object_get(j);
	}
	case GQL_V_INT: {
		errno = 0;
		long long x = strtoll(v->s, NULL, 10);
		if (errno == 0)
			return json_object_new_int64(x);
		return json_object_new_double(strtod(v->s, NULL));
	}
	case GQL_V_FLOAT:
		return json_object_new_double(strtod(v->s, NULL));
	case GQL_V_STRING:
	case GQL_V_ENUM:
		return json_object_new_string_len(v->s, (int)v->slen);
	case GQL_V_BOOLEAN:
		return json_object_new_boolean(v->b);
	case GQL_V_NULL:
		return NULL;
	case GQL_V_LIST: {
		json_object *arr = json_object_new_array();
		for (const struct gql_value *i = v->items; i; i = i->next) {
			bool ab = false;
			json_object *x = untyped(i, vars, &ab);
			json_object_array_add(arr, x);
		}
		return arr;
	}
	case GQL_V_OBJECT: {
		json_object *obj = json_object_new_object();
		for (const struct gql_value *i = v->items; i; i = i->next) {
			bool ab = false;
			json_object *x = untyped(i, vars, &ab);
			if (ab)
				continue;
			json_object_object_add(obj, i->field, x);
		}
		return obj;
	}
	}
	return NULL;
}

static bool is_missing_var(const struct gql_value *v, json_object *vars)
{
	bool found;
	if (v->kind != GQL_V_VARIABLE)
		return false;
	(void)json_lookup(vars, v->s, &found);
	return !found;
}

int gql_value_from_ast(const struct gql_type *t, const struct gql_value *v,
    json_object *vars, json_object **out, bool *absent)
{
	*out = NULL;
	if (v == NULL) {
		*absent = true;
		return -1;
	}
	if (v->kind == GQL_V_VARIABLE) {
		bool found;
		json_object *j = json_lookup(vars, v->s, &found);
		if (!found) {
			*absent = true;
			return -1;
		}
		if (j == NULL && t->kind == GQL_K_NON_NULL)
			return -1;
		*out = json_object_get(j);
		return 0;
	}
	if (t->kind == GQL_K_NON_NULL) {
		if (v->kind == GQL_V_NULL)
			return -1;
		return gql_value_from_ast(t->of, v, vars, out, absent);
	}
	if (v->kind == GQL_V_NULL)
		return 0;
	if (t->kind == GQL_K_LIST) {
		if (v->kind != GQL_V_LIST) {
			json_object *one;
			if (gql_value_from_ast(t->of, v, vars, &one, absent) != 0)
				return -1;
			*out = json_object_new_array();
			json_object_array_add(*out, one);
			return 0;
		}
		json_object *arr = json_object_new_array();
		for (const struct gql_value *i = v->items; i; i = i->next) {
			json_object *x = NULL;
			if (is_missing_var(i, vars)) {
				if (t->of->kind == GQL_K_NON_NULL)
					goto bad_arr;
			} else {
				bool ab = false;
				if (gql_value_from_ast(t->of, i, vars, &x, &ab) != 0)
					goto bad_arr;
			}
			json_object_array_add(arr, x);
			continue;
bad_arr:
			json_object_put(arr);
			return -1;
		}
		*out = arr;
		return 0;
	}
	if (t->kind == GQL_K_INPUT_OBJECT) {
		if (v->kind != GQL_V_OBJECT)
			return -1;
		json_object *obj = json_object_new_object();
		for (size_t k = 0; k < t->ninputs; k++) {
			const struct gql_input_value *f = &t->inputs[k];
			const struct gql_value *fv = NULL;
			for (const struct gql_value *i = v->items; i; i = i->next)
				if (strcmp(i->field, f->name) == 0) {
					fv = i;
					break;
				}
			if (fv == NULL || is_missing_var(fv, vars)) {
				if (f->def != NULL) {
					json_object_object_add(obj, f->name,
					    json_object_get(f->def_json));
					continue;
				}
				if (f->type->kind == GQL_K_NON_NULL) {
					json_object_put(obj);
					return -1;
				}
				continue;
			}
			json_object *x = NULL;
			bool ab = false;
			if (gql_value_from_ast(f->type, fv, vars, &x, &ab) != 0) {
				json_object_put(obj);
				return -1;
			}
			json_object_object_add(obj, f->name, x);
		}
		*out = obj;
		return 0;
	}
	if (t->kind == GQL_K_ENUM) {
		if (v->kind != GQL_V_ENUM || gql_type_enum_value(t, v->s) == NULL)
			return -1;
		*out = json_object_new_string(v->s);
		return 0;
	}
	int32_t iv;
	switch (t->scalar) {
	case GQL_SC_INT:
		if (v->kind != GQL_V_INT || !parse_int32(v->s, &iv))
			return -1;
		*out = json_object_new_int(iv);
		return 0;
	case GQL_SC_FLOAT:
		if (v->kind != GQL_V_INT && v->kind != GQL_V_FLOAT)
			return -1;
		*out = json_object_new_double(strtod(v->s, NULL));
		return 0;
	case GQL_SC_STRING:
		if (v->kind != GQL_V_STRING)
			return -1;
		*out = json_object_new_string_len(v->s, (int)v->slen);
		return 0;
	case GQL_SC_BOOLEAN:
		if (v->kind != GQL_V_BOOLEAN)
			return -1;
		*out = json_object_new_boolean(v->b);
		return 0;
	case GQL_SC_ID:
		if (v->kind != GQL_V_STRING && v->kind != GQL_V_INT)
			return -1;
		*out = json_object_new_string_len(v->s, (int)v->slen);
		return 0;
	default: {
		bool ab = false;
		*out = untyped(v, vars, &ab);
		return 0;
	}
	}
}

/* ---- coerceInputValue (variables) ---- */

static int coerce_leaf(struct arena *a, const struct gql_type *t, json_object *in,
    json_object **out, const char **msg)
{
	enum json_type jt = json_object_get_type(in);
	if (t->kind == GQL_K_ENUM) {
		if (jt != json_type_string) {
			const char *vs = gql_json_inspect(a, in);
			*msg = arena_printf(a, "Enum \"%s\" cannot represent non-string value: %s.%s",
			    t->name, vs, enum_suggest(a, t, vs));
			return -1;
		}
		const char *s = json_object_get_string(in);
		if (gql_type_enum_value(t, s) == NULL) {
			*msg = arena_printf(a, "Value \"%s\" does not exist in \"%s\" enum.%s",
			    s, t->name, enum_suggest(a, t, s));
			return -1;
		}
		*out = json_object_get(in);
		return 0;
	}
	double d;
	switch (t->scalar) {
	case GQL_SC_INT:
		if (jt == json_type_int) {
			int64_t x = json_object_get_int64(in);
			if (x < INT32_MIN || x > INT32_MAX)
				goto int_range;
			*out = json_object_new_int((int32_t)x);
			return 0;
		}
		if (jt == json_type_double) {
			d = json_object_get_double(in);
			if (d != floor(d) || !isfinite(d))
				goto int_nonint;
			if (d < INT32_MIN || d > INT32_MAX)
				goto int_range;
			*out = json_object_new_int((int32_t)d);
			return 0;
		}
int_nonint:
		*msg = arena_printf(a, "Int cannot represent non-integer value: %s",
		    gql_json_inspect(a, in));
		return -1;
int_range:
		*msg = arena_printf(a, "Int cannot represent non 32-bit signed integer value: %s",
		    gql_json_inspect(a, in));
		return -1;
	case GQL_SC_FLOAT:
		if (jt == json_type_int || jt == json_type_double) {
			*out = json_object_new_double(json_object_get_double(in));
			return 0;
		}
		*msg = arena_printf(a, "Float cannot represent non numeric value: %s",
		    gql_json_inspect(a, in));
		return -1;
	case GQL_SC_STRING:
		if (jt == json_type_string) {
			*out = json_object_get(in);
			return 0;
		}
		*msg = arena_printf(a, "String cannot represent a non string value: %s",
		    gql_json_inspect(a, in));
		return -1;
	case GQL_SC_BOOLEAN:
		if (jt == json_type_boolean) {
			*out = json_object_get(in);
			return 0;
		}
		*msg = arena_printf(a, "Boolean cannot represent a non boolean value: %s",
		    gql_json_inspect(a, in));
		return -1;
	case GQL_SC_ID:
		if (jt == json_type_string) {
			*out = json_object_get(in);
			return 0;
		}
		if (jt == json_type_int) {
			*out = json_object_new_string(arena_printf(a, "%lld",
			    (long long)json_object_get_int64(in)));
			return 0;
		}
		if (jt == json_type_double) {
			d = json_object_get_double(in);
			if (d == floor(d) && fabs(d) < 9007199254740992.0) {
				*out = json_object_new_string(arena_printf(a, "%.0f", d));
				return 0;
			}
		}
		*msg = arena_printf(a, "ID cannot represent value: %s", gql_json_inspect(a, in));
		return -1;
	default:
		*out = json_object_get(in);
		return 0;
	}
}

int gql_coerce_input(struct arena *a, const struct gql_type *t, json_object *in,
    json_object **out, const char **msg, struct sbuf *path, json_object **bad)
{
	*out = NULL;
	*bad = in;
	if (t->kind == GQL_K_NON_NULL) {
		if (in == NULL) {
			*msg = arena_printf(a, "Expected non-nullable type \"%s\" not to be null.",
			    gql_type_str(a, t));
			return -1;
		}
		return gql_coerce_input(a, t->of, in, out, msg, path, bad);
	}
	if (in == NULL)
		return 0;
	if (t->kind == GQL_K_LIST) {
		json_object *arr = json_object_new_array();
		if (!json_object_is_type(in, json_type_array)) {
			json_object *x;
			if (gql_coerce_input(a, t->of, in, &x, msg, path, bad) != 0) {
				json_object_put(arr);
				return -1;
			}
			json_object_array_add(arr, x);
			*out = arr;
			return 0;
		}
		size_t n = json_object_array_length(in);
		for (size_t i = 0; i < n; i++) {
			json_object *x;
			size_t mark = path->len;
			sbuf_printf(path, "[%zu]", i);
			if (gql_coerce_input(a, t->of, json_object_array_get_idx(in, i), &x,
			    msg, path, bad) != 0) {
				json_object_put(arr);
				return -1;
			}
			path->len = mark;
			path->p[mark] = '\0';
			json_object_array_add(arr, x);
		}
		*out = arr;
		return 0;
	}
	if (t->kind == GQL_K_INPUT_OBJECT) {
		if (!json_object_is_type(in, json_type_object)) {
			*msg = arena_printf(a, "Expected type \"%s\" to be an object.", t->name);
			return -1;
		}
		json_object *obj = json_object_new_object();
		for (size_t k = 0; k < t->ninputs; k++) {
			const struct gql_input_value *f = &t->inputs[k];
			json_object *fv;
			if (!json_object_object_get_ex(in, f->name, &fv)) {
				if (f->def != NULL) {
					json_object_object_add(obj, f->name,
					    json_object_get(f->def_json));
				} else if (f->type->kind == GQL_K_NON_NULL) {
					*bad = in;
					*msg = arena_printf(a, "Field \"%s\" of required type \"%s\" "
					    "was not provided.", f->name, gql_type_str(a, f->type));
					json_object_put(obj);
					return -1;
				}
				continue;
			}
			json_object *x;
			size_t mark = path->len;
			sbuf_printf(path, ".%s", f->name);
			if (gql_coerce_input(a, f->type, fv, &x, msg, path, bad) != 0) {
				json_object_put(obj);
				return -1;
			}
			path->len = mark;
			path->p[mark] = '\0';
			json_object_object_add(obj, f->name, x);
		}
		json_object_object_foreach(in, key, val) {
			(void)val;
			if (gql_type_input(t, key) != NULL)
				continue;
			const char **names = arena_alloc(a, (t->ninputs + 1) * sizeof *names);
			for (size_t k = 0; k < t->ninputs; k++)
				names[k] = t->inputs[k].name;
			*bad = in;
			*msg = arena_printf(a, "Field \"%s\" is not defined by type \"%s\".%s",
			    key, t->name, gql_did_you_mean(a, key, names, t->ninputs));
			json_object_put(obj);
			return -1;
		}
		*out = obj;
		return 0;
	}
	return coerce_leaf(a, t, in, out, msg);
}

bool gql_should_skip(const struct gql_directive *d, json_object *vars)
{
	for (; d; d = d->next) {
		bool is_skip = strcmp(d->name, "skip") == 0;
		if (!is_skip && strcmp(d->name, "include") != 0)
			continue;
		for (const struct gql_argument *a = d->args; a; a = a->next) {
			if (strcmp(a->name, "if") != 0)
				continue;
			bool val = false;
			if (a->value->kind == GQL_V_BOOLEAN) {
				val = a->value->b;
			} else if (a->value->kind == GQL_V_VARIABLE) {
				json_object *j = NULL;
				if (vars && json_object_object_get_ex(vars, a->value->s, &j))
					val = json_object_get_boolean(j);
			}
			if (is_skip ? val : !val)
				return true;
		}
	}
	return false;
}
