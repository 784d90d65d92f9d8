#include "tenant_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "crypto.h"
#include "log.h"
#include "migrate.h"
#include "sbuf.h"
#include "strcopy.h"
#include "tenant_cache.h"
#include "utf8.h"

enum { CREATE_SQL_MAX = 256 };

static const char sql_tenant_exists[] =
    "SELECT 1 FROM tenants WHERE tenant_id = $1";
static const char sql_tenant_insert[] =
    "INSERT INTO tenants (tenant_id, name, db_host, db_port, db_user, db_name,"
    " db_password_enc, key_id) VALUES ($1, $2, $3, $4::int, $5, $6, $7, $8)";
static const char sql_tenant_all[] =
    "SELECT tenant_id FROM tenants ORDER BY tenant_id";
static const char sql_db_exists[] =
    "SELECT 1 FROM pg_database WHERE datname = $1";

void tenant_admin_opts_from_cfg(struct tenant_admin_opts *o,
    const struct config *c, const struct crypto_keys *keys)
{
	memset(o, 0, sizeof *o);
	o->allowed_hosts = c->tenant_db_hosts;
	o->sql_dir = c->sql_dir;
	o->connect_timeout_ms = c->dep_timeout_ms;
	o->keys = keys;
}

/* True if host is one of the comma-separated list (case-insensitive; spaces
 * around items ignored). */
static bool host_allowed(const char *list, const char *host)
{
	size_t hl = strlen(host);
	const char *p = list ? list : "";
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		size_t m = n;
		while (m > 0 && p[m - 1] == ' ')
			m--;
		if (m == hl && m > 0 && strncasecmp(p, host, m) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Text of 1..max bytes, valid UTF-8, no control characters. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || !utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int validate_input(const struct tenant_admin_opts *o,
    const struct tenant_input *in, int *port, struct err *e)
{
	if (in->tenant_id == NULL || !tenant_id_valid(in->tenant_id))
		return err_set(e, APP_ERR_BAD_INPUT, "tenantID must be 1-63 "
		    "characters of letters, digits, '-' and '_'", NULL);
	if (strcasecmp(in->tenant_id, "pgbouncer") == 0)
		return err_set(e, APP_ERR_BAD_INPUT, "tenantID \"pgbouncer\" is "
		    "reserved (the connection pooler's console)", NULL);
	if (in->name == NULL || !text_ok(in->name, TENANT_NAME_MAX - 1))
		return err_set(e, APP_ERR_BAD_INPUT, "tenantName must be 1-200 "
		    "bytes of text without control characters", NULL);
	if (in->host == NULL || !text_ok(in->host, TENANT_HOST_MAX - 1))
		return err_set(e, APP_ERR_BAD_INPUT, "dataSource.host is invalid",
		    NULL);
	if (!host_allowed(o->allowed_hosts, in->host))
		return err_set(e, APP_ERR_BAD_INPUT,
		    "dataSource.host is not an allowed database host",
		    "host %.64s not in TENANT_DB_HOSTS", in->host);
	const char *p = in->port ? in->port : "";
	size_t pl = strlen(p);
	long v = 0;
	for (size_t i = 0; i < pl; i++)
		v = (p[i] >= '0' && p[i] <= '9' && pl <= 5) ? v * 10 + (p[i] - '0') : -1;
	if (pl == 0 || pl > 5 || v < 1 || v > 65535)
		return err_set(e, APP_ERR_BAD_INPUT,
		    "dataSource.port must be a number from 1 to 65535", NULL);
	*port = (int)v;
	if (in->user == NULL || !text_ok(in->user, TENANT_USER_MAX - 1))
		return err_set(e, APP_ERR_BAD_INPUT,
		    "dataSource.username must be 1-63 bytes", NULL);
	if (in->password == NULL || in->password[0] == '\0' ||
	    strlen(in->password) > TENANT_PASSWORD_MAX)
		return err_set(e, APP_ERR_BAD_INPUT,
		    "dataSource.password must be 1-256 bytes", NULL);
	if (in->dbname == NULL || !tenant_id_valid(in->dbname))
		return err_set(e, APP_ERR_BAD_INPUT, "dataSource.db must be 1-63 "
		    "characters of letters, digits, '-' and '_'", NULL);
	return 0;
}

/* Runs CREATE DATABASE or DROP DATABASE for dbname on conn.  Neither takes
 * parameters (utility statements cannot be parameterised), so the name is
 * validated ([A-Za-z0-9_-] only) and quoted with PQescapeIdentifier: the
 * result is always exactly one quoted identifier.  0 or with e filled. */
static int db_ddl(PGconn *conn, const char *verb, const char *dbname,
    PGresult **res, struct err *e)
{
	*res = NULL;
	if (!tenant_id_valid(dbname))
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad db name");
	char *q = PQescapeIdentifier(conn, dbname, strlen(dbname));
	if (q == NULL)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "PQescapeIdentifier failed");
	struct sbuf sb;
	sbuf_init(&sb, CREATE_SQL_MAX);
	sbuf_printf(&sb, "%s DATABASE %s", verb, q);
	PQfreemem(q);
	if (sb.failed) {
		sbuf_clear(&sb);
		return err_set(e, APP_ERR_INTERNAL, "internal error", "ddl too long");
	}
	*res = PQexec(conn, sb.p);
	sbuf_clear(&sb);
	return 0;
}

/* The public message for a failure talking to the tenant's server. */
static int server_fail(struct err *e, const struct tenant_input *in,
    const char *what, const char *reason)
{
	char pub[ERR_MSG_MAX];
	char detail[ERR_DETAIL_MAX];
	str_copy(detail, sizeof detail, e ? e->detail : "");
	int n = snprintf(pub, sizeof pub, "%s on database server %.64s:%s: %s",
	    what, in->host, in->port, reason);
	return err_set(e, APP_ERR_BAD_INPUT, n > 0 && (size_t)n < sizeof pub ?
	    pub : "database server error", "%s", detail);
}

/* Keeps e's texts (db_connect's public text names the server and a fixed
 * reason, never the password) but makes it the client's error. */
static int as_bad_input(struct err *e)
{
	if (e != NULL)
		e->code = APP_ERR_BAD_INPUT;
	return APP_ERR_BAD_INPUT;
}

static void drop_created(PGconn *admin, const char *dbname)
{
	PGresult *r = NULL;
	struct err e;
	if (admin == NULL || db_ddl(admin, "DROP", dbname, &r, &e) != 0)
		return;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_kv(LOG_WARN, "tenant_db_drop_failed", "db", dbname, NULL);
	PQclear(r);
}

/* Step 2: the tenant ID is not registered yet (a cheap early answer; the
 * primary key decides in the end).  0 or an app_err. */
static int check_free(struct db *master, const struct tenant_input *in,
    struct err *e)
{
	const char *p[] = { in->tenant_id };
	PGresult *r = db_exec(master, sql_tenant_exists, 1, p, "tenant exists", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	bool exists = PQntuples(r) > 0;
	PQclear(r);
	return exists ? err_set(e, APP_ERR_CONFLICT, "tenant already exists",
	    "tenant %s", in->tenant_id) : 0;
}

/* Step 3: the database exists on the tenant's server, created now if it
 * did not (*created then true).  *admin: the connection to the server's
 * `postgres` database, kept to drop the database again if a later step
 * fails.  0 or an app_err. */
static int ensure_database(const struct tenant_admin_opts *o,
    const struct tenant_input *in, PGconn **admin, bool *created, struct err *e)
{
	struct db_target at = { in->host, in->port, in->user, in->password,
	    "postgres" };
	*admin = db_connect(&at, o->connect_timeout_ms, o->app_name, e);
	if (*admin == NULL)
		return as_bad_input(e);
	const char *p[] = { in->dbname };
	PGresult *r = db_exec_on(*admin, sql_db_exists, 1, p, "pg_database", e);
	if (r == NULL)
		return server_fail(e, in, "query failed", "cannot read pg_database");
	bool exists = PQntuples(r) > 0;
	PQclear(r);
	if (exists)
		return 0;
	int rc = db_ddl(*admin, "CREATE", in->dbname, &r, e);
	if (rc != 0)
		return rc;
	const char *st = db_sqlstate(r);
	if (PQresultStatus(r) == PGRES_COMMAND_OK) {
		*created = true;
		log_kv(LOG_INFO, "tenant_db_created", "tenant", in->tenant_id,
		    "db", in->dbname, NULL);
	} else if (strcmp(st, "42P04") != 0) {
		/* 42P04 duplicate_database: created concurrently, fine. */
		db_fail(*admin, r, "create database", NULL, e);
		rc = server_fail(e, in, "cannot create database",
		    strcmp(st, "42501") == 0 ? "permission denied" :
		    "the server refused");
	}
	PQclear(r);
	return rc;
}

/* Step 4: the database has the newest tenant schema.  0 or an app_err. */
static int migrate_database(const struct tenant_admin_opts *o,
    const struct tenant_input *in, struct err *e)
{
	struct db_target tt = { in->host, in->port, in->user, in->password,
	    in->dbname };
	PGconn *conn = db_connect(&tt, o->connect_timeout_ms, o->app_name, e);
	if (conn == NULL)
		return as_bad_input(e);
	int applied = 0;
	int rc = migrate_run(conn, o->sql_dir, MIGRATE_TENANT, &applied, e);
	if (rc != 0 && e != NULL && strstr(e->detail, "sqlstate=42501") != NULL)
		rc = server_fail(e, in, "cannot create tables", "permission denied");
	PQfinish(conn);
	return rc;
}

/* Step 5: the registry row, password sealed.  Sent once: a re-send after an
 * unknown outcome would report our own row as a conflict.  0 or an
 * app_err. */
static int register_tenant(struct db *master, const struct tenant_admin_opts *o,
    const struct tenant_input *in, const char *port, struct err *e)
{
	char sealed[CRYPTO_SEALED_MAX];
	if (crypto_seal(o->keys, in->password, strlen(in->password), sealed,
	    sizeof sealed) != 0)
		return err_set(e, APP_ERR_INTERNAL, "internal error",
		    "tenant %s: sealing the password failed", in->tenant_id);
	const char *p[] = { in->tenant_id, in->name, in->host, port, in->user,
	    in->dbname, sealed, crypto_keys_current_id(o->keys) };
	PGresult *r = db_exec_once(master, sql_tenant_insert, 8, p, "tenant insert", e);
	crypto_wipe(sealed, sizeof sealed);
	if (r == NULL)
		return db_map_unique_violation(e, "tenant already exists");
	PQclear(r);
	return 0;
}

int tenant_create(struct db *master, const struct tenant_admin_opts *o,
    const struct tenant_input *in, struct tenant_info *out, struct err *e)
{
	int port = 0;
	PGconn *admin = NULL;
	bool created = false;
	char portbuf[TENANT_PORT_MAX];
	int rc = validate_input(o, in, &port, e);
	if (rc == 0 && snprintf(portbuf, sizeof portbuf, "%d", port) >=
	    (int)sizeof portbuf)
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "port");
	if (rc == 0)
		rc = check_free(master, in, e);
	if (rc == 0)
		rc = ensure_database(o, in, &admin, &created, e);
	if (rc == 0)
		rc = migrate_database(o, in, e);
	if (rc == 0)
		rc = register_tenant(master, o, in, portbuf, e);
	/* A database we made for a tenant that did not get registered goes
	 * again — unless the registration lost a race to the same tenant ID,
	 * whose winner may be using it. */
	if (rc != 0 && created && rc != APP_ERR_CONFLICT)
		drop_created(admin, in->dbname);
	PQfinish(admin);
	if (rc != 0)
		return rc;
	log_kv(LOG_INFO, "tenant_created", "tenant", in->tenant_id, "db_host",
	    in->host, "db_port", portbuf, "db", in->dbname, NULL);
	if (out != NULL) {
		memset(out, 0, sizeof *out);
		str_copy(out->tenant_id, sizeof out->tenant_id, in->tenant_id);
		str_copy(out->name, sizeof out->name, in->name);
		str_copy(out->host, sizeof out->host, in->host);
		str_copy(out->port, sizeof out->port, portbuf);
		str_copy(out->user, sizeof out->user, in->user);
		str_copy(out->dbname, sizeof out->dbname, in->dbname);
	}
	return 0;
}


int tenant_migrate_all(struct db *master, const struct tenant_admin_opts *o,
    int *migrated, struct err *e)
{
	struct tenant_cache_opts co = { .max_conns = 1, .idle_sec = 1,
	    .recheck_sec = 0, .connect_timeout_ms = o->connect_timeout_ms,
	    .app_name = o->app_name, .keys = o->keys };
	int rc = 0, count = 0;
	if (migrated != NULL)
		*migrated = 0;
	PGresult *r = db_exec(master, sql_tenant_all, 0, NULL, "tenant list", e);
	if (r == NULL)
		return e ? (int)e->code : APP_ERR_UNAVAILABLE;
	struct tenant_cache *c = tenant_cache_new(master, &co);
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		struct tenant_conn *h = tenant_acquire(c, PQgetvalue(r, i, 0), e);
		if (h == NULL) {
			rc = e ? (int)e->code : APP_ERR_UNAVAILABLE;
			break;
		}
		int applied = 0;
		rc = migrate_run(tenant_pg(h), o->sql_dir, MIGRATE_TENANT, &applied, e);
		tenant_release(h);
		if (rc == 0 && applied > 0)
			count++;
	}
	tenant_cache_free(c);
	PQclear(r);
	if (migrated != NULL)
		*migrated = count;
	return rc;
}
