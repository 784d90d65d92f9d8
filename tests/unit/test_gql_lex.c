/* Lexer: token kinds, positions, string escapes, block strings. */
#include <string.h>

#include "err.h"
#include "gql_lex.h"
#include "testlib.h"

static void t_tokens(void)
{
	static const char src[] = "\xEF\xBB\xBF{ ! $ & ( ) ... : = @ [ ] | } , # comment\n"
	    "name _x9 0 -12 1.5 -0.5e10 2E+3 \"s\" \"\"\"b\"\"\"";
	static const enum gql_tok want[] = {
		GQL_T_LBRACE, GQL_T_BANG, GQL_T_DOLLAR, GQL_T_AMP, GQL_T_LPAREN, GQL_T_RPAREN,
		GQL_T_SPREAD, GQL_T_COLON, GQL_T_EQUALS, GQL_T_AT, GQL_T_LBRACKET,
		GQL_T_RBRACKET, GQL_T_PIPE, GQL_T_RBRACE, GQL_T_NAME, GQL_T_NAME, GQL_T_INT,
		GQL_T_INT, GQL_T_FLOAT, GQL_T_FLOAT, GQL_T_FLOAT, GQL_T_STRING,
		GQL_T_BLOCK_STRING, GQL_T_EOF,
	};
	struct arena *a = arena_new(0);
	struct gql_lexer lx;
	gql_lex_init(&lx, src, sizeof src - 1, a, 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		CHECK_INT_EQ(gql_lex_next(&lx), 0);
		CHECK_INT_EQ(lx.tok.kind, want[i]);
		if (i == 14) {
			CHECK_STR_EQ(lx.tok.value, "name");
			CHECK_INT_EQ(lx.tok.loc.line, 2);
			CHECK_INT_EQ(lx.tok.loc.col, 1);
		}
		if (i == 17)
			CHECK_STR_EQ(lx.tok.value, "-12");
	}
	CHECK_INT_EQ(lx.ntokens, 23);
	arena_free(a);
}

struct scase {
	const char *src;
	const char *value;	/* decoded */
	size_t len;
};

static const struct scase strings[] = {
	{ "\"plain\"", "plain", 5 },
	{ "\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\"", "q\"b\\s/\b\f\n\r\t", 11 },
	{ "\"\\u00e9\\u00C9\"", "\xC3\xA9\xC3\x89", 4 },
	{ "\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", 4 },		/* surrogate pair */
	{ "\"\\u{1F600}\\u{41}\"", "\xF0\x9F\x98\x80" "A", 5 },	/* braced (spec 2021) */
	{ "\"\\u0000x\"", "\0x", 2 },
	{ "\"h\xC3\xA9\"", "h\xC3\xA9", 3 },
	{ "\"\"\"\n    hello\n      world\n    \"\"\"", "hello\n  world", 13 },
	{ "\"\"\"  first\n  second\n\n   \"\"\"", "  first\nsecond", 14 },
	{ "\"\"\"a \\\"\"\" b\"\"\"", "a \"\"\" b", 7 },
	{ "\"\"\"\r\n\t x\r\n\t y\r\n\"\"\"", "x\ny", 3 },
	{ "\"\"\"\"\"\"", "", 0 },
	{ "\"\"\"   \n   \n\"\"\"", "", 0 },
};

static void t_strings(void)
{
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
		struct gql_lexer lx;
		gql_lex_init(&lx, strings[i].src, strlen(strings[i].src), a, 0);
		int rc = gql_lex_next(&lx);
		if (rc != 0)
			fprintf(stderr, "  case %zu: %s\n", i, lx.msg);
		CHECK_INT_EQ(rc, 0);
		CHECK_INT_EQ(lx.tok.value_len, strings[i].len);
		CHECK_MEM_EQ(lx.tok.value, strings[i].value, strings[i].len);
		CHECK_INT_EQ(gql_lex_next(&lx), 0);
		CHECK_INT_EQ(lx.tok.kind, GQL_T_EOF);
	}
	arena_free(a);
}

struct ecase {
	const char *src;
	const char *msg;
	unsigned line, col;
};

static const struct ecase errors[] = {
	{ "\"abc", "Syntax Error: Unterminated string.", 1, 5 },
	{ "\"a\nb\"", "Syntax Error: Unterminated string.", 1, 3 },
	{ "\"\\x\"", "Syntax Error: Invalid character escape sequence: \"\\x\".", 1, 2 },
	{ "\"\\u12G4\"", "Syntax Error: Invalid Unicode escape sequence: \"\\u12G4\".", 1, 2 },
	{ "\"\\uDC00\"", "Syntax Error: Invalid Unicode escape sequence: \"\\uDC00\".", 1, 2 },
	{ "\"\\u{110000}\"", "Syntax Error: Invalid Unicode escape sequence: \"\\u{110000}\".", 1, 2 },
	{ "\"\"\"abc", "Syntax Error: Unterminated string.", 1, 7 },
	{ "01", "Syntax Error: Invalid number, unexpected digit after 0: \"1\".", 1, 2 },
	{ "1.", "Syntax Error: Invalid number, expected digit but got: <EOF>.", 1, 3 },
	{ "1.5x", "Syntax Error: Invalid number, expected digit but got: \"x\".", 1, 4 },
	{ "?", "Syntax Error: Unexpected character: \"?\".", 1, 1 },
	{ "\x01", "Syntax Error: Unexpected character: U+0001.", 1, 1 },
	{ "'a'", "Syntax Error: Unexpected single quote character ('), did you mean to use a "
	  "double quote (\")?", 1, 1 },
	{ "\n\n  ..", "Syntax Error: Unexpected character: \".\".", 3, 3 },
	{ "\"\xFF\"", "Syntax Error: Invalid character within String: U+FFFD.", 1, 2 },
};

static void t_errors(void)
{
	struct arena *a = arena_new(0);
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
		struct gql_lexer lx;
		gql_lex_init(&lx, errors[i].src, strlen(errors[i].src), a, 0);
		CHECK_INT_EQ(gql_lex_next(&lx), APP_ERR_PARSE);
		CHECK_STR_EQ(lx.msg, errors[i].msg);
		CHECK_INT_EQ(lx.err_loc.line, errors[i].line);
		CHECK_INT_EQ(lx.err_loc.col, errors[i].col);
	}
	arena_free(a);
}

TEST_MAIN(
	{ "tokens", t_tokens },
	{ "strings", t_strings },
	{ "errors", t_errors },
)
