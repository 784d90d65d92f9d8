#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

enum { CTX_MAX = 8, CTX_VAL_MAX = 128, PATH_MAX_LEN = 4096 };

static struct {
	char comp[32];
	enum log_level min;
	int fd;
	char path[PATH_MAX_LEN];
} L = { .comp = "app", .min = LOG_INFO, .fd = STDERR_FILENO };

/* The context is the calling thread's: a helper thread's lines never carry
 * the job the main thread is working on. */
static _Thread_local struct {
	struct { const char *key; char val[CTX_VAL_MAX]; } ctx[CTX_MAX];
	int nctx;
} T;

static const char *level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *component, enum log_level min)
{
	size_t n = strlen(component);
	if (n >= sizeof L.comp)
		n = sizeof L.comp - 1;
	memcpy(L.comp, component, n);
	L.comp[n] = '\0';
	L.min = min;
}

enum log_level log_level_from_syslog(int severity)
{
	if (severity <= 3)
		return LOG_ERROR;
	if (severity == 4)
		return LOG_WARN;
	if (severity <= 6)
		return LOG_INFO;
	return LOG_DEBUG;
}

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static int open_append(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *path)
{
	if (path == NULL) {
		if (L.fd != STDERR_FILENO)
			close(L.fd);
		L.fd = STDERR_FILENO;
		L.path[0] = '\0';
		return 0;
	}
	size_t n = strlen(path);
	if (n >= sizeof L.path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open_append(path);
	if (fd < 0)
		return -1;
	if (L.fd != STDERR_FILENO)
		close(L.fd);
	L.fd = fd;
	memcpy(L.path, path, n + 1);
	return 0;
}

int log_reopen(void)
{
	if (L.path[0] == '\0')
		return 0;
	int fd = open_append(L.path);
	if (fd < 0)
		return -1;
	if (L.fd == STDERR_FILENO) {
		L.fd = fd;
		return 0;
	}
	/* Swapped in place: a line another thread writes meanwhile goes to
	 * the old file or the new one, never to a closed descriptor. */
	int rc = dup2(fd, L.fd) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

bool log_enabled(enum log_level level)
{
	return level >= L.min;
}

void log_ctx_set(const char *key, const char *value)
{
	for (int i = 0; i < T.nctx; i++) {
		if (strcmp(T.ctx[i].key, key) != 0)
			continue;
		if (value == NULL) {
			T.ctx[i] = T.ctx[--T.nctx];
			return;
		}
		log_escape(T.ctx[i].val, sizeof T.ctx[i].val, value, strlen(value));
		return;
	}
	if (value == NULL || T.nctx == CTX_MAX)
		return;
	T.ctx[T.nctx].key = key;
	log_escape(T.ctx[T.nctx].val, sizeof T.ctx[T.nctx].val, value, strlen(value));
	T.nctx++;
}

void log_ctx_clear(void)
{
	T.nctx = 0;
}

static bool plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("-_.:/@+,%", c) != NULL;
}

void log_escape(char *out, size_t size, const char *value, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	bool plain = n > 0;
	for (size_t i = 0; i < n && plain; i++)
		plain = plain_char((unsigned char)value[i]);
	size_t o = 0;
	if (size == 0)
		return;
#define PUT(ch) do { if (o + 1 < size) out[o++] = (ch); } while (0)
	if (plain) {
		for (size_t i = 0; i < n; i++)
			PUT(value[i]);
		out[o] = '\0';
		return;
	}
	PUT('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		/* Keep room for the closing quote. */
		if (o + 5 >= size)
			break;
		if (c >= 0x80) {
			size_t len = utf8_valid_seq(value + i, n - i);
			if (len > 0) {
				for (size_t k = 0; k < len; k++)
					PUT(value[i + k]);
				i += len - 1;
				continue;
			}
		}
		switch (c) {
		case '"': PUT('\\'); PUT('"'); break;
		case '\\': PUT('\\'); PUT('\\'); break;
		case '\n': PUT('\\'); PUT('n'); break;
		case '\r': PUT('\\'); PUT('r'); break;
		case '\t': PUT('\\'); PUT('t'); break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				PUT('\\'); PUT('x'); PUT(hex[c >> 4]); PUT(hex[c & 15]);
			} else {
				PUT((char)c);
			}
		}
	}
	if (o + 1 < size)
		out[o++] = '"';
	else
		out[o - 1] = '"';
	out[o] = '\0';
#undef PUT
}

static void put(struct log_line *l, const char *s, size_t n)
{
	if (n > sizeof l->buf - 2 - l->len) {	/* keep room for '\n' */
		n = sizeof l->buf - 2 - l->len;
		l->truncated = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_pair_raw(struct log_line *l, const char *key, const char *val)
{
	put(l, " ", 1);
	put(l, key, strlen(key));
	put(l, "=", 1);
	put(l, val, strlen(val));
}

void log_begin(struct log_line *l, enum log_level level, const char *ev)
{
	l->len = 0;
	l->truncated = false;
	l->on = log_enabled(level);
	if (!l->on)
		return;
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	char ts[192];
	int n = snprintf(ts, sizeof ts,
	    "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s comp=%s pid=%ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
	    level_names[level], L.comp, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof ts)
		n = 0;
	put(l, ts, (size_t)n);
	log_str(l, "ev", ev);
}

void log_strn(struct log_line *l, const char *key, const char *value, size_t n)
{
	if (!l->on)
		return;
	char esc[LOG_LINE_MAX];
	log_escape(esc, sizeof esc, value ? value : "", value ? n : 0);
	put_pair_raw(l, key, esc);
}

void log_str(struct log_line *l, const char *key, const char *value)
{
	log_strn(l, key, value, value ? strlen(value) : 0);
}

void log_int(struct log_line *l, const char *key, long long value)
{
	if (!l->on)
		return;
	char num[32];
	int n = snprintf(num, sizeof num, "%lld", value);
	if (n < 0 || (size_t)n >= sizeof num)
		return;
	put_pair_raw(l, key, num);
}

void log_dbl(struct log_line *l, const char *key, double value)
{
	if (!l->on)
		return;
	char num[48];
	int n = snprintf(num, sizeof num, "%.3f", value);
	if (n < 0 || (size_t)n >= sizeof num)
		return;
	put_pair_raw(l, key, num);
}

void log_end(struct log_line *l)
{
	if (!l->on)
		return;
	for (int i = 0; i < T.nctx; i++)
		put_pair_raw(l, T.ctx[i].key, T.ctx[i].val);
	if (l->truncated) {
		l->len = sizeof l->buf - 2 - strlen(" truncated=1");
		put(l, " truncated=1", strlen(" truncated=1"));
	}
	l->buf[l->len++] = '\n';
	/* One write per line keeps lines whole with O_APPEND.  A failing log
	 * write has nowhere to be reported, so it is dropped. */
	ssize_t w = write(L.fd, l->buf, l->len);
	(void)w;
}

void log_kv(enum log_level level, const char *ev, ...)
{
	struct log_line l;
	log_begin(&l, level, ev);
	if (!l.on)
		return;
	va_list ap;
	va_start(ap, ev);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (key == NULL)
			break;
		const char *val = va_arg(ap, const char *);
		log_str(&l, key, val);
	}
	va_end(ap);
	log_end(&l);
}
