/* log: one line per event, key=value, to stderr or a log file.
 *
 *   ts=2026-11-29T08:30:00.123Z level=warn comp=cgi pid=42 ev=db_query
 *   tenant=tenant-a req=ab12 ms=31 err="connection refused"
 *
 * Values are quoted and escaped when needed, so input can never forge a line
 * or a key.  Context pairs (tenant, report, request id) are set once with
 * log_ctx_set() and appended to every line of the calling thread until
 * cleared.  A line is one write(), so threads never interleave within a
 * line.  Secrets, tokens and request bodies must never be passed here. */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum { LOG_LINE_MAX = 2048 };

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool truncated;
	bool on;	/* false: level filtered out, calls are no-ops */
};

/* Sets the component name (copied, at most 31 bytes) and the minimum level. */
void log_init(const char *component, enum log_level min);

/* The level of a syslog severity (0 emerg .. 7 debug), for libraries that
 * log that way (librdkafka, libwebsockets). */
enum log_level log_level_from_syslog(int severity);

/* Parses "debug", "info", "warn", "error"; -1 if unknown. */
int log_level_parse(const char *s);

/* Appends to path instead of stderr (path NULL: back to stderr).  Returns 0,
 * or -1 with errno set, keeping the previous destination. */
int log_open(const char *path) __attribute__((warn_unused_result));

/* Reopens the current log file (SIGHUP after rotation).  0 or -1. */
int log_reopen(void) __attribute__((warn_unused_result));

bool log_enabled(enum log_level level);

/* Context carried by every following line.  value NULL removes key.  Keys
 * must be string literals; values are copied (truncated at 127 bytes).
 * At most 8 pairs; more are ignored. */
void log_ctx_set(const char *key, const char *value);
void log_ctx_clear(void);

void log_begin(struct log_line *l, enum log_level level, const char *ev);
void log_str(struct log_line *l, const char *key, const char *value);
void log_strn(struct log_line *l, const char *key, const char *value, size_t n);
void log_int(struct log_line *l, const char *key, long long value);
void log_dbl(struct log_line *l, const char *key, double value);
/* Writes the line (with context pairs) in one write(). */
void log_end(struct log_line *l);

/* Shorthand: string key/value pairs terminated by NULL.
 *   log_kv(LOG_INFO, "started", "socket", path, NULL); */
void log_kv(enum log_level level, const char *ev, ...)
	__attribute__((sentinel));

/* Escapes value for a log line into out[size] (always NUL-terminated,
 * truncated if needed).  Exposed for tests. */
void log_escape(char *out, size_t size, const char *value, size_t n);

#endif
