#include "deps.h"

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "migrate.h"
#include "redisc.h"

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000 };

int deps_init(struct deps *d, char *errbuf, size_t errlen)
{
	const struct config *c = cfg();
	memset(d, 0, sizeof *d);
	d->keys = crypto_keys_from_cfg(c, errbuf, errlen);
	if (d->keys == NULL)
		return -1;
	d->master = db_new(c->master_db_url, c->dep_timeout_ms, "reportsvc-cgi");
	struct err e;
	if (poolcap_from_cfg(c, &d->pgb, &d->cap, &e) != 0) {
		snprintf(errbuf, errlen, "%s", e.detail);
		return -1;
	}
	struct tenant_cache_opts o;
	tenant_cache_opts_from_cfg(&o, c, d->keys);
	o.pgb = d->pgb;
	o.cap = d->cap;
	d->tenants = tenant_cache_new(d->master, &o);
	users_ctx_init(&d->users, c, d->master, d->tenants);
	token_cfg_from(&d->tokens, c);
	return 0;
}

void deps_free(struct deps *d)
{
	tenant_cache_free(d->tenants);
	poolcap_close(d->cap);
	pgbouncer_free(d->pgb);
	db_free(d->master);
	crypto_keys_free(d->keys);
	if (d->redis != NULL)
		redisFree(d->redis);
	kafka_producer_free(d->kafka);
	memset(d, 0, sizeof *d);
}

/* True if an attempt may be made now. */
static bool backoff_ready(const struct backoff *b)
{
	return clock_mono_ms() >= b->retry_at_ms;
}

static void backoff_fail(struct backoff *b)
{
	if (b->delay_ms < BACKOFF_MIN_MS)
		b->delay_ms = BACKOFF_MIN_MS;
	b->retry_at_ms = clock_mono_ms() + b->delay_ms;
	b->delay_ms *= 2;
	if (b->delay_ms > BACKOFF_MAX_MS)
		b->delay_ms = BACKOFF_MAX_MS;
}

/* Records a success; logs the recovery if there had been failures. */
static void backoff_ok(struct backoff *b, const char *up_event)
{
	if (b->delay_ms != 0)
		log_kv(LOG_INFO, up_event, NULL);
	b->retry_at_ms = 0;
	b->delay_ms = 0;
}

/* Records a failure; logs only the first of a series. */
static void backoff_failed(struct backoff *b, const char *down_event,
    const struct err *e)
{
	if (b->delay_ms == 0)
		log_kv(LOG_WARN, down_event, "err", e->detail, NULL);
	backoff_fail(b);
}

struct db *deps_master(struct deps *d, struct err *e)
{
	if (!backoff_ready(&d->master_bo)) {
		err_set(e, APP_ERR_UNAVAILABLE, "master database unavailable",
		    "in backoff after a failed connect");
		return NULL;
	}
	PGconn *conn = db_conn(d->master, e);
	if (conn == NULL) {
		backoff_failed(&d->master_bo, "master_db_down", e);
		return NULL;
	}
	backoff_ok(&d->master_bo, "master_db_up");
	if (!d->master_migrated) {
		/* Every process checks once; the advisory lock makes the first
		 * one apply and the others find nothing to do. */
		int applied = 0;
		if (migrate_run(conn, cfg()->sql_dir, MIGRATE_MASTER, &applied, e) != 0) {
			log_kv(LOG_ERROR, "master_migrate_failed", "err", e->msg,
			    "detail", e->detail, NULL);
			return NULL;
		}
		if (applied > 0) {
			struct log_line l;
			log_begin(&l, LOG_INFO, "master_migrated");
			log_int(&l, "applied", applied);
			log_end(&l);
		}
		d->master_migrated = true;
	}
	return d->master;
}

redisContext *deps_redis(struct deps *d, struct err *e)
{
	if (d->redis != NULL && d->redis->err == 0)
		return d->redis;
	deps_redis_broken(d);
	if (!backoff_ready(&d->redis_bo)) {
		err_set(e, APP_ERR_UNAVAILABLE, "redis unavailable",
		    "in backoff after a failed connect");
		return NULL;
	}
	d->redis = redisc_open(cfg()->redis_url, cfg()->dep_timeout_ms, e);
	if (d->redis == NULL) {
		backoff_failed(&d->redis_bo, "redis_down", e);
		return NULL;
	}
	backoff_ok(&d->redis_bo, "redis_up");
	return d->redis;
}

void deps_redis_broken(struct deps *d)
{
	if (d->redis != NULL) {
		redisFree(d->redis);
		d->redis = NULL;
	}
}

struct kafka_producer *deps_kafka(struct deps *d, struct err *e)
{
	if (d->kafka != NULL)
		return d->kafka;
	if (!backoff_ready(&d->kafka_bo)) {
		err_set(e, APP_ERR_UNAVAILABLE, "kafka unavailable",
		    "in backoff after a failed producer start");
		return NULL;
	}
	/* One request at a time per process: nothing to batch with, so no
	 * linger (5 ms of linger would be 5 ms on every createReport). */
	struct kafka_producer_opts o = { .linger_ms = -1 };
	d->kafka = kafka_producer_new_opts(cfg()->kafka_brokers, &o, e);
	if (d->kafka == NULL) {
		backoff_failed(&d->kafka_bo, "kafka_producer_failed", e);
		return NULL;
	}
	backoff_ok(&d->kafka_bo, "kafka_producer_up");
	return d->kafka;
}

enum { TICK_MS = 1000 };

void deps_tick(struct deps *d)
{
	int64_t now = clock_mono_ms();
	if (now - d->tick_ms < TICK_MS)
		return;
	d->tick_ms = now;
	tenant_cache_janitor(d->tenants, 0);
	if (d->kafka != NULL)
		kafka_producer_poll(d->kafka, 0);
}
