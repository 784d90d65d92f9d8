/* gql_validate: the validation rules of the GraphQL spec (section 5), with
 * graphql-js messages, plus our limits (depth, aliases, root fields).
 *
 * Two walks over the document: the first records, per definition, the
 * variable usages (with the expected type) and the fragment spreads; the
 * second applies the rules at each node in graphql-js's rule order, so the
 * errors come out roughly in the order graphql-js reports them. */
#include "gql_int.h"

#include <string.h>

static const char *const CODE = "GRAPHQL_VALIDATION_FAILED";

struct usage {
	const struct gql_value *var;
	const struct gql_type *type;	/* expected type, NULL if unknown */
	bool loc_default;		/* the position has a default value */
	struct usage *next;
};

struct vdef {
	const struct gql_definition *d;
	struct usage *usages, **utail;
	const struct gql_selection **spreads;
	size_t nspreads, cap;
	unsigned mark;			/* visit stamp */
	int state;			/* limits walk: 0 new, 1 running, 2 done */
	unsigned depth, aliases, roots;
	size_t pidx;			/* cycle walk: index+1 on the spread path */
	bool cvisited;			/* cycle walk: done */
	bool used;
};

struct vctx {
	const struct gql_schema *s;
	const struct gql_limits *lim;
	const struct gql_document *doc;
	struct arena *a;
	struct gql_errors *el;
	bool report;			/* second walk: report errors */
	bool aborted;
	struct gql_error scratch;
	struct vdef *defs;
	size_t ndefs;
	struct gql_ntab frags;		/* name -> struct vdef (first definition) */
	struct vdef *cur;
	unsigned stamp;
	const char **type_names;	/* for suggestions */
	size_t ntype_names;
	/* field pairs already compared by OverlappingFieldsCanBeMerged: each
	 * pair is compared once, which keeps nested fragments from making the
	 * comparison exponential (graphql-js memoises fragment pairs) */
	const void **pairs;		/* 2 pointers + flag per slot */
	size_t pair_cap, npairs;
};

static struct gql_error *verr(struct vctx *v, const char *msg)
{
	if (!v->report || v->aborted) {
		memset(&v->scratch, 0, sizeof v->scratch);
		return &v->scratch;
	}
	if (v->el->n >= v->lim->max_errors) {
		v->aborted = true;
		gql_errors_add(v->el, v->a, CODE, "Too many validation errors, error limit "
		    "reached. Validation aborted.");
		memset(&v->scratch, 0, sizeof v->scratch);
		return &v->scratch;
	}
	return gql_errors_add(v->el, v->a, CODE, msg);
}

static void verr1(struct vctx *v, struct gql_loc l, const char *msg)
{
	gql_error_loc(verr(v, msg), l);
}

static void verr2(struct vctx *v, struct gql_loc l1, struct gql_loc l2, const char *msg)
{
	struct gql_error *e = verr(v, msg);
	gql_error_loc(e, l1);
	gql_error_loc(e, l2);
}

static struct vdef *frag(const struct vctx *v, const char *name)
{
	return gql_ntab_get(&v->frags, name);
}

static const char *tstr(struct vctx *v, const struct gql_type *t)
{
	return gql_type_str(v->a, t);
}

static const char *ref_str(struct vctx *v, const struct gql_type_ref *r)
{
	switch (r->kind) {
	case GQL_TR_NAMED: return r->name;
	case GQL_TR_LIST: return arena_printf(v->a, "[%s]", ref_str(v, r->of));
	default: return arena_printf(v->a, "%s!", ref_str(v, r->of));
	}
}

static const char *suggest_args(struct vctx *v, const char *name,
    const struct gql_input_value *args, size_t n)
{
	const char **names = arena_alloc(v->a, (n ? n : 1) * sizeof *names);
	for (size_t i = 0; i < n; i++)
		names[i] = args[i].name;
	return gql_did_you_mean(v->a, name, names, n);
}

static void unknown_type(struct vctx *v, const char *name, struct gql_loc l)
{
	verr1(v, l, arena_printf(v->a, "Unknown type \"%s\".%s", name,
	    gql_did_you_mean(v->a, name, v->type_names, v->ntype_names)));
}

/* ---- values ---- */

static void record_usage(struct vctx *v, const struct gql_value *val,
    const struct gql_type *t, bool loc_default)
{
	if (v->report || v->cur == NULL)
		return;
	struct usage *u = arena_calloc(v->a, sizeof *u);
	u->var = val;
	u->type = t;
	u->loc_default = loc_default;
	*v->cur->utail = u;
	v->cur->utail = &u->next;
}

static void check_value_node(struct vctx *v, const struct gql_value *val,
    const struct gql_type *t)
{
	if (t == NULL)
		return;
	const struct gql_type *named = gql_named(t);
	if (!gql_is_leaf(named)) {
		verr1(v, val->loc, arena_printf(v->a, "Expected value of type \"%s\", found %s.",
		    tstr(v, t), gql_value_str(v->a, val)));
		return;
	}
	const char *m = gql_leaf_literal_error(v->a, named, val);
	if (m != NULL)
		verr1(v, val->loc, m);
}

static void walk_value(struct vctx *v, const struct gql_value *val,
    const struct gql_type *t, bool loc_default, bool check)
{
	switch (val->kind) {
	case GQL_V_VARIABLE:
		record_usage(v, val, t, loc_default);
		return;
	case GQL_V_LIST: {
		const struct gql_type *nl = gql_nullable(t);
		if (t != NULL && nl->kind != GQL_K_LIST) {
			if (check && v->report)
				check_value_node(v, val, nl);
			check = false;
		}
		const struct gql_type *item = nl && nl->kind == GQL_K_LIST ? nl->of : nl;
		for (const struct gql_value *i = val->items; i; i = i->next)
			walk_value(v, i, item, false, check);
		return;
	}
	case GQL_V_OBJECT: {
		const struct gql_type *named = gql_named(t);
		bool is_io = named && named->kind == GQL_K_INPUT_OBJECT;
		if (!is_io) {
			if (check && v->report)
				check_value_node(v, val, t);
			check = false;
		}
		if (check && v->report) {
			for (size_t k = 0; k < named->ninputs; k++) {
				const struct gql_input_value *f = &named->inputs[k];
				if (f->type->kind != GQL_K_NON_NULL || f->def != NULL)
					continue;
				bool found = false;
				for (const struct gql_value *i = val->items; i && !found; i = i->next)
					found = strcmp(i->field, f->name) == 0;
				if (!found)
					verr1(v, val->loc, arena_printf(v->a, "Field \"%s.%s\" of "
					    "required type \"%s\" was not provided.", named->name,
					    f->name, tstr(v, f->type)));
			}
		}
		for (const struct gql_value *i = val->items; i; i = i->next) {
			const struct gql_input_value *f = is_io ? gql_type_input(named, i->field) : NULL;
			if (v->report && check && f == NULL) {
				const char **names = arena_alloc(v->a,
				    (named->ninputs + 1) * sizeof *names);
				for (size_t k = 0; k < named->ninputs; k++)
					names[k] = named->inputs[k].name;
				verr1(v, i->field_loc, arena_printf(v->a, "Field \"%s\" is not "
				    "defined by type \"%s\".%s", i->field, named->name,
				    gql_did_you_mean(v->a, i->field, names, named->ninputs)));
			}
			if (v->report) {	/* UniqueInputFieldNames */
				for (const struct gql_value *j = val->items; j != i; j = j->next)
					if (strcmp(j->field, i->field) == 0) {
						verr2(v, j->field_loc, i->field_loc, arena_printf(v->a,
						    "There can be only one input field named \"%s\".",
						    i->field));
						break;
					}
			}
			walk_value(v, i, f ? f->type : NULL, f && f->def, check);
		}
		return;
	}
	case GQL_V_NULL:
		if (check && v->report && t && t->kind == GQL_K_NON_NULL)
			verr1(v, val->loc, arena_printf(v->a, "Expected value of type \"%s\", "
			    "found null.", tstr(v, t)));
		return;
	default:
		if (check && v->report)
			check_value_node(v, val, t);
		return;
	}
}

/* ---- arguments and directives ---- */

static void unique_args(struct vctx *v, const struct gql_argument *args)
{
	for (const struct gql_argument *a = args; a; a = a->next) {
		bool first = true;
		for (const struct gql_argument *b = args; b != a && first; b = b->next)
			first = strcmp(a->name, b->name) != 0;
		if (!first)
			continue;
		struct gql_error *e = NULL;
		for (const struct gql_argument *b = a->next; b; b = b->next) {
			if (strcmp(a->name, b->name) != 0)
				continue;
			if (e == NULL) {
				e = verr(v, arena_printf(v->a, "There can be only one argument "
				    "named \"%s\".", a->name));
				gql_error_loc(e, a->loc);
			}
			gql_error_loc(e, b->loc);
		}
	}
}

static void unique_directives(struct vctx *v, const struct gql_directive *dirs)
{
	for (const struct gql_directive *d = dirs; d; d = d->next) {
		const struct gql_directive_def *dd = gql_schema_directive(v->s, d->name);
		if (dd == NULL || dd->repeatable)
			continue;
		for (const struct gql_directive *p = dirs; p != d; p = p->next)
			if (strcmp(p->name, d->name) == 0) {
				verr2(v, p->loc, d->loc, arena_printf(v->a, "The directive \"@%s\" "
				    "can only be used once at this location.", d->name));
				break;
			}
	}
}

static void walk_directives(struct vctx *v, const struct gql_directive *dirs,
    enum gql_dir_loc where)
{
	for (const struct gql_directive *d = dirs; d; d = d->next) {
		const struct gql_directive_def *dd = gql_schema_directive(v->s, d->name);
		if (v->report && dd == NULL) {
			/* graphql-js also knows directives defined in the document */
			const struct gql_definition *dl = v->doc->defs;
			while (dl && !(dl->kind == GQL_DEF_DIRECTIVE && strcmp(dl->name, d->name) == 0))
				dl = dl->next;
			bool ok = false;
			for (size_t k = 0; dl && k < dl->nmembers && !ok; k++)
				ok = strcmp(dl->members[k], gql_dir_loc_names[where]) == 0;
			if (dl && !ok)
				verr1(v, d->loc, arena_printf(v->a, "Directive \"@%s\" may not be "
				    "used on %s.", d->name, gql_dir_loc_names[where]));
			else if (!dl)
				verr1(v, d->loc, arena_printf(v->a, "Unknown directive \"@%s\".",
				    d->name));
			unique_args(v, d->args);
		} else if (v->report) {
			if (dd == NULL)
				verr1(v, d->loc, arena_printf(v->a, "Unknown directive \"@%s\".",
				    d->name));
			else if (!(dd->locations & (1u << where)))
				verr1(v, d->loc, arena_printf(v->a, "Directive \"@%s\" may not be "
				    "used on %s.", d->name, gql_dir_loc_names[where]));
			unique_args(v, d->args);
		}
		for (const struct gql_argument *a = d->args; a; a = a->next) {
			const struct gql_input_value *ad = dd ? gql_find_arg(dd->args, dd->nargs,
			    a->name) : NULL;
			if (v->report && dd && !ad)
				verr1(v, a->loc, arena_printf(v->a, "Unknown argument \"%s\" on "
				    "directive \"@%s\".%s", a->name, d->name,
				    suggest_args(v, a->name, dd->args, dd->nargs)));
			walk_value(v, a->value, ad ? ad->type : NULL, ad && ad->def, true);
		}
		if (v->report && dd) {
			for (size_t i = 0; i < dd->nargs; i++) {
				const struct gql_input_value *ad = &dd->args[i];
				if (ad->type->kind != GQL_K_NON_NULL || ad->def)
					continue;
				bool found = false;
				for (const struct gql_argument *a = d->args; a && !found; a = a->next)
					found = strcmp(a->name, ad->name) == 0;
				if (!found)
					verr1(v, d->loc, arena_printf(v->a, "Directive \"@%s\" argument "
					    "\"%s\" of type \"%s\" is required, but it was not provided.",
					    d->name, ad->name, tstr(v, ad->type)));
			}
		}
	}
}

/* ---- overlapping fields ---- */

struct ofield {
	const struct gql_type *parent;
	const struct gql_selection *node;
	const struct gql_field *def;
	const struct vdef *origin;	/* top-level fragment it came through */
};

struct ogroup {
	const char *key;
	struct ofield *items;
	size_t n, cap;
};

struct omap {
	struct ogroup *groups;
	size_t n, cap;
	struct gql_ntab idx;		/* key -> group index + 1 */
	bool indexed;
};

static void omap_add(struct vctx *v, struct omap *m, const struct ofield *f)
{
	const char *key = f->node->alias ? f->node->alias : f->node->name;
	struct ogroup *g = NULL;
	if (m->indexed) {
		size_t i = (size_t)(uintptr_t)gql_ntab_get(&m->idx, key);
		if (i)
			g = &m->groups[i - 1];
	} else {
		for (size_t i = 0; i < m->n && !g; i++)
			if (strcmp(m->groups[i].key, key) == 0)
				g = &m->groups[i];
	}
	if (g == NULL) {
		if (m->n == m->cap) {
			size_t nc = m->cap ? m->cap * 2 : 8;
			struct ogroup *ng = arena_alloc(v->a, nc * sizeof *ng);
			if (m->n)
				memcpy(ng, m->groups, m->n * sizeof *ng);
			m->groups = ng;
			m->cap = nc;
		}
		g = &m->groups[m->n++];
		memset(g, 0, sizeof *g);
		g->key = key;
		if (m->n == 16 && !m->indexed) {
			gql_ntab_init(&m->idx, v->a, 64);
			for (size_t i = 0; i < m->n; i++)
				(void)gql_ntab_put(&m->idx, m->groups[i].key, (void *)(uintptr_t)(i + 1));
			m->indexed = true;
		} else if (m->indexed) {
			if (m->n * 2 > m->idx.mask) {
				gql_ntab_init(&m->idx, v->a, m->n * 2);
				for (size_t i = 0; i < m->n; i++)
					(void)gql_ntab_put(&m->idx, m->groups[i].key,
					    (void *)(uintptr_t)(i + 1));
			} else {
				(void)gql_ntab_put(&m->idx, key, (void *)(uintptr_t)m->n);
			}
		}
	}
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 2;
		struct ofield *ni = arena_alloc(v->a, nc * sizeof *ni);
		if (g->n)
			memcpy(ni, g->items, g->n * sizeof *ni);
		g->items = ni;
		g->cap = nc;
	}
	g->items[g->n++] = *f;
}

static void ocollect(struct vctx *v, struct omap *m, const struct gql_type *parent,
    const struct gql_selection *sel, const struct vdef *origin, unsigned stamp,
    unsigned depth)
{
	if (depth > 256)
		return;
	for (const struct gql_selection *s = sel; s; s = s->next) {
		switch (s->kind) {
		case GQL_SEL_FIELD: {
			struct ofield f = { parent, s, parent ? gql_schema_field(v->s, parent,
			    s->name) : NULL, origin };
			omap_add(v, m, &f);
			break;
		}
		case GQL_SEL_INLINE: {
			const struct gql_type *tc = s->type_cond ?
			    gql_schema_type(v->s, s->type_cond) : parent;
			ocollect(v, m, tc, s->sel, origin, stamp, depth + 1);
			break;
		}
		case GQL_SEL_SPREAD: {
			struct vdef *fd = frag(v, s->name);
			if (fd == NULL || fd->mark == stamp)
				break;
			fd->mark = stamp;
			ocollect(v, m, gql_schema_type(v->s, fd->d->type_cond), fd->d->sel,
			    origin ? origin : fd, stamp, depth + 1);
			break;
		}
		}
	}
}

static bool same_args(struct vctx *v, const struct gql_argument *a, const struct gql_argument *b)
{
	size_t na = 0, nb = 0;
	for (const struct gql_argument *x = a; x; x = x->next)
		na++;
	for (const struct gql_argument *x = b; x; x = x->next)
		nb++;
	if (na != nb)
		return false;
	for (const struct gql_argument *x = a; x; x = x->next) {
		const struct gql_argument *y = b;
		while (y && strcmp(y->name, x->name) != 0)
			y = y->next;
		if (y == NULL)
			return false;
		if (strcmp(gql_value_str(v->a, x->value), gql_value_str(v->a, y->value)) != 0)
			return false;
	}
	return true;
}

static bool types_conflict(const struct gql_type *a, const struct gql_type *b)
{
	if (a->kind == GQL_K_LIST)
		return b->kind == GQL_K_LIST ? types_conflict(a->of, b->of) : true;
	if (b->kind == GQL_K_LIST)
		return true;
	if (a->kind == GQL_K_NON_NULL)
		return b->kind == GQL_K_NON_NULL ? types_conflict(a->of, b->of) : true;
	if (b->kind == GQL_K_NON_NULL)
		return true;
	if (gql_is_leaf(a) || gql_is_leaf(b))
		return a != b;
	return false;
}

struct conflict {
	const char *reason;		/* rendered reason */
	struct gql_loc locs1[GQL_ERR_MAX_LOCS], locs2[GQL_ERR_MAX_LOCS];
	unsigned n1, n2;
};

static void add_loc(struct gql_loc *arr, unsigned *n, struct gql_loc l)
{
	if (*n < GQL_ERR_MAX_LOCS)
		arr[(*n)++] = l;
}

static bool find_conflicts_between(struct vctx *v, bool excl,
    const struct gql_type *p1, const struct gql_selection *s1,
    const struct gql_type *p2, const struct gql_selection *s2,
    struct sbuf *reasons, struct conflict *c, unsigned depth);

static size_t pair_hash(const void *a, const void *b, bool excl)
{
	size_t h = (size_t)(uintptr_t)a * 0x9E3779B97F4A7C15ULL;
	h ^= (size_t)(uintptr_t)b + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
	return h ^ (excl ? 0x5bd1e995 : 0);
}

/* Returns true if (a, b, excl) was seen before; records it otherwise. */
static bool pair_seen(struct vctx *v, const void *a, const void *b, bool excl)
{
	if ((uintptr_t)a > (uintptr_t)b) {
		const void *t = a; a = b; b = t;
	}
	const void *flag = excl ? (const void *)v : NULL;
	if ((v->npairs + 1) * 2 > v->pair_cap) {
		size_t nc = v->pair_cap ? v->pair_cap * 2 : 256;
		const void **np = arena_calloc(v->a, nc * 3 * sizeof *np);
		for (size_t i = 0; i < v->pair_cap; i++) {
			const void **o = &v->pairs[i * 3];
			if (o[0] == NULL)
				continue;
			size_t j = pair_hash(o[0], o[1], o[2] != NULL) & (nc - 1);
			while (np[j * 3] != NULL)
				j = (j + 1) & (nc - 1);
			memcpy(&np[j * 3], o, 3 * sizeof *o);
		}
		v->pairs = np;
		v->pair_cap = nc;
	}
	size_t j = pair_hash(a, b, excl) & (v->pair_cap - 1);
	while (v->pairs[j * 3] != NULL) {
		const void **o = &v->pairs[j * 3];
		if (o[0] == a && o[1] == b && o[2] == flag)
			return true;
		j = (j + 1) & (v->pair_cap - 1);
	}
	v->pairs[j * 3] = a;
	v->pairs[j * 3 + 1] = b;
	v->pairs[j * 3 + 2] = flag;
	v->npairs++;
	return false;
}

/* One pair; returns true and fills c on conflict. */
static bool find_conflict(struct vctx *v, bool parent_excl, const char *key,
    const struct ofield *f1, const struct ofield *f2, struct conflict *c,
    unsigned depth)
{
	if (f1->node == f2->node)
		return false;
	bool excl = parent_excl || (f1->parent != f2->parent && f1->parent && f2->parent &&
	    f1->parent->kind == GQL_K_OBJECT && f2->parent->kind == GQL_K_OBJECT);
	if (pair_seen(v, f1->node, f2->node, excl))
		return false;
	memset(c, 0, sizeof *c);
	add_loc(c->locs1, &c->n1, f1->node->loc);
	add_loc(c->locs2, &c->n2, f2->node->loc);
	(void)key;
	if (!excl) {
		if (strcmp(f1->node->name, f2->node->name) != 0) {
			c->reason = arena_printf(v->a, "\"%s\" and \"%s\" are different fields",
			    f1->node->name, f2->node->name);
			return true;
		}
		if (!same_args(v, f1->node->args, f2->node->args)) {
			c->reason = "they have differing arguments";
			return true;
		}
	}
	const struct gql_type *t1 = f1->def ? f1->def->type : NULL;
	const struct gql_type *t2 = f2->def ? f2->def->type : NULL;
	if (t1 && t2 && types_conflict(t1, t2)) {
		c->reason = arena_printf(v->a, "they return conflicting types \"%s\" and \"%s\"",
		    tstr(v, t1), tstr(v, t2));
		return true;
	}
	if (f1->node->has_sel && f2->node->has_sel && depth < 64) {
		struct sbuf rs;
		sbuf_init(&rs, 8192);
		bool hit = find_conflicts_between(v, excl, gql_named(t1), f1->node->sel,
		    gql_named(t2), f2->node->sel, &rs, c, depth + 1);
		if (hit)
			c->reason = rs.failed ? "subfields conflict" : arena_strndup(v->a, rs.p, rs.len);
		sbuf_clear(&rs);
		return hit;
	}
	return false;
}

/* Sub-selection comparison: appends "subfields ... conflict because ..." to
 * reasons and locations to c. */
static bool find_conflicts_between(struct vctx *v, bool excl,
    const struct gql_type *p1, const struct gql_selection *s1,
    const struct gql_type *p2, const struct gql_selection *s2,
    struct sbuf *reasons, struct conflict *c, unsigned depth)
{
	struct omap m1 = { 0 }, m2 = { 0 };
	ocollect(v, &m1, p1, s1, NULL, ++v->stamp, 0);
	ocollect(v, &m2, p2, s2, NULL, ++v->stamp, 0);
	bool any = false;
	for (size_t i = 0; i < m1.n; i++) {
		struct ogroup *g1 = &m1.groups[i], *g2 = NULL;
		for (size_t j = 0; j < m2.n && !g2; j++)
			if (strcmp(m2.groups[j].key, g1->key) == 0)
				g2 = &m2.groups[j];
		if (g2 == NULL)
			continue;
		for (size_t a = 0; a < g1->n; a++) {
			for (size_t b = 0; b < g2->n; b++) {
				struct conflict sub;
				if (!find_conflict(v, excl, g1->key, &g1->items[a], &g2->items[b],
				    &sub, depth))
					continue;
				if (any)
					sbuf_puts(reasons, " and ");
				sbuf_printf(reasons, "subfields \"%s\" conflict because %s",
				    g1->key, sub.reason);
				for (unsigned k = 0; k < sub.n1; k++)
					add_loc(c->locs1, &c->n1, sub.locs1[k]);
				for (unsigned k = 0; k < sub.n2; k++)
					add_loc(c->locs2, &c->n2, sub.locs2[k]);
				any = true;
				goto next_group;	/* one conflict per response name */
			}
		}
next_group:;
	}
	return any;
}

static void overlapping_fields(struct vctx *v, const struct gql_type *parent,
    const struct gql_selection *sel)
{
	struct omap m = { 0 };
	ocollect(v, &m, parent, sel, NULL, ++v->stamp, 0);
	for (size_t i = 0; i < m.n; i++) {
		struct ogroup *g = &m.groups[i];
		/* all pairs; huge groups only against their first member */
		size_t outer = g->n > 64 ? 1 : g->n;
		for (size_t a = 0; a < outer; a++) {
			for (size_t b = a + 1; b < g->n; b++) {
				if (g->items[a].origin && g->items[a].origin == g->items[b].origin)
					continue;	/* checked within the fragment */
				struct conflict c;
				if (!find_conflict(v, false, g->key, &g->items[a], &g->items[b], &c, 0))
					continue;
				struct gql_error *e = verr(v, arena_printf(v->a, "Fields \"%s\" "
				    "conflict because %s. Use different aliases on the fields to "
				    "fetch both if this was intentional.", g->key, c.reason));
				for (unsigned k = 0; k < c.n1; k++)
					gql_error_loc(e, c.locs1[k]);
				for (unsigned k = 0; k < c.n2; k++)
					gql_error_loc(e, c.locs2[k]);
				if (v->aborted)
					return;
			}
		}
	}
}

/* ---- selections ---- */

static void walk_selection_set(struct vctx *v, const struct gql_selection *sel,
    const struct gql_type *parent);

static const struct gql_type *composite_or_null(const struct gql_type *t)
{
	t = gql_named(t);
	return gql_is_composite(t) ? t : NULL;
}

static void walk_field(struct vctx *v, const struct gql_selection *s,
    const struct gql_type *parent)
{
	const struct gql_field *def = parent ? gql_schema_field(v->s, parent, s->name) : NULL;
	const struct gql_type *t = def ? def->type : NULL;
	if (v->report) {
		if (t) {
			const struct gql_type *named = gql_named(t);
			if (gql_is_leaf(named) && s->has_sel)
				verr1(v, s->sel_loc, arena_printf(v->a, "Field \"%s\" must not have a "
				    "selection since type \"%s\" has no subfields.", s->name,
				    tstr(v, t)));
			else if (!gql_is_leaf(named) && !s->has_sel)
				verr1(v, s->loc, arena_printf(v->a, "Field \"%s\" of type \"%s\" must "
				    "have a selection of subfields. Did you mean \"%s { ... }\"?",
				    s->name, tstr(v, t), s->name));
		}
		if (parent && !def) {
			const char *sugg = "";
			if (parent->kind == GQL_K_OBJECT) {
				const char **names = arena_alloc(v->a,
				    (parent->nfields + 1) * sizeof *names);
				for (size_t i = 0; i < parent->nfields; i++)
					names[i] = parent->fields[i].name;
				sugg = gql_did_you_mean(v->a, s->name, names, parent->nfields);
			}
			verr1(v, s->loc, arena_printf(v->a, "Cannot query field \"%s\" on type "
			    "\"%s\".%s", s->name, parent->name, sugg));
		}
		unique_directives(v, s->directives);
		unique_args(v, s->args);
		if (!v->lim->introspection && t) {
			const struct gql_type *named = gql_named(t);
			if (named->builtin && strncmp(named->name, "__", 2) == 0)
				verr1(v, s->loc, arena_printf(v->a, "GraphQL introspection has been "
				    "disabled, but the requested query contained the field \"%s\".",
				    s->name));
		}
	}
	for (const struct gql_argument *a = s->args; a; a = a->next) {
		const struct gql_input_value *ad = def ? gql_find_arg(def->args, def->nargs,
		    a->name) : NULL;
		if (v->report && def && !ad)
			verr1(v, a->loc, arena_printf(v->a, "Unknown argument \"%s\" on field "
			    "\"%s.%s\".%s", a->name, parent->name, def->name,
			    suggest_args(v, a->name, def->args, def->nargs)));
		walk_value(v, a->value, ad ? ad->type : NULL, ad && ad->def, true);
	}
	walk_directives(v, s->directives, GQL_DL_FIELD);
	if (s->has_sel)
		walk_selection_set(v, s->sel, composite_or_null(t));
	if (v->report && def) {
		for (size_t i = 0; i < def->nargs; i++) {
			const struct gql_input_value *ad = &def->args[i];
			if (ad->type->kind != GQL_K_NON_NULL || ad->def)
				continue;
			bool found = false;
			for (const struct gql_argument *a = s->args; a && !found; a = a->next)
				found = strcmp(a->name, ad->name) == 0;
			if (!found)
				verr1(v, s->loc, arena_printf(v->a, "Field \"%s\" argument \"%s\" of "
				    "type \"%s\" is required, but it was not provided.", def->name,
				    ad->name, tstr(v, ad->type)));
		}
	}
}

static void possible_spread(struct vctx *v, const struct gql_selection *s,
    const struct gql_type *ft, const struct gql_type *parent, const char *name)
{
	if (!ft || !parent || !gql_is_composite(ft) || !gql_is_composite(parent) || ft == parent)
		return;
	if (name)
		verr1(v, s->loc, arena_printf(v->a, "Fragment \"%s\" cannot be spread here as "
		    "objects of type \"%s\" can never be of type \"%s\".", name,
		    parent->name, ft->name));
	else
		verr1(v, s->loc, arena_printf(v->a, "Fragment cannot be spread here as objects "
		    "of type \"%s\" can never be of type \"%s\".", parent->name, ft->name));
}

static void add_spread(struct vctx *v, const struct gql_selection *s)
{
	struct vdef *c = v->cur;
	if (v->report || c == NULL)
		return;
	if (c->nspreads == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 4;
		const struct gql_selection **ns = arena_alloc(v->a, nc * sizeof *ns);
		if (c->nspreads)
			memcpy(ns, c->spreads, c->nspreads * sizeof *ns);
		c->spreads = ns;
		c->cap = nc;
	}
	c->spreads[c->nspreads++] = s;
}

static void walk_selection_set(struct vctx *v, const struct gql_selection *sel,
    const struct gql_type *parent)
{
	if (v->report && !v->aborted)
		overlapping_fields(v, parent, sel);
	for (const struct gql_selection *s = sel; s; s = s->next) {
		if (v->aborted)
			return;
		switch (s->kind) {
		case GQL_SEL_FIELD:
			walk_field(v, s, parent);
			break;
		case GQL_SEL_SPREAD: {
			add_spread(v, s);
			if (v->report) {
				struct vdef *fd = frag(v, s->name);
				if (fd == NULL)
					verr1(v, s->name_loc, arena_printf(v->a, "Unknown fragment "
					    "\"%s\".", s->name));
				else
					possible_spread(v, s, gql_schema_type(v->s, fd->d->type_cond),
					    parent, s->name);
				unique_directives(v, s->directives);
			}
			walk_directives(v, s->directives, GQL_DL_FRAGMENT_SPREAD);
			break;
		}
		case GQL_SEL_INLINE: {
			const struct gql_type *tc = s->type_cond ?
			    gql_schema_type(v->s, s->type_cond) : parent;
			if (v->report) {
				if (s->type_cond && tc && !gql_is_composite(tc))
					verr1(v, s->type_cond_loc, arena_printf(v->a, "Fragment cannot "
					    "condition on non composite type \"%s\".", s->type_cond));
				possible_spread(v, s, tc, parent, NULL);
				unique_directives(v, s->directives);
				if (s->type_cond && !tc)
					unknown_type(v, s->type_cond, s->type_cond_loc);
			}
			walk_directives(v, s->directives, GQL_DL_INLINE_FRAGMENT);
			walk_selection_set(v, s->sel, composite_or_null(tc));
			break;
		}
		}
	}
}

/* ---- fragments: cycles, reachability ---- */

static void detect_cycles(struct vctx *v, struct vdef *fd, const struct gql_selection **path,
    size_t *plen, size_t maxlen)
{
	if (fd->cvisited)
		return;
	fd->cvisited = true;
	if (fd->nspreads == 0)
		return;
	fd->pidx = *plen + 1;
	for (size_t i = 0; i < fd->nspreads && !v->aborted && *plen < maxlen; i++) {
		const struct gql_selection *sp = fd->spreads[i];
		struct vdef *next = frag(v, sp->name);
		path[(*plen)++] = sp;
		if (next && next->pidx == 0) {
			detect_cycles(v, next, path, plen, maxlen);
		} else if (next) {
			size_t ci = next->pidx - 1;
			struct sbuf via;
			sbuf_init(&via, 4096);
			for (size_t k = ci; k + 1 < *plen; k++)
				sbuf_printf(&via, "%s\"%s\"", k > ci ? ", " : "", path[k]->name);
			struct gql_error *e = verr(v, via.len ?
			    arena_printf(v->a, "Cannot spread fragment \"%s\" within itself via %s.",
			    sp->name, via.failed ? "..." : via.p) :
			    arena_printf(v->a, "Cannot spread fragment \"%s\" within itself.",
			    sp->name));
			sbuf_clear(&via);
			for (size_t k = ci; k < *plen; k++)
				gql_error_loc(e, path[k]->loc);
		}
		(*plen)--;
	}
	fd->pidx = 0;
}

/* Fragments reachable from d (not d itself), each once, in BFS order. */
static size_t reachable(struct vctx *v, struct vdef *d, struct vdef **out, size_t max)
{
	unsigned stamp = ++v->stamp;
	size_t n = 0;
	d->mark = stamp;
	struct vdef *cur = d;
	size_t head = 0;
	for (;;) {
		for (size_t i = 0; i < cur->nspreads; i++) {
			struct vdef *f = frag(v, cur->spreads[i]->name);
			if (f && f->mark != stamp && n < max) {
				f->mark = stamp;
				out[n++] = f;
			}
		}
		if (head == n)
			break;
		cur = out[head++];
	}
	return n;
}

/* ---- operations ---- */

static bool sub_type_of(const struct gql_type *sub, const struct gql_type *super)
{
	if (gql_type_equal(sub, super))
		return true;
	if (super->kind == GQL_K_NON_NULL)
		return sub->kind == GQL_K_NON_NULL && sub_type_of(sub->of, super->of);
	if (sub->kind == GQL_K_NON_NULL)
		return sub_type_of(sub->of, super);
	if (super->kind == GQL_K_LIST)
		return sub->kind == GQL_K_LIST && sub_type_of(sub->of, super->of);
	return false;
}

static bool allowed_usage(const struct gql_type *vt, const struct gql_value *vdef_default,
    const struct gql_type *lt, bool loc_default)
{
	if (lt->kind == GQL_K_NON_NULL && vt->kind != GQL_K_NON_NULL) {
		bool nn_default = vdef_default && vdef_default->kind != GQL_V_NULL;
		if (!nn_default && !loc_default)
			return false;
		return sub_type_of(vt, lt->of);
	}
	return sub_type_of(vt, lt);
}

static const struct gql_type *root_of(const struct gql_schema *s, enum gql_op_type op)
{
	switch (op) {
	case GQL_OP_MUTATION: return s->mutation;
	case GQL_OP_SUBSCRIPTION: return s->subscription;
	default: return s->query;
	}
}

/* CollectFields on the root selection (no variables) for the subscription
 * rule: appends field nodes grouped by response name. */
static void sub_collect(struct vctx *v, const struct gql_type *t,
    const struct gql_selection *sel, const struct gql_selection **nodes,
    const char **keys, size_t *n, size_t max, unsigned stamp, unsigned depth)
{
	if (depth > 64)
		return;
	for (const struct gql_selection *s = sel; s; s = s->next) {
		if (gql_should_skip(s->directives, NULL))
			continue;
		if (s->kind == GQL_SEL_FIELD) {
			if (*n < max) {
				nodes[*n] = s;
				keys[(*n)++] = s->alias ? s->alias : s->name;
			}
		} else if (s->kind == GQL_SEL_INLINE) {
			if (s->type_cond && gql_schema_type(v->s, s->type_cond) != t)
				continue;
			sub_collect(v, t, s->sel, nodes, keys, n, max, stamp, depth + 1);
		} else {
			struct vdef *fd = frag(v, s->name);
			if (!fd || fd->mark == stamp || gql_schema_type(v->s, fd->d->type_cond) != t)
				continue;
			fd->mark = stamp;
			sub_collect(v, t, fd->d->sel, nodes, keys, n, max, stamp, depth + 1);
		}
	}
}

static void single_field_subscription(struct vctx *v, const struct gql_definition *d)
{
	const struct gql_type *t = v->s->subscription;
	if (t == NULL)
		return;
	enum { MAX = 256 };
	const struct gql_selection *nodes[MAX];
	const char *keys[MAX];
	size_t n = 0;
	sub_collect(v, t, d->sel, nodes, keys, &n, MAX, ++v->stamp, 0);
	const char *who = d->name ? arena_printf(v->a, "Subscription \"%s\"", d->name) :
	    "Anonymous Subscription";
	struct gql_error *e = NULL;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(keys[i], keys[0]) == 0)
			continue;
		if (e == NULL)
			e = verr(v, arena_printf(v->a, "%s must select only one top level field.",
			    who));
		gql_error_loc(e, nodes[i]->loc);
	}
	for (size_t i = 0; i < n; i++) {
		bool first = true;
		for (size_t j = 0; j < i && first; j++)
			first = strcmp(keys[j], keys[i]) != 0;
		if (!first || strncmp(nodes[i]->name, "__", 2) != 0)
			continue;
		e = verr(v, arena_printf(v->a, "%s must not select an introspection top level "
		    "field.", who));
		for (size_t j = i; j < n; j++)
			if (strcmp(keys[j], keys[i]) == 0)
				gql_error_loc(e, nodes[j]->loc);
	}
}

static void walk_operation(struct vctx *v, struct vdef *vd)
{
	const struct gql_definition *d = vd->d;
	if (v->report) {
		if (d->name) {
			for (const struct gql_definition *p = v->doc->defs; p != d; p = p->next)
				if (p->kind == GQL_DEF_OPERATION && p->name &&
				    strcmp(p->name, d->name) == 0) {
					verr2(v, p->name_loc, d->name_loc, arena_printf(v->a, "There can "
					    "be only one operation named \"%s\".", d->name));
					break;
				}
		} else {
			size_t nops = 0;
			for (const struct gql_definition *p = v->doc->defs; p; p = p->next)
				nops += p->kind == GQL_DEF_OPERATION;
			if (nops > 1)
				verr1(v, d->loc, "This anonymous operation must be the only defined "
				    "operation.");
		}
		if (d->op == GQL_OP_SUBSCRIPTION)
			single_field_subscription(v, d);
		for (const struct gql_var_def *a = d->vars; a; a = a->next) {
			bool first = true;
			for (const struct gql_var_def *b = d->vars; b != a && first; b = b->next)
				first = strcmp(a->name, b->name) != 0;
			if (!first)
				continue;
			struct gql_error *e = NULL;
			for (const struct gql_var_def *b = a->next; b; b = b->next) {
				if (strcmp(a->name, b->name) != 0)
					continue;
				if (e == NULL) {
					e = verr(v, arena_printf(v->a, "There can be only one variable "
					    "named \"$%s\".", a->name));
					gql_error_loc(e, a->name_loc);
				}
				gql_error_loc(e, b->name_loc);
			}
		}
		unique_directives(v, d->directives);
	}
	for (const struct gql_var_def *vr = d->vars; vr; vr = vr->next) {
		const struct gql_type *t = gql_type_from_ref(v->s, v->a, vr->type);
		if (v->report) {
			if (t && !gql_is_input_type(t))
				verr1(v, vr->type->loc, arena_printf(v->a, "Variable \"$%s\" cannot be "
				    "non-input type \"%s\".", vr->name, ref_str(v, vr->type)));
			if (!t) {
				const struct gql_type_ref *r = vr->type;
				while (r->kind != GQL_TR_NAMED)
					r = r->of;
				unknown_type(v, r->name, r->loc);
			}
		}
		if (vr->def)
			walk_value(v, vr->def, t && gql_is_input_type(t) ? t : NULL, false, true);
		walk_directives(v, vr->directives, GQL_DL_VARIABLE_DEFINITION);
	}
	walk_directives(v, d->directives, d->op == GQL_OP_QUERY ? GQL_DL_QUERY :
	    d->op == GQL_OP_MUTATION ? GQL_DL_MUTATION : GQL_DL_SUBSCRIPTION);
	walk_selection_set(v, d->sel, root_of(v->s, d->op));
	if (!v->report || v->aborted)
		return;
	/* leave: NoUndefinedVariables, NoUnusedVariables, VariablesInAllowedPosition */
	struct vdef **fr = arena_alloc(v->a, (v->ndefs + 1) * sizeof *fr);
	size_t nfr = reachable(v, vd, fr, v->ndefs);
	for (size_t k = 0; k <= nfr; k++) {
		const struct vdef *src = k == 0 ? vd : fr[k - 1];
		for (const struct usage *u = src->usages; u; u = u->next) {
			const struct gql_var_def *vr = d->vars;
			while (vr && strcmp(vr->name, u->var->s) != 0)
				vr = vr->next;
			if (vr == NULL)
				verr2(v, u->var->loc, d->loc, d->name ?
				    arena_printf(v->a, "Variable \"$%s\" is not defined by operation "
				    "\"%s\".", u->var->s, d->name) :
				    arena_printf(v->a, "Variable \"$%s\" is not defined.", u->var->s));
		}
	}
	for (const struct gql_var_def *vr = d->vars; vr; vr = vr->next) {
		bool used = false;
		for (size_t k = 0; k <= nfr && !used; k++) {
			const struct vdef *src = k == 0 ? vd : fr[k - 1];
			for (const struct usage *u = src->usages; u && !used; u = u->next)
				used = strcmp(u->var->s, vr->name) == 0;
		}
		if (!used)
			verr1(v, vr->loc, d->name ?
			    arena_printf(v->a, "Variable \"$%s\" is never used in operation "
			    "\"%s\".", vr->name, d->name) :
			    arena_printf(v->a, "Variable \"$%s\" is never used.", vr->name));
	}
	for (size_t k = 0; k <= nfr; k++) {
		const struct vdef *src = k == 0 ? vd : fr[k - 1];
		for (const struct usage *u = src->usages; u; u = u->next) {
			const struct gql_var_def *vr = NULL;	/* the last one, as graphql-js */
			for (const struct gql_var_def *x = d->vars; x; x = x->next)
				if (strcmp(x->name, u->var->s) == 0)
					vr = x;
			if (vr == NULL || u->type == NULL)
				continue;
			const struct gql_type *vt = gql_type_from_ref(v->s, v->a, vr->type);
			if (vt && !allowed_usage(vt, vr->def, u->type, u->loc_default))
				verr2(v, vr->loc, u->var->loc, arena_printf(v->a, "Variable \"$%s\" "
				    "of type \"%s\" used in position expecting type \"%s\".",
				    vr->name, ref_str(v, vr->type), tstr(v, u->type)));
		}
	}
}

static void walk_fragment(struct vctx *v, struct vdef *vd, const struct gql_selection **path,
    size_t maxpath)
{
	const struct gql_definition *d = vd->d;
	const struct gql_type *tc = gql_schema_type(v->s, d->type_cond);
	if (v->report) {
		if (tc && !gql_is_composite(tc))
			verr1(v, d->type_cond_loc, arena_printf(v->a, "Fragment \"%s\" cannot "
			    "condition on non composite type \"%s\".", d->name, d->type_cond));
		struct vdef *first = frag(v, d->name);
		if (first != vd)
			verr2(v, first->d->name_loc, d->name_loc, arena_printf(v->a, "There can "
			    "be only one fragment named \"%s\".", d->name));
		size_t plen = 0;
		detect_cycles(v, vd, path, &plen, maxpath);
		unique_directives(v, d->directives);
		if (!tc)
			unknown_type(v, d->type_cond, d->type_cond_loc);
	}
	walk_directives(v, d->directives, GQL_DL_FRAGMENT_DEFINITION);
	walk_selection_set(v, d->sel, composite_or_null(tc));
}

/* ---- limits ---- */

static unsigned sat_add(unsigned a, unsigned b)
{
	return a + b < a ? ~0u : a + b;
}

/* depth (field levels) and alias count of a selection set, fragments
 * expanded (memoised per fragment; cycles count as 0) */
static void measure(struct vctx *v, const struct gql_selection *sel, unsigned *depth,
    unsigned *aliases, unsigned *fields, unsigned level)
{
	*depth = 0;
	*aliases = 0;
	*fields = 0;
	if (level > 512)
		return;
	for (const struct gql_selection *s = sel; s; s = s->next) {
		unsigned d = 0, al = 0, nf = 0;
		if (s->kind == GQL_SEL_FIELD) {
			unsigned sd = 0, sa = 0, sf = 0;
			if (s->has_sel)
				measure(v, s->sel, &sd, &sa, &sf, level + 1);
			d = sd + 1;
			al = sat_add(sa, s->alias ? 1 : 0);
			nf = 1;
		} else if (s->kind == GQL_SEL_INLINE) {
			measure(v, s->sel, &d, &al, &nf, level + 1);
		} else {
			struct vdef *fd = frag(v, s->name);
			if (fd == NULL || fd->state == 1)
				continue;
			/* CollectFields visits a fragment once per selection set */
			bool dup = false;
			for (const struct gql_selection *p = sel; p != s && !dup; p = p->next)
				dup = p->kind == GQL_SEL_SPREAD && strcmp(p->name, s->name) == 0;
			if (dup)
				continue;
			if (fd->state == 0) {
				fd->state = 1;
				measure(v, fd->d->sel, &fd->depth, &fd->aliases, &fd->roots, level + 1);
				fd->state = 2;
			}
			d = fd->depth;
			al = fd->aliases;
			nf = fd->roots;
		}
		if (d > *depth)
			*depth = d;
		*aliases = sat_add(*aliases, al);
		*fields = sat_add(*fields, nf);
	}
}

static void check_limits(struct vctx *v)
{
	for (size_t i = 0; i < v->ndefs; i++) {
		const struct gql_definition *d = v->defs[i].d;
		if (d->kind != GQL_DEF_OPERATION)
			continue;
		unsigned depth, aliases, roots;
		measure(v, d->sel, &depth, &aliases, &roots, 0);
		if (depth > v->lim->max_depth)
			verr1(v, d->loc, arena_printf(v->a, "The operation exceeds the maximum "
			    "selection depth of %u.", v->lim->max_depth));
		if (aliases > v->lim->max_aliases)
			verr1(v, d->loc, arena_printf(v->a, "The operation uses more than %u "
			    "aliases.", v->lim->max_aliases));
		if (roots > v->lim->max_root_fields)
			verr1(v, d->loc, arena_printf(v->a, "The operation selects more than %u "
			    "root fields.", v->lim->max_root_fields));
	}
}

size_t gql_validate(const struct gql_schema *s, const struct gql_limits *lim,
    const struct gql_document *doc, struct arena *a, struct gql_errors *el)
{
	struct vctx v;
	memset(&v, 0, sizeof v);
	v.s = s;
	v.lim = lim;
	v.doc = doc;
	v.a = a;
	v.el = el;
	size_t before = el->n;
	v.ndefs = doc->ndefs;
	v.defs = arena_calloc(a, (v.ndefs + 1) * sizeof *v.defs);
	gql_ntab_init(&v.frags, a, v.ndefs);
	size_t i = 0;
	for (const struct gql_definition *d = doc->defs; d; d = d->next, i++) {
		v.defs[i].d = d;
		v.defs[i].utail = &v.defs[i].usages;
		if (d->kind == GQL_DEF_FRAGMENT)
			(void)gql_ntab_put(&v.frags, d->name, &v.defs[i]);
	}
	v.type_names = arena_alloc(a, (s->ntypes + 1) * sizeof *v.type_names);
	for (size_t k = 0; k < s->ntypes; k++)
		v.type_names[v.ntype_names++] = s->types[k]->name;
	/* our limits first: a document over them is not worth validating */
	v.report = true;
	check_limits(&v);
	if (el->n > before)
		return el->n - before;
	/* pass 1: usages and spreads */
	v.report = false;
	for (i = 0; i < v.ndefs; i++) {
		v.cur = &v.defs[i];
		if (v.defs[i].d->kind == GQL_DEF_OPERATION)
			walk_operation(&v, &v.defs[i]);
		else if (v.defs[i].d->kind == GQL_DEF_FRAGMENT)
			walk_fragment(&v, &v.defs[i], NULL, 0);
	}
	v.cur = NULL;
	/* pass 2: the rules */
	v.report = true;
	for (i = 0; i < v.ndefs; i++) {
		const struct gql_definition *d = v.defs[i].d;
		if (d->kind == GQL_DEF_OPERATION || d->kind == GQL_DEF_FRAGMENT)
			continue;
		if (d->kind == GQL_DEF_SCHEMA)
			verr1(&v, d->loc, "The schema definition is not executable.");
		else
			verr1(&v, d->loc, arena_printf(a, "The \"%s\" definition is not "
			    "executable.", d->name));
	}
	const struct gql_selection **path = arena_alloc(a, (v.ndefs + 1) * 4 *
	    sizeof *path + sizeof *path);
	size_t maxpath = (v.ndefs + 1) * 4;
	for (i = 0; i < v.ndefs && !v.aborted; i++) {
		const struct gql_definition *d = v.defs[i].d;
		if (d->kind == GQL_DEF_OPERATION)
			walk_operation(&v, &v.defs[i]);
		else if (d->kind == GQL_DEF_FRAGMENT)
			walk_fragment(&v, &v.defs[i], path, maxpath);
	}
	/* NoUnusedFragments */
	if (!v.aborted) {
		struct vdef **fr = arena_alloc(a, (v.ndefs + 1) * sizeof *fr);
		for (i = 0; i < v.ndefs; i++) {
			if (v.defs[i].d->kind != GQL_DEF_OPERATION)
				continue;
			size_t n = reachable(&v, &v.defs[i], fr, v.ndefs);
			for (size_t k = 0; k < n; k++)
				fr[k]->used = true;
		}
		for (i = 0; i < v.ndefs; i++) {
			const struct gql_definition *d = v.defs[i].d;
			if (d->kind == GQL_DEF_FRAGMENT && !frag(&v, d->name)->used)
				verr1(&v, d->loc, arena_printf(a, "Fragment \"%s\" is never used.",
				    d->name));
		}
	}
	return el->n - before;
}
