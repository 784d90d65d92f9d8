/* Parser: positive documents (AST shape) and negative ones with the
 * graphql-js message and location (the table was produced by graphql-js 16
 * parse()). */
#include <string.h>

#include "err.h"
#include "gql_parse.h"
#include "testlib.h"

struct pcase {
	const char *doc;
	const char *msg;
	int line, col;
};

static const struct pcase bad[] = {
	{ "{",
	  "Syntax Error: Expected Name, found <EOF>.", 1, 2 },
	{ "{ me { username }",
	  "Syntax Error: Expected Name, found <EOF>.", 1, 18 },
	{ "{ me(id: ) { x } }",
	  "Syntax Error: Unexpected \")\".", 1, 10 },
	{ "query Q($a Int) { me { username } }",
	  "Syntax Error: Expected \":\", found Name \"Int\".", 1, 12 },
	{ "query Q() { me { username } }",
	  "Syntax Error: Expected \"$\", found \")\".", 1, 9 },
	{ "{ ...on }",
	  "Syntax Error: Expected Name, found \"}\".", 1, 9 },
	{ "fragment on on User { username }",
	  "Syntax Error: Unexpected Name \"on\".", 1, 10 },
	{ "fragment F User { username }",
	  "Syntax Error: Expected \"on\", found Name \"User\".", 1, 12 },
	{ "{ me { username } } }",
	  "Syntax Error: Unexpected \"}\".", 1, 21 },
	{ "{ me { username \"desc\" } }",
	  "Syntax Error: Expected Name, found String \"desc\".", 1, 17 },
	{ "query Q($a: Int = $b) { me { username } }",
	  "Syntax Error: Unexpected variable \"$b\" in constant value.", 1, 19 },
	{ "{ status(id: 01) { reportID } }",
	  "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 15 },
	{ "{ status(id: 1.) { reportID } }",
	  "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 16 },
	{ "{ status(id: 1e) { reportID } }",
	  "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 16 },
	{ "{ status(id: 1a) { reportID } }",
	  "Syntax Error: Invalid number, expected digit but got: \"a\".", 1, 15 },
	{ "{ status(id: -) { reportID } }",
	  "Syntax Error: Invalid number, expected digit but got: \")\".", 1, 15 },
	{ "{ me { usern\\u00e9ame } }",
	  "Syntax Error: Unexpected character: \"\\\".", 1, 13 },
	{ "{ login(a: \"abc) { x } }",
	  "Syntax Error: Unterminated string.", 1, 25 },
	{ "{ login(a: \"a\\qb\") { x } }",
	  "Syntax Error: Invalid character escape sequence: \"\\q\".", 1, 14 },
	{ "{ login(a: \"\\u12G4\") { x } }",
	  "Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".", 1, 13 },
	{ "{ login(a: \"\\uD800\") { x } }",
	  "Syntax Error: Invalid Unicode escape sequence: \"\\uD800\".", 1, 13 },
	{ "{ login(a: \"\\uDC00\\uD800\") { x } }",
	  "Syntax Error: Invalid Unicode escape sequence: \"\\uDC00\".", 1, 13 },
	{ "{ login(a: 'x') { x } }",
	  "Syntax Error: Unexpected single quote character ('), did you mean to use a double quote (\")?", 1, 12 },
	{ "{ login(a: \"\"\"abc) { x } }",
	  "Syntax Error: Unterminated string.", 1, 27 },
	{ "{ me { . } }",
	  "Syntax Error: Unexpected character: \".\".", 1, 8 },
	{ "{ me { .. } }",
	  "Syntax Error: Unexpected character: \".\".", 1, 8 },
	{ "{ me { ? } }",
	  "Syntax Error: Unexpected character: \"?\".", 1, 8 },
	{ "query { me { username } } mutation",
	  "Syntax Error: Expected \"{\", found <EOF>.", 1, 35 },
	{ "subscription S",
	  "Syntax Error: Expected \"{\", found <EOF>.", 1, 15 },
	{ "{ login(a: [1, 2) { x } }",
	  "Syntax Error: Unexpected \")\".", 1, 17 },
	{ "{ login(a: {b: 1 c}) { x } }",
	  "Syntax Error: Expected \":\", found \"}\".", 1, 19 },
	{ "query Q($a: [Int) { me { username } }",
	  "Syntax Error: Expected \"]\", found \")\".", 1, 17 },
	{ "query Q($a: Int!!) { me { username } }",
	  "Syntax Error: Expected \"$\", found \"!\".", 1, 17 },
	{ "{ me @ { username } }",
	  "Syntax Error: Expected Name, found \"{\".", 1, 8 },
	{ "{ me { ...F @ } }",
	  "Syntax Error: Expected Name, found \"}\".", 1, 15 },
	{ "extend fragment F on User { x }",
	  "Syntax Error: Unexpected Name \"fragment\".", 1, 8 },
	{ "", "Syntax Error: Unexpected <EOF>.", 1, 1 },
	{ "# only a comment\n", "Syntax Error: Unexpected <EOF>.", 2, 1 },
};

static void t_negative(void)
{
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gql_document *doc = NULL;
		char msg[256];
		struct gql_loc loc = { 0, 0 };
		int rc = gql_parse(bad[i].doc, strlen(bad[i].doc), NULL, a, &doc, msg, sizeof msg, &loc);
		CHECK_INT_EQ(rc, APP_ERR_PARSE);
		if (rc != APP_ERR_PARSE)
			continue;
		if (strcmp(msg, bad[i].msg) != 0)
			fprintf(stderr, "  case %zu: %s\n", i, bad[i].doc);
		CHECK_STR_EQ(msg, bad[i].msg);
		CHECK_INT_EQ(loc.line, bad[i].line);
		CHECK_INT_EQ(loc.col, bad[i].col);
		arena_reset(a);
	}
	arena_free(a);
}

static const char *const good[] = {
	"{ me { username } }",
	"query { me { username } }",
	"query Q($id: Int! = 3 @dir, $l: [[String!]]) @a @b(x: 1) { a: status(id: $id) { reportID } }",
	"mutation M { createReport { reportID } } subscription S { reportReady }",
	"{ ... { me { username } } ... on Query { me { taxID } } ...F @skip(if: true) }\n"
	"fragment F on Query @x { __typename }",
	"{ f(a: 1, b: -1.5e3, c: \"s\", d: \"\"\"block\"\"\", e: true, f: false, g: null, h: ENUM,"
	" i: [1, [2, 3], []], j: {k: {l: [{}]}}, m: $v) }",
	"\xEF\xBB\xBF{ a }",			/* BOM */
	"{ a,,, b ,c }",			/* commas are ignored */
	"\"desc\" query { me { username } }",	/* graphql-js 16.11+ */
	"type Foo { a: Int }",			/* parses; validation rejects it */
	"extend type Query { x: Int }",
	"{ login(a: \"\\u{1F600}\\u00e9\\uD83D\\uDE00\\u0001\") }",
};

static void t_positive(void)
{
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct gql_document *doc = NULL;
		char msg[256] = "";
		struct gql_loc loc;
		int rc = gql_parse(good[i], strlen(good[i]), NULL, a, &doc, msg, sizeof msg, &loc);
		if (rc != 0)
			fprintf(stderr, "  case %zu: %s at %u:%u\n", i, msg, loc.line, loc.col);
		CHECK_INT_EQ(rc, 0);
		arena_reset(a);
	}
	arena_free(a);
}

static void t_ast(void)
{
	static const char src[] =
	    "query Q($id: Int! = 3, $l: [String]) @a {\n"
	    "  x: status(id: $id) @skip(if: false) { reportID }\n"
	    "  ...F\n"
	    "  ... on Query { me { username } }\n"
	    "}\n"
	    "fragment F on Query { reports(first: 2, after: null) { reportID } }\n";
	struct arena *a = arena_new(0);
	struct gql_document *doc;
	char msg[256];
	struct gql_loc loc;
	CHECK_INT_EQ(gql_parse(src, sizeof src - 1, NULL, a, &doc, msg, sizeof msg, &loc), 0);
	CHECK_INT_EQ(doc->ndefs, 2);
	const struct gql_definition *op = doc->defs;
	CHECK_INT_EQ(op->kind, GQL_DEF_OPERATION);
	CHECK_INT_EQ(op->op, GQL_OP_QUERY);
	CHECK_STR_EQ(op->name, "Q");
	CHECK_STR_EQ(op->vars->name, "id");
	CHECK_INT_EQ(op->vars->type->kind, GQL_TR_NON_NULL);
	CHECK_STR_EQ(op->vars->type->of->name, "Int");
	CHECK_STR_EQ(op->vars->def->s, "3");
	CHECK_INT_EQ(op->vars->next->type->kind, GQL_TR_LIST);
	CHECK_STR_EQ(op->directives->name, "a");
	const struct gql_selection *s = op->sel;
	CHECK_INT_EQ(s->kind, GQL_SEL_FIELD);
	CHECK_STR_EQ(s->alias, "x");
	CHECK_STR_EQ(s->name, "status");
	CHECK_INT_EQ(s->loc.line, 2);
	CHECK_INT_EQ(s->loc.col, 3);
	CHECK_INT_EQ(s->args->value->kind, GQL_V_VARIABLE);
	CHECK_STR_EQ(s->directives->name, "skip");
	CHECK(s->directives->args->value->kind == GQL_V_BOOLEAN && !s->directives->args->value->b);
	CHECK_INT_EQ(s->next->kind, GQL_SEL_SPREAD);
	CHECK_STR_EQ(s->next->name, "F");
	CHECK_INT_EQ(s->next->next->kind, GQL_SEL_INLINE);
	CHECK_STR_EQ(s->next->next->type_cond, "Query");
	const struct gql_definition *fr = op->next;
	CHECK_INT_EQ(fr->kind, GQL_DEF_FRAGMENT);
	CHECK_STR_EQ(fr->type_cond, "Query");
	CHECK_INT_EQ(fr->sel->args->next->value->kind, GQL_V_NULL);
	arena_free(a);
}

static void t_nesting_and_tokens(void)
{
	struct arena *a = arena_new(0);
	struct gql_document *doc;
	char msg[256];
	struct gql_loc loc;
	char src[4096];
	size_t n = 0;
	n += (size_t)snprintf(src, sizeof src, "{ f(a: ");
	for (int i = 0; i < 1000; i++)
		src[n++] = '[';
	struct gql_parse_opts po = { 0, 10 };
	CHECK_INT_EQ(gql_parse(src, n, &po, a, &doc, msg, sizeof msg, &loc), APP_ERR_PARSE);
	CHECK_STR_EQ(msg, "Syntax Error: Document nesting exceeds the maximum depth of 10.");
	po.max_nesting = 0;	/* default 64 */
	CHECK_INT_EQ(gql_parse(src, n, &po, a, &doc, msg, sizeof msg, &loc), APP_ERR_PARSE);
	CHECK_STR_EQ(msg, "Syntax Error: Document nesting exceeds the maximum depth of 64.");
	struct gql_parse_opts pt = { 5, 0 };
	CHECK_INT_EQ(gql_parse("{ a b c d e }", 13, &pt, a, &doc, msg, sizeof msg, &loc),
	    APP_ERR_PARSE);
	CHECK_STR_EQ(msg, "Syntax Error: Document contains more than 5 tokens. Parsing aborted.");
	CHECK_INT_EQ(loc.col, 11);
	pt.max_tokens = 7;
	CHECK_INT_EQ(gql_parse("{ a b c d e }", 13, &pt, a, &doc, msg, sizeof msg, &loc), 0);
	arena_free(a);
}

TEST_MAIN(
	{ "negative", t_negative },
	{ "positive", t_positive },
	{ "ast", t_ast },
	{ "nesting_and_tokens", t_nesting_and_tokens },
)
