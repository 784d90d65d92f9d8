/* redisc: Redis connections from a redis:// URL (hiredis).
 *
 *   redis://[:password@]host[:port][/db]
 *
 * The context belongs to the caller and is freed with redisFree(). */
#ifndef REDISC_H
#define REDISC_H

#include <hiredis.h>

#include "err.h"

enum { REDISC_HOST_MAX = 256, REDISC_PASS_MAX = 256 };

struct redisc_url {
	char host[REDISC_HOST_MAX];
	int port;
	int db;
	char password[REDISC_PASS_MAX];
};

/* Parses url into u.  Returns 0 or APP_ERR_BAD_INPUT. */
int redisc_url_parse(const char *url, struct redisc_url *u, struct err *e)
	__attribute__((warn_unused_result));

/* Connects with connect and command timeouts of timeout_ms, authenticates
 * and selects the database.  Returns the context, or NULL with e filled
 * (APP_ERR_UNAVAILABLE). */
redisContext *redisc_open(const char *url, int timeout_ms, struct err *e)
	__attribute__((warn_unused_result));

/* PING.  Returns 0, or APP_ERR_UNAVAILABLE (the context is then broken and
 * must be freed). */
int redisc_ping(redisContext *c, struct err *e) __attribute__((warn_unused_result));

#endif
