/* tenant_cache: the per-process tenant connection cache (modelled on
 * pgbouncer).
 *
 * A process keeps at most max_conns open connections to tenant databases.
 * Each slot is in exactly one state: FREE (no connection), IDLE (open, in
 * the cache) or IN_USE (handed out by tenant_acquire(), owned by the caller
 * until tenant_release()).  When every slot is taken, the least recently
 * used IDLE connection is closed (eviction).  tenant_cache_janitor(), called
 * by the main loop, closes connections idle for longer than idle_sec.
 *
 * Two ways to a tenant's database.  Directly: a miss loads the tenant's
 * registry row (lib/tenant.h) and connects to its server; a cached tenant's
 * row is re-read at most every recheck_sec (and after a failed reconnect);
 * if its updated_at changed, the connection is replaced, so new settings
 * apply.  Through PgBouncer (opts pgb and cap): see tenant_cache_opts.
 *
 * Broken connections.  Before a statement is sent, whatever the server sent
 * meanwhile is read: a backend that was terminated, or a server that
 * restarted, is noticed and the connection replaced at once.  A statement
 * that still fails with a connection-level error (CONNECTION_BAD, SQLSTATE
 * 08xxx, 57P01-57P03) outside a transaction is retried once on a fresh
 * connection, unless its tenant_stmt says no_retry.  Inside a transaction
 * nothing is retried: the handle then fails every statement until released.
 *
 * Prepared statements.  A struct tenant_stmt is a constant (usually a static
 * const in the caller's module).  The cache registers it on first use (up to
 * TENANT_STMTS_MAX per cache; names must be unique), prepares it lazily once
 * per connection and remembers which statements each connection holds in a
 * bitmask (direct connections only: through PgBouncer every statement is
 * sent unprepared). */
#ifndef TENANT_CACHE_H
#define TENANT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "err.h"
#include "tenant.h"

struct config;
struct crypto_keys;
struct pgbouncer;
struct poolcap;

enum {
	TENANT_STMTS_MAX = 64,		/* one bit each in a uint64_t */
	TENANT_CONNS_POOLED = 1024,	/* max_conns 0 through PgBouncer */
	TENANT_CONNS_DIRECT = 16,	/* max_conns 0 without */
};

struct tenant_cache;
struct tenant_conn;	/* a handle: one IN_USE connection */

struct tenant_stmt {
	const char *name;	/* server-side statement name, unique */
	const char *sql;	/* constant text with $1..$n */
	int nparams;
	bool no_retry;		/* not idempotent: never re-sent after a
				 * connection failure (outcome unknown) */
};

struct tenant_cache_opts {
	int max_conns;			/* TENANT_MAX_CONNS; 0: TENANT_CONNS_* */
	int idle_sec;			/* TENANT_IDLE_SEC */
	int recheck_sec;		/* TENANT_RECHECK_SEC */
	int connect_timeout_ms;		/* DEP_TIMEOUT_MS */
	const char *app_name;		/* application_name; NULL: "reportsvc" */
	const struct crypto_keys *keys;	/* opens db_password_enc (borrowed) */
	/* Through PgBouncer (both borrowed, both NULL: connect directly to
	 * each tenant's server).  With a pooler, a connection goes to the
	 * database named like the tenant ID with the service's own
	 * credential, statements are sent unprepared (transaction pooling
	 * keeps no server-side state between transactions), every handle is
	 * counted under the global cap (lib/poolcap) from acquire to release,
	 * and a tenant PgBouncer does not know yet triggers a registry sync
	 * if the registry changed since this process last synced. */
	struct pgbouncer *pgb;
	struct poolcap *cap;
};

struct tenant_cache_stats {
	unsigned long hits;		/* acquire served by an idle connection */
	unsigned long misses;		/* acquire that had to connect */
	unsigned long evictions;	/* idle connections closed to make room */
	unsigned long idle_closed;	/* closed by the janitor */
	unsigned long reconnects;	/* broken connections replaced */
	unsigned long changed;		/* dropped because the row changed */
	int open;			/* connections open now */
	int in_use;			/* of which handed out */
};

/* Fills o from the configuration; keys is borrowed. */
void tenant_cache_opts_from_cfg(struct tenant_cache_opts *o,
    const struct config *c, const struct crypto_keys *keys);

/* A cache reading the registry through master (borrowed; it must outlive
 * the cache).  Nothing connects yet. */
struct tenant_cache *tenant_cache_new(struct db *master,
    const struct tenant_cache_opts *o);

/* Closes every connection and frees; handles still out become invalid.
 * NULL is a no-op. */
void tenant_cache_free(struct tenant_cache *c);

/* A connection to tenant_id's database, IN_USE until tenant_release().
 * Returns NULL with e filled: APP_ERR_NOT_FOUND "tenant not found",
 * APP_ERR_UNAVAILABLE (master or tenant database unreachable, or every slot
 * in use), APP_ERR_BUSY (the global cap had no room within POOL_WAIT_MS),
 * APP_ERR_INTERNAL (password cannot be decrypted). */
struct tenant_conn *tenant_acquire(struct tenant_cache *c, const char *tenant_id,
    struct err *e) __attribute__((warn_unused_result));

/* Gives the handle back.  A connection that is broken, inside a transaction,
 * or whose handle failed is closed instead of kept.  NULL is a no-op. */
void tenant_release(struct tenant_conn *h);

/* The handle's libpq connection, for code that needs libpq directly (COPY,
 * large objects).  Prefer the exec helpers, which retry and account. */
PGconn *tenant_pg(struct tenant_conn *h);

/* The tenant ID of a handle. */
const char *tenant_conn_tenant(const struct tenant_conn *h);

/* PQexecParams of constant sql with text parameters and results, retried
 * once as described above.  Returns the result (COMMAND_OK or TUPLES_OK;
 * PQclear it) or NULL with e filled as db_fail() does (APP_ERR_CONFLICT for
 * 23505, APP_ERR_UNAVAILABLE for a lost connection, else APP_ERR_INTERNAL). */
PGresult *tenant_exec(struct tenant_conn *h, const char *sql, int nparams,
    const char *const *values, struct err *e) __attribute__((warn_unused_result));

/* Prepares st on this connection if it is not yet, then PQexecPrepared with
 * text parameters and results.  Same results and errors as tenant_exec(). */
PGresult *tenant_exec_prepared(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values, struct err *e) __attribute__((warn_unused_result));

/* The same with binary parameters (lengths/formats as in PQexecPrepared, may
 * be NULL) and result_format 0 (text) or 1 (binary). */
PGresult *tenant_exec_prepared_bin(struct tenant_conn *h,
    const struct tenant_stmt *st, const char *const *values, const int *lengths,
    const int *formats, int result_format, struct err *e)
	__attribute__((warn_unused_result));

/* Sends st with text parameters without waiting for its result (preparing
 * it first on this connection if it is not yet: one round trip, once).
 * Sending on several handles before collecting lets their servers work at
 * the same time.  Every send must be followed by tenant_collect() on the
 * same handle, with the same st and values (still valid), before anything
 * else runs on it.  If the statement cannot be sent, nothing is reported
 * here: tenant_collect() then runs it synchronously. */
void tenant_send_prepared(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values);

/* Waits for the result of the statement tenant_send_prepared() sent.
 * Same results and errors as tenant_exec_prepared(), including the one
 * retry on a fresh connection (synchronous) when the connection was lost
 * outside a transaction and st is not no_retry. */
PGresult *tenant_collect(struct tenant_conn *h, const struct tenant_stmt *st,
    const char *const *values, struct err *e) __attribute__((warn_unused_result));

/* Milliseconds of the monotonic clock the cache uses. */
int64_t tenant_cache_now_ms(void);

/* Closes IDLE connections unused since before now_ms - idle_sec (now_ms 0:
 * now).  Returns how many were closed.  Call it from the main loop about
 * once a second or when idle. */
int tenant_cache_janitor(struct tenant_cache *c, int64_t now_ms);

/* How many handles one caller should hold at once (the worker's waves):
 * max_conns, and under a global cap at most a quarter of it, so that no
 * process can take the whole cap and then wait on itself. */
int tenant_cache_wave(const struct tenant_cache *c);

/* A snapshot of the counters (for metrics). */
void tenant_cache_stats(const struct tenant_cache *c, struct tenant_cache_stats *out);

#endif
