/* pgbouncer: the service's side of PgBouncer, the pooler between every
 * process and the tenant databases.
 *
 * Connection path.  A process connects to PgBouncer (POOL_HOST:POOL_PORT,
 * a local socket directory or loopback) with the service's own credential
 * (POOL_USER/POOL_PASSWORD, listed in PgBouncer's auth_file and
 * admin_users), asking for the database named like the tenant ID.  PgBouncer
 * (transaction pooling) logs in to the tenant's real server with the
 * tenant's own credentials, which it reads from the databases file below.
 *
 * Registry sync.  pgbouncer_sync() writes every registered tenant as one
 * [databases] line (host, port, dbname, user, password, pool_size) into
 * POOL_DATABASES_FILE (mode 0600, written to a temporary file and renamed),
 * which PgBouncer's configuration %includes, then sends RELOAD on the admin
 * console.  Passwords are opened from their sealed form in the master only
 * to write that file; they never reach a world-readable file or a log.
 *
 * Admin console.  pgbouncer_command() sends KILL/RESUME/RELOAD (lib/poolcap
 * evicts tenants with KILL + RESUME) over one lazily opened connection to
 * the `pgbouncer` admin database, reopened once if it broke. */
#ifndef PGBOUNCER_H
#define PGBOUNCER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "sbuf.h"

struct config;
struct crypto_keys;
struct db;

enum {
	PGBOUNCER_DBNAME_MAX = 64,	/* PgBouncer's limit, NUL included */
};

struct pgbouncer_opts {
	const char *host;		/* POOL_HOST; "" or NULL: no pooler */
	const char *port;		/* POOL_PORT */
	const char *user;		/* POOL_USER */
	const char *password;		/* POOL_PASSWORD */
	const char *databases_file;	/* POOL_DATABASES_FILE */
	int per_tenant;			/* POOL_TENANT_SERVERS: pool_size of a tenant */
	int connect_timeout_ms;		/* DEP_TIMEOUT_MS */
};

struct pgbouncer;

/* Fills o from the configuration (strings borrowed from c). */
void pgbouncer_opts_from_cfg(struct pgbouncer_opts *o, const struct config *c);

/* True if o names a pooler (POOL_HOST set). */
bool pgbouncer_configured(const struct pgbouncer_opts *o);

/* A handle; nothing connects yet.  o's strings are copied. */
struct pgbouncer *pgbouncer_new(const struct pgbouncer_opts *o);

/* Closes the admin connection and frees.  NULL is a no-op. */
void pgbouncer_free(struct pgbouncer *b);

/* The options the handle was made with (strings owned by the handle). */
const struct pgbouncer_opts *pgbouncer_opts(const struct pgbouncer *b);

/* Sends "VERB" or "VERB "db"" on the admin console.  verb is one of KILL,
 * RESUME, RELOAD, RECONNECT; db must be a valid tenant ID or NULL.  Returns 0,
 * APP_ERR_NOT_FOUND (PgBouncer has no such database), or
 * APP_ERR_UNAVAILABLE (console unreachable, or PgBouncer refused; its
 * message is in e->detail). */
int pgbouncer_command(struct pgbouncer *b, const char *verb, const char *db,
    struct err *e) __attribute__((warn_unused_result));

/* Appends one [databases] line for a tenant to sb, values quoted for
 * PgBouncer's connection-string syntax.  Returns 0, or -1 (sb untouched)
 * when a value cannot be written there (a control character, or a name that
 * is not a tenant ID). */
int pgbouncer_db_line(struct sbuf *sb, const char *name, const char *host,
    const char *port, const char *dbname, const char *user,
    const char *password, int pool_size);

/* Rewrites the databases file from the registry in master (passwords opened
 * with keys) and reloads PgBouncer.  A tenant whose row cannot be written is
 * left out and logged.  *count (may be NULL) receives the tenants written.
 * Returns 0, or APP_ERR_UNAVAILABLE (master or console unreachable) /
 * APP_ERR_INTERNAL (the file cannot be written) with e filled. */
int pgbouncer_sync(struct pgbouncer *b, struct db *master,
    const struct crypto_keys *keys, int *count, struct err *e)
	__attribute__((warn_unused_result));

/* Like pgbouncer_sync(), but only when the registry changed since this
 * handle last synced (a count and the newest updated_at are compared: one
 * small query).  Returns 0 (nothing to do, or synced) or as
 * pgbouncer_sync(). */
int pgbouncer_sync_if_changed(struct pgbouncer *b, struct db *master,
    const struct crypto_keys *keys, struct err *e)
	__attribute__((warn_unused_result));

#endif
