/* tenant_admin: provisioning tenants.
 *
 * createTenant (tenant_create): validate the input, make sure the tenant ID
 * is free, create the database on the tenant's server if it does not exist,
 * migrate it to the newest tenant schema, and only then register the tenant
 * in the master (password sealed with lib/crypto).  And the migration of
 * every registered tenant database (reportsvc-admin migrate). */
#ifndef TENANT_ADMIN_H
#define TENANT_ADMIN_H

#include "db.h"
#include "err.h"
#include "tenant.h"

struct config;
struct crypto_keys;

/* What createTenant receives (borrowed strings; port as text per contract). */
struct tenant_input {
	const char *tenant_id;
	const char *name;
	const char *host;
	const char *port;
	const char *user;
	const char *password;
	const char *dbname;
};

struct tenant_admin_opts {
	const char *allowed_hosts;	/* TENANT_DB_HOSTS: "a,b,c" */
	const char *sql_dir;		/* SQL_DIR */
	int connect_timeout_ms;		/* DEP_TIMEOUT_MS */
	const char *app_name;		/* NULL: "reportsvc" */
	const struct crypto_keys *keys;	/* seals the password (borrowed) */
};

void tenant_admin_opts_from_cfg(struct tenant_admin_opts *o,
    const struct config *c, const struct crypto_keys *keys);

/* Creates a tenant: validates in, connects to the server's `postgres`
 * database with the given credentials, creates the database if it does not
 * exist, migrates it to the newest tenant schema, and only then registers
 * the tenant (password sealed).  On failure nothing is registered (and a
 * database this call created is dropped again).  Returns 0 and fills out (may
 * be NULL), or with e filled: APP_ERR_BAD_INPUT (invalid field, host not
 * allowed, server unreachable, credentials refused, no right to create the
 * database: the message names the server, never the password),
 * APP_ERR_CONFLICT (tenant ID taken), APP_ERR_UNAVAILABLE (master down),
 * APP_ERR_INTERNAL. */
int tenant_create(struct db *master, const struct tenant_admin_opts *o,
    const struct tenant_input *in, struct tenant_info *out, struct err *e)
	__attribute__((warn_unused_result));

/* Migrates every registered tenant database (start-up of a deploying
 * process).  Stops at the first failure.  Returns 0 or a negative app_err. */
int tenant_migrate_all(struct db *master, const struct tenant_admin_opts *o,
    int *migrated, struct err *e) __attribute__((warn_unused_result));

#endif
