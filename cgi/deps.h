/* deps: the long-lived resources of one FastCGI worker process: the master
 * database, the tenant connection cache, Redis, the Kafka producer, and the
 * keys and settings derived from the configuration.
 *
 * Connections are opened lazily and, after a failure, retried with
 * exponential backoff instead of on every request, so a dependency that is
 * down never turns into a crash or a connection storm.  Everything belongs
 * to the struct deps and is released by deps_free(). */
#ifndef CGI_DEPS_H
#define CGI_DEPS_H

#include <hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "kafka.h"
#include "pgbouncer.h"
#include "poolcap.h"
#include "tenant_cache.h"
#include "token.h"
#include "users.h"

struct backoff {
	int64_t retry_at_ms;	/* no attempt before this (monotonic) */
	int delay_ms;		/* next delay after a failure */
};

struct deps {
	struct db *master;
	struct backoff master_bo;
	bool master_migrated;		/* this process ran the master migrations */
	struct crypto_keys *keys;
	struct pgbouncer *pgb;		/* NULL: no pooler (POOL_HOST empty) */
	struct poolcap *cap;		/* the global connection cap, with pgb */
	struct tenant_cache *tenants;
	struct users_ctx users;
	struct token_cfg tokens;
	redisContext *redis;
	struct backoff redis_bo;
	struct kafka_producer *kafka;
	struct backoff kafka_bo;
	int64_t tick_ms;		/* last deps_tick() that did work */
};

/* Sets d up from cfg(); connects nothing yet.  Returns 0, or -1 with a
 * message in errbuf (a bad key in the configuration, or the pool's shared
 * table cannot be mapped). */
int deps_init(struct deps *d, char *errbuf, size_t errlen)
	__attribute__((warn_unused_result));

/* Closes everything (flushing the Kafka producer within a bound). */
void deps_free(struct deps *d);

/* The master database, reachable and migrated.  NULL with e filled
 * (APP_ERR_UNAVAILABLE) while it is down or in backoff, or APP_ERR_INTERNAL
 * if its migrations fail. */
struct db *deps_master(struct deps *d, struct err *e)
	__attribute__((warn_unused_result));

/* The Redis connection; NULL with e filled while down. */
redisContext *deps_redis(struct deps *d, struct err *e)
	__attribute__((warn_unused_result));

/* Forgets a Redis connection found broken, so the next call reconnects. */
void deps_redis_broken(struct deps *d);

/* The Kafka producer; NULL with e filled if it could not be created. */
struct kafka_producer *deps_kafka(struct deps *d, struct err *e)
	__attribute__((warn_unused_result));

/* Housekeeping between requests, at most once a second: closes idle
 * tenant connections, serves the Kafka producer's callbacks. */
void deps_tick(struct deps *d);

#endif
