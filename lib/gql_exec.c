/* gql_exec: request preparation (parse, validate, operation selection,
 * variable coercion) and execution (CollectFields, argument coercion,
 * resolvers, value completion with null propagation, response). */
#include "gql_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

struct gql_prepared {
	const struct gql_schema *s;
	const struct gql_document *doc;
	const struct gql_definition *op;
	json_object *vars;		/* coerced variables; put at arena reset */
	struct gql_ntab frags;
	const struct gql_selection *root_node;	/* first root field */
	unsigned max_executed_fields;
};

/* ---- responses for request errors ---- */

static json_object *errors_response(struct gql_errors *el)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "errors", gql_errors_json(el));
	return r;
}

static int request_error(struct arena *a, int rc, const char *code, const char *msg,
    const struct gql_loc *loc, json_object **errors)
{
	struct gql_errors el;
	gql_errors_init(&el);
	struct gql_error *e = gql_errors_add(&el, a, code, msg);
	if (loc)
		gql_error_loc(e, *loc);
	*errors = errors_response(&el);
	return rc;
}

static int parse_doc(const struct gql_limits *lim, const char *q, size_t n,
    struct arena *a, struct gql_document **doc, struct gql_errors *el)
{
	if (lim->max_doc_bytes && n > lim->max_doc_bytes) {
		gql_errors_add(el, a, "GRAPHQL_PARSE_FAILED", arena_printf(a,
		    "Syntax Error: Document is larger than the maximum of %zu bytes.",
		    lim->max_doc_bytes));
		return APP_ERR_TOO_LARGE;
	}
	char msg[GQL_LEX_MSG_MAX];
	struct gql_loc loc;
	struct gql_parse_opts po = { lim->max_tokens, lim->max_nesting };
	if (gql_parse(q, n, &po, a, doc, msg, sizeof msg, &loc) != 0) {
		struct gql_error *e = gql_errors_add(el, a, "GRAPHQL_PARSE_FAILED",
		    arena_strdup(a, msg));
		gql_error_loc(e, loc);
		return APP_ERR_PARSE;
	}
	return 0;
}

int gql_validate_document(const struct gql_schema *s, const struct gql_limits *lim,
    const char *query, size_t len, struct arena *a, json_object **errors)
{
	struct gql_errors el;
	struct gql_document *doc;
	gql_errors_init(&el);
	int rc = parse_doc(lim, query, len, a, &doc, &el);
	if (rc == 0 && gql_validate(s, lim, doc, a, &el) > 0)
		rc = APP_ERR_VALIDATION;
	*errors = rc == 0 ? NULL : gql_errors_json(&el);
	return rc;
}

/* ---- variables ---- */

static int coerce_variables(const struct gql_schema *s, const struct gql_definition *op,
    json_object *in, struct arena *a, json_object **out, struct gql_errors *el)
{
	json_object *vars = json_object_new_object();
	size_t before = el->n;
	for (const struct gql_var_def *vd = op->vars; vd; vd = vd->next) {
		const struct gql_type *t = gql_type_from_ref(s, a, vd->type);
		const char *ts = t ? gql_type_str(a, t) : "?";
		json_object *val = NULL;
		const char *msg = NULL;
		if (t == NULL || !gql_is_input_type(t)) {
			msg = arena_printf(a, "Variable \"$%s\" expected value of type \"%s\" which "
			    "cannot be used as an input type.", vd->name, ts);
		} else if (in == NULL || !json_object_object_get_ex(in, vd->name, &val)) {
			if (vd->def) {
				json_object *j = NULL;
				bool absent = false;
				if (gql_value_from_ast(t, vd->def, NULL, &j, &absent) == 0)
					json_object_object_add(vars, vd->name, j);
			} else if (t->kind == GQL_K_NON_NULL) {
				msg = arena_printf(a, "Variable \"$%s\" of required type \"%s\" was "
				    "not provided.", vd->name, ts);
			}
		} else if (val == NULL && t->kind == GQL_K_NON_NULL) {
			msg = arena_printf(a, "Variable \"$%s\" of non-null type \"%s\" must not "
			    "be null.", vd->name, ts);
		} else {
			struct sbuf path;
			json_object *c = NULL, *bad = NULL;
			const char *m = NULL;
			sbuf_init(&path, 4096);
			if (gql_coerce_input(a, t, val, &c, &m, &path, &bad) == 0) {
				json_object_object_add(vars, vd->name, c);
			} else if (path.len > 0) {
				msg = arena_printf(a, "Variable \"$%s\" got invalid value %s at \"%s%s\"; %s",
				    vd->name, gql_json_inspect(a, bad), vd->name, path.p, m);
			} else {
				msg = arena_printf(a, "Variable \"$%s\" got invalid value %s; %s",
				    vd->name, gql_json_inspect(a, bad), m);
			}
			sbuf_clear(&path);
		}
		if (msg != NULL)
			gql_error_loc(gql_errors_add(el, a, "BAD_USER_INPUT", msg), vd->loc);
	}
	if (el->n > before) {
		json_object_put(vars);
		return APP_ERR_BAD_INPUT;
	}
	*out = vars;
	return 0;
}

/* ---- CollectFields ---- */

struct fgroup {
	const char *key;
	const struct gql_selection **nodes;
	size_t n, cap;
};

struct fset {
	struct fgroup *g;
	size_t n, cap;
	struct gql_ntab idx;	/* key -> index+1, once n >= 16 */
	bool indexed;
	const struct gql_definition **seen;	/* fragments visited */
	size_t nseen, capseen;
};

static void fset_add(struct arena *a, struct fset *fs, const struct gql_selection *s)
{
	const char *key = s->alias ? s->alias : s->name;
	struct fgroup *g = NULL;
	if (fs->indexed) {
		size_t i = (size_t)(uintptr_t)gql_ntab_get(&fs->idx, key);
		if (i)
			g = &fs->g[i - 1];
	} else {
		for (size_t i = 0; i < fs->n && !g; i++)
			if (fs->g[i].key == key || strcmp(fs->g[i].key, key) == 0)
				g = &fs->g[i];
	}
	if (g == NULL) {
		if (fs->n == fs->cap) {
			size_t nc = fs->cap ? fs->cap * 2 : 8;
			struct fgroup *ng = arena_alloc(a, nc * sizeof *ng);
			if (fs->n)
				memcpy(ng, fs->g, fs->n * sizeof *ng);
			fs->g = ng;
			fs->cap = nc;
		}
		g = &fs->g[fs->n++];
		memset(g, 0, sizeof *g);
		g->key = key;
		if (fs->n >= 16 && (!fs->indexed || fs->n * 2 > fs->idx.mask)) {
			gql_ntab_init(&fs->idx, a, fs->n * 2);
			for (size_t i = 0; i < fs->n; i++)
				(void)gql_ntab_put(&fs->idx, fs->g[i].key, (void *)(uintptr_t)(i + 1));
			fs->indexed = true;
		} else if (fs->indexed) {
			(void)gql_ntab_put(&fs->idx, key, (void *)(uintptr_t)fs->n);
		}
	}
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 2;
		const struct gql_selection **nn = arena_alloc(a, nc * sizeof *nn);
		if (g->n)
			memcpy(nn, g->nodes, g->n * sizeof *nn);
		g->nodes = nn;
		g->cap = nc;
	}
	g->nodes[g->n++] = s;
}

static bool fset_seen(struct arena *a, struct fset *fs, const struct gql_definition *d)
{
	for (size_t i = 0; i < fs->nseen; i++)
		if (fs->seen[i] == d)
			return true;
	if (fs->nseen == fs->capseen) {
		size_t nc = fs->capseen ? fs->capseen * 2 : 4;
		const struct gql_definition **ns = arena_alloc(a, nc * sizeof *ns);
		if (fs->nseen)
			memcpy(ns, fs->seen, fs->nseen * sizeof *ns);
		fs->seen = ns;
		fs->capseen = nc;
	}
	fs->seen[fs->nseen++] = d;
	return false;
}

static void collect(const struct gql_prepared *p, struct arena *a, const struct gql_type *t,
    const struct gql_selection *sel, struct fset *fs, unsigned depth)
{
	if (depth > 256)
		return;
	for (const struct gql_selection *s = sel; s; s = s->next) {
		if (s->directives && gql_should_skip(s->directives, p->vars))
			continue;
		switch (s->kind) {
		case GQL_SEL_FIELD:
			fset_add(a, fs, s);
			break;
		case GQL_SEL_INLINE:
			if (s->type_cond && strcmp(s->type_cond, t->name) != 0)
				break;
			collect(p, a, t, s->sel, fs, depth + 1);
			break;
		case GQL_SEL_SPREAD: {
			const struct gql_definition *fd = gql_ntab_get(&p->frags, s->name);
			if (fd == NULL || fset_seen(a, fs, fd) || strcmp(fd->type_cond, t->name) != 0)
				break;
			collect(p, a, t, fd->sel, fs, depth + 1);
			break;
		}
		}
	}
}

/* ---- prepare ---- */

int gql_prepare(const struct gql_schema *s, const struct gql_limits *lim,
    const struct gql_request *req, struct arena *a, struct gql_prepared **out,
    json_object **errors)
{
	struct gql_errors el;
	struct gql_document *doc;
	gql_errors_init(&el);
	*out = NULL;
	*errors = NULL;
	int rc = parse_doc(lim, req->query ? req->query : "", req->query ? req->query_len : 0,
	    a, &doc, &el);
	if (rc == 0 && gql_validate(s, lim, doc, a, &el) > 0)
		rc = APP_ERR_VALIDATION;
	if (rc != 0) {
		*errors = errors_response(&el);
		return rc;
	}
	const struct gql_definition *op = NULL;
	const char *name = req->operation_name && req->operation_name[0] ?
	    req->operation_name : NULL;
	size_t nops = 0;
	for (const struct gql_definition *d = doc->defs; d; d = d->next) {
		if (d->kind != GQL_DEF_OPERATION)
			continue;
		nops++;
		if (name == NULL ? op == NULL : (d->name && strcmp(d->name, name) == 0 && !op))
			op = d;
	}
	if (name != NULL && op == NULL)
		return request_error(a, APP_ERR_BAD_INPUT, "BAD_USER_INPUT",
		    arena_printf(a, "Unknown operation named \"%s\".", name), NULL, errors);
	if (name == NULL && nops > 1)
		return request_error(a, APP_ERR_BAD_INPUT, "BAD_USER_INPUT",
		    "Must provide operation name if query contains multiple operations.",
		    NULL, errors);
	if (op == NULL)
		return request_error(a, APP_ERR_BAD_INPUT, "BAD_USER_INPUT",
		    "Must provide an operation.", NULL, errors);
	if (req->variables && !json_object_is_type(req->variables, json_type_object))
		return request_error(a, APP_ERR_BAD_INPUT, "BAD_USER_INPUT",
		    "Variables must be provided as an Object where each property is a "
		    "variable value. Perhaps look to see if an unparsed JSON string was "
		    "provided.", NULL, errors);
	struct gql_prepared *p = arena_calloc(a, sizeof *p);
	p->s = s;
	p->doc = doc;
	p->op = op;
	p->max_executed_fields = lim->max_executed_fields;
	if ((rc = coerce_variables(s, op, req->variables, a, &p->vars, &el)) != 0) {
		*errors = errors_response(&el);
		return rc;
	}
	gql_arena_put(a, p->vars);
	gql_ntab_init(&p->frags, a, doc->ndefs);
	for (const struct gql_definition *d = doc->defs; d; d = d->next)
		if (d->kind == GQL_DEF_FRAGMENT)
			(void)gql_ntab_put(&p->frags, d->name, (void *)d);
	const struct gql_type *root = op->op == GQL_OP_MUTATION ? s->mutation :
	    op->op == GQL_OP_SUBSCRIPTION ? s->subscription : s->query;
	if (root == NULL)
		return request_error(a, APP_ERR_BAD_INPUT, "BAD_USER_INPUT",
		    arena_printf(a, "Schema is not configured to execute %s operation.",
		    gql_op_type_name(op->op)), &op->loc, errors);
	struct fset fs = { 0 };
	collect(p, a, root, op->sel, &fs, 0);
	p->root_node = fs.n ? fs.g[0].nodes[0] : NULL;
	*out = p;
	return 0;
}

enum gql_operation gql_prepared_operation(const struct gql_prepared *p)
{
	return p->op->op == GQL_OP_MUTATION ? GQL_OPERATION_MUTATION :
	    p->op->op == GQL_OP_SUBSCRIPTION ? GQL_OPERATION_SUBSCRIPTION :
	    GQL_OPERATION_QUERY;
}

const char *gql_prepared_name(const struct gql_prepared *p)
{
	return p->op->name;
}

const char *gql_prepared_root_field(const struct gql_prepared *p)
{
	return p->root_node ? p->root_node->name : NULL;
}

/* ---- execution ---- */

struct path {
	const struct path *prev;
	const char *key;	/* NULL: index */
	size_t index;
};

struct exec {
	const struct gql_prepared *p;
	void *app;
	struct arena *a;
	const struct gql_exec_opts *o;
	struct gql_errors errs;
	json_object *empty_args;
	unsigned executed;		/* fields executed so far */
	bool over_budget;
};

static json_object *path_json(const struct path *path)
{
	size_t n = 0;
	for (const struct path *q = path; q; q = q->prev)
		n++;
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, NULL);
	size_t i = n;
	for (const struct path *q = path; q; q = q->prev) {
		i--;
		json_object_array_put_idx(arr, i, q->key ? json_object_new_string(q->key) :
		    json_object_new_int64((int64_t)q->index));
	}
	return arr;
}

static void field_error(struct exec *ex, const struct gql_selection *node,
    const struct path *path, const char *code, const char *msg)
{
	struct gql_error *e = gql_errors_add(&ex->errs, ex->a, code, msg);
	gql_error_loc(e, node->loc);
	e->path = path_json(path);
}

/* CoerceArgumentValues; 0 with *out (new ref), or -1 after a field error. */
static int coerce_args(struct exec *ex, const struct gql_input_value *defs, size_t n,
    const struct gql_selection *node, const struct path *path, json_object **out)
{
	json_object *vars = ex->p->vars;
	if (n == 0) {
		*out = json_object_get(ex->empty_args);
		return 0;
	}
	json_object *args = json_object_new_object();
	for (size_t i = 0; i < n; i++) {
		const struct gql_input_value *ad = &defs[i];
		const struct gql_argument *an = node->args;
		while (an && strcmp(an->name, ad->name) != 0)
			an = an->next;
		const char *msg = NULL;
		bool is_null;
		if (an == NULL) {
			if (ad->def)
				json_object_object_add(args, ad->name, json_object_get(ad->def_json));
			else if (ad->type->kind == GQL_K_NON_NULL)
				msg = arena_printf(ex->a, "Argument \"%s\" of required type \"%s\" was "
				    "not provided.", ad->name, gql_type_str(ex->a, ad->type));
			if (msg == NULL)
				continue;
			goto fail;
		}
		if (an->value->kind == GQL_V_VARIABLE) {
			json_object *vv = NULL;
			if (!json_object_object_get_ex(vars, an->value->s, &vv)) {
				if (ad->def)
					json_object_object_add(args, ad->name,
					    json_object_get(ad->def_json));
				else if (ad->type->kind == GQL_K_NON_NULL)
					msg = arena_printf(ex->a, "Argument \"%s\" of required type "
					    "\"%s\" was provided the variable \"$%s\" which was not "
					    "provided a runtime value.", ad->name,
					    gql_type_str(ex->a, ad->type), an->value->s);
				if (msg == NULL)
					continue;
				goto fail;
			}
			is_null = vv == NULL;
		} else {
			is_null = an->value->kind == GQL_V_NULL;
		}
		if (is_null && ad->type->kind == GQL_K_NON_NULL) {
			msg = arena_printf(ex->a, "Argument \"%s\" of non-null type \"%s\" must not "
			    "be null.", ad->name, gql_type_str(ex->a, ad->type));
			goto fail;
		}
		json_object *val = NULL;
		bool absent = false;
		if (gql_value_from_ast(ad->type, an->value, vars, &val, &absent) != 0) {
			msg = arena_printf(ex->a, "Argument \"%s\" has invalid value %s.", ad->name,
			    gql_value_str(ex->a, an->value));
			goto fail;
		}
		json_object_object_add(args, ad->name, val);
		continue;
fail:
		json_object_put(args);
		field_error(ex, node, path, "BAD_USER_INPUT", msg);
		return -1;
	}
	*out = args;
	return 0;
}

static int exec_selection(struct exec *ex, const struct gql_type *t,
    const struct fgroup *group_or_null, const struct gql_selection *sel,
    json_object *parent, const struct path *path, json_object **out);

/* Result coercion of a leaf; NULL msg on success. */
static const char *serialize_leaf(struct exec *ex, const struct gql_type *t,
    json_object *v, json_object **out)
{
	enum json_type jt = json_object_get_type(v);
	*out = NULL;
	if (t->kind == GQL_K_ENUM) {
		if (jt == json_type_string && gql_type_enum_value(t, json_object_get_string(v))) {
			*out = json_object_get(v);
			return NULL;
		}
		return arena_printf(ex->a, "Enum \"%s\" cannot represent value: %s", t->name,
		    gql_json_inspect(ex->a, v));
	}
	double d;
	switch (t->scalar) {
	case GQL_SC_INT:
		if (jt == json_type_int) {
			int64_t x = json_object_get_int64(v);
			if (x < INT32_MIN || x > INT32_MAX)
				return arena_printf(ex->a, "Int cannot represent non 32-bit signed "
				    "integer value: %lld", (long long)x);
			*out = json_object_get(v);
			return NULL;
		}
		if (jt == json_type_boolean) {
			*out = json_object_new_int(json_object_get_boolean(v) ? 1 : 0);
			return NULL;
		}
		if (jt == json_type_double) {
			d = json_object_get_double(v);
			if (!isfinite(d) || d != floor(d))
				return arena_printf(ex->a, "Int cannot represent non-integer value: %s",
				    gql_json_inspect(ex->a, v));
			if (d < INT32_MIN || d > INT32_MAX)
				return arena_printf(ex->a, "Int cannot represent non 32-bit signed "
				    "integer value: %s", gql_json_inspect(ex->a, v));
			*out = json_object_new_int((int32_t)d);
			return NULL;
		}
		return arena_printf(ex->a, "Int cannot represent non-integer value: %s",
		    gql_json_inspect(ex->a, v));
	case GQL_SC_FLOAT:
		if (jt == json_type_int || jt == json_type_double) {
			d = json_object_get_double(v);
			if (isfinite(d)) {
				*out = json_object_get(v);
				return NULL;
			}
		} else if (jt == json_type_boolean) {
			*out = json_object_new_double(json_object_get_boolean(v) ? 1 : 0);
			return NULL;
		}
		return arena_printf(ex->a, "Float cannot represent non numeric value: %s",
		    gql_json_inspect(ex->a, v));
	case GQL_SC_STRING:
		if (jt == json_type_string) {
			*out = json_object_get(v);
			return NULL;
		}
		if (jt == json_type_boolean || jt == json_type_int ||
		    (jt == json_type_double && isfinite(json_object_get_double(v)))) {
			*out = json_object_new_string(json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
			return NULL;
		}
		return arena_printf(ex->a, "String cannot represent value: %s",
		    gql_json_inspect(ex->a, v));
	case GQL_SC_BOOLEAN:
		if (jt == json_type_boolean) {
			*out = json_object_get(v);
			return NULL;
		}
		if (jt == json_type_int || (jt == json_type_double &&
		    isfinite(json_object_get_double(v)))) {
			*out = json_object_new_boolean(json_object_get_double(v) != 0);
			return NULL;
		}
		return arena_printf(ex->a, "Boolean cannot represent a non boolean value: %s",
		    gql_json_inspect(ex->a, v));
	case GQL_SC_ID:
		if (jt == json_type_string) {
			*out = json_object_get(v);
			return NULL;
		}
		if (jt == json_type_int) {
			*out = json_object_new_string(json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
			return NULL;
		}
		return arena_printf(ex->a, "ID cannot represent value: %s",
		    gql_json_inspect(ex->a, v));
	default:
		*out = json_object_get(v);
		return NULL;
	}
}

/* CompleteValue: 0 with *out (new ref or NULL), or -1 when the error must
 * propagate (already recorded). */
static int complete(struct exec *ex, const struct gql_type *t, const struct gql_type *ptype,
    const struct fgroup *g, json_object *v, const struct path *path, json_object **out)
{
	const struct gql_selection *node = g->nodes[0];
	*out = NULL;
	if (t->kind == GQL_K_NON_NULL) {
		if (complete(ex, t->of, ptype, g, v, path, out) != 0)
			return -1;
		if (*out == NULL) {
			field_error(ex, node, path, "INTERNAL_SERVER_ERROR", arena_printf(ex->a,
			    "Cannot return null for non-nullable field %s.%s.", ptype->name,
			    node->name));
			return -1;
		}
		return 0;
	}
	if (v == NULL || json_object_is_type(v, json_type_null))
		return 0;
	if (t->kind == GQL_K_LIST) {
		if (!json_object_is_type(v, json_type_array)) {
			field_error(ex, node, path, "INTERNAL_SERVER_ERROR", arena_printf(ex->a,
			    "Expected Iterable, but did not find one for field \"%s.%s\".",
			    ptype->name, node->name));
			return -1;
		}
		size_t n = json_object_array_length(v);
		json_object *arr = json_object_new_array_ext((int)n);
		for (size_t i = 0; i < n; i++) {
			struct path ip = { path, NULL, i };
			json_object *item = NULL;
			if (complete(ex, t->of, ptype, g, json_object_array_get_idx(v, i), &ip,
			    &item) != 0) {
				if (t->of->kind == GQL_K_NON_NULL || ex->over_budget) {
					json_object_put(arr);
					return -1;
				}
				item = NULL;
			}
			json_object_array_add(arr, item);
		}
		*out = arr;
		return 0;
	}
	if (gql_is_leaf(t)) {
		const char *msg = serialize_leaf(ex, t, v, out);
		if (msg != NULL) {
			field_error(ex, node, path, "INTERNAL_SERVER_ERROR", msg);
			return -1;
		}
		return 0;
	}
	/* object */
	if (!json_object_is_type(v, json_type_object)) {
		field_error(ex, node, path, "INTERNAL_SERVER_ERROR", arena_printf(ex->a,
		    "Expected value of type \"%s\" to be an object, found %s.", t->name,
		    gql_json_inspect(ex->a, v)));
		return -1;
	}
	return exec_selection(ex, t, g, NULL, v, path, out);
}

/* Our failures are errors; a client's (bad token, unknown report) are
 * logged at info, with the detail the client does not see. */
static void log_resolver_error(const struct gql_type *t, const struct gql_selection *node,
    const struct err *e, bool internal)
{
	struct log_line l;
	log_begin(&l, internal ? LOG_ERROR : LOG_INFO,
	    internal ? "gql_resolver_error" : "gql_client_error");
	log_str(&l, "type", t->name);
	log_str(&l, "field", node->name);
	log_str(&l, "code", app_err_name(e->code));
	log_str(&l, "msg", e->msg);
	log_str(&l, "detail", e->detail);
	log_end(&l);
}

/* ExecuteField: 0 with *out (new ref or NULL), -1 to propagate. */
static int exec_field(struct exec *ex, const struct gql_type *t, json_object *parent,
    const struct fgroup *g, const struct path *path, json_object **out)
{
	const struct gql_selection *node = g->nodes[0];
	const struct gql_schema *s = ex->p->s;
	*out = NULL;
	const struct gql_field *f = gql_schema_field(s, t, node->name);
	if (f == NULL)
		return 0;	/* validation guarantees this does not happen */
	bool nn = f->type->kind == GQL_K_NON_NULL;
	if (ex->p->max_executed_fields && ++ex->executed > ex->p->max_executed_fields) {
		/* a response this large is an attack (nested introspection, ...) */
		if (!ex->over_budget)
			field_error(ex, node, path, "BAD_USER_INPUT", arena_printf(ex->a,
			    "The response exceeds the maximum of %u fields.",
			    ex->p->max_executed_fields));
		ex->over_budget = true;
		return nn || ex->over_budget ? -1 : 0;
	}
	if (f == s->meta_typename) {
		*out = json_object_new_string(t->name);
		return 0;
	}
	json_object *args = NULL, *val = NULL;
	if (coerce_args(ex, f->args, f->nargs, node, path, &args) != 0)
		return nn || ex->over_budget ? -1 : 0;
	if (f->resolver) {
		struct gql_call call = { ex->app, ex->a, parent, args, t->name, node->name, s };
		struct err e;
		err_clear(&e);
		int rc = f->resolver(&call, &val, &e);
		json_object_put(args);
		if (rc != 0) {
			if (e.code == APP_OK)
				e.code = rc;
			bool internal = e.code == APP_ERR_INTERNAL || e.code == APP_ERR_UNAVAILABLE;
			if (internal || e.detail[0])
				log_resolver_error(t, node, &e, internal);
			field_error(ex, node, path, app_err_code(e.code),
			    internal || !e.msg[0] ? "Internal server error" :
			    arena_strdup(ex->a, e.msg));
			json_object_put(val);
			return nn || ex->over_budget ? -1 : 0;
		}
	} else {
		json_object_put(args);
		json_object *pv = NULL;
		if (parent && json_object_is_type(parent, json_type_object) &&
		    json_object_object_get_ex(parent, node->name, &pv))
			val = json_object_get(pv);
	}
	int rc = complete(ex, f->type, t, g, val, path, out);
	json_object_put(val);
	if (rc != 0)
		return nn || ex->over_budget ? -1 : 0;
	return 0;
}

static int exec_selection(struct exec *ex, const struct gql_type *t,
    const struct fgroup *group, const struct gql_selection *sel,
    json_object *parent, const struct path *path, json_object **out)
{
	struct fset fs = { 0 };
	if (group != NULL) {
		for (size_t i = 0; i < group->n; i++)
			if (group->nodes[i]->has_sel)
				collect(ex->p, ex->a, t, group->nodes[i]->sel, &fs, 0);
	} else {
		collect(ex->p, ex->a, t, sel, &fs, 0);
	}
	json_object *obj = json_object_new_object();
	for (size_t i = 0; i < fs.n; i++) {
		struct path fp = { path, fs.g[i].key, 0 };
		json_object *v = NULL;
		if (exec_field(ex, t, parent, &fs.g[i], &fp, &v) != 0) {
			json_object_put(obj);
			*out = NULL;
			return -1;
		}
		if (v == NULL && ex->o && ex->o->omit_nulls)
			continue;
		json_object_object_add_ex(obj, fs.g[i].key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW);
	}
	*out = obj;
	return 0;
}

int gql_prepared_root_args(const struct gql_prepared *p, struct arena *a,
    json_object **out, struct err *e)
{
	*out = NULL;
	const struct gql_type *root = p->op->op == GQL_OP_MUTATION ? p->s->mutation :
	    p->op->op == GQL_OP_SUBSCRIPTION ? p->s->subscription : p->s->query;
	const struct gql_field *f = p->root_node ?
	    gql_schema_field(p->s, root, p->root_node->name) : NULL;
	if (f == NULL) {
		*out = json_object_new_object();
		return 0;
	}
	struct exec ex = { p, NULL, a, NULL, { NULL, NULL, 0 }, NULL, 0, false };
	gql_errors_init(&ex.errs);
	ex.empty_args = json_object_new_object();
	struct path fp = { NULL, p->root_node->name, 0 };
	int rc = coerce_args(&ex, f->args, f->nargs, p->root_node, &fp, out);
	json_object_put(ex.empty_args);
	if (rc != 0) {
		for (struct gql_error *ge = ex.errs.head; ge; ge = ge->next) {
			json_object_put(ge->path);
			ge->path = NULL;
		}
		return err_set(e, APP_ERR_BAD_INPUT, ex.errs.head ? ex.errs.head->message :
		    "invalid arguments", NULL);
	}
	return 0;
}

json_object *gql_execute_prepared(const struct gql_prepared *p, void *app,
    json_object *root_value, const struct gql_exec_opts *opts, struct arena *a)
{
	struct exec ex = { p, app, a, opts, { NULL, NULL, 0 }, NULL, 0, false };
	gql_errors_init(&ex.errs);
	ex.empty_args = json_object_new_object();
	const struct gql_type *root = p->op->op == GQL_OP_MUTATION ? p->s->mutation :
	    p->op->op == GQL_OP_SUBSCRIPTION ? p->s->subscription : p->s->query;
	json_object *data = NULL;
	json_object *rv = root_value ? root_value : ex.empty_args;
	/* root fields run in document order, serially (mutations included) */
	(void)exec_selection(&ex, root, NULL, p->op->sel, rv, NULL, &data);
	json_object_put(ex.empty_args);
	json_object *resp = json_object_new_object();
	if (ex.errs.n > 0)
		json_object_object_add(resp, "errors", gql_errors_json(&ex.errs));
	json_object_object_add(resp, "data", data);
	return resp;
}

json_object *gql_execute_request(const struct gql_schema *s,
    const struct gql_limits *lim, const struct gql_request *req, void *app,
    json_object *root_value, const struct gql_exec_opts *opts, struct arena *a,
    int *rc)
{
	struct gql_prepared *p;
	json_object *errors;
	int r = gql_prepare(s, lim, req, a, &p, &errors);
	if (rc)
		*rc = r;
	if (r != 0)
		return errors;
	return gql_execute_prepared(p, app, root_value, opts, a);
}
