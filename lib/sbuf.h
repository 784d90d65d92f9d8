/* sbuf: a bounded, growable string buffer.
 *
 * The buffer is always NUL-terminated.  Writes past `max` bytes (or a failed
 * format) set the sticky `failed` flag and are dropped, so a builder checks
 * once at the end instead of after every append (like pgbouncer's pktbuf).
 * Memory comes from malloc and belongs to the sbuf until sbuf_clear() or
 * sbuf_steal(). */
#ifndef SBUF_H
#define SBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *p;	/* NUL-terminated contents, never NULL after init */
	size_t len;	/* bytes before the NUL */
	size_t cap;	/* allocated bytes */
	size_t max;	/* hard limit on len */
	bool failed;	/* sticky: some write was dropped */
};

enum { SBUF_DEFAULT_MAX = 16 * 1024 * 1024 };

/* Empty buffer holding at most max bytes (0: SBUF_DEFAULT_MAX). */
void sbuf_init(struct sbuf *sb, size_t max);

/* Frees the memory; the sbuf must be initialised again before reuse. */
void sbuf_clear(struct sbuf *sb);

/* Empties the buffer and the failed flag, keeping the memory. */
void sbuf_reset(struct sbuf *sb);

void sbuf_append(struct sbuf *sb, const void *data, size_t n);
void sbuf_puts(struct sbuf *sb, const char *s);
void sbuf_putc(struct sbuf *sb, char c);
void sbuf_printf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_vprintf(struct sbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Appends s[0..n) as a quoted JSON string, escaping per RFC 8259.  Invalid
 * UTF-8 bytes are replaced by U+FFFD so the output is always valid JSON. */
void sbuf_json_str(struct sbuf *sb, const char *s, size_t n);

/* Gives the caller the malloc'd contents (free() it) and empties the sbuf.
 * Returns NULL, keeping nothing, if the buffer failed. */
char *sbuf_steal(struct sbuf *sb, size_t *len);

#endif
