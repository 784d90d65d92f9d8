/* gql_lex: the GraphQL lexer (spec October 2021, section 2).
 *
 * Tokens are produced one at a time; string values are decoded (escapes,
 * block-string indentation removal) into the arena.  Ignored tokens (white
 * space, line terminators, commas, comments, a leading BOM) are skipped.
 * Errors carry the line/column and a graphql-js-like message. */
#ifndef GQL_LEX_H
#define GQL_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

enum gql_tok {
	GQL_T_SOF, GQL_T_EOF, GQL_T_BANG, GQL_T_DOLLAR, GQL_T_AMP, GQL_T_LPAREN,
	GQL_T_RPAREN, GQL_T_SPREAD, GQL_T_COLON, GQL_T_EQUALS, GQL_T_AT,
	GQL_T_LBRACKET, GQL_T_RBRACKET, GQL_T_LBRACE, GQL_T_PIPE, GQL_T_RBRACE,
	GQL_T_NAME, GQL_T_INT, GQL_T_FLOAT, GQL_T_STRING, GQL_T_BLOCK_STRING,
};

struct gql_loc {
	unsigned line, col;	/* 1-based; col counts code points */
};

struct gql_token {
	enum gql_tok kind;
	struct gql_loc loc;
	const char *start;	/* raw text in the source */
	size_t len;
	const char *value;	/* NAME/INT/FLOAT: NUL-terminated copy; strings: decoded */
	size_t value_len;
};

enum { GQL_LEX_MSG_MAX = 200 };

struct gql_lexer {
	const char *src;
	size_t len, pos;
	unsigned line;
	size_t line_start;	/* byte offset of the current line */
	struct arena *arena;
	size_t ntokens, max_tokens;	/* max_tokens 0: unlimited */
	struct gql_token tok;	/* current token */
	/* set on error */
	char msg[GQL_LEX_MSG_MAX];
	struct gql_loc err_loc;
};

/* Prepares lx to read src[0..len); the first gql_lex_next() yields the
 * first token.  Strings are decoded into a. */
void gql_lex_init(struct gql_lexer *lx, const char *src, size_t len,
    struct arena *a, size_t max_tokens);

/* Advances to the next token.  Returns 0, or APP_ERR_PARSE with lx->msg
 * ("Syntax Error: ...") and lx->err_loc set; the token limit also fails with
 * APP_ERR_PARSE. */
int gql_lex_next(struct gql_lexer *lx) __attribute__((warn_unused_result));

/* "Name", "\"{\"", "<EOF>"... as graphql-js names token kinds. */
const char *gql_tok_kind_desc(enum gql_tok k);

/* Block string value per the spec's BlockStringValue(): common indentation
 * and leading/trailing blank lines removed.  raw is the text between the
 * triple quotes with \""" already unescaped.  Result in a. */
char *gql_block_string_value(struct arena *a, const char *raw, size_t n,
    size_t *out_len);

#endif
