/* db: libpq helpers and the persistent master-database connection.
 *
 * struct db is one long-lived connection (to the master database) that is
 * opened on first use and, when a statement fails because the connection
 * broke (server restart, pg_terminate_backend), reopened and the statement
 * retried once, but only outside a transaction.
 *
 * The query helpers return a PGresult the caller must PQclear(), or NULL with
 * e filled: a public message, the SQLSTATE and server message in e->detail,
 * and a code: APP_ERR_CONFLICT for unique_violation (23505),
 * APP_ERR_UNAVAILABLE for a connection failure, APP_ERR_INTERNAL otherwise.
 * SQL text is always a constant; values are always bound parameters. */
#ifndef DB_H
#define DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "err.h"

enum {
	DB_APPNAME_MAX = 64,
	DB_PARAMS_MAX = 16,		/* most bound parameters per statement */
};

/* Connection parameters of one PostgreSQL database (all borrowed). */
struct db_target {
	const char *host;
	const char *port;		/* decimal string */
	const char *user;
	const char *password;
	const char *dbname;
};

/* ---- helpers on any PGconn ---- */

/* Opens a connection with PQconnectdbParams (never a concatenated string):
 * connect_timeout from timeout_ms (rounded up to whole seconds, at least 1),
 * application_name app_name, client_encoding UTF8.  Returns the connection,
 * or NULL with e = APP_ERR_UNAVAILABLE, a public message "cannot connect to
 * database server HOST:PORT: <reason>" (a fixed text per failure class) and
 * the libpq message, with the password scrubbed, in e->detail. */
PGconn *db_connect(const struct db_target *t, int timeout_ms,
    const char *app_name, struct err *e) __attribute__((warn_unused_result));

/* The SQLSTATE of a result ("" when there is none). */
const char *db_sqlstate(const PGresult *r);

/* True if the failure of a statement (r may be NULL) is the connection's:
 * PQstatus is CONNECTION_BAD, or SQLSTATE class 08, 57P01, 57P02, 57P03. */
bool db_conn_failed(PGconn *conn, const PGresult *r);

/* True if the connection looks usable before sending a statement: it reads
 * what the server may have sent meanwhile (a FATAL message, EOF), so a
 * backend terminated while idle is noticed without losing a statement. */
bool db_conn_alive(PGconn *conn);

/* Fills e from a failed statement (r may be NULL) and returns the code:
 * 23505 → APP_ERR_CONFLICT with public message conflict_msg (or "already
 * exists"); connection failure → APP_ERR_UNAVAILABLE; else APP_ERR_INTERNAL.
 * what names the statement in the detail. */
int db_fail(PGconn *conn, const PGresult *r, const char *what,
    const char *conflict_msg, struct err *e);

/* Translates an error already in e: if e->detail carries SQLSTATE 23505
 * the code becomes APP_ERR_CONFLICT with public message msg.  Returns the
 * (possibly new) code. */
int db_map_unique_violation(struct err *e, const char *msg);

/* Runs a statement once on conn (no retry): PQexecParams with text
 * parameters and text results.  Returns the result (COMMAND_OK or TUPLES_OK;
 * PQclear it) or NULL with e filled as db_fail() does. */
PGresult *db_exec_on(PGconn *conn, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
	__attribute__((warn_unused_result));

/* ---- the persistent master connection ---- */

struct db;

/* A handle for conninfo (a libpq URL or key=value string, copied); nothing
 * connects until first use.  timeout_ms bounds each connection attempt;
 * app_name (copied, NULL: "reportsvc") is the application_name. */
struct db *db_new(const char *conninfo, int timeout_ms, const char *app_name);

/* Closes the connection and frees; NULL is a no-op. */
void db_free(struct db *db);

/* The connection, opened (or reopened if broken) now.  NULL with e =
 * APP_ERR_UNAVAILABLE if it cannot be.  Owned by db. */
PGconn *db_conn(struct db *db, struct err *e) __attribute__((warn_unused_result));

/* PQexecParams of constant sql with text parameters on the master.  A
 * connection found dead before sending is replaced first; a statement that
 * fails because the connection broke, with no transaction open, is retried
 * once on a fresh connection, so use it for reads and idempotent writes.  what names the statement in logs and details.  See the top of the
 * file for the result and errors. */
PGresult *db_exec(struct db *db, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
	__attribute__((warn_unused_result));

/* As db_exec() but never re-sent after a failure (a stale connection is
 * still replaced before sending): for statements that are not idempotent,
 * whose first attempt may have committed before the connection broke.  A
 * connection failure then means "outcome unknown" (APP_ERR_UNAVAILABLE). */
PGresult *db_exec_once(struct db *db, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
	__attribute__((warn_unused_result));

/* Times a broken connection was replaced. */
unsigned long db_reconnects(const struct db *db);

#endif
