#include "tenant_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "crypto.h"
#include "log.h"
#include "pgbouncer.h"
#include "poolcap.h"
#include "strcopy.h"
#include "xalloc.h"

int64_t tenant_cache_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the cache ---- */

enum slot_state { SLOT_FREE, SLOT_IDLE, SLOT_IN_USE };


/* A slot is the handle: struct tenant_conn is a slot IN_USE. */
struct tenant_conn {
	struct tenant_cache *cache;
	enum slot_state state;
	char tenant_id[TENANT_ID_MAX];
	uint64_t id_hash;		/* of tenant_id: a cheap first comparison */
	struct tenant_target t;
	PGconn *pg;
	uint64_t prepared;		/* bit i: stmts[i] prepared on pg */
	int64_t last_used_ms;
	int64_t last_ok_ms;		/* last statement that succeeded */
	int64_t checked_ms;		/* registry row last compared */
	bool failed;			/* lost inside a transaction */
	bool sent;			/* a tenant_send_prepared() awaits collection */
	bool sent_idle;			/* ... sent outside a transaction */
	/* under the global cap (pooled caches only) */
	bool cap_entered;		/* counted from acquire to release */
	int cap_slot;			/* slot of the cap's table, -1 unknown */
	uint32_t cap_gen;		/* its generation when entered */
	uint32_t conn_gen;		/* ... when pg was opened */
};

struct tenant_cache {
	struct db *master;
	struct tenant_cache_opts o;
	char app_name[DB_APPNAME_MAX];
	struct tenant_conn *slots;
	const struct tenant_stmt *stmts[TENANT_STMTS_MAX];
	int nstmts;
	bool pooled;			/* through PgBouncer */
	struct tenant_cache_stats st;
};

void tenant_cache_opts_from_cfg(struct tenant_cache_opts *o,
    const struct config *c, const struct crypto_keys *keys)
{
	memset(o, 0, sizeof *o);
	o->max_conns = c->tenant_max_conns;
	o->idle_sec = c->tenant_idle_sec;
	o->recheck_sec = c->tenant_recheck_sec;
	o->connect_timeout_ms = c->dep_timeout_ms;
	o->app_name = NULL;
	o->keys = keys;
}

struct tenant_cache *tenant_cache_new(struct db *master,
    const struct tenant_cache_opts *o)
{
	struct tenant_cache *c = xcalloc(1, sizeof *c);
	c->master = master;
	c->o = *o;
	if (c->o.max_conns < 1)
		c->o.max_conns = o->pgb != NULL ? TENANT_CONNS_POOLED : TENANT_CONNS_DIRECT;
	if (!str_copy(c->app_name, sizeof c->app_name,
	    o->app_name ? o->app_name : "reportsvc"))
		str_copy(c->app_name, sizeof c->app_name, "reportsvc");
	c->o.app_name = c->app_name;
	c->pooled = o->pgb != NULL;
	c->slots = xcalloc((size_t)c->o.max_conns, sizeof *c->slots);
	for (int i = 0; i < c->o.max_conns; i++) {
		c->slots[i].cache = c;
		c->slots[i].cap_slot = -1;
	}
	return c;
}

static void log_slot(enum log_level lv, const char *ev, const struct tenant_conn *s,
    const char *why)
{
	struct log_line l;
	log_begin(&l, lv, ev);
	log_str(&l, "tenant", s->tenant_id);
	if (why != NULL)
		log_str(&l, "why", why);
	log_end(&l);
}

/* Ends the handle's use under the global cap, if it is counted. */
static void cap_exit(struct tenant_conn *s)
{
	if (s->cap_entered)
		poolcap_exit(s->cache->o.cap, s->cap_slot, s->cap_gen);
	s->cap_entered = false;
}

/* Closes the slot's connection and forgets everything: the one place a slot
 * becomes FREE. */
static void slot_free(struct tenant_conn *s)
{
	cap_exit(s);
	PQfinish(s->pg);
	struct tenant_cache *c = s->cache;
	crypto_wipe(s, sizeof *s);
	s->cache = c;
	s->state = SLOT_FREE;
	s->cap_slot = -1;
}

void tenant_cache_free(struct tenant_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->o.max_conns; i++)
		if (c->slots[i].state != SLOT_FREE)
			slot_free(&c->slots[i]);
	free(c->slots);
	free(c);
}

/* Loads tenant_id's connection settings (the password only for direct
 * connections: PgBouncer holds it otherwise).  0 or an app_err. */
static int load_target(struct tenant_cache *c, const char *tenant_id,
    struct tenant_target *t, struct err *e)
{
	return tenant_target_load(c->master, tenant_id, c->o.keys, !c->pooled, t, e);
}

static bool unknown_db(const struct err *e)
{
	return strstr(e->detail, "no such database") != NULL;
}

/* Connects to the tenant's database through PgBouncer.  A tenant it does
 * not know yet (created on another host, or the sync was missed) gets one
 * registry sync and a second try.  PgBouncer refuses an unknown database
 * at login, where libpq gives no SQLSTATE: its message is all there is. */
static PGconn *connect_pooled(struct tenant_cache *c, const char *tenant_id,
    struct err *e)
{
	const struct pgbouncer_opts *po = pgbouncer_opts(c->o.pgb);
	struct db_target dt = { po->host, po->port, po->user, po->password,
	    tenant_id };
	PGconn *pg = db_connect(&dt, c->o.connect_timeout_ms, c->app_name, e);
	if (pg != NULL || e == NULL || !unknown_db(e))
		return pg;
	/* Only when the registry changed since this process last synced:
	 * a tenant that cannot be written to PgBouncer's file (a password
	 * sealed under an unknown key) must not cost a full sync per try. */
	struct err e2;
	if (pgbouncer_sync_if_changed(c->o.pgb, c->master, c->o.keys, &e2) != 0) {
		log_kv(LOG_WARN, "pool_sync_failed", "tenant", tenant_id, "err",
		    e2.detail, NULL);
		return NULL;
	}
	pg = db_connect(&dt, c->o.connect_timeout_ms, c->app_name, e);
	if (pg == NULL && unknown_db(e))
		err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
		    "tenant %s: not in the registry (PgBouncer: no such database)",
		    tenant_id);
	return pg;
}

static PGconn *connect_target(struct tenant_cache *c, const char *tenant_id,
    const struct tenant_target *t, struct err *e)
{
	struct db_target dt = { t->host, t->port, t->user, t->password, t->dbname };
	PGconn *pg = c->pooled ? connect_pooled(c, tenant_id, e) :
	    db_connect(&dt, c->o.connect_timeout_ms, c->app_name, e);
	if (pg == NULL && e != NULL && e->code != APP_ERR_NOT_FOUND) {
		/* Users of a tenant are not told where its database lives. */
		char detail[ERR_DETAIL_MAX];
		memcpy(detail, e->detail, sizeof detail);
		err_set(e, APP_ERR_UNAVAILABLE, "tenant database unavailable",
		    "tenant %s: %s", tenant_id, detail);
	}
	return pg;
}

/* (Re)opens the slot's connection.  If that fails, re-reads the registry row
 * once: if the tenant's settings changed, tries those.  0 or an app_err. */
static int slot_connect(struct tenant_conn *s, struct err *e)
{
	struct tenant_cache *c = s->cache;
	PQfinish(s->pg);
	s->pg = NULL;
	s->prepared = 0;
	s->conn_gen = s->cap_gen;
	s->pg = connect_target(c, s->tenant_id, &s->t, e);
	if (s->pg != NULL || c->pooled)
		return s->pg ? 0 : (e ? (int)e->code : APP_ERR_UNAVAILABLE);
	struct err e2;
	struct tenant_target nt;
	memset(&nt, 0, sizeof nt);
	if (load_target(c, s->tenant_id, &nt, &e2) != 0) {
		if (e2.code == APP_ERR_NOT_FOUND && e != NULL)
			*e = e2;
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	}
	s->checked_ms = tenant_cache_now_ms();
	if (strcmp(nt.updated_at, s->t.updated_at) == 0) {
		crypto_wipe(&nt, sizeof nt);
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	}
	c->st.changed++;
	log_slot(LOG_INFO, "tenant_changed", s, "connect failed");
	s->t = nt;
	crypto_wipe(&nt, sizeof nt);
	s->pg = connect_target(c, s->tenant_id, &s->t, e);
	return s->pg ? 0 : (e ? (int)e->code : APP_ERR_UNAVAILABLE);
}

/* Compares the cached updated_at with the registry's when recheck_sec has
 * passed.  0 (unchanged or not due), 1 changed, or a negative app_err
 * (NOT_FOUND: the tenant was deleted). */
static int slot_recheck(struct tenant_conn *s, int64_t now, struct err *e)
{
	struct tenant_cache *c = s->cache;
	if (now - s->checked_ms < (int64_t)c->o.recheck_sec * 1000)
		return 0;
	char updated_at[TENANT_UPDATED_AT_MAX];
	int rc = tenant_updated_at(c->master, s->tenant_id, updated_at,
	    sizeof updated_at, e);
	if (rc == 0)
		rc = strcmp(updated_at, s->t.updated_at) != 0;
	s->checked_ms = now;
	return rc;
}

/* The slot to use for a new connection: a FREE one, else the least recently
 * used IDLE one (evicted).  NULL if every slot is IN_USE. */
static struct tenant_conn *slot_for_new(struct tenant_cache *c)
{
	struct tenant_conn *lru = NULL;
	for (int i = 0; i < c->o.max_conns; i++) {
		struct tenant_conn *s = &c->slots[i];
		if (s->state == SLOT_FREE)
			return s;
		if (s->state == SLOT_IDLE && (lru == NULL ||
		    s->last_used_ms < lru->last_used_ms))
			lru = s;
	}
	if (lru != NULL) {
		c->st.evictions++;
		log_slot(LOG_DEBUG, "tenant_conn_evicted", lru, NULL);
		slot_free(lru);
	}
	return lru;
}

/* The most recently used IDLE connection of tenant_id, or NULL. */
static struct tenant_conn *find_idle(struct tenant_cache *c, const char *tenant_id)
{
	struct tenant_conn *hit = NULL;
	uint64_t h = tenant_id_hash(tenant_id);
	for (int i = 0; i < c->o.max_conns; i++) {
		struct tenant_conn *s = &c->slots[i];
		if (s->state == SLOT_IDLE && s->id_hash == h &&
		    strcmp(s->tenant_id, tenant_id) == 0 &&
		    (hit == NULL || s->last_used_ms > hit->last_used_ms))
			hit = s;
	}
	return hit;
}

/* A hit (hit not NULL, its registry row still current) or a new
 * connection, IN_USE; NULL with e filled.  gen: the cap generation the
 * connection is made under. */
static struct tenant_conn *take(struct tenant_cache *c, const char *tenant_id,
    struct tenant_conn *hit, uint32_t gen, struct err *e)
{
	int64_t now = tenant_cache_now_ms();
	if (hit != NULL) {
		/* Through PgBouncer the settings live there, kept current by
		 * the registry sync: nothing to recheck. */
		int ch = c->pooled ? 0 : slot_recheck(hit, now, e);
		if (ch < 0 && ch != APP_ERR_NOT_FOUND) {
			/* Master unreachable: the cached settings still serve. */
			log_slot(LOG_WARN, "tenant_recheck_failed", hit,
			    e ? e->detail : NULL);
			ch = 0;
		}
		if (ch != 0) {
			if (ch > 0) {
				c->st.changed++;
				log_slot(LOG_INFO, "tenant_changed", hit, "recheck");
			}
			slot_free(hit);
			if (ch < 0)
				return NULL;
		} else {
			c->st.hits++;
			hit->state = SLOT_IN_USE;
			hit->last_used_ms = now;
			hit->failed = false;
			return hit;
		}
	}

	c->st.misses++;
	struct tenant_target t;
	memset(&t, 0, sizeof t);
	/* Through PgBouncer a miss is one cheap login there; PgBouncer
	 * itself says when a tenant does not exist. */
	if (!c->pooled && load_target(c, tenant_id, &t, e) != 0)
		return NULL;
	struct tenant_conn *s = slot_for_new(c);
	if (s == NULL) {
		crypto_wipe(&t, sizeof t);
		err_set(e, APP_ERR_UNAVAILABLE, "too many tenant connections in use",
		    "all %d tenant slots in use", c->o.max_conns);
		return NULL;
	}
	str_copy(s->tenant_id, sizeof s->tenant_id, tenant_id);
	s->id_hash = tenant_id_hash(tenant_id);
	s->t = t;
	crypto_wipe(&t, sizeof t);
	s->pg = connect_target(c, tenant_id, &s->t, e);
	if (s->pg == NULL) {
		log_slot(LOG_WARN, "tenant_connect_failed", s, e ? e->detail : NULL);
		slot_free(s);
		return NULL;
	}
	s->conn_gen = gen;
	s->prepared = 0;
	s->checked_ms = now;
	s->last_used_ms = now;
	s->failed = false;
	s->state = SLOT_IN_USE;
	return s;
}

struct tenant_conn *tenant_acquire(struct tenant_cache *c, const char *tenant_id,
    struct err *e)
{
	if (tenant_id == NULL || !tenant_id_valid(tenant_id)) {
		err_set(e, APP_ERR_NOT_FOUND, "tenant not found", "invalid tenant id");
		return NULL;
	}
	struct tenant_conn *hit = find_idle(c, tenant_id);
	int cap_slot = -1;
	uint32_t gen = 0;
	/* Counted under the global cap before anything may open a server
	 * connection, until release. */
	if (c->o.cap != NULL && poolcap_enter(c->o.cap, tenant_id,
	    hit ? hit->cap_slot : -1, &cap_slot, &gen, e) != 0)
		return NULL;
	struct tenant_conn *h = take(c, tenant_id, hit, gen, e);
	if (h == NULL) {
		if (c->o.cap != NULL)
			poolcap_exit(c->o.cap, cap_slot, gen);
		return NULL;
	}
	if (c->o.cap == NULL)
		return h;
	h->cap_entered = true;
	h->cap_slot = cap_slot;
	h->cap_gen = gen;
	if (h->conn_gen != gen) {
		/* The tenant was evicted since this connection was made:
		 * PgBouncer closed it (KILL).  Open a new one. */
		c->st.reconnects++;
		if (slot_connect(h, e) != 0) {
			log_slot(LOG_WARN, "tenant_connect_failed", h,
			    e ? e->detail : NULL);
			slot_free(h);
			return NULL;
		}
	}
	return h;
}

void tenant_release(struct tenant_conn *h)
{
	if (h == NULL || h->state != SLOT_IN_USE)
		return;
	if (h->failed || h->pg == NULL || PQstatus(h->pg) != CONNECTION_OK ||
	    PQtransactionStatus(h->pg) != PQTRANS_IDLE) {
		log_slot(LOG_INFO, "tenant_conn_dropped", h, h->failed ?
		    "failed in transaction" : "not idle or broken");
		slot_free(h);
		return;
	}
	cap_exit(h);
	h->state = SLOT_IDLE;
	h->last_used_ms = tenant_cache_now_ms();
}

PGconn *tenant_pg(struct tenant_conn *h)
{
	return h->pg;
}

const char *tenant_conn_tenant(const struct tenant_conn *h)
{
	return h->tenant_id;
}

/* Index of st in the cache's registry, registering it on first use; -1 if
 * the registry is full or another statement has the same name. */
static int stmt_index(struct tenant_cache *c, const struct tenant_stmt *st)
{
	for (int i = 0; i < c->nstmts; i++) {
		if (c->stmts[i] == st)
			return i;
		if (strcmp(c->stmts[i]->name, st->name) == 0)
			return strcmp(c->stmts[i]->sql, st->sql) == 0 &&
			    c->stmts[i]->nparams == st->nparams ? i : -1;
	}
	if (c->nstmts == TENANT_STMTS_MAX)
		return -1;
	c->stmts[c->nstmts] = st;
	return c->nstmts++;
}

/* A connection that answered this recently is taken as alive without a
 * look at its socket, for statements that are retried anyway if it died. */
enum { ALIVE_TRUST_MS = 1000 };

/* Makes sure the handle has a live connection before sending.  A connection
 * that died while idle is replaced; one that died inside a transaction
 * fails the handle.  retryable: the statement may be sent again, so a
 * connection used within ALIVE_TRUST_MS is not probed (a syscall saved on
 * every statement of a busy connection).  0 or an app_err. */
static int ensure_live(struct tenant_conn *h, bool retryable, struct err *e)
{
	if (h->failed)
		return err_set(e, APP_ERR_UNAVAILABLE, "database unavailable",
		    "tenant %s: connection lost inside a transaction", h->tenant_id);
	PGTransactionStatusType ts = h->pg ? PQtransactionStatus(h->pg) :
	    PQTRANS_IDLE;
	if (h->pg != NULL && retryable && ts == PQTRANS_IDLE &&
	    PQstatus(h->pg) == CONNECTION_OK &&
	    tenant_cache_now_ms() - h->last_ok_ms < ALIVE_TRUST_MS)
		return 0;
	if (h->pg != NULL && db_conn_alive(h->pg))
		return 0;
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
		h->failed = true;
		return err_set(e, APP_ERR_UNAVAILABLE, "database unavailable",
		    "tenant %s: connection lost inside a transaction", h->tenant_id);
	}
	h->cache->st.reconnects++;
	log_slot(LOG_WARN, "tenant_reconnect", h, "connection found broken");
	return slot_connect(h, e);
}

/* Prepares st (registry index idx) on h's connection unless it is already:
 * NULL, or the failed result of PQprepare. */
static PGresult *prepare_once(struct tenant_conn *h, const struct tenant_stmt *st,
    int idx)
{
	if (idx < 0 || h->cache->pooled || (h->prepared & (UINT64_C(1) << idx)))
		return NULL;
	PGresult *r = PQprepare(h->pg, st->name, st->sql, st->nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return r;
	h->prepared |= UINT64_C(1) << idx;
	PQclear(r);
	return NULL;
}

/* The result r of a statement sent while the connection was idle (or in a
 * transaction): returned when it succeeded; else e is filled, r cleared,
 * and *again tells that the connection was lost outside a transaction and
 * has been replaced, so the statement may be sent once more. */
static PGresult *outcome(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *what, PGresult *r, bool idle, int attempt, bool *again,
    struct err *e)
{
	*again = false;
	ExecStatusType rs = PQresultStatus(r);
	if (r != NULL && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)) {
		h->last_ok_ms = tenant_cache_now_ms();
		return r;
	}
	bool conn_err = db_conn_failed(h->pg, r);
	db_fail(h->pg, r, what, NULL, e);
	PQclear(r);
	if (!conn_err)
		return NULL;
	if (!idle) {
		h->failed = true;
		return NULL;
	}
	if (attempt > 0 || (st != NULL && st->no_retry))
		return NULL;
	/* Lost outside a transaction: retry once on a new connection. */
	h->cache->st.reconnects++;
	log_slot(LOG_WARN, "tenant_reconnect", h, "statement failed");
	if (slot_connect(h, e) != 0)
		return NULL;
	*again = true;
	return NULL;
}

/* Checks h and st; the registry index of st (-1 for plain sql) or -2 with
 * e filled. */
static int check_run(struct tenant_conn *h, const struct tenant_stmt *st,
    int nparams, struct err *e)
{
	const char *what = st ? st->name : "tenant statement";
	if (h == NULL || h->state != SLOT_IN_USE) {
		err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant exec on a handle not in use");
		return -2;
	}
	int idx = -1;
	if (st != NULL) {
		idx = stmt_index(h->cache, st);
		if (idx < 0) {
			err_set(e, APP_ERR_INTERNAL, "internal error",
			    "statement %s: registry full or name reused", st->name);
			return -2;
		}
		nparams = st->nparams;
	}
	if (nparams > DB_PARAMS_MAX * 4) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "%s: too many params",
		    what);
		return -2;
	}
	return idx;
}

/* Runs a statement synchronously from attempt `attempt` on (0: it may be
 * retried once on a fresh connection; 1: it already was). */
static PGresult *run_from(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *sql, int nparams, const char *const *values, const int *lengths,
    const int *formats, int result_format, int attempt, struct err *e)
{
	const char *what = st ? st->name : "tenant statement";
	int idx = check_run(h, st, nparams, e);
	if (idx == -2)
		return NULL;
	if (st != NULL)
		nparams = st->nparams;
	for (;; attempt++) {
		bool retryable = attempt == 0 && !(st != NULL && st->no_retry);
		if (ensure_live(h, retryable, e) != 0)
			return NULL;
		bool idle = PQtransactionStatus(h->pg) == PQTRANS_IDLE;
		PGresult *r = prepare_once(h, st, idx);
		if (r == NULL)
			r = idx >= 0 && !h->cache->pooled ?
			    PQexecPrepared(h->pg, st->name, nparams, values, lengths,
			    formats, result_format) :
			    PQexecParams(h->pg, st ? st->sql : sql, nparams, NULL,
			    values, lengths, formats, result_format);
		bool again;
		r = outcome(h, st, what, r, idle, attempt, &again, e);
		if (r != NULL || !again)
			return r;
	}
}

static PGresult *run(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *sql, int nparams, const char *const *values, const int *lengths,
    const int *formats, int result_format, struct err *e)
{
	return run_from(h, st, sql, nparams, values, lengths, formats, result_format,
	    0, e);
}

void tenant_send_prepared(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values)
{
	if (h == NULL)
		return;
	h->sent = false;
	struct err e;
	err_clear(&e);
	/* Anything that stops the send leaves it to tenant_collect(), which
	 * then runs the statement synchronously and reports what failed. */
	int idx = check_run(h, st, 0, &e);
	if (idx < 0 || ensure_live(h, !st->no_retry, &e) != 0)
		return;
	PGresult *r = prepare_once(h, st, idx);
	if (r != NULL) {
		PQclear(r);
		return;
	}
	h->sent_idle = PQtransactionStatus(h->pg) == PQTRANS_IDLE;
	h->sent = (h->cache->pooled ?
	    PQsendQueryParams(h->pg, st->sql, st->nparams, NULL, values, NULL,
	    NULL, 0) :
	    PQsendQueryPrepared(h->pg, st->name, st->nparams, values, NULL,
	    NULL, 0)) == 1;
}

PGresult *tenant_collect(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values, struct err *e)
{
	if (h == NULL || !h->sent)
		return run(h, st, NULL, 0, values, NULL, NULL, 0, e);
	h->sent = false;
	PGresult *r = NULL, *x;
	while ((x = PQgetResult(h->pg)) != NULL) {
		if (r == NULL)
			r = x;
		else
			PQclear(x);
	}
	bool again;
	r = outcome(h, st, st->name, r, h->sent_idle, 0, &again, e);
	if (r != NULL || !again)
		return r;
	return run_from(h, st, NULL, 0, values, NULL, NULL, 0, 1, e);
}

PGresult *tenant_exec(struct tenant_conn *h, const char *sql, int nparams,
    const char *const *values, struct err *e)
{
	return run(h, NULL, sql, nparams, values, NULL, NULL, 0, e);
}

PGresult *tenant_exec_prepared(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values, struct err *e)
{
	return run(h, st, NULL, 0, values, NULL, NULL, 0, e);
}

PGresult *tenant_exec_prepared_bin(struct tenant_conn *h,
    const struct tenant_stmt *st, const char *const *values, const int *lengths,
    const int *formats, int result_format, struct err *e)
{
	return run(h, st, NULL, 0, values, lengths, formats, result_format, e);
}

int tenant_cache_janitor(struct tenant_cache *c, int64_t now_ms)
{
	int closed = 0;
	if (now_ms == 0)
		now_ms = tenant_cache_now_ms();
	for (int i = 0; i < c->o.max_conns; i++) {
		struct tenant_conn *s = &c->slots[i];
		if (s->state == SLOT_IDLE &&
		    now_ms - s->last_used_ms >= (int64_t)c->o.idle_sec * 1000) {
			/* Idle past the limit: give the tenant's server its
			 * connection back, as pgbouncer's janitor does. */
			log_slot(LOG_DEBUG, "tenant_conn_idle_closed", s, NULL);
			slot_free(s);
			c->st.idle_closed++;
			closed++;
		}
	}
	return closed;
}

int tenant_cache_wave(const struct tenant_cache *c)
{
	if (c->o.cap == NULL)
		return c->o.max_conns;
	int w = poolcap_cap(c->o.cap) / 4;
	w = w < 1 ? 1 : w;
	return w < c->o.max_conns ? w : c->o.max_conns;
}

void tenant_cache_stats(const struct tenant_cache *c, struct tenant_cache_stats *out)
{
	*out = c->st;
	out->open = 0;
	out->in_use = 0;
	for (int i = 0; i < c->o.max_conns; i++) {
		if (c->slots[i].pg != NULL)
			out->open++;
		if (c->slots[i].state == SLOT_IN_USE)
			out->in_use++;
	}
}
