/* err: application error codes and the error record of the request path.
 *
 * Functions return 0 or a negative enum app_err.  On the request path a
 * failing call also fills a struct err: a code, a public message that is safe
 * to show a client (GraphQL `errors[].message`), and a detail string for the
 * log only (SQLSTATE, PQerrorMessage, errno).  Only the top of the request
 * loop logs the detail and replies. */
#ifndef ERR_H
#define ERR_H

#include <stddef.h>

enum app_err {
	APP_OK = 0,
	APP_ERR_INTERNAL = -1,		/* INTERNAL_SERVER_ERROR */
	APP_ERR_BAD_INPUT = -2,		/* BAD_USER_INPUT */
	APP_ERR_UNAUTHENTICATED = -3,	/* UNAUTHENTICATED */
	APP_ERR_FORBIDDEN = -4,		/* FORBIDDEN */
	APP_ERR_NOT_FOUND = -5,		/* NOT_FOUND */
	APP_ERR_CONFLICT = -6,		/* CONFLICT */
	APP_ERR_PARSE = -7,		/* GRAPHQL_PARSE_FAILED */
	APP_ERR_VALIDATION = -8,	/* GRAPHQL_VALIDATION_FAILED */
	APP_ERR_UNAVAILABLE = -9,	/* a dependency is down: INTERNAL_SERVER_ERROR */
	APP_ERR_TOO_LARGE = -10,	/* a limit was exceeded: BAD_USER_INPUT */
	APP_ERR_BUSY = -11,		/* no capacity now, retry: SERVICE_UNAVAILABLE */
};

enum { ERR_MSG_MAX = 256, ERR_DETAIL_MAX = 512 };

struct err {
	enum app_err code;
	char msg[ERR_MSG_MAX];		/* public: shown to the client */
	char detail[ERR_DETAIL_MAX];	/* private: logged, never shown */
};

/* The GraphQL `extensions.code` string for an error code. */
const char *app_err_code(enum app_err e);

/* Short lower-case name for logs ("not_found"). */
const char *app_err_name(enum app_err e);

/* Fills e (if not NULL) and returns code, so a caller can write
 * `return err_set(e, APP_ERR_NOT_FOUND, "report not found", NULL);`.
 * detail_fmt may be NULL.  Over-long texts are truncated. */
int err_set(struct err *e, enum app_err code, const char *public_msg,
    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Empties e. */
void err_clear(struct err *e);

#endif
