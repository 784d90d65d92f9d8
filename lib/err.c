#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	enum app_err code;
	const char *gql;
	const char *name;
} err_names[] = {
	{ APP_OK, "OK", "ok" },
	{ APP_ERR_INTERNAL, "INTERNAL_SERVER_ERROR", "internal" },
	{ APP_ERR_BAD_INPUT, "BAD_USER_INPUT", "bad_input" },
	{ APP_ERR_UNAUTHENTICATED, "UNAUTHENTICATED", "unauthenticated" },
	{ APP_ERR_FORBIDDEN, "FORBIDDEN", "forbidden" },
	{ APP_ERR_NOT_FOUND, "NOT_FOUND", "not_found" },
	{ APP_ERR_CONFLICT, "CONFLICT", "conflict" },
	{ APP_ERR_PARSE, "GRAPHQL_PARSE_FAILED", "parse" },
	{ APP_ERR_VALIDATION, "GRAPHQL_VALIDATION_FAILED", "validation" },
	{ APP_ERR_UNAVAILABLE, "INTERNAL_SERVER_ERROR", "unavailable" },
	{ APP_ERR_TOO_LARGE, "BAD_USER_INPUT", "too_large" },
	{ APP_ERR_BUSY, "SERVICE_UNAVAILABLE", "busy" },
};

const char *app_err_code(enum app_err e)
{
	for (size_t i = 0; i < sizeof err_names / sizeof err_names[0]; i++)
		if (err_names[i].code == e)
			return err_names[i].gql;
	return "INTERNAL_SERVER_ERROR";
}

const char *app_err_name(enum app_err e)
{
	for (size_t i = 0; i < sizeof err_names / sizeof err_names[0]; i++)
		if (err_names[i].code == e)
			return err_names[i].name;
	return "internal";
}

/* Copies src into dst[size], truncating; dst is always NUL-terminated. */
static void copy_trunc(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int err_set(struct err *e, enum app_err code, const char *public_msg,
    const char *detail_fmt, ...)
{
	if (e == NULL)
		return code;
	e->code = code;
	copy_trunc(e->msg, sizeof e->msg, public_msg ? public_msg : "");
	e->detail[0] = '\0';
	if (detail_fmt != NULL) {
		va_list ap;
		va_start(ap, detail_fmt);
		int n = vsnprintf(e->detail, sizeof e->detail, detail_fmt, ap);
		va_end(ap);
		/* Truncation is acceptable for a log detail; a format error
		 * leaves an empty detail. */
		if (n < 0)
			e->detail[0] = '\0';
	}
	return code;
}

void err_clear(struct err *e)
{
	e->code = APP_OK;
	e->msg[0] = '\0';
	e->detail[0] = '\0';
}
