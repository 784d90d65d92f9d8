#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

enum { DETAIL_MSG_MAX = 400, TIMEOUT_STR_MAX = 16 };

static const char default_app_name[] = "reportsvc";

/* ---- helpers ---- */

const char *db_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool db_conn_failed(PGconn *conn, const PGresult *r)
{
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return true;
	const char *st = db_sqlstate(r);
	return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
	    strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

bool db_conn_alive(PGconn *conn)
{
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return false;
	/* libpq sockets are non-blocking: this reads only what is there.  An
	 * EOF or a FATAL message from a terminated backend marks it bad. */
	if (PQconsumeInput(conn) == 0)
		return false;
	PGnotify *n;
	while ((n = PQnotifies(conn)) != NULL)
		PQfreemem(n);
	return PQstatus(conn) == CONNECTION_OK;
}

/* Copies a libpq/server message into out[size] on one line, with every
 * occurrence of secret (if any) replaced by "***". */
static void scrub(char *out, size_t size, const char *msg, const char *secret)
{
	size_t o = 0, slen = secret ? strlen(secret) : 0;
	for (const char *p = msg; *p != '\0' && o + 1 < size;) {
		if (slen > 0 && strncmp(p, secret, slen) == 0) {
			for (const char *m = "***"; *m != '\0' && o + 1 < size; m++)
				out[o++] = *m;
			p += slen;
			continue;
		}
		unsigned char c = (unsigned char)*p++;
		out[o++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : (char)c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* A fixed public text for a connection failure, chosen from libpq's message.
 * Never echoes the message itself. */
static const char *connect_reason(const char *msg)
{
	static const struct { const char *needle, *reason; } reasons[] = {
		{ "password authentication failed", "password authentication failed" },
		{ "no password supplied", "password authentication failed" },
		{ "no pg_hba.conf entry", "connection not allowed by the server" },
		{ "database \"", "database does not exist" },
		{ "role \"", "role does not exist" },
		{ "Connection refused", "connection refused" },
		{ "timeout expired", "connection timed out" },
		{ "could not translate host name", "unknown host" },
		{ "Name or service not known", "unknown host" },
		{ "too many", "too many connections" },
		{ "starting up", "server is not accepting connections" },
		{ "shutting down", "server is not accepting connections" },
		{ "No route to host", "no route to host" },
		{ "Network is unreachable", "network unreachable" },
		{ "SSL", "TLS negotiation failed" },
	};
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strstr(msg, reasons[i].needle) != NULL)
			return reasons[i].reason;
	return "connection failed";
}

/* Server notices (NOTICE, WARNING, and the FATAL text of a terminated
 * backend) go to the log as one debug line instead of libpq's stderr. */
static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	char line[DETAIL_MSG_MAX];
	scrub(line, sizeof line, message, NULL);
	log_kv(LOG_DEBUG, "pg_notice", "msg", line, NULL);
}

static void timeout_str(char buf[TIMEOUT_STR_MAX], int timeout_ms)
{
	int sec = timeout_ms <= 0 ? 1 : (timeout_ms + 999) / 1000;
	/* libpq treats 1 as 2 seconds; the bound is what matters. */
	int n = snprintf(buf, TIMEOUT_STR_MAX, "%d", sec);
	if (n < 0 || n >= TIMEOUT_STR_MAX)
		memcpy(buf, "10", 3);
}

PGconn *db_connect(const struct db_target *t, int timeout_ms,
    const char *app_name, struct err *e)
{
	char to[TIMEOUT_STR_MAX];
	timeout_str(to, timeout_ms);
	const char *keys[] = { "host", "port", "user", "password", "dbname",
	    "connect_timeout", "application_name", "client_encoding", NULL };
	const char *vals[] = { t->host, t->port, t->user, t->password, t->dbname,
	    to, app_name ? app_name : default_app_name, "UTF8", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 0);
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, notice_to_log, NULL);
		return c;
	}
	char detail[DETAIL_MSG_MAX], pub[ERR_MSG_MAX];
	const char *raw = c ? PQerrorMessage(c) : "out of memory";
	scrub(detail, sizeof detail, raw, t->password);
	int n = snprintf(pub, sizeof pub, "cannot connect to database server "
	    "%.64s:%.8s: %s", t->host, t->port, connect_reason(raw));
	if (n < 0 || (size_t)n >= sizeof pub)
		memcpy(pub, "cannot connect to database server", 34);
	PQfinish(c);
	err_set(e, APP_ERR_UNAVAILABLE, pub, "connect %s:%s/%s: %s", t->host,
	    t->port, t->dbname, detail);
	return NULL;
}

int db_fail(PGconn *conn, const PGresult *r, const char *what,
    const char *conflict_msg, struct err *e)
{
	char msg[DETAIL_MSG_MAX];
	const char *st = db_sqlstate(r);
	const char *raw = r && PQresultErrorMessage(r)[0] != '\0' ?
	    PQresultErrorMessage(r) : conn ? PQerrorMessage(conn) : "no connection";
	scrub(msg, sizeof msg, raw, NULL);
	if (strcmp(st, "23505") == 0)
		return err_set(e, APP_ERR_CONFLICT,
		    conflict_msg ? conflict_msg : "already exists",
		    "%s: sqlstate=%s %s", what, st, msg);
	if (db_conn_failed(conn, r))
		return err_set(e, APP_ERR_UNAVAILABLE, "database unavailable",
		    "%s: sqlstate=%s %s", what, st[0] ? st : "-", msg);
	return err_set(e, APP_ERR_INTERNAL, "internal error",
	    "%s: sqlstate=%s %s", what, st[0] ? st : "-", msg);
}

int db_map_unique_violation(struct err *e, const char *msg)
{
	if (e != NULL && strstr(e->detail, "sqlstate=23505") != NULL) {
		char detail[ERR_DETAIL_MAX];
		memcpy(detail, e->detail, sizeof detail);
		return err_set(e, APP_ERR_CONFLICT, msg, "%s", detail);
	}
	return e ? (int)e->code : APP_ERR_INTERNAL;
}

PGresult *db_exec_on(PGconn *conn, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, values, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (r != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
		return r;
	db_fail(conn, r, what, NULL, e);
	PQclear(r);
	return NULL;
}

/* ---- the master connection ---- */

struct db {
	char *conninfo;
	char app_name[DB_APPNAME_MAX];
	int timeout_ms;
	PGconn *conn;
	unsigned long reconnects;
};

struct db *db_new(const char *conninfo, int timeout_ms, const char *app_name)
{
	struct db *db = xcalloc(1, sizeof *db);
	db->conninfo = xstrdup(conninfo);
	db->timeout_ms = timeout_ms;
	int n = snprintf(db->app_name, sizeof db->app_name, "%s",
	    app_name ? app_name : default_app_name);
	if (n < 0 || (size_t)n >= sizeof db->app_name)
		memcpy(db->app_name, default_app_name, sizeof default_app_name);
	return db;
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	/* The conninfo may carry a password. */
	memset(db->conninfo, 0, strlen(db->conninfo));
	free(db->conninfo);
	free(db);
}

static PGconn *open_master(struct db *db, struct err *e)
{
	char to[TIMEOUT_STR_MAX];
	timeout_str(to, db->timeout_ms);
	/* Our defaults first; dbname (expanded: the URL or key=value string)
	 * comes last so that what the conninfo says wins. */
	const char *keys[] = { "connect_timeout", "application_name",
	    "client_encoding", "dbname", NULL };
	const char *vals[] = { to, db->app_name, "UTF8", db->conninfo, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c != NULL && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, notice_to_log, NULL);
		return c;
	}
	char detail[DETAIL_MSG_MAX];
	/* The conninfo's password is unknown here; libpq does not echo it. */
	scrub(detail, sizeof detail, c ? PQerrorMessage(c) : "out of memory", NULL);
	PQfinish(c);
	err_set(e, APP_ERR_UNAVAILABLE, "database unavailable",
	    "master connect: %s", detail);
	return NULL;
}

PGconn *db_conn(struct db *db, struct err *e)
{
	if (db->conn != NULL && db_conn_alive(db->conn))
		return db->conn;
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
		db->reconnects++;
		log_kv(LOG_WARN, "db_reconnect", "db", "master", NULL);
	}
	db->conn = open_master(db, e);
	return db->conn;
}

static PGresult *exec_master(struct db *db, const char *sql, int nparams,
    const char *const *values, const char *what, bool retry, struct err *e)
{
	for (int attempt = 0;; attempt++) {
		PGconn *c = db_conn(db, e);
		if (c == NULL)
			return NULL;
		bool idle = PQtransactionStatus(c) == PQTRANS_IDLE;
		PGresult *r = PQexecParams(c, sql, nparams, NULL, values, NULL,
		    NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		if (r != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
			return r;
		bool conn_err = db_conn_failed(c, r);
		db_fail(c, r, what, NULL, e);
		PQclear(r);
		if (!retry || !conn_err || !idle || attempt > 0)
			return NULL;
		/* The connection broke with no transaction open.  The caller
		 * said the statement is safe to run again; retry once. */
		PQfinish(db->conn);
		db->conn = NULL;
		db->reconnects++;
		log_kv(LOG_WARN, "db_reconnect", "db", "master", "stmt", what, NULL);
	}
}

PGresult *db_exec(struct db *db, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
{
	return exec_master(db, sql, nparams, values, what, true, e);
}

PGresult *db_exec_once(struct db *db, const char *sql, int nparams,
    const char *const *values, const char *what, struct err *e)
{
	return exec_master(db, sql, nparams, values, what, false, e);
}

unsigned long db_reconnects(const struct db *db)
{
	return db->reconnects;
}
