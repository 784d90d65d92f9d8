/* reportsvc-admin: operator commands.
 *
 *   reportsvc-admin migrate   apply missing migrations to the master
 *                             database and to every tenant database
 *   reportsvc-admin config    print the settings (secrets hidden)
 *   reportsvc-admin config-doc  print every setting as a Markdown table
 *
 * Configured by the same environment as the services (MASTER_DATABASE_URL,
 * DATA_KEY, SQL_DIR, ...).  Exit status 0 on success, 1 on failure, 2 on a
 * usage or configuration error. */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "tenant.h"

static int cmd_migrate(void)
{
	const struct config *c = cfg();
	char kerr[256];
	struct crypto_keys *keys = crypto_keys_from_cfg(c, kerr, sizeof kerr);
	if (keys == NULL) {
		fprintf(stderr, "configuration: DATA_KEY, DATA_KEY_ID or DATA_KEYS_OLD is invalid (%s)\n", kerr);
		return 2;
	}
	int rc = 1;
	struct err e;
	err_clear(&e);
	struct db *master = db_new(c->master_db_url, c->dep_timeout_ms, "reportsvc-admin");
	PGconn *conn = db_conn(master, &e);
	if (conn == NULL) {
		fprintf(stderr, "migrate: master database: %s\n", e.msg);
		goto out;
	}
	int applied = 0;
	if (migrate_run(conn, c->sql_dir, MIGRATE_MASTER, &applied, &e) != 0) {
		fprintf(stderr, "migrate: master database: %s (%s)\n", e.msg, e.detail);
		goto out;
	}
	printf("master: %d migration(s) applied\n", applied);
	struct tenant_admin_opts o;
	tenant_admin_opts_from_cfg(&o, c, keys);
	int migrated = 0;
	if (tenant_migrate_all(master, &o, &migrated, &e) != 0) {
		fprintf(stderr, "migrate: tenants: %s (%s)\n", e.msg, e.detail);
		goto out;
	}
	printf("tenants: migrations applied to %d database(s); all are current\n", migrated);
	rc = 0;
out:
	db_free(master);
	crypto_keys_free(keys);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "config-doc") == 0) {
		cfg_doc(stdout);
		return 0;
	}
	if (argc != 2 || (strcmp(argv[1], "migrate") != 0 && strcmp(argv[1], "config") != 0)) {
		fprintf(stderr, "usage: reportsvc-admin migrate|config|config-doc\n");
		return 2;
	}
	cfg_load_or_exit(CFG_TOOL);
	log_init("admin", (enum log_level)cfg()->log_level);
	if (strcmp(argv[1], "config") == 0) {
		cfg_dump(stdout, cfg(), CFG_TOOL);
		return 0;
	}
	return cmd_migrate();
}
