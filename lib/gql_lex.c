#include "gql_lex.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "utf8.h"
#include "hex.h"

static const char *const kind_desc[] = {
	[GQL_T_SOF] = "<SOF>", [GQL_T_EOF] = "<EOF>", [GQL_T_BANG] = "\"!\"",
	[GQL_T_DOLLAR] = "\"$\"", [GQL_T_AMP] = "\"&\"", [GQL_T_LPAREN] = "\"(\"",
	[GQL_T_RPAREN] = "\")\"", [GQL_T_SPREAD] = "\"...\"", [GQL_T_COLON] = "\":\"",
	[GQL_T_EQUALS] = "\"=\"", [GQL_T_AT] = "\"@\"", [GQL_T_LBRACKET] = "\"[\"",
	[GQL_T_RBRACKET] = "\"]\"", [GQL_T_LBRACE] = "\"{\"", [GQL_T_PIPE] = "\"|\"",
	[GQL_T_RBRACE] = "\"}\"", [GQL_T_NAME] = "Name", [GQL_T_INT] = "Int",
	[GQL_T_FLOAT] = "Float", [GQL_T_STRING] = "String",
	[GQL_T_BLOCK_STRING] = "BlockString",
};

const char *gql_tok_kind_desc(enum gql_tok k)
{
	if ((size_t)k < sizeof kind_desc / sizeof kind_desc[0] && kind_desc[k])
		return kind_desc[k];
	return "?";
}

void gql_lex_init(struct gql_lexer *lx, const char *src, size_t len,
    struct arena *a, size_t max_tokens)
{
	memset(lx, 0, sizeof *lx);
	lx->src = src;
	lx->len = len;
	lx->line = 1;
	lx->arena = a;
	lx->max_tokens = max_tokens;
	lx->tok.kind = GQL_T_SOF;
	lx->tok.loc.line = 1;
	lx->tok.loc.col = 1;
}

static struct gql_loc loc_at(const struct gql_lexer *lx, size_t pos)
{
	struct gql_loc l = { lx->line, 1 };
	for (size_t i = lx->line_start; i < pos && i < lx->len; i++)
		if (((unsigned char)lx->src[i] & 0xC0) != 0x80)
			l.col++;
	return l;
}

static int lex_fail(struct gql_lexer *lx, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int lex_fail(struct gql_lexer *lx, size_t pos, const char *fmt, ...)
{
	char m[GQL_LEX_MSG_MAX - 16];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (n < 0)
		m[0] = '\0';	/* truncated or failed: keep what we have */
	n = snprintf(lx->msg, sizeof lx->msg, "Syntax Error: %s", m);
	if (n < 0 || (size_t)n >= sizeof lx->msg)
		lx->msg[sizeof lx->msg - 1] = '\0';
	lx->err_loc = loc_at(lx, pos);
	return APP_ERR_PARSE;
}

/* graphql-js printCodePointAt(): "<EOF>", "\"c\"" or U+XXXX. */
static void print_cp(const struct gql_lexer *lx, size_t pos, char *out, size_t size)
{
	int n;
	if (pos >= lx->len) {
		n = snprintf(out, size, "<EOF>");
	} else {
		unsigned char c = (unsigned char)lx->src[pos];
		if (c >= 0x20 && c <= 0x7e) {
			n = c == '"' ? snprintf(out, size, "'\"'") :
			    snprintf(out, size, "\"%c\"", c);
		} else {
			size_t sl = utf8_valid_seq(lx->src + pos, lx->len - pos);
			uint32_t cp = c;
			if (sl == 2)
				cp = ((c & 0x1Fu) << 6) | (lx->src[pos + 1] & 0x3Fu);
			else if (sl == 3)
				cp = ((c & 0x0Fu) << 12) | ((lx->src[pos + 1] & 0x3Fu) << 6) |
				    (lx->src[pos + 2] & 0x3Fu);
			else if (sl == 4)
				cp = ((c & 0x07u) << 18) | ((lx->src[pos + 1] & 0x3Fu) << 12) |
				    ((lx->src[pos + 2] & 0x3Fu) << 6) | (lx->src[pos + 3] & 0x3Fu);
			else if (sl == 0)
				cp = 0xFFFD;
			n = snprintf(out, size, "U+%04X", (unsigned)cp);
		}
	}
	if (n < 0 || (size_t)n >= size)
		out[0] = '\0';
}

static bool is_name_start(int c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_name_cont(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int peekc(const struct gql_lexer *lx, size_t pos)
{
	return pos < lx->len ? (unsigned char)lx->src[pos] : -1;
}

static void newline_at(struct gql_lexer *lx, size_t next_line_start)
{
	lx->line++;
	lx->line_start = next_line_start;
}

static void set_tok(struct gql_lexer *lx, enum gql_tok k, size_t start, size_t end)
{
	lx->tok.kind = k;
	lx->tok.loc = loc_at(lx, start);
	lx->tok.start = lx->src + start;
	lx->tok.len = end - start;
	lx->tok.value = NULL;
	lx->tok.value_len = 0;
	lx->pos = end;
}

static int read_digits(struct gql_lexer *lx, size_t *pos)
{
	if (!is_digit(peekc(lx, *pos))) {
		char cp[32];
		print_cp(lx, *pos, cp, sizeof cp);
		return lex_fail(lx, *pos, "Invalid number, expected digit but got: %s.", cp);
	}
	while (is_digit(peekc(lx, *pos)))
		(*pos)++;
	return 0;
}

static int read_number(struct gql_lexer *lx, size_t start)
{
	size_t pos = start;
	bool is_float = false;
	char cp[32];
	int rc;
	if (peekc(lx, pos) == '-')
		pos++;
	if (peekc(lx, pos) == '0') {
		pos++;
		if (is_digit(peekc(lx, pos))) {
			print_cp(lx, pos, cp, sizeof cp);
			return lex_fail(lx, pos,
			    "Invalid number, unexpected digit after 0: %s.", cp);
		}
	} else if ((rc = read_digits(lx, &pos)) != 0) {
		return rc;
	}
	if (peekc(lx, pos) == '.') {
		is_float = true;
		pos++;
		if ((rc = read_digits(lx, &pos)) != 0)
			return rc;
	}
	if (peekc(lx, pos) == 'e' || peekc(lx, pos) == 'E') {
		is_float = true;
		pos++;
		if (peekc(lx, pos) == '+' || peekc(lx, pos) == '-')
			pos++;
		if ((rc = read_digits(lx, &pos)) != 0)
			return rc;
	}
	if (peekc(lx, pos) == '.' || is_name_start(peekc(lx, pos))) {
		print_cp(lx, pos, cp, sizeof cp);
		return lex_fail(lx, pos, "Invalid number, expected digit but got: %s.", cp);
	}
	set_tok(lx, is_float ? GQL_T_FLOAT : GQL_T_INT, start, pos);
	lx->tok.value = arena_strndup(lx->arena, lx->src + start, pos - start);
	lx->tok.value_len = pos - start;
	return 0;
}

/* \uXXXX at pos (pointing at the backslash); -1 if not 4 hex digits. */
static long read_hex4(const struct gql_lexer *lx, size_t pos)
{
	if (pos + 6 > lx->len || lx->src[pos] != '\\' || lx->src[pos + 1] != 'u')
		return -1;
	long v = 0;
	for (size_t i = 2; i < 6; i++) {
		int h = hex_digit((unsigned char)lx->src[pos + i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static int bad_unicode_escape(struct gql_lexer *lx, size_t pos, size_t want)
{
	size_t n = lx->len - pos < want ? lx->len - pos : want;
	/* up to the first line terminator or quote, as graphql-js slices */
	char buf[24];
	size_t k = 0;
	for (size_t i = 0; i < n && k < sizeof buf - 1; i++) {
		char c = lx->src[pos + i];
		if (c == '\n' || c == '\r')
			break;
		buf[k++] = c;
	}
	buf[k] = '\0';
	return lex_fail(lx, pos, "Invalid Unicode escape sequence: \"%s\".", buf);
}

static int read_string(struct gql_lexer *lx, size_t start)
{
	size_t pos = start + 1;
	/* decoded output is never longer than the raw text up to the end */
	size_t cap = 0;
	for (size_t i = pos; i < lx->len; i++) {
		char ch = lx->src[i];
		if (ch == '"' || ch == '\n' || ch == '\r')
			break;
		if (ch == '\\')
			i++;
		cap = i + 1 - pos;
	}
	if (pos + cap > lx->len)
		cap = lx->len - pos;
	char *out = arena_alloc(lx->arena, cap + 1);
	size_t o = 0;
	for (;;) {
		int c = peekc(lx, pos);
		if (c < 0 || c == '\n' || c == '\r')
			return lex_fail(lx, pos, "Unterminated string.");
		if (c == '"') {
			set_tok(lx, GQL_T_STRING, start, pos + 1);
			out[o] = '\0';
			lx->tok.value = out;
			lx->tok.value_len = o;
			return 0;
		}
		if (c == '\\') {
			int e = peekc(lx, pos + 1);
			char ch = 0;
			switch (e) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/': ch = '/'; break;
			case 'b': ch = '\b'; break;
			case 'f': ch = '\f'; break;
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case 'u': {
				long v;
				size_t used;
				if (peekc(lx, pos + 2) == '{') {
					/* \u{X...}: any Unicode scalar value (spec 2021) */
					v = 0;
					used = 3;
					while (hex_digit(peekc(lx, pos + used)) >= 0 && v <= 0x10FFFF) {
						v = v * 16 + hex_digit(peekc(lx, pos + used));
						used++;
					}
					if (used == 3 || peekc(lx, pos + used) != '}' || v > 0x10FFFF ||
					    (v >= 0xD800 && v <= 0xDFFF))
						return bad_unicode_escape(lx, pos, used + 1);
					used++;
				} else {
					v = read_hex4(lx, pos);
					used = 6;
					if (v < 0)
						return bad_unicode_escape(lx, pos, 6);
					if (v >= 0xD800 && v <= 0xDBFF) {
						long lo = read_hex4(lx, pos + 6);
						if (lo < 0xDC00 || lo > 0xDFFF)
							return bad_unicode_escape(lx, pos, 6);
						v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
						used = 12;
					} else if (v >= 0xDC00 && v <= 0xDFFF) {
						return bad_unicode_escape(lx, pos, 6);
					}
				}
				char enc[4];
				size_t k = utf8_encode((uint32_t)v, enc);
				if (k == 0 || o + k > cap)
					return bad_unicode_escape(lx, pos, used);
				memcpy(out + o, enc, k);
				o += k;
				pos += used;
				continue;
			}
			default: {
				char buf[8];
				size_t k = 0;
				buf[k++] = '\\';
				if (e >= 0x20 && e < 0x7f)
					buf[k++] = (char)e;
				buf[k] = '\0';
				return lex_fail(lx, pos,
				    "Invalid character escape sequence: \"%s\".", buf);
			}
			}
			if (o < cap)
				out[o++] = ch;
			pos += 2;
			continue;
		}
		/* any Unicode scalar value but '"', '\\' and line terminators */
		size_t sl = c < 0x80 ? 1 : utf8_valid_seq(lx->src + pos, lx->len - pos);
		if (sl == 0)
			return lex_fail(lx, pos, "Invalid character within String: U+FFFD.");
		if (o + sl <= cap) {
			memcpy(out + o, lx->src + pos, sl);
			o += sl;
		}
		pos += sl;
	}
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

char *gql_block_string_value(struct arena *a, const char *raw, size_t n,
    size_t *out_len)
{
	/* pass 1: common indent, first/last non-blank line */
	size_t common = SIZE_MAX;
	long first = -1, last = -1, idx = 0;
	size_t i = 0;
	while (i <= n) {
		size_t ls = i, indent = 0;
		while (i < n && raw[i] != '\n' && raw[i] != '\r')
			i++;
		size_t le = i;
		while (ls + indent < le && is_ws(raw[ls + indent]))
			indent++;
		if (ls + indent < le) {
			if (first < 0)
				first = idx;
			last = idx;
			if (idx != 0 && indent < common)
				common = indent;
		}
		if (i < n && raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n')
			i++;
		i++;
		idx++;
	}
	char *out = arena_alloc(a, n + 1);
	size_t o = 0;
	if (first < 0) {
		out[0] = '\0';
		*out_len = 0;
		return out;
	}
	i = 0;
	idx = 0;
	while (i <= n && idx <= last) {
		size_t ls = i;
		while (i < n && raw[i] != '\n' && raw[i] != '\r')
			i++;
		size_t le = i;
		if (idx >= first) {
			if (idx > first)
				out[o++] = '\n';
			size_t s = ls;
			if (idx != 0) {
				size_t k = 0;
				while (k < common && s < le && is_ws(raw[s])) {
					s++;
					k++;
				}
			}
			memcpy(out + o, raw + s, le - s);
			o += le - s;
		}
		if (i < n && raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n')
			i++;
		i++;
		idx++;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int read_block_string(struct gql_lexer *lx, size_t start)
{
	size_t pos = start + 3;
	struct gql_loc sloc = loc_at(lx, start);
	size_t rawcap = 0;
	for (size_t i = pos; i < lx->len; i++) {
		if (lx->src[i] == '"' && i + 2 < lx->len && lx->src[i + 1] == '"' &&
		    lx->src[i + 2] == '"' && lx->src[i - 1] != '\\')
			break;
		rawcap = i + 1 - pos;
	}
	size_t rawsize = rawcap + 8;
	char *raw = arena_alloc(lx->arena, rawsize);
	size_t r = 0;
	for (;;) {
		int c = peekc(lx, pos);
		if (r + 8 > rawsize) {	/* the pre-scan was short: grow */
			char *bigger = arena_alloc(lx->arena, rawsize * 2);
			memcpy(bigger, raw, r);
			raw = bigger;
			rawsize *= 2;
		}
		if (c < 0)
			return lex_fail(lx, pos, "Unterminated string.");
		if (c == '"' && peekc(lx, pos + 1) == '"' && peekc(lx, pos + 2) == '"') {
			size_t vlen;
			char *v = gql_block_string_value(lx->arena, raw, r, &vlen);
			lx->tok.kind = GQL_T_BLOCK_STRING;
			lx->tok.loc = sloc;
			lx->tok.start = lx->src + start;
			lx->tok.len = pos + 3 - start;
			lx->tok.value = v;
			lx->tok.value_len = vlen;
			lx->pos = pos + 3;
			return 0;
		}
		if (c == '\\' && peekc(lx, pos + 1) == '"' && peekc(lx, pos + 2) == '"' &&
		    peekc(lx, pos + 3) == '"') {
			memcpy(raw + r, "\"\"\"", 3);
			r += 3;
			pos += 4;
			continue;
		}
		if (c == '\n' || c == '\r') {
			raw[r++] = (char)c;
			if (c == '\r' && peekc(lx, pos + 1) == '\n') {
				raw[r++] = '\n';
				pos++;
			}
			pos++;
			newline_at(lx, pos);
			continue;
		}
		size_t sl = c < 0x80 ? 1 : utf8_valid_seq(lx->src + pos, lx->len - pos);
		if (sl == 0)
			return lex_fail(lx, pos, "Invalid character within String: U+FFFD.");
		memcpy(raw + r, lx->src + pos, sl);
		r += sl;
		pos += sl;
	}
}

static int lex_token(struct gql_lexer *lx)
{
	size_t pos = lx->pos;
	for (;;) {
		int c = peekc(lx, pos);
		if (c < 0) {
			set_tok(lx, GQL_T_EOF, pos, pos);
			return 0;
		}
		switch (c) {
		case ' ': case '\t': case ',':
			pos++;
			continue;
		case '\n':
			pos++;
			newline_at(lx, pos);
			continue;
		case '\r':
			pos += peekc(lx, pos + 1) == '\n' ? 2 : 1;
			newline_at(lx, pos);
			continue;
		case 0xEF:
			if (peekc(lx, pos + 1) == 0xBB && peekc(lx, pos + 2) == 0xBF) {
				pos += 3;	/* BOM */
				continue;
			}
			break;
		case '#':
			while (pos < lx->len && lx->src[pos] != '\n' && lx->src[pos] != '\r')
				pos++;
			continue;
		case '!': set_tok(lx, GQL_T_BANG, pos, pos + 1); return 0;
		case '$': set_tok(lx, GQL_T_DOLLAR, pos, pos + 1); return 0;
		case '&': set_tok(lx, GQL_T_AMP, pos, pos + 1); return 0;
		case '(': set_tok(lx, GQL_T_LPAREN, pos, pos + 1); return 0;
		case ')': set_tok(lx, GQL_T_RPAREN, pos, pos + 1); return 0;
		case ':': set_tok(lx, GQL_T_COLON, pos, pos + 1); return 0;
		case '=': set_tok(lx, GQL_T_EQUALS, pos, pos + 1); return 0;
		case '@': set_tok(lx, GQL_T_AT, pos, pos + 1); return 0;
		case '[': set_tok(lx, GQL_T_LBRACKET, pos, pos + 1); return 0;
		case ']': set_tok(lx, GQL_T_RBRACKET, pos, pos + 1); return 0;
		case '{': set_tok(lx, GQL_T_LBRACE, pos, pos + 1); return 0;
		case '|': set_tok(lx, GQL_T_PIPE, pos, pos + 1); return 0;
		case '}': set_tok(lx, GQL_T_RBRACE, pos, pos + 1); return 0;
		case '.':
			if (peekc(lx, pos + 1) == '.' && peekc(lx, pos + 2) == '.') {
				set_tok(lx, GQL_T_SPREAD, pos, pos + 3);
				return 0;
			}
			break;
		case '"':
			if (peekc(lx, pos + 1) == '"' && peekc(lx, pos + 2) == '"')
				return read_block_string(lx, pos);
			return read_string(lx, pos);
		default:
			break;
		}
		if (is_digit(c) || c == '-')
			return read_number(lx, pos);
		if (is_name_start(c)) {
			size_t e = pos + 1;
			while (is_name_cont(peekc(lx, e)))
				e++;
			set_tok(lx, GQL_T_NAME, pos, e);
			lx->tok.value = arena_strndup(lx->arena, lx->src + pos, e - pos);
			lx->tok.value_len = e - pos;
			return 0;
		}
		if (c == '\'')
			return lex_fail(lx, pos, "Unexpected single quote character ('), "
			    "did you mean to use a double quote (\")?");
		char cp[32];
		print_cp(lx, pos, cp, sizeof cp);
		if (c >= 0x80 && utf8_valid_seq(lx->src + pos, lx->len - pos) == 0)
			return lex_fail(lx, pos, "Invalid character: %s.", cp);
		return lex_fail(lx, pos, "Unexpected character: %s.", cp);
	}
}

int gql_lex_next(struct gql_lexer *lx)
{
	if (lx->tok.kind == GQL_T_EOF)
		return 0;
	int rc = lex_token(lx);
	if (rc != 0)
		return rc;
	if (lx->tok.kind != GQL_T_EOF) {
		lx->ntokens++;
		if (lx->max_tokens > 0 && lx->ntokens > lx->max_tokens) {
			size_t at = (size_t)(lx->tok.start - lx->src);
			return lex_fail(lx, at, "Document contains more than %zu tokens. "
			    "Parsing aborted.", lx->max_tokens);
		}
	}
	return 0;
}
