#include "seed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clock.h"
#include "crypto.h"
#include "db.h"
#include "migrate.h"
#include "password.h"
#include "pgbouncer.h"
#include "sbuf.h"
#include "tenant.h"

enum { NAME_MAX_BYTES = 64, PREFIX_MAX = 40, SQL_MAX = 512 };

static const char sql_user[] =
    "INSERT INTO users (id, username, password_hash, tax_id)"
    " VALUES (1, 'seed', $1, 'SEED-TAX-1') ON CONFLICT DO NOTHING";
static const char sql_report[] =
    "INSERT INTO reports (id, owner_id, status, progress, announced,"
    " ready_announced, completed_at) VALUES (1, 1, 'COMPLETED', 100, true,"
    " true, now()) ON CONFLICT DO NOTHING";
static const char sql_sequences[] =
    "SELECT setval(pg_get_serial_sequence('users', 'id'), 1),"
    " setval(pg_get_serial_sequence('reports', 'id'), 1)";
static const char sql_db_exists[] =
    "SELECT 1 FROM pg_database WHERE datname = $1";
static const char sql_registered[] =
    "SELECT tenant_id FROM tenants WHERE tenant_id LIKE $1 || '-%'";
static const char sql_register[] =
    "INSERT INTO tenants (tenant_id, name, db_host, db_port, db_user, db_name,"
    " db_password_enc, key_id) VALUES ($1, $1, $2, $3::int, $4, $1, $5, $6)"
    " ON CONFLICT (tenant_id) DO NOTHING";

static bool prefix_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > PREFIX_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

static PGconn *connect_db(const struct seed_opts *o, const char *db, struct err *e)
{
	struct db_target t = { o->host, o->port, o->user, o->password, db };
	return db_connect(&t, o->connect_timeout_ms, "reportsvc-seed", e);
}

/* CREATE DATABASE name [TEMPLATE tmpl]: identifiers quoted by libpq (DDL
 * takes no parameters); names are checked tenant IDs.  0 or -1 with e. */
static int create_db(PGconn *c, const char *name, const char *tmpl, struct err *e)
{
	if (!tenant_id_valid(name) || (tmpl != NULL && !tenant_id_valid(tmpl)))
		return err_set(e, APP_ERR_INTERNAL, "internal error", "bad name");
	char *qn = PQescapeIdentifier(c, name, strlen(name));
	char *qt = tmpl ? PQescapeIdentifier(c, tmpl, strlen(tmpl)) : NULL;
	struct sbuf sb;
	sbuf_init(&sb, SQL_MAX);
	sbuf_printf(&sb, "CREATE DATABASE %s", qn ? qn : "");
	if (qt != NULL)
		sbuf_printf(&sb, " TEMPLATE %s", qt);
	PQfreemem(qn);
	PQfreemem(qt);
	int rc = 0;
	if (sb.failed || qn == NULL || (tmpl != NULL && qt == NULL)) {
		rc = err_set(e, APP_ERR_INTERNAL, "internal error", "ddl");
	} else {
		PGresult *r = PQexec(c, sb.p);
		if (PQresultStatus(r) != PGRES_COMMAND_OK &&
		    strcmp(db_sqlstate(r), "42P04") != 0)	/* exists: fine */
			rc = db_fail(c, r, name, NULL, e);
		PQclear(r);
	}
	sbuf_clear(&sb);
	return rc;
}

static bool db_exists(PGconn *c, const char *name, struct err *e, int *rc)
{
	const char *p[] = { name };
	PGresult *r = db_exec_on(c, sql_db_exists, 1, p, "pg_database", e);
	*rc = r ? 0 : APP_ERR_UNAVAILABLE;
	bool yes = r != NULL && PQntuples(r) == 1;
	PQclear(r);
	return yes;
}

/* The template: created, migrated and given its user and report once. */
static int make_template(const struct seed_opts *o, PGconn *admin,
    const char *tmpl, struct err *e)
{
	int rc;
	if (db_exists(admin, tmpl, e, &rc) || rc != 0)
		return rc;
	if ((rc = create_db(admin, tmpl, NULL, e)) != 0)
		return rc;
	PGconn *t = connect_db(o, tmpl, e);
	if (t == NULL)
		return APP_ERR_UNAVAILABLE;
	int applied = 0;
	char hash[PASSWORD_HASH_MAX];
	rc = migrate_run(t, o->sql_dir, MIGRATE_TENANT, &applied, e);
	if (rc == 0)
		rc = password_hash("seed-password", 13, o->bcrypt_cost, hash, e);
	const char *p[] = { hash };
	PGresult *r = NULL;
	if (rc == 0 && (r = db_exec_on(t, sql_user, 1, p, "seed user", e)) == NULL)
		rc = APP_ERR_INTERNAL;
	PQclear(r);
	r = NULL;
	if (rc == 0 && (r = db_exec_on(t, sql_report, 0, NULL, "seed report", e)) == NULL)
		rc = APP_ERR_INTERNAL;
	PQclear(r);
	r = NULL;
	if (rc == 0 && (r = db_exec_on(t, sql_sequences, 0, NULL, "seed sequences", e)) == NULL)
		rc = APP_ERR_INTERNAL;
	PQclear(r);
	PQfinish(t);
	return rc;
}

static double secs_since(int64_t t0)
{
	return (double)(clock_mono_ms() - t0) / 1000.0;
}

/* Child j of jobs: creates the databases n = j+1, j+1+jobs, ... that do not
 * exist yet.  Exit status 0 or 1. */
static int create_share(const struct seed_opts *o, const char *tmpl, int j)
{
	struct err e;
	PGconn *c = connect_db(o, "postgres", &e);
	if (c == NULL) {
		fprintf(stderr, "seed: %s\n", e.msg);
		return 1;
	}
	char name[NAME_MAX_BYTES];
	for (int n = j + 1; n <= o->count; n += o->jobs) {
		snprintf(name, sizeof name, "%s-%d", o->prefix, n);
		int rc;
		if (db_exists(c, name, &e, &rc))
			continue;
		if (rc != 0 || create_db(c, name, tmpl, &e) != 0) {
			fprintf(stderr, "seed: %s: %s (%s)\n", name, e.msg, e.detail);
			PQfinish(c);
			return 1;
		}
	}
	PQfinish(c);
	return 0;
}

int seed_tenants(const struct seed_opts *o, struct db *master,
    const struct crypto_keys *keys, struct pgbouncer *pgb, struct err *e)
{
	if (!prefix_ok(o->prefix) || o->count < 1 || o->count > 1000000 ||
	    o->jobs < 1 || o->jobs > 64)
		return err_set(e, APP_ERR_BAD_INPUT, "prefix must be 1-40 of "
		    "[A-Za-z0-9_], count 1..1000000, jobs 1..64", NULL);
	char tmpl[NAME_MAX_BYTES];
	snprintf(tmpl, sizeof tmpl, "%s_template", o->prefix);
	int64_t t0 = clock_mono_ms();
	PGconn *admin = connect_db(o, "postgres", e);
	if (admin == NULL)
		return APP_ERR_UNAVAILABLE;
	int rc = make_template(o, admin, tmpl, e);
	PQfinish(admin);
	if (rc != 0)
		return rc;
	printf("template %s ready (%.1f s)\n", tmpl, secs_since(t0));
	fflush(stdout);

	int64_t t1 = clock_mono_ms();
	pid_t kids[64];
	for (int j = 0; j < o->jobs; j++) {
		kids[j] = fork();
		if (kids[j] == 0)
			_exit(create_share(o, tmpl, j));
		if (kids[j] < 0)
			return err_set(e, APP_ERR_INTERNAL, "fork failed", NULL);
	}
	int failed = 0;
	for (int j = 0; j < o->jobs; j++) {
		int st;
		if (waitpid(kids[j], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			failed++;
	}
	if (failed > 0)
		return err_set(e, APP_ERR_UNAVAILABLE, "creating databases failed",
		    "%d of %d jobs failed", failed, o->jobs);
	printf("%d databases present (%.1f s, %d at a time)\n", o->count,
	    secs_since(t1), o->jobs);
	fflush(stdout);

	int64_t t2 = clock_mono_ms();
	const char *pp[] = { o->prefix };
	PGresult *r = db_exec(master, sql_registered, 1, pp, "registered", e);
	if (r == NULL)
		return APP_ERR_UNAVAILABLE;
	int before = PQntuples(r);
	PQclear(r);
	char name[NAME_MAX_BYTES], sealed[CRYPTO_SEALED_MAX];
	int added = 0;
	for (int n = 1; n <= o->count; n++) {
		snprintf(name, sizeof name, "%s-%d", o->prefix, n);
		if (crypto_seal(keys, o->password, strlen(o->password), sealed,
		    sizeof sealed) != 0)
			return err_set(e, APP_ERR_INTERNAL, "sealing failed", NULL);
		const char *p[] = { name, o->host, o->port, o->user, sealed,
		    crypto_keys_current_id(keys) };
		r = db_exec(master, sql_register, 6, p, "register", e);
		if (r == NULL)
			return e->code;
		added += atoi(PQcmdTuples(r));
		PQclear(r);
	}
	crypto_wipe(sealed, sizeof sealed);
	printf("%d tenants registered (%d new, %d were already; %.1f s)\n",
	    before + added, added, before, secs_since(t2));
	if (pgb != NULL) {
		int64_t t3 = clock_mono_ms();
		int count = 0;
		if ((rc = pgbouncer_sync(pgb, master, keys, &count, e)) != 0)
			return rc;
		printf("pgbouncer knows %d tenants (%.1f s)\n", count, secs_since(t3));
	}
	printf("seeded in %.1f s\n", secs_since(t0));
	return 0;
}
