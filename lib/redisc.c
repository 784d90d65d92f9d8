#include "redisc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int redisc_url_parse(const char *url, struct redisc_url *u, struct err *e)
{
	static const char scheme[] = "redis://";
	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, scheme, sizeof scheme - 1) != 0)
		return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL must start with redis://", NULL);
	const char *p = url + sizeof scheme - 1;
	const char *at = strchr(p, '@');
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *pw = colon ? colon + 1 : p;
		size_t n = (size_t)(at - pw);
		if (n >= sizeof u->password)
			return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL password too long", NULL);
		memcpy(u->password, pw, n);
		p = at + 1;
	}
	size_t hlen = strcspn(p, ":/");
	if (hlen == 0 || hlen >= sizeof u->host)
		return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL has a bad host", NULL);
	memcpy(u->host, p, hlen);
	p += hlen;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL has a bad port", NULL);
		u->port = (int)port;
		p = end;
	}
	if (*p == '/' && p[1] != '\0') {
		char *end;
		long db = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != '\0' || db < 0 || db > 15)
			return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL has a bad database", NULL);
		u->db = (int)db;
	} else if (*p != '\0' && strcmp(p, "/") != 0) {
		return err_set(e, APP_ERR_BAD_INPUT, "REDIS_URL is malformed", NULL);
	}
	return 0;
}

/* Runs a command expecting a status or string reply; 0 or -1. */
static int simple_cmd(redisContext *c, struct err *e, const char *what,
    int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	if (r == NULL)
		return err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable", "%s: %s",
		    what, c->errstr);
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR)
		rc = err_set(e, APP_ERR_UNAVAILABLE, "redis refused a command", "%s: %s",
		    what, r->str);
	freeReplyObject(r);
	return rc;
}

redisContext *redisc_open(const char *url, int timeout_ms, struct err *e)
{
	struct redisc_url u;
	if (redisc_url_parse(url, &u, e) != 0)
		return NULL;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(u.host, u.port, tv);
	if (c == NULL) {
		err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable", "connect: out of memory");
		return NULL;
	}
	if (c->err) {
		err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable", "connect %s:%d: %s",
		    u.host, u.port, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable", "set timeout failed");
		redisFree(c);
		return NULL;
	}
	if (u.password[0] != '\0') {
		const char *argv[] = { "AUTH", u.password };
		if (simple_cmd(c, e, "AUTH", 2, argv) != 0)
			goto fail;
	}
	if (u.db != 0) {
		char db[8];
		int n = snprintf(db, sizeof db, "%d", u.db);
		if (n < 0 || (size_t)n >= sizeof db)
			goto fail;
		const char *argv[] = { "SELECT", db };
		if (simple_cmd(c, e, "SELECT", 2, argv) != 0)
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

int redisc_ping(redisContext *c, struct err *e)
{
	const char *argv[] = { "PING" };
	return simple_cmd(c, e, "PING", 1, argv);
}
