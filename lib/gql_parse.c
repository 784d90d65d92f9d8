#include "gql_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

enum { DEFAULT_MAX_NESTING = 64 };

struct parser {
	struct gql_lexer lx;
	struct arena *a;
	unsigned depth, max_depth;
};

#define TRY(x) do { int rc_ = (x); if (rc_ != 0) return rc_; } while (0)

static const char *tok_value(const struct gql_token *t)
{
	switch (t->kind) {
	case GQL_T_NAME: case GQL_T_INT: case GQL_T_FLOAT: case GQL_T_STRING:
	case GQL_T_BLOCK_STRING:
		return t->value;
	default:
		return NULL;
	}
}

static int p_fail_at(struct parser *p, struct gql_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int p_fail_at(struct parser *p, struct gql_loc loc, const char *fmt, ...)
{
	char m[GQL_LEX_MSG_MAX - 16];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (n < 0)
		m[0] = '\0';
	/* a truncated message is still useful; the prefix comes first */
	n = snprintf(p->lx.msg, sizeof p->lx.msg, "Syntax Error: %s", m);
	if (n < 0)
		p->lx.msg[0] = '\0';
	p->lx.err_loc = loc;
	return APP_ERR_PARSE;
}

/* "Name \"foo\"", "\"{\"", "<EOF>" (graphql-js getTokenDesc) */
static void tok_desc(const struct gql_token *t, char *out, size_t size)
{
	const char *v = tok_value(t);
	int n;
	if (v != NULL)
		n = snprintf(out, size, "%s \"%.60s%s\"", gql_tok_kind_desc(t->kind), v,
		    strlen(v) > 60 ? "..." : "");
	else
		n = snprintf(out, size, "%s", gql_tok_kind_desc(t->kind));
	if (n < 0 || (size_t)n >= size)
		out[size - 1] = '\0';
}

static int unexpected(struct parser *p)
{
	char d[96];
	tok_desc(&p->lx.tok, d, sizeof d);
	return p_fail_at(p, p->lx.tok.loc, "Unexpected %s.", d);
}

static bool peek(const struct parser *p, enum gql_tok k)
{
	return p->lx.tok.kind == k;
}

static bool peek_kw(const struct parser *p, const char *kw)
{
	return p->lx.tok.kind == GQL_T_NAME && strcmp(p->lx.tok.value, kw) == 0;
}

static int advance(struct parser *p)
{
	return gql_lex_next(&p->lx);
}

static int expect(struct parser *p, enum gql_tok k)
{
	if (p->lx.tok.kind == k)
		return advance(p);
	char d[96];
	tok_desc(&p->lx.tok, d, sizeof d);
	return p_fail_at(p, p->lx.tok.loc, "Expected %s, found %s.",
	    gql_tok_kind_desc(k), d);
}

/* Consumes k if it is next; *hit tells whether it was. */
static int optional(struct parser *p, enum gql_tok k, bool *hit)
{
	*hit = p->lx.tok.kind == k;
	return *hit ? advance(p) : 0;
}

static int expect_kw(struct parser *p, const char *kw)
{
	if (peek_kw(p, kw))
		return advance(p);
	char d[96];
	tok_desc(&p->lx.tok, d, sizeof d);
	return p_fail_at(p, p->lx.tok.loc, "Expected \"%s\", found %s.", kw, d);
}

static int parse_name(struct parser *p, const char **name, struct gql_loc *loc)
{
	if (p->lx.tok.kind == GQL_T_NAME) {
		*name = p->lx.tok.value;
		if (loc)
			*loc = p->lx.tok.loc;
	}
	return expect(p, GQL_T_NAME);
}

static int enter(struct parser *p)
{
	if (++p->depth > p->max_depth)
		return p_fail_at(p, p->lx.tok.loc,
		    "Document nesting exceeds the maximum depth of %u.", p->max_depth);
	return 0;
}

static void leave(struct parser *p)
{
	p->depth--;
}

static int parse_value(struct parser *p, bool is_const, struct gql_value **out);

static int parse_value_inner(struct parser *p, bool is_const, struct gql_value **out)
{
	struct gql_token *t = &p->lx.tok;
	struct gql_value *v = arena_calloc(p->a, sizeof *v);
	v->loc = t->loc;
	*out = v;
	switch (t->kind) {
	case GQL_T_LBRACKET: {
		v->kind = GQL_V_LIST;
		TRY(advance(p));
		struct gql_value **tail = &v->items;
		while (!peek(p, GQL_T_RBRACKET)) {
			if (peek(p, GQL_T_EOF))
				return unexpected(p);
			TRY(parse_value(p, is_const, tail));
			tail = &(*tail)->next;
		}
		return advance(p);
	}
	case GQL_T_LBRACE: {
		v->kind = GQL_V_OBJECT;
		TRY(advance(p));
		struct gql_value **tail = &v->items;
		while (!peek(p, GQL_T_RBRACE)) {
			const char *fname = NULL;
			struct gql_loc floc;
			TRY(parse_name(p, &fname, &floc));
			TRY(expect(p, GQL_T_COLON));
			TRY(parse_value(p, is_const, tail));
			(*tail)->field = fname;
			(*tail)->field_loc = floc;
			tail = &(*tail)->next;
		}
		return advance(p);
	}
	case GQL_T_INT:
	case GQL_T_FLOAT:
		v->kind = t->kind == GQL_T_INT ? GQL_V_INT : GQL_V_FLOAT;
		v->s = t->value;
		v->slen = t->value_len;
		return advance(p);
	case GQL_T_STRING:
	case GQL_T_BLOCK_STRING:
		v->kind = GQL_V_STRING;
		v->block = t->kind == GQL_T_BLOCK_STRING;
		v->s = t->value;
		v->slen = t->value_len;
		return advance(p);
	case GQL_T_NAME:
		if (strcmp(t->value, "true") == 0 || strcmp(t->value, "false") == 0) {
			v->kind = GQL_V_BOOLEAN;
			v->b = t->value[0] == 't';
		} else if (strcmp(t->value, "null") == 0) {
			v->kind = GQL_V_NULL;
		} else {
			v->kind = GQL_V_ENUM;
			v->s = t->value;
			v->slen = t->value_len;
		}
		return advance(p);
	case GQL_T_DOLLAR: {
		struct gql_loc dl = t->loc;
		TRY(advance(p));
		if (is_const) {
			if (peek(p, GQL_T_NAME))
				return p_fail_at(p, dl,
				    "Unexpected variable \"$%s\" in constant value.",
				    p->lx.tok.value);
			return unexpected(p);
		}
		v->kind = GQL_V_VARIABLE;
		TRY(parse_name(p, &v->s, NULL));
		v->slen = strlen(v->s);
		return 0;
	}
	default:
		return unexpected(p);
	}
}

static int parse_value(struct parser *p, bool is_const, struct gql_value **out)
{
	TRY(enter(p));
	TRY(parse_value_inner(p, is_const, out));
	leave(p);
	return 0;
}

static int parse_arguments(struct parser *p, bool is_const, struct gql_argument **out)
{
	bool hit;
	*out = NULL;
	TRY(optional(p, GQL_T_LPAREN, &hit));
	if (!hit)
		return 0;
	struct gql_argument **tail = out;
	do {
		struct gql_argument *arg = arena_calloc(p->a, sizeof *arg);
		TRY(parse_name(p, &arg->name, &arg->loc));
		TRY(expect(p, GQL_T_COLON));
		TRY(parse_value(p, is_const, &arg->value));
		*tail = arg;
		tail = &arg->next;
		TRY(optional(p, GQL_T_RPAREN, &hit));
	} while (!hit);
	return 0;
}

static int parse_directives(struct parser *p, bool is_const, struct gql_directive **out)
{
	struct gql_directive **tail = out;
	*out = NULL;
	while (peek(p, GQL_T_AT)) {
		struct gql_directive *d = arena_calloc(p->a, sizeof *d);
		d->loc = p->lx.tok.loc;
		TRY(advance(p));
		TRY(parse_name(p, &d->name, &d->name_loc));
		TRY(parse_arguments(p, is_const, &d->args));
		*tail = d;
		tail = &d->next;
	}
	return 0;
}

static int parse_type_ref(struct parser *p, struct gql_type_ref **out)
{
	struct gql_type_ref *t = arena_calloc(p->a, sizeof *t);
	bool hit;
	t->loc = p->lx.tok.loc;
	TRY(enter(p));
	TRY(optional(p, GQL_T_LBRACKET, &hit));
	if (hit) {
		t->kind = GQL_TR_LIST;
		TRY(parse_type_ref(p, &t->of));
		TRY(expect(p, GQL_T_RBRACKET));
	} else {
		t->kind = GQL_TR_NAMED;
		TRY(parse_name(p, &t->name, NULL));
	}
	leave(p);
	TRY(optional(p, GQL_T_BANG, &hit));
	if (hit) {
		struct gql_type_ref *nn = arena_calloc(p->a, sizeof *nn);
		nn->kind = GQL_TR_NON_NULL;
		nn->loc = t->loc;
		nn->of = t;
		t = nn;
	}
	*out = t;
	return 0;
}

static int parse_selection_set(struct parser *p, struct gql_selection **out);

static int parse_selection(struct parser *p, struct gql_selection **out)
{
	struct gql_selection *s = arena_calloc(p->a, sizeof *s);
	s->loc = p->lx.tok.loc;
	*out = s;
	if (peek(p, GQL_T_SPREAD)) {
		TRY(advance(p));
		bool has_on = peek_kw(p, "on");
		if (!has_on && peek(p, GQL_T_NAME)) {
			s->kind = GQL_SEL_SPREAD;
			TRY(parse_name(p, &s->name, &s->name_loc));
			return parse_directives(p, false, &s->directives);
		}
		s->kind = GQL_SEL_INLINE;
		if (has_on) {
			TRY(advance(p));
			s->type_cond_loc = p->lx.tok.loc;
			TRY(parse_name(p, &s->type_cond, NULL));
		}
		TRY(parse_directives(p, false, &s->directives));
		s->has_sel = true;
		s->sel_loc = p->lx.tok.loc;
		return parse_selection_set(p, &s->sel);
	}
	s->kind = GQL_SEL_FIELD;
	const char *n1 = NULL;
	struct gql_loc l1;
	bool hit;
	TRY(parse_name(p, &n1, &l1));
	TRY(optional(p, GQL_T_COLON, &hit));
	if (hit) {
		s->alias = n1;
		TRY(parse_name(p, &s->name, &s->name_loc));
	} else {
		s->name = n1;
		s->name_loc = l1;
	}
	TRY(parse_arguments(p, false, &s->args));
	TRY(parse_directives(p, false, &s->directives));
	if (peek(p, GQL_T_LBRACE)) {
		s->has_sel = true;
		s->sel_loc = p->lx.tok.loc;
		TRY(parse_selection_set(p, &s->sel));
	}
	return 0;
}

static int parse_selection_set(struct parser *p, struct gql_selection **out)
{
	bool hit;
	*out = NULL;
	TRY(enter(p));
	TRY(expect(p, GQL_T_LBRACE));
	struct gql_selection **tail = out;
	do {
		TRY(parse_selection(p, tail));
		tail = &(*tail)->next;
		TRY(optional(p, GQL_T_RBRACE, &hit));
	} while (!hit);
	leave(p);
	return 0;
}

static int parse_operation(struct parser *p, struct gql_definition *d)
{
	d->kind = GQL_DEF_OPERATION;
	if (peek(p, GQL_T_LBRACE)) {
		d->op = GQL_OP_QUERY;
		d->sel_loc = p->lx.tok.loc;
		return parse_selection_set(p, &d->sel);
	}
	if (peek_kw(p, "query"))
		d->op = GQL_OP_QUERY;
	else if (peek_kw(p, "mutation"))
		d->op = GQL_OP_MUTATION;
	else if (peek_kw(p, "subscription"))
		d->op = GQL_OP_SUBSCRIPTION;
	else
		return unexpected(p);
	TRY(advance(p));
	if (peek(p, GQL_T_NAME))
		TRY(parse_name(p, &d->name, &d->name_loc));
	bool hit;
	TRY(optional(p, GQL_T_LPAREN, &hit));
	if (hit) {
		struct gql_var_def **tail = &d->vars;
		do {
			struct gql_var_def *v = arena_calloc(p->a, sizeof *v);
			v->loc = p->lx.tok.loc;
			TRY(expect(p, GQL_T_DOLLAR));
			TRY(parse_name(p, &v->name, &v->name_loc));
			TRY(expect(p, GQL_T_COLON));
			TRY(parse_type_ref(p, &v->type));
			bool eq;
			TRY(optional(p, GQL_T_EQUALS, &eq));
			if (eq)
				TRY(parse_value(p, true, &v->def));
			TRY(parse_directives(p, true, &v->directives));
			*tail = v;
			tail = &v->next;
			TRY(optional(p, GQL_T_RPAREN, &hit));
		} while (!hit);
	}
	TRY(parse_directives(p, false, &d->directives));
	d->sel_loc = p->lx.tok.loc;
	return parse_selection_set(p, &d->sel);
}

static int parse_fragment(struct parser *p, struct gql_definition *d)
{
	d->kind = GQL_DEF_FRAGMENT;
	TRY(expect_kw(p, "fragment"));
	if (peek_kw(p, "on"))
		return unexpected(p);
	TRY(parse_name(p, &d->name, &d->name_loc));
	TRY(expect_kw(p, "on"));
	d->type_cond_loc = p->lx.tok.loc;
	TRY(parse_name(p, &d->type_cond, NULL));
	TRY(parse_directives(p, false, &d->directives));
	d->sel_loc = p->lx.tok.loc;
	return parse_selection_set(p, &d->sel);
}

/* ---- type system ---- */

static bool is_type_system_kw(const struct gql_token *t);

static int parse_description(struct parser *p, const char **out)
{
	*out = NULL;
	if (peek(p, GQL_T_STRING) || peek(p, GQL_T_BLOCK_STRING)) {
		*out = p->lx.tok.value;
		return advance(p);
	}
	return 0;
}

/* name (args)? : Type (= default)? @dirs  -- fields (with_args) or input values */
static int parse_sdl_items(struct parser *p, enum gql_tok open, enum gql_tok close,
    int what, struct gql_sdl_item **out)
{
	/* what: 0 field definitions, 1 input values, 2 enum values */
	bool hit;
	*out = NULL;
	TRY(optional(p, open, &hit));
	if (!hit)
		return 0;
	TRY(enter(p));
	struct gql_sdl_item **tail = out;
	do {
		struct gql_sdl_item *it = arena_calloc(p->a, sizeof *it);
		TRY(parse_description(p, &it->description));
		TRY(parse_name(p, &it->name, &it->loc));
		if (what == 0)
			TRY(parse_sdl_items(p, GQL_T_LPAREN, GQL_T_RPAREN, 1, &it->args));
		if (what != 2) {
			TRY(expect(p, GQL_T_COLON));
			TRY(parse_type_ref(p, &it->type));
		}
		if (what == 1) {
			bool eq;
			TRY(optional(p, GQL_T_EQUALS, &eq));
			if (eq)
				TRY(parse_value(p, true, &it->def));
		}
		TRY(parse_directives(p, true, &it->directives));
		*tail = it;
		tail = &it->next;
		TRY(optional(p, close, &hit));
	} while (!hit);
	leave(p);
	return 0;
}

/* Names separated by sep (with an optional leading sep). */
static int parse_name_list(struct parser *p, enum gql_tok sep, struct gql_definition *d)
{
	const char *buf[256];
	size_t n = 0;
	bool hit;
	TRY(optional(p, sep, &hit));
	do {
		const char *nm = NULL;
		TRY(parse_name(p, &nm, NULL));
		if (n == sizeof buf / sizeof buf[0])
			return p_fail_at(p, p->lx.tok.loc, "Too many names in a list.");
		buf[n++] = nm;
		TRY(optional(p, sep, &hit));
	} while (hit);
	d->members = arena_alloc(p->a, (n ? n : 1) * sizeof *d->members);
	memcpy(d->members, buf, n * sizeof *buf);
	d->nmembers = n;
	return 0;
}

static int parse_type_system(struct parser *p, struct gql_definition *d)
{
	TRY(parse_description(p, &d->description));
	d->loc = p->lx.tok.loc;
	if (peek_kw(p, "extend")) {
		d->extension = true;
		TRY(advance(p));
		if (!is_type_system_kw(&p->lx.tok) || peek_kw(p, "directive"))
			return unexpected(p);
	}
	const char *kw = p->lx.tok.value;
	TRY(advance(p));
	if (strcmp(kw, "schema") == 0) {
		d->kind = GQL_DEF_SCHEMA;
		TRY(parse_directives(p, true, &d->directives));
		if (d->extension && !peek(p, GQL_T_LBRACE))
			return 0;
		TRY(expect(p, GQL_T_LBRACE));
		bool hit;
		do {
			int idx;
			if (peek_kw(p, "query"))
				idx = 0;
			else if (peek_kw(p, "mutation"))
				idx = 1;
			else if (peek_kw(p, "subscription"))
				idx = 2;
			else
				return unexpected(p);
			TRY(advance(p));
			TRY(expect(p, GQL_T_COLON));
			TRY(parse_name(p, &d->root_names[idx], NULL));
			TRY(optional(p, GQL_T_RBRACE, &hit));
		} while (!hit);
		return 0;
	}
	if (strcmp(kw, "directive") == 0) {
		d->kind = GQL_DEF_DIRECTIVE;
		TRY(expect(p, GQL_T_AT));
		TRY(parse_name(p, &d->name, &d->name_loc));
		TRY(parse_sdl_items(p, GQL_T_LPAREN, GQL_T_RPAREN, 1, &d->items));
		if (peek_kw(p, "repeatable")) {
			d->repeatable = true;
			TRY(advance(p));
		}
		TRY(expect_kw(p, "on"));
		return parse_name_list(p, GQL_T_PIPE, d);
	}
	TRY(parse_name(p, &d->name, &d->name_loc));
	if (strcmp(kw, "scalar") == 0) {
		d->kind = GQL_DEF_SCALAR;
		return parse_directives(p, true, &d->directives);
	}
	if (strcmp(kw, "type") == 0 || strcmp(kw, "interface") == 0) {
		d->kind = kw[0] == 't' ? GQL_DEF_OBJECT : GQL_DEF_INTERFACE;
		if (peek_kw(p, "implements")) {
			TRY(advance(p));
			TRY(parse_name_list(p, GQL_T_AMP, d));
		}
		TRY(parse_directives(p, true, &d->directives));
		return parse_sdl_items(p, GQL_T_LBRACE, GQL_T_RBRACE, 0, &d->items);
	}
	if (strcmp(kw, "union") == 0) {
		d->kind = GQL_DEF_UNION;
		TRY(parse_directives(p, true, &d->directives));
		bool eq;
		TRY(optional(p, GQL_T_EQUALS, &eq));
		return eq ? parse_name_list(p, GQL_T_PIPE, d) : 0;
	}
	if (strcmp(kw, "enum") == 0) {
		d->kind = GQL_DEF_ENUM;
		TRY(parse_directives(p, true, &d->directives));
		return parse_sdl_items(p, GQL_T_LBRACE, GQL_T_RBRACE, 2, &d->items);
	}
	/* input */
	d->kind = GQL_DEF_INPUT;
	TRY(parse_directives(p, true, &d->directives));
	return parse_sdl_items(p, GQL_T_LBRACE, GQL_T_RBRACE, 1, &d->items);
}

static bool is_type_system_kw(const struct gql_token *t)
{
	static const char *const kws[] = { "schema", "scalar", "type", "interface",
		"union", "enum", "input", "directive" };
	if (t->kind != GQL_T_NAME)
		return false;
	for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
		if (strcmp(t->value, kws[i]) == 0)
			return true;
	return false;
}

static int parse_definition(struct parser *p, struct gql_definition *d)
{
	d->loc = p->lx.tok.loc;
	if (peek(p, GQL_T_LBRACE))
		return parse_operation(p, d);
	if (peek(p, GQL_T_STRING) || peek(p, GQL_T_BLOCK_STRING)) {
		/* a description: look one token ahead */
		struct gql_lexer save = p->lx;
		struct gql_loc dloc = p->lx.tok.loc;
		const char *desc = p->lx.tok.value;
		TRY(advance(p));
		bool ts = is_type_system_kw(&p->lx.tok);
		/* graphql-js 16.11+ also accepts descriptions on operations and
		 * fragments (spec RFC "executable descriptions") */
		if (peek_kw(p, "query") || peek_kw(p, "mutation") ||
		    peek_kw(p, "subscription")) {
			d->description = desc;
			return parse_operation(p, d);
		}
		if (peek_kw(p, "fragment")) {
			d->description = desc;
			return parse_fragment(p, d);
		}
		p->lx = save;
		if (!ts)
			return p_fail_at(p, dloc, "Unexpected description, descriptions "
			    "are supported only on type definitions.");
		return parse_type_system(p, d);
	}
	if (is_type_system_kw(&p->lx.tok) || peek_kw(p, "extend"))
		return parse_type_system(p, d);
	if (peek_kw(p, "query") || peek_kw(p, "mutation") || peek_kw(p, "subscription"))
		return parse_operation(p, d);
	if (peek_kw(p, "fragment"))
		return parse_fragment(p, d);
	return unexpected(p);
}

int gql_parse(const char *src, size_t len, const struct gql_parse_opts *opts,
    struct arena *a, struct gql_document **out, char *msg, size_t msg_size,
    struct gql_loc *loc)
{
	struct parser p;
	memset(&p, 0, sizeof p);
	gql_lex_init(&p.lx, src, len, a, opts ? opts->max_tokens : 0);
	p.a = a;
	p.max_depth = opts && opts->max_nesting ? opts->max_nesting : DEFAULT_MAX_NESTING;
	struct gql_document *doc = arena_calloc(a, sizeof *doc);
	struct gql_definition **tail = &doc->defs;
	int rc = advance(&p);
	if (rc == 0 && peek(&p, GQL_T_EOF))
		rc = unexpected(&p);
	while (rc == 0 && !peek(&p, GQL_T_EOF)) {
		struct gql_definition *d = arena_calloc(a, sizeof *d);
		rc = parse_definition(&p, d);
		if (rc == 0) {
			*tail = d;
			tail = &d->next;
			doc->ndefs++;
		}
	}
	if (rc != 0) {
		int n = snprintf(msg, msg_size, "%s", p.lx.msg);
		if (n < 0)
			msg[0] = '\0';	/* truncation keeps a useful prefix */
		*loc = p.lx.err_loc;
		*out = NULL;
		return APP_ERR_PARSE;
	}
	doc->ntokens = p.lx.ntokens;
	*out = doc;
	return 0;
}

const char *gql_op_type_name(enum gql_op_type t)
{
	switch (t) {
	case GQL_OP_MUTATION: return "mutation";
	case GQL_OP_SUBSCRIPTION: return "subscription";
	default: return "query";
	}
}
