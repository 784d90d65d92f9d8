/* reportsvc-admin: operator commands.
 *
 *   reportsvc-admin migrate   apply missing migrations to the master
 *                             database and to every tenant database
 *   reportsvc-admin config    print the settings (secrets hidden)
 *   reportsvc-admin config-doc  print every setting as a Markdown table
 *   reportsvc-admin pool-sync write PgBouncer's databases file from the
 *                             tenant registry and reload it (the master's
 *                             migrations first)
 *   reportsvc-admin pool-stats  print the global connection cap's counters
 *   reportsvc-admin tenant-password TENANT
 *                             store a tenant's new database password (read
 *                             from standard input) and sync PgBouncer
 *   reportsvc-admin seed-tenants PREFIX COUNT [JOBS] --host H --port P
 *                             --user U   (password on standard input)
 *                             many tenants fast, for benchmarks (tools/seed.h)
 *
 * Configured by the same environment as the services (MASTER_DATABASE_URL,
 * DATA_KEY, SQL_DIR, POOL_*, ...).  Exit status 0 on success, 1 on failure,
 * 2 on a usage or configuration error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "pgbouncer.h"
#include "poolcap.h"
#include "seed.h"
#include "tenant_admin.h"

static const char usage[] =
    "usage: reportsvc-admin migrate|config|config-doc|pool-sync|pool-stats\n"
    "       reportsvc-admin tenant-password TENANT   (password on stdin)\n"
    "       reportsvc-admin seed-tenants PREFIX COUNT [JOBS] --host H --port P"
    " --user U   (password on stdin)\n";

/* What every database command needs. */
struct admin {
	struct crypto_keys *keys;
	struct db *master;
	struct pgbouncer *pgb;		/* NULL without POOL_HOST */
	struct poolcap *cap;
};

static int admin_open(struct admin *a)
{
	const struct config *c = cfg();
	memset(a, 0, sizeof *a);
	char kerr[256];
	a->keys = crypto_keys_from_cfg(c, kerr, sizeof kerr);
	if (a->keys == NULL) {
		fprintf(stderr, "configuration: DATA_KEY, DATA_KEY_ID or DATA_KEYS_OLD is invalid (%s)\n", kerr);
		return 2;
	}
	struct err e;
	if (poolcap_from_cfg(c, &a->pgb, &a->cap, &e) != 0) {
		fprintf(stderr, "pool: %s\n", e.detail);
		crypto_keys_free(a->keys);
		return 2;
	}
	a->master = db_new(c->master_db_url, c->dep_timeout_ms, "reportsvc-admin");
	return 0;
}

static void admin_close(struct admin *a)
{
	db_free(a->master);
	poolcap_close(a->cap);
	pgbouncer_free(a->pgb);
	crypto_keys_free(a->keys);
}

/* One line of standard input without its newline into out[size]; 0 or -1. */
static int read_secret(char *out, size_t size)
{
	if (fgets(out, (int)size, stdin) == NULL)
		return -1;
	size_t n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == size - 1)
		return -1;	/* longer than the buffer */
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The master database's migrations; 0 or 1 (reported on stderr). */
static int migrate_master(struct admin *a, const char *cmd)
{
	struct err e;
	err_clear(&e);
	PGconn *conn = db_conn(a->master, &e);
	if (conn == NULL) {
		fprintf(stderr, "%s: master database: %s\n", cmd, e.msg);
		return 1;
	}
	int applied = 0;
	if (migrate_run(conn, cfg()->sql_dir, MIGRATE_MASTER, &applied, &e) != 0) {
		fprintf(stderr, "%s: master database: %s (%s)\n", cmd, e.msg, e.detail);
		return 1;
	}
	printf("master: %d migration(s) applied\n", applied);
	return 0;
}

static int cmd_migrate(struct admin *a)
{
	const struct config *c = cfg();
	struct err e;
	err_clear(&e);
	if (migrate_master(a, "migrate") != 0)
		return 1;
	struct tenant_admin_opts o;
	tenant_admin_opts_from_cfg(&o, c, a->keys);
	int migrated = 0;
	if (tenant_migrate_all(a->master, &o, &migrated, &e) != 0) {
		fprintf(stderr, "migrate: tenants: %s (%s)\n", e.msg, e.detail);
		return 1;
	}
	printf("tenants: migrations applied to %d database(s); all are current\n", migrated);
	return 0;
}

/* False (and says so) when the command needs a pooler and none is set. */
static bool have_pool(const struct admin *a, const char *cmd)
{
	if (a->pgb == NULL)
		fprintf(stderr, "%s: POOL_HOST is not set (no pooler)\n", cmd);
	return a->pgb != NULL;
}

static int cmd_pool_sync(struct admin *a)
{
	if (!have_pool(a, "pool-sync"))
		return 2;
	/* The registry must exist first (a new stack's first command). */
	if (migrate_master(a, "pool-sync") != 0)
		return 1;
	struct err e;
	err_clear(&e);
	int count = 0;
	if (pgbouncer_sync(a->pgb, a->master, a->keys, &count, &e) != 0) {
		fprintf(stderr, "pool-sync: %s (%s)\n", e.msg, e.detail);
		return 1;
	}
	printf("pgbouncer: %d tenant database(s) configured\n", count);
	return 0;
}

static int cmd_pool_stats(struct admin *a)
{
	if (!have_pool(a, "pool-stats"))
		return 2;
	struct poolcap_stats s;
	poolcap_stats(a->cap, &s);
	printf("cap %d per_tenant %d reserved %ld tenants %ld in_use %ld "
	    "admissions %lu evictions %lu waits %lu timeouts %lu\n",
	    poolcap_cap(a->cap), poolcap_per_tenant(a->cap), s.reserved, s.tenants,
	    s.in_use, s.admissions, s.evictions, s.waits, s.timeouts);
	return 0;
}

static const char sql_set_password[] =
    "UPDATE tenants SET db_password_enc = $2, key_id = $3 WHERE tenant_id = $1";

static int cmd_tenant_password(struct admin *a, const char *tenant)
{
	char pw[TENANT_PASSWORD_MAX + 2], sealed[CRYPTO_SEALED_MAX];
	if (!tenant_id_valid(tenant) || read_secret(pw, sizeof pw) != 0 ||
	    strlen(pw) > TENANT_PASSWORD_MAX) {
		fprintf(stderr, "tenant-password: a tenant ID and a password of "
		    "1-%d bytes on standard input\n", TENANT_PASSWORD_MAX);
		return 2;
	}
	int rc = crypto_seal(a->keys, pw, strlen(pw), sealed, sizeof sealed);
	crypto_wipe(pw, sizeof pw);
	if (rc != 0) {
		fprintf(stderr, "tenant-password: sealing failed\n");
		return 1;
	}
	struct err e;
	err_clear(&e);
	const char *p[] = { tenant, sealed, crypto_keys_current_id(a->keys) };
	PGresult *r = db_exec(a->master, sql_set_password, 3, p, "set password", &e);
	crypto_wipe(sealed, sizeof sealed);
	if (r == NULL) {
		fprintf(stderr, "tenant-password: %s (%s)\n", e.msg, e.detail);
		return 1;
	}
	bool found = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!found) {
		fprintf(stderr, "tenant-password: no tenant %s\n", tenant);
		return 1;
	}
	printf("tenant %s: password stored\n", tenant);
	return a->pgb != NULL ? cmd_pool_sync(a) : 0;
}

static int cmd_seed(struct admin *a, int argc, char **argv)
{
	const struct config *c = cfg();
	struct seed_opts o = { .jobs = 4, .sql_dir = c->sql_dir,
	    .bcrypt_cost = c->bcrypt_cost, .connect_timeout_ms = 5000 };
	int pos = 0;
	for (int i = 2; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--host") == 0)
			o.host = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--port") == 0)
			o.port = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--user") == 0)
			o.user = argv[++i];
		else if (pos == 0 && ++pos)
			o.prefix = argv[i];
		else if (pos == 1 && ++pos)
			o.count = atoi(argv[i]);
		else if (pos == 2 && ++pos)
			o.jobs = atoi(argv[i]);
		else
			pos = 99;
	}
	char pw[TENANT_PASSWORD_MAX + 2];
	if (pos < 2 || pos > 3 || o.host == NULL || o.port == NULL ||
	    o.user == NULL || read_secret(pw, sizeof pw) != 0) {
		fputs(usage, stderr);
		return 2;
	}
	o.password = pw;
	struct err e;
	err_clear(&e);
	int rc = seed_tenants(&o, a->master, a->keys, a->pgb, &e);
	crypto_wipe(pw, sizeof pw);
	if (rc != 0) {
		fprintf(stderr, "seed-tenants: %s (%s)\n", e.msg, e.detail);
		return rc == APP_ERR_BAD_INPUT ? 2 : 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "config-doc") == 0) {
		cfg_doc(stdout);
		return 0;
	}
	const char *cmd = argc >= 2 ? argv[1] : "";
	bool known = (argc == 2 && (strcmp(cmd, "migrate") == 0 ||
	    strcmp(cmd, "config") == 0 || strcmp(cmd, "pool-sync") == 0 ||
	    strcmp(cmd, "pool-stats") == 0)) ||
	    (argc == 3 && strcmp(cmd, "tenant-password") == 0) ||
	    (argc >= 4 && strcmp(cmd, "seed-tenants") == 0);
	if (!known) {
		fputs(usage, stderr);
		return 2;
	}
	cfg_load_or_exit(CFG_TOOL);
	const struct config *c = cfg();
	log_init("admin", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0)
		fprintf(stderr, "cannot open LOG_FILE %s; logging to stderr\n", c->log_file);
	if (strcmp(cmd, "config") == 0) {
		cfg_dump(stdout, c, CFG_TOOL);
		return 0;
	}
	struct admin a;
	int rc = admin_open(&a);
	if (rc != 0)
		return rc;
	if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&a);
	else if (strcmp(cmd, "pool-sync") == 0)
		rc = cmd_pool_sync(&a);
	else if (strcmp(cmd, "pool-stats") == 0)
		rc = cmd_pool_stats(&a);
	else if (strcmp(cmd, "tenant-password") == 0)
		rc = cmd_tenant_password(&a, argv[2]);
	else
		rc = cmd_seed(&a, argc, argv);
	admin_close(&a);
	return rc;
}
