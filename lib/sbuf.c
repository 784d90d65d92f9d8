#include "sbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "xalloc.h"

enum { SBUF_MIN_CAP = 64 };

void sbuf_init(struct sbuf *sb, size_t max)
{
	sb->cap = SBUF_MIN_CAP;
	sb->p = xmalloc(sb->cap);
	sb->p[0] = '\0';
	sb->len = 0;
	sb->max = max ? max : SBUF_DEFAULT_MAX;
	sb->failed = false;
}

void sbuf_clear(struct sbuf *sb)
{
	free(sb->p);
	sb->p = NULL;
	sb->len = sb->cap = 0;
}

void sbuf_reset(struct sbuf *sb)
{
	sb->len = 0;
	sb->p[0] = '\0';
	sb->failed = false;
}

/* Makes room for n more bytes plus the NUL; false (and failed set) if that
 * would pass max. */
static bool reserve(struct sbuf *sb, size_t n)
{
	if (sb->failed)
		return false;
	if (n > sb->max - sb->len) {
		sb->failed = true;
		return false;
	}
	size_t need = sb->len + n + 1;
	if (need > sb->cap) {
		size_t cap = sb->cap;
		while (cap < need)
			cap *= 2;
		sb->p = xrealloc(sb->p, cap);
		sb->cap = cap;
	}
	return true;
}

void sbuf_append(struct sbuf *sb, const void *data, size_t n)
{
	if (!reserve(sb, n))
		return;
	memcpy(sb->p + sb->len, data, n);
	sb->len += n;
	sb->p[sb->len] = '\0';
}

void sbuf_puts(struct sbuf *sb, const char *s)
{
	sbuf_append(sb, s, strlen(s));
}

void sbuf_putc(struct sbuf *sb, char c)
{
	sbuf_append(sb, &c, 1);
}

void sbuf_vprintf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		sb->failed = true;
		return;
	}
	if (!reserve(sb, (size_t)n))
		return;
	int m = vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
	if (m != n) {
		sb->p[sb->len] = '\0';
		sb->failed = true;
		return;
	}
	sb->len += (size_t)n;
}

void sbuf_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void sbuf_json_str(struct sbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sbuf_putc(sb, '"');
	size_t i = 0;
	while (i < n && !sb->failed) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t len = utf8_valid_seq(s + i, n - i);
			if (len == 0) {
				sbuf_puts(sb, "\xEF\xBF\xBD");
				i++;
			} else {
				sbuf_append(sb, s + i, len);
				i += len;
			}
			continue;
		}
		switch (c) {
		case '"': sbuf_puts(sb, "\\\""); break;
		case '\\': sbuf_puts(sb, "\\\\"); break;
		case '\b': sbuf_puts(sb, "\\b"); break;
		case '\f': sbuf_puts(sb, "\\f"); break;
		case '\n': sbuf_puts(sb, "\\n"); break;
		case '\r': sbuf_puts(sb, "\\r"); break;
		case '\t': sbuf_puts(sb, "\\t"); break;
		default:
			if (c < 0x20) {
				char esc[6] = { '\\', 'u', '0', '0',
				    hex[c >> 4], hex[c & 15] };
				sbuf_append(sb, esc, sizeof esc);
			} else {
				sbuf_putc(sb, (char)c);
			}
		}
		i++;
	}
	sbuf_putc(sb, '"');
}

char *sbuf_steal(struct sbuf *sb, size_t *len)
{
	if (sb->failed) {
		sbuf_clear(sb);
		return NULL;
	}
	char *p = sb->p;
	if (len != NULL)
		*len = sb->len;
	sb->p = NULL;
	sb->len = sb->cap = 0;
	return p;
}
