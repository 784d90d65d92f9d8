/* Integration test of migrations, tenant provisioning, the tenant connection
 * cache and users, against real PostgreSQL servers.
 *
 * Environment (set by tools/run-tests.sh): PG_HOST, PG_PORT, PG_USER (a
 * superuser), PG_PASSWORD, MASTER_DATABASE_URL (the master database, migrated
 * or empty), PG2_PORT (a second server on PG_HOST).  SQL_DIR (default "sql")
 * locates the migrations.  Every database and registry row made here carries
 * the prefix "tt<pid>_" and is removed at the end. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crypto.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "reportwork.h"
#include "tenant_admin.h"
#include "tenant_cache.h"
#include "testlib.h"
#include "users.h"

static const char *pg_host, *pg_port, *pg_user, *pg_pass, *master_url, *pg2_port;
static const char *sql_dir;
static char prefix[32];		/* "tt<pid>_" */
static char app_name[64];	/* "reportsvc-<pid>" */
static char allowed[512];
static struct crypto_keys *keys;
static struct db *master;
static char tenant_a[64], tenant_b[64];

static const char test_key[] =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/* ---- helpers ---- */

static PGconn *pgc(const char *port, const char *dbname)
{
	const char *k[] = { "host", "port", "user", "password", "dbname",
	    "connect_timeout", NULL };
	const char *v[] = { pg_host, port, pg_user, pg_pass, dbname, "5", NULL };
	PGconn *c = PQconnectdbParams(k, v, 0);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "  connect %s/%s: %s", port, dbname, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Runs sql (with up to 3 text params) and returns the first value as a
 * malloc'd string ("" if no row), or NULL on error. */
static char *q1(PGconn *c, const char *sql, const char *a, const char *b,
    const char *d)
{
	const char *p[] = { a, b, d };
	int n = d ? 3 : b ? 2 : a ? 1 : 0;
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	char *out = NULL;
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK)
		out = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	else if (st == PGRES_COMMAND_OK)
		out = strdup("");
	else
		fprintf(stderr, "  q1 %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return out;
}

static long q1_long(PGconn *c, const char *sql, const char *a, const char *b)
{
	char *s = q1(c, sql, a, b, NULL);
	long v = s ? atol(s) : -1;
	free(s);
	return v;
}

/* Utility statements (CREATE/DROP DATABASE): head ident [TEMPLATE ident2]
 * tail, identifiers quoted. */
static int ddl(PGconn *c, const char *head, const char *ident,
    const char *ident2, const char *tail)
{
	char sql[512];
	char *q = PQescapeIdentifier(c, ident, strlen(ident));
	char *q2 = ident2 ? PQescapeIdentifier(c, ident2, strlen(ident2)) : NULL;
	snprintf(sql, sizeof sql, "%s %s%s%s %s", head, q, q2 ? " TEMPLATE " : "",
	    q2 ? q2 : "", tail ? tail : "");
	PQfreemem(q);
	PQfreemem(q2);
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	if (ok != 0)
		fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

static void name(char *out, size_t n, const char *what)
{
	snprintf(out, n, "%s%s", prefix, what);
}

static struct tenant_admin_opts admin_opts(void)
{
	struct tenant_admin_opts o = { allowed, sql_dir, 3000, app_name, keys };
	return o;
}

static struct tenant_cache *new_cache(int max)
{
	struct tenant_cache_opts o = { max, 300, 30, 3000, app_name, keys, NULL, NULL };
	return tenant_cache_new(master, &o);
}

static int create_tenant(const char *id, const char *port, const char *dbname,
    const char *password, const char *host, struct err *e)
{
	struct tenant_admin_opts o = admin_opts();
	struct tenant_input in = { id, "Tenant \xc3\x9f", host ? host : pg_host, port,
	    pg_user, password ? password : pg_pass, dbname };
	return tenant_create(master, &o, &in, NULL, e);
}

static bool registered(const char *id)
{
	struct tenant_info ti;
	struct err e;
	return tenant_get(master, id, &ti, &e) == 0;
}

static long db_exists(const char *port, const char *dbname)
{
	PGconn *c = pgc(port, "postgres");
	long n = c ? q1_long(c, "SELECT count(*) FROM pg_database WHERE datname = $1",
	    dbname, NULL) : -1;
	PQfinish(c);
	return n;
}

static double ms_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* ---- migrations ---- */

static void t_migrate_master(void)
{
	struct err e;
	PGconn *c = db_conn(master, &e);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	int applied = -1, latest = 0, cur = 0;
	CHECK_INT_EQ(migrate_run(c, sql_dir, MIGRATE_MASTER, &applied, &e), 0);
	CHECK_INT_EQ(migrate_latest(sql_dir, MIGRATE_MASTER, &latest, &e), 0);
	CHECK(latest >= 1);
	CHECK_INT_EQ(migrate_current(c, &cur, &e), 0);
	CHECK_INT_EQ(cur, latest);
	CHECK_INT_EQ(migrate_run(c, sql_dir, MIGRATE_MASTER, &applied, &e), 0);
	CHECK_INT_EQ(applied, 0);
}

static void t_migrate_tenant_db(void)
{
	char db[64];
	struct err e;
	name(db, sizeof db, "mig");
	PGconn *adm = pgc(pg_port, "postgres");
	CHECK(adm != NULL && ddl(adm, "CREATE DATABASE", db, NULL, NULL) == 0);
	PGconn *c = pgc(pg_port, db);
	CHECK(c != NULL);
	if (c == NULL) {
		PQfinish(adm);
		return;
	}
	int applied = -1, latest = 0;
	CHECK_INT_EQ(migrate_latest(sql_dir, MIGRATE_TENANT, &latest, &e), 0);
	CHECK_INT_EQ(migrate_run(c, sql_dir, MIGRATE_TENANT, &applied, &e), 0);
	CHECK_INT_EQ(applied, latest);
	CHECK_INT_EQ(q1_long(c, "SELECT count(*) FROM information_schema.tables "
	    "WHERE table_name IN ('users','reports','report_providers','report_files')",
	    NULL, NULL), 4);
	/* Re-run: nothing to do. */
	CHECK_INT_EQ(migrate_run(c, sql_dir, MIGRATE_TENANT, &applied, &e), 0);
	CHECK_INT_EQ(applied, 0);
	/* A database from the future is refused. */
	char *r = q1(c, "INSERT INTO schema_migrations (version, name) VALUES "
	    "(999999, 'from_the_future')", NULL, NULL, NULL);
	free(r);
	CHECK_INT_EQ(migrate_run(c, sql_dir, MIGRATE_TENANT, &applied, &e),
	    APP_ERR_INTERNAL);
	CHECK(strstr(e.detail, "newer") != NULL);
	/* Missing directory: clear error. */
	CHECK_INT_EQ(migrate_run(c, "/nonexistent-sql-dir", MIGRATE_TENANT, &applied,
	    &e), APP_ERR_INTERNAL);
	CHECK(strstr(e.detail, "SQL_DIR") != NULL);
	PQfinish(c);
	PQfinish(adm);
}

static void t_migrate_concurrent(void)
{
	char db[64];
	enum { RUNNERS = 4 };
	name(db, sizeof db, "migc");
	PGconn *adm = pgc(pg_port, "postgres");
	CHECK(adm != NULL && ddl(adm, "CREATE DATABASE", db, NULL, NULL) == 0);
	int go[2];
	CHECK(pipe(go) == 0);
	pid_t pids[RUNNERS];
	for (int i = 0; i < RUNNERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char b;
			close(go[1]);
			PGconn *c = pgc(pg_port, db);
			if (c == NULL || read(go[0], &b, 1) < 0)
				_exit(99);
			struct err e;
			int applied = 0;
			int rc = migrate_run(c, sql_dir, MIGRATE_TENANT, &applied, &e);
			if (rc != 0)
				fprintf(stderr, "  runner: %s\n", e.detail);
			PQfinish(c);
			_exit(rc != 0 ? 98 : applied);
		}
	}
	close(go[0]);
	close(go[1]);	/* all start now */
	int total = 0, failed = 0;
	for (int i = 0; i < RUNNERS; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 97;
		if (code >= 90)
			failed++;
		else
			total += code;
	}
	int latest = 0;
	struct err e;
	CHECK_INT_EQ(migrate_latest(sql_dir, MIGRATE_TENANT, &latest, &e), 0);
	CHECK_INT_EQ(failed, 0);
	CHECK_INT_EQ(total, latest);	/* each file applied exactly once */
	PGconn *c = pgc(pg_port, db);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_INT_EQ(q1_long(c, "SELECT count(*) FROM schema_migrations",
		    NULL, NULL), latest);
	PQfinish(c);
	PQfinish(adm);
}

/* ---- provisioning ---- */

static void t_create_tenant(void)
{
	struct err e;
	char db[64];
	name(tenant_a, sizeof tenant_a, "a");
	name(db, sizeof db, "a_db");
	int rc = create_tenant(tenant_a, pg_port, db, NULL, NULL, &e);
	CHECK_INT_EQ(rc, 0);
	if (rc != 0)
		fprintf(stderr, "  create: %s / %s\n", e.msg, e.detail);
	CHECK_INT_EQ(db_exists(pg_port, db), 1);
	CHECK(registered(tenant_a));
	/* Sealed at rest. */
	PGconn *m = db_conn(master, &e);
	char *enc = q1(m, "SELECT db_password_enc FROM tenants WHERE tenant_id = $1",
	    tenant_a, NULL, NULL);
	CHECK(enc != NULL && strncmp(enc, "v1:", 3) == 0);
	CHECK(enc != NULL && strstr(enc, pg_pass) == NULL);
	free(enc);
	/* The tenant database is migrated. */
	PGconn *t = pgc(pg_port, db);
	CHECK(t != NULL);
	if (t != NULL)
		CHECK_INT_EQ(q1_long(t, "SELECT count(*) FROM schema_migrations",
		    NULL, NULL), 1);
	PQfinish(t);

	/* Duplicate ID. */
	CHECK_INT_EQ(create_tenant(tenant_a, pg_port, db, NULL, NULL, &e),
	    APP_ERR_CONFLICT);
	CHECK_STR_EQ(app_err_code(e.code), "CONFLICT");
}

static void t_create_tenant_bad_input(void)
{
	struct err e;
	char id[64], db[64];
	name(id, sizeof id, "bad");
	name(db, sizeof db, "bad_db");

	/* Host not on the allowlist. */
	CHECK_INT_EQ(create_tenant(id, pg_port, db, NULL, "10.11.12.13", &e),
	    APP_ERR_BAD_INPUT);
	CHECK_STR_EQ(app_err_code(e.code), "BAD_USER_INPUT");
	CHECK(strstr(e.msg, "allowed") != NULL);

	/* Unreachable port: names the server, never the password. */
	CHECK_INT_EQ(create_tenant(id, "1", db, "S3cr3t-P4ss!", "127.0.0.1", &e),
	    APP_ERR_BAD_INPUT);
	CHECK(strstr(e.msg, "127.0.0.1:1") != NULL);
	CHECK(strstr(e.msg, "S3cr3t-P4ss!") == NULL);
	CHECK(strstr(e.detail, "S3cr3t-P4ss!") == NULL);
	printf("     unreachable: %s\n", e.msg);

	/* Wrong password: refused, nothing registered, nothing created. */
	CHECK_INT_EQ(create_tenant(id, pg_port, db, "wrong-Pa55word", NULL, &e),
	    APP_ERR_BAD_INPUT);
	CHECK(strstr(e.msg, "password authentication failed") != NULL);
	CHECK(strstr(e.msg, "wrong-Pa55word") == NULL);
	CHECK(strstr(e.detail, "wrong-Pa55word") == NULL);
	printf("     wrong password: %s\n", e.msg);
	CHECK(!registered(id));
	CHECK_INT_EQ(db_exists(pg_port, db), 0);

	/* Field validation. */
	static const struct { const char *id, *port, *db; } bad[] = {
		{ "has space", "5432", "x" }, { "", "5432", "x" },
		{ "ok", "0", "x" }, { "ok", "65536", "x" }, { "ok", "54a", "x" },
		{ "ok", "", "x" }, { "ok", "-1", "x" }, { "ok", "5432", "x;drop" },
		{ "ok", "5432", "\"x\"" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "5432", "x" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = create_tenant(bad[i].id, bad[i].port, bad[i].db, NULL, NULL, &e);
		CHECK_INT_EQ(rc, APP_ERR_BAD_INPUT);
	}
}

static void t_second_server(void)
{
	struct err e;
	char db[64];
	name(tenant_b, sizeof tenant_b, "b");
	name(db, sizeof db, "b_db");
	int rc = create_tenant(tenant_b, pg2_port, db, NULL, NULL, &e);
	CHECK_INT_EQ(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  create on PG2: %s / %s\n", e.msg, e.detail);
		return;
	}
	CHECK_INT_EQ(db_exists(pg2_port, db), 1);
	CHECK_INT_EQ(db_exists(pg_port, db), 0);

	struct tenant_cache *cache = new_cache(4);
	struct users_ctx ctx = { master, cache, 4, 4 };
	char user[96];
	struct user_info ui;
	name(user, sizeof user, "bob-on-pg2");
	CHECK_INT_EQ(users_signup(&ctx, tenant_b, user, "pass", 4, "B-2", &ui, &e), 0);
	tenant_cache_free(cache);
	PGconn *c = pgc(pg2_port, db);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_INT_EQ(q1_long(c, "SELECT count(*) FROM users WHERE username = $1",
		    user, NULL), 1);
	PQfinish(c);
	/* Tenant a's database (server 1) does not have it. */
	char adb[64];
	name(adb, sizeof adb, "a_db");
	c = pgc(pg_port, adb);
	if (c != NULL)
		CHECK_INT_EQ(q1_long(c, "SELECT count(*) FROM users WHERE username = $1",
		    user, NULL), 0);
	PQfinish(c);
}

/* ---- users ---- */

static void t_signup_login(void)
{
	struct err e;
	struct tenant_cache *cache = new_cache(4);
	struct users_ctx ctx = { master, cache, 4, 4 };
	struct user_info ui, li;
	char user[96];
	name(user, sizeof user, "alice");
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, user, "pass", 4, "123.456.789-00",
	    &ui, &e), 0);
	CHECK(ui.id > 0);
	CHECK_STR_EQ(ui.tenant_id, tenant_a);

	CHECK_INT_EQ(users_login(&ctx, user, "pass", 4, &li, &e), 0);
	CHECK_INT_EQ(li.id, ui.id);
	long long alice_id = li.id;
	CHECK_STR_EQ(li.tenant_id, tenant_a);
	CHECK_STR_EQ(li.tax_id, "123.456.789-00");

	CHECK_INT_EQ(users_login(&ctx, user, "wrong", 5, &li, &e),
	    APP_ERR_UNAUTHENTICATED);
	CHECK_STR_EQ(e.msg, "invalid credentials");
	char ghost[96];
	name(ghost, sizeof ghost, "nobody");
	CHECK_INT_EQ(users_login(&ctx, ghost, "pass", 4, &li, &e),
	    APP_ERR_UNAUTHENTICATED);
	CHECK_STR_EQ(e.msg, "invalid credentials");
	/* 73 bytes whose first 72 match are still refused. */
	char longpw[80];
	memset(longpw, 'p', sizeof longpw);
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, ghost, longpw, 73, "1", &ui, &e),
	    APP_ERR_BAD_INPUT);

	CHECK_INT_EQ(users_get(&ctx, tenant_a, alice_id, &ui, &e), 0);
	CHECK_STR_EQ(ui.username, user);
	CHECK_INT_EQ(users_get(&ctx, tenant_a, 999999999, &ui, &e), APP_ERR_NOT_FOUND);

	/* Unique across tenants. */
	CHECK_INT_EQ(users_signup(&ctx, tenant_b, user, "pass", 4, "1", &ui, &e),
	    APP_ERR_CONFLICT);
	CHECK_INT_EQ(users_signup(&ctx, "no-such-tenant", ghost, "pass", 4, "1", &ui,
	    &e), APP_ERR_NOT_FOUND);

	/* Validation. */
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, ghost, "pass", 4,
	    "x'); DROP TABLE users;--", &ui, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, "o'brien; DROP TABLE users", "pass",
	    4, "1", &ui, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, ghost, "abc", 3, "1", &ui, &e),
	    APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(users_signup(&ctx, tenant_a, "a\xe2\x80\x8b" "b", "pass", 4, "1",
	    &ui, &e), APP_ERR_BAD_INPUT);	/* zero-width space */
	/* Nothing of those reached the directory. */
	PGconn *m = db_conn(master, &e);
	CHECK_INT_EQ(q1_long(m, "SELECT count(*) FROM user_directory WHERE username = $1",
	    ghost, NULL), 0);

	/* Verbatim storage of SQL-looking and unicode values. */
	static const char *names[] = {
		"robert@tables--drop.users", "J\xc3\xbcrgen_\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1",
		"\xe7\x94\xa8\xe6\x88\xb7", "1.or.1--",
	};
	static const char *taxes[] = { "12.345.678/0001-99", "--1/..", "A-B", "0" };
	char adb[64];
	name(adb, sizeof adb, "a_db");
	PGconn *t = pgc(pg_port, adb);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char un[128];
		snprintf(un, sizeof un, "%s%s", prefix, names[i]);
		int rc = users_signup(&ctx, tenant_a, un, "pass", 4, taxes[i], &ui, &e);
		CHECK_INT_EQ(rc, 0);
		if (rc != 0)
			fprintf(stderr, "  %s: %s\n", un, e.msg);
		char *tax = t ? q1(t, "SELECT tax_id FROM users WHERE username = $1", un,
		    NULL, NULL) : NULL;
		CHECK_STR_EQ(tax, taxes[i]);
		free(tax);
		CHECK_INT_EQ(users_login(&ctx, un, "pass", 4, &li, &e), 0);
		CHECK_STR_EQ(li.username, un);
	}
	PQfinish(t);
	tenant_cache_free(cache);
}

static void t_concurrent_signup(void)
{
	enum { PROCS = 10, EACH = 5 };
	char user[96];
	name(user, sizeof user, "race");
	int go[2];
	CHECK(pipe(go) == 0);
	pid_t pids[PROCS];
	fflush(NULL);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			char b;
			close(go[1]);
			/* Own connections: the parent's must not be touched. */
			struct db *m = db_new(master_url, 3000, app_name);
			struct tenant_cache_opts o = { 2, 300, 30, 3000, app_name, keys, NULL, NULL };
			struct tenant_cache *c = tenant_cache_new(m, &o);
			struct users_ctx ctx = { m, c, 4, 4 };
			if (read(go[0], &b, 1) < 0)
				_exit(99);
			int wins = 0, other = 0;
			for (int k = 0; k < EACH; k++) {
				struct err e;
				struct user_info ui;
				int rc = users_signup(&ctx, tenant_a, user, "pass", 4,
				    "1", &ui, &e);
				if (rc == 0)
					wins++;
				else if (rc != APP_ERR_CONFLICT) {
					fprintf(stderr, "  signup: %s %s\n", e.msg,
					    e.detail);
					other++;
				}
			}
			tenant_cache_free(c);
			db_free(m);
			_exit(other ? 90 : wins);
		}
	}
	close(go[0]);
	close(go[1]);
	int wins = 0, bad = 0;
	for (int i = 0; i < PROCS; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 97;
		if (code >= 90)
			bad++;
		else
			wins += code;
	}
	CHECK_INT_EQ(bad, 0);
	CHECK_INT_EQ(wins, 1);
	struct err e;
	PGconn *m = db_conn(master, &e);
	CHECK_INT_EQ(q1_long(m, "SELECT count(*) FROM user_directory WHERE username = $1"
	    " AND tenant_id = $2", user, tenant_a), 1);
	char adb[64];
	name(adb, sizeof adb, "a_db");
	PGconn *t = pgc(pg_port, adb);
	if (t != NULL)
		CHECK_INT_EQ(q1_long(t, "SELECT count(*) FROM users WHERE username = $1",
		    user, NULL), 1);
	PQfinish(t);
}

/* ---- the cache ---- */

/* Backends of this process's cache connected to a tenant database made
 * here.  A closed connection's backend leaves pg_stat_activity a moment
 * after the client closed it, so a count above bound is re-read for up to
 * settle_ms until it drops (the client-side count is checked separately). */
static long backends(PGconn *adm, long bound, int settle_ms)
{
	char like[64];
	snprintf(like, sizeof like, "%s%%", prefix);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long n = q1_long(adm, "SELECT count(*) FROM pg_stat_activity WHERE "
		    "application_name = $1 AND datname LIKE $2", app_name, like);
		if (n <= bound || ms_since(&t0) >= settle_ms)
			return n;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static const struct tenant_stmt st_marker = {
	"test_marker", "SELECT username FROM users WHERE username LIKE $1", 1, false,
};

static void t_cache_200(void)
{
	enum { N = 200, MAX = 16 };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char tpl[64];
	name(tpl, sizeof tpl, "tpl");
	PGconn *adm = pgc(pg_port, "postgres");
	CHECK(adm != NULL);
	if (adm == NULL)
		return;
	CHECK(ddl(adm, "CREATE DATABASE", tpl, NULL, NULL) == 0);
	PGconn *tc = pgc(pg_port, tpl);
	struct err e;
	int applied;
	CHECK(tc != NULL && migrate_run(tc, sql_dir, MIGRATE_TENANT, &applied, &e) == 0);
	PQfinish(tc);
	char sealed[CRYPTO_SEALED_MAX];
	CHECK_INT_EQ(crypto_seal(keys, pg_pass, strlen(pg_pass), sealed, sizeof sealed), 0);
	PGconn *m = db_conn(master, &e);
	for (int i = 0; i < N; i++) {
		char id[64], suffix[16];
		snprintf(suffix, sizeof suffix, "c%03d", i);
		name(id, sizeof id, suffix);
		CHECK(ddl(adm, "CREATE DATABASE", id, tpl, NULL) == 0);
		const char *p[] = { id, id, pg_host, pg_port, pg_user, id, sealed,
		    crypto_keys_current_id(keys) };
		PGresult *r = PQexecParams(m, "INSERT INTO tenants (tenant_id, name, "
		    "db_host, db_port, db_user, db_name, db_password_enc, key_id) "
		    "VALUES ($1, $2, $3, $4::int, $5, $6, $7, $8)", 8, NULL, p, NULL,
		    NULL, 0);
		CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
		PQclear(r);
	}
	printf("     200 databases made in %.0f ms\n", ms_since(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);

	struct tenant_cache *cache = new_cache(MAX);
	long peak = 0;
	int wrong = 0;
	/* Each database gets a marker row, then two passes read them back. */
	for (int pass = 0; pass < 3; pass++) {
		for (int j = 0; j < N; j++) {
			int i = pass == 0 ? j : (j * 37 + pass) % N;
			char id[64], suffix[16];
			snprintf(suffix, sizeof suffix, "c%03d", i);
			name(id, sizeof id, suffix);
			struct tenant_conn *h = tenant_acquire(cache, id, &e);
			CHECK(h != NULL);
			if (h == NULL) {
				fprintf(stderr, "  acquire %s: %s\n", id, e.detail);
				continue;
			}
			PGresult *r;
			if (pass == 0) {
				const char *p[] = { id };
				r = tenant_exec(h, "INSERT INTO users (username, "
				    "password_hash, tax_id) VALUES ($1, 'x', '1')", 1, p, &e);
				CHECK(r != NULL);
			} else {
				const char *p[] = { "tt%" };
				r = tenant_exec_prepared(h, &st_marker, p, &e);
				if (r == NULL || PQntuples(r) != 1 ||
				    strcmp(PQgetvalue(r, 0, 0), id) != 0)
					wrong++;
			}
			PQclear(r);
			tenant_release(h);
			if (j % 10 == 0) {
				long b = backends(adm, MAX, 1000);
				if (b > peak)
					peak = b;
			}
		}
	}
	/* A working set smaller than the cache: all hits. */
	struct tenant_cache_stats before;
	tenant_cache_stats(cache, &before);
	for (int k = 0; k < 10 * MAX; k++) {
		char id[64], suffix[16];
		snprintf(suffix, sizeof suffix, "c%03d", k % (MAX / 2));
		name(id, sizeof id, suffix);
		struct tenant_conn *h = tenant_acquire(cache, id, &e);
		CHECK(h != NULL);
		tenant_release(h);
	}
	struct tenant_cache_stats after;
	tenant_cache_stats(cache, &after);
	CHECK(after.hits - before.hits >= 10 * MAX - MAX / 2);
	CHECK_INT_EQ(wrong, 0);
	CHECK(peak <= MAX);
	CHECK(peak >= 1);
	struct tenant_cache_stats st;
	tenant_cache_stats(cache, &st);
	printf("     peak backends %ld; hits %lu misses %lu evictions %lu open %d\n",
	    peak, st.hits, st.misses, st.evictions, st.open);
	CHECK(st.open <= MAX);
	CHECK(st.evictions > 0);
	CHECK_INT_EQ(st.in_use, 0);

	/* Janitor: everything idle past TENANT_IDLE_SEC goes. */
	int closed = tenant_cache_janitor(cache, tenant_cache_now_ms() + 301 * 1000);
	CHECK_INT_EQ(closed, st.open);
	tenant_cache_stats(cache, &st);
	CHECK_INT_EQ(st.open, 0);
	CHECK_INT_EQ(backends(adm, 0, 2000), 0);
	tenant_cache_free(cache);
	printf("     600 acquires (all misses) + checks in %.0f ms\n", ms_since(&t0));
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (int i = 0; i < N; i++) {
		char id[64], suffix[16];
		snprintf(suffix, sizeof suffix, "c%03d", i);
		name(id, sizeof id, suffix);
		CHECK(ddl(adm, "DROP DATABASE", id, NULL, "WITH (FORCE)") == 0);
	}
	CHECK(ddl(adm, "DROP DATABASE", tpl, NULL, "WITH (FORCE)") == 0);
	PQfinish(adm);
	printf("     200 databases dropped in %.0f ms\n", ms_since(&t0));
}

static const struct tenant_stmt st_pid = {
	"test_pid", "SELECT pg_backend_pid()::text", 0, false,
};

/* Terminates backend pid and waits (bounded) until it is gone. */
static void kill_backend(PGconn *adm, const char *pid)
{
	char *r = q1(adm, "SELECT pg_terminate_backend($1::int, 5000)", pid, NULL, NULL);
	CHECK_STR_EQ(r, "t");
	free(r);
}

static void t_terminate_backend(void)
{
	struct err e;
	struct tenant_cache *cache = new_cache(4);
	PGconn *adm = pgc(pg_port, "postgres");
	struct tenant_cache_stats st;

	/* Killed while idle in the cache. */
	struct tenant_conn *h = tenant_acquire(cache, tenant_a, &e);
	CHECK(h != NULL);
	if (h == NULL || adm == NULL)
		goto out;
	PGresult *r = tenant_exec_prepared(h, &st_pid, NULL, &e);
	CHECK(r != NULL);
	char pid[32];
	snprintf(pid, sizeof pid, "%s", r ? PQgetvalue(r, 0, 0) : "0");
	PQclear(r);
	tenant_release(h);
	kill_backend(adm, pid);
	h = tenant_acquire(cache, tenant_a, &e);
	CHECK(h != NULL);
	r = h ? tenant_exec_prepared(h, &st_pid, NULL, &e) : NULL;
	CHECK(r != NULL);
	CHECK(r != NULL && strcmp(PQgetvalue(r, 0, 0), pid) != 0);
	if (r != NULL)
		snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	tenant_cache_stats(cache, &st);
	CHECK_INT_EQ(st.reconnects, 1);

	/* Killed while the handle is held: the next statement still works. */
	kill_backend(adm, pid);
	r = tenant_exec(h, "SELECT 1", 0, NULL, &e);
	CHECK(r != NULL);
	PQclear(r);
	tenant_cache_stats(cache, &st);
	CHECK_INT_EQ(st.reconnects, 2);

	/* Killed inside a transaction: no silent retry, the handle fails and
	 * is dropped on release; the next acquire is fine. */
	r = tenant_exec(h, "BEGIN", 0, NULL, &e);
	PQclear(r);
	r = tenant_exec_prepared(h, &st_pid, NULL, &e);
	if (r != NULL)
		snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	kill_backend(adm, pid);
	r = tenant_exec(h, "SELECT 1", 0, NULL, &e);
	CHECK(r == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_UNAVAILABLE);
	r = tenant_exec(h, "SELECT 1", 0, NULL, &e);
	CHECK(r == NULL);
	tenant_release(h);
	h = tenant_acquire(cache, tenant_a, &e);
	CHECK(h != NULL);
	r = h ? tenant_exec(h, "SELECT 1", 0, NULL, &e) : NULL;
	CHECK(r != NULL);
	PQclear(r);
	/* Left in a transaction: release closes it rather than keep it. */
	r = h ? tenant_exec(h, "BEGIN", 0, NULL, &e) : NULL;
	PQclear(r);
	tenant_release(h);
	tenant_cache_stats(cache, &st);
	CHECK_INT_EQ(st.open, 0);
	h = NULL;

	/* Registry change noticed (recheck every 0 s here). */
	tenant_cache_free(cache);
	struct tenant_cache_opts o = { 4, 300, 0, 3000, app_name, keys, NULL, NULL };
	cache = tenant_cache_new(master, &o);
	h = tenant_acquire(cache, tenant_a, &e);
	tenant_release(h);
	PGconn *m = db_conn(master, &e);
	free(q1(m, "UPDATE tenants SET name = name || '!' WHERE tenant_id = $1",
	    tenant_a, NULL, NULL));
	h = tenant_acquire(cache, tenant_a, &e);
	CHECK(h != NULL);
	tenant_release(h);
	h = NULL;
	tenant_cache_stats(cache, &st);
	CHECK_INT_EQ(st.changed, 1);
	CHECK_INT_EQ(st.misses, 2);
	/* Unknown tenant. */
	CHECK(tenant_acquire(cache, "no-such-tenant", &e) == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_NOT_FOUND);
	CHECK(tenant_acquire(cache, "bad id'", &e) == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_NOT_FOUND);
out:
	tenant_release(h);
	tenant_cache_free(cache);
	PQfinish(adm);
}

/* Its own start and end (epoch µs) around a sleep of $1 seconds. */
static const struct tenant_stmt st_span = {
	"test_span", "SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint::text,"
	" pg_sleep($1::float8)::text,"
	" (extract(epoch FROM clock_timestamp()) * 1e6)::bigint::text,"
	" pg_backend_pid()::text", 1, false,
};
static const struct tenant_stmt st_span_once = {
	"test_span_once", "SELECT 1::text, pg_sleep($1::float8)::text, 2::text,"
	" pg_backend_pid()::text", 1, true,
};

static void t_send_collect(void)
{
	struct err e;
	struct tenant_cache *cache = new_cache(4);
	PGconn *adm = pgc(pg_port, "postgres");
	struct tenant_conn *a = tenant_acquire(cache, tenant_a, &e);
	struct tenant_conn *b = tenant_acquire(cache, tenant_b, &e);
	CHECK(a != NULL && b != NULL && adm != NULL);
	if (a == NULL || b == NULL || adm == NULL)
		goto out;
	/* Sent on both before either is collected: the two servers ran the
	 * statements at the same time, so the spans overlap. */
	const char *sleep3[] = { "0.3" };
	tenant_send_prepared(a, &st_span, sleep3);
	tenant_send_prepared(b, &st_span, sleep3);
	PGresult *ra = tenant_collect(a, &st_span, sleep3, &e);
	PGresult *rb = tenant_collect(b, &st_span, sleep3, &e);
	CHECK(ra != NULL && rb != NULL);
	if (ra != NULL && rb != NULL) {
		long long a0 = atoll(PQgetvalue(ra, 0, 0)), a1 = atoll(PQgetvalue(ra, 0, 2));
		long long b0 = atoll(PQgetvalue(rb, 0, 0)), b1 = atoll(PQgetvalue(rb, 0, 2));
		CHECK(b0 < a1 && a0 < b1);
	}
	PQclear(ra);
	PQclear(rb);
	/* The handle works as before after a collect. */
	PGresult *r = tenant_exec_prepared(a, &st_pid, NULL, &e);
	CHECK(r != NULL);
	char pid[32];
	snprintf(pid, sizeof pid, "%s", r ? PQgetvalue(r, 0, 0) : "0");
	PQclear(r);

	/* The backend dies while the statement runs: a retryable statement
	 * is sent once more on a fresh connection by the collect. */
	struct tenant_cache_stats st0, st1;
	tenant_cache_stats(cache, &st0);
	const char *sleep1[] = { "1" };
	tenant_send_prepared(a, &st_span, sleep1);
	kill_backend(adm, pid);
	r = tenant_collect(a, &st_span, sleep1, &e);
	CHECK(r != NULL);
	CHECK(r != NULL && strcmp(PQgetvalue(r, 0, 3), pid) != 0);
	if (r != NULL)
		snprintf(pid, sizeof pid, "%s", PQgetvalue(r, 0, 3));
	PQclear(r);
	tenant_cache_stats(cache, &st1);
	CHECK_INT_EQ(st1.reconnects, st0.reconnects + 1);

	/* A no_retry statement is not sent again: its outcome is unknown. */
	tenant_send_prepared(a, &st_span_once, sleep1);
	kill_backend(adm, pid);
	r = tenant_collect(a, &st_span_once, sleep1, &e);
	CHECK(r == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_UNAVAILABLE);
	/* ... and the next statement gets a fresh connection. */
	r = tenant_exec(a, "SELECT 1", 0, NULL, &e);
	CHECK(r != NULL);
	PQclear(r);

	/* A statement that fails on the server: its error, the handle fine. */
	const char *bad[] = { "not a number" };
	tenant_send_prepared(b, &st_span, bad);
	r = tenant_collect(b, &st_span, bad, &e);
	CHECK(r == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_INTERNAL);
	r = tenant_exec(b, "SELECT 1", 0, NULL, &e);
	CHECK(r != NULL);
	PQclear(r);
out:
	tenant_release(a);
	tenant_release(b);
	tenant_cache_free(cache);
	PQfinish(adm);
}

/* A save batch with one report the database refuses (its data is not
 * JSON, so the whole array is not): the others are still stored, and only
 * that one fails. */
static void t_batch_isolation(void)
{
	struct err e;
	struct tenant_cache *cache = new_cache(2);
	struct tenant_conn *h = tenant_acquire(cache, tenant_a, &e);
	CHECK(h != NULL);
	if (h == NULL)
		goto out;
	PGresult *r = tenant_exec(h, "INSERT INTO reports (owner_id) SELECT min(id)"
	    " FROM users, generate_series(1, 3) GROUP BY generate_series"
	    " RETURNING id::text", 0, NULL, &e);
	CHECK(r != NULL && PQntuples(r) == 3);
	if (r == NULL || PQntuples(r) != 3) {
		PQclear(r);
		goto out;
	}
	struct reportwork_ctx ctx[3];
	struct reportwork_save_item items[3];
	const char *data[3][REPORT_PROVIDERS_N] = {
		{ "{\"score\":700}" }, { "{not json" }, { "{\"score\":650}" },
	};
	memset(ctx, 0, sizeof ctx);
	memset(items, 0, sizeof items);
	for (int i = 0; i < 3; i++) {
		ctx[i].report_id = atoll(PQgetvalue(r, i, 0));
		snprintf(ctx[i].p[0].status, sizeof ctx[i].p[0].status, "%s", PROVIDER_COMPLETED);
		ctx[i].p[0].attempts = 1;
		items[i].ctx = &ctx[i];
		items[i].mask = 1u;
		items[i].data = data[i];
		items[i].progress = 33;
		items[i].attempt = 1;
	}
	PQclear(r);
	struct reportwork_batch *b = reportwork_save_send(h, items, 3);
	CHECK(reportwork_batch_collect(h, b, &e) != 0);
	CHECK_INT_EQ(items[0].rc, 0);
	CHECK_INT_EQ(items[0].out.progress, 33);
	CHECK(items[1].rc != 0);
	CHECK_INT_EQ(items[1].out.progress, -1);
	CHECK_INT_EQ(items[2].rc, 0);
	CHECK_INT_EQ(items[2].out.progress, 33);
	char ids[96];
	snprintf(ids, sizeof ids, "{%lld,%lld,%lld}", ctx[0].report_id, ctx[1].report_id,
	    ctx[2].report_id);
	const char *p[] = { ids };
	r = tenant_exec(h, "SELECT r.status || ':' || coalesce(rp.data->>'score', '-')"
	    " FROM reports r LEFT JOIN report_providers rp ON rp.report_id = r.id"
	    " AND rp.provider = 'credit-bureau' WHERE r.id = ANY($1::int[]) ORDER BY r.id",
	    1, p, &e);
	CHECK(r != NULL && PQntuples(r) == 3);
	if (r != NULL && PQntuples(r) == 3) {
		CHECK_STR_EQ(PQgetvalue(r, 0, 0), "IN_PROGRESS:700");
		CHECK_STR_EQ(PQgetvalue(r, 1, 0), "PENDING:-");
		CHECK_STR_EQ(PQgetvalue(r, 2, 0), "IN_PROGRESS:650");
	}
	PQclear(r);
out:
	tenant_release(h);
	tenant_cache_free(cache);
}

static const struct tenant_stmt st_bench = {
	"test_bench", "SELECT id, tax_id FROM users WHERE username = $1", 1, false,
};

static void t_bench_prepared(void)
{
	enum { LOOPS = 2000 };
	struct err e;
	struct tenant_cache *cache = new_cache(2);
	char user[96];
	name(user, sizeof user, "alice");
	const char *p[] = { user };
	struct timespec t0;
	double ms_prep = 0, ms_params = 0;
	int bad = 0;
	for (int round = 0; round < 2; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < LOOPS; i++) {
			struct tenant_conn *h = tenant_acquire(cache, tenant_a, &e);
			PGresult *r = h ? tenant_exec_prepared(h, &st_bench, p, &e) : NULL;
			bad += r == NULL || PQntuples(r) != 1;
			PQclear(r);
			tenant_release(h);
		}
		ms_prep = ms_since(&t0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < LOOPS; i++) {
			struct tenant_conn *h = tenant_acquire(cache, tenant_a, &e);
			PGresult *r = h ? tenant_exec(h, st_bench.sql, 1, p, &e) : NULL;
			bad += r == NULL || PQntuples(r) != 1;
			PQclear(r);
			tenant_release(h);
		}
		ms_params = ms_since(&t0);
	}
	CHECK_INT_EQ(bad, 0);
	printf("     cache hit + select, %d loops: prepared %.1f us/op, "
	    "PQexecParams %.1f us/op\n", LOOPS, ms_prep * 1e3 / LOOPS,
	    ms_params * 1e3 / LOOPS);
	tenant_cache_free(cache);
}

/* ---- set-up and clean-up ---- */

static void cleanup(void)
{
	struct err e;
	PGconn *m = db_conn(master, &e);
	char like[64];
	snprintf(like, sizeof like, "%s%%", prefix);
	if (m != NULL)
		free(q1(m, "DELETE FROM tenants WHERE tenant_id LIKE $1", like, NULL, NULL));
	const char *ports[] = { pg_port, pg2_port };
	for (int s = 0; s < 2; s++) {
		PGconn *adm = pgc(ports[s], "postgres");
		if (adm == NULL)
			continue;
		PGresult *r = PQexecParams(adm, "SELECT datname FROM pg_database "
		    "WHERE datname LIKE $1", 1, NULL, (const char *const[]){ like },
		    NULL, NULL, 0);
		for (int i = 0; i < PQntuples(r); i++)
			if (ddl(adm, "DROP DATABASE", PQgetvalue(r, i, 0), NULL,
			    "WITH (FORCE)") != 0)
				fprintf(stderr, "  cleanup: cannot drop %s\n",
				    PQgetvalue(r, i, 0));
		PQclear(r);
		PQfinish(adm);
	}
}

static const char *need(const char *var)
{
	const char *v = getenv(var);
	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "test_tenancy: %s is not set\n", var);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	(void)argc;
	pg_host = need("PG_HOST");
	pg_port = need("PG_PORT");
	pg_user = need("PG_USER");
	pg_pass = need("PG_PASSWORD");
	master_url = need("MASTER_DATABASE_URL");
	pg2_port = need("PG2_PORT");
	sql_dir = getenv("SQL_DIR") ? getenv("SQL_DIR") : "sql";
	log_init("test", getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERROR);
	snprintf(prefix, sizeof prefix, "tt%d_", (int)getpid());
	snprintf(app_name, sizeof app_name, "reportsvc-%d", (int)getpid());
	snprintf(allowed, sizeof allowed, "127.0.0.1,localhost,db,%s", pg_host);
	char err[256];
	keys = crypto_keys_new(test_key, "t1", NULL, err, sizeof err);
	if (keys == NULL) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	master = db_new(master_url, 3000, app_name);

	static const struct test_case cases[] = {
		{ "migrate_master", t_migrate_master },
		{ "migrate_tenant_db", t_migrate_tenant_db },
		{ "migrate_concurrent", t_migrate_concurrent },
		{ "create_tenant", t_create_tenant },
		{ "create_tenant_bad_input", t_create_tenant_bad_input },
		{ "second_server", t_second_server },
		{ "signup_login", t_signup_login },
		{ "concurrent_signup", t_concurrent_signup },
		{ "terminate_backend", t_terminate_backend },
		{ "send_collect", t_send_collect },
		{ "batch_isolation", t_batch_isolation },
		{ "bench_prepared", t_bench_prepared },
		{ "cache_200", t_cache_200 },
	};
	const char *p = strrchr(argv[0], '/');
	int rc = test_run(p ? p + 1 : argv[0], cases, sizeof cases / sizeof cases[0]);
	cleanup();
	db_free(master);
	crypto_keys_free(keys);
	return rc;
}
