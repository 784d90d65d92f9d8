/* tenant: the tenant registry.
 *
 * The master table `tenants` maps a tenant ID to its own PostgreSQL
 * database (host, port, user, database, password sealed with lib/crypto,
 * updated_at moved by every change).  This module reads it; the connection
 * cache is lib/tenant_cache.h, provisioning (createTenant, migrations of
 * every tenant) lib/tenant_admin.h. */
#ifndef TENANT_H
#define TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "err.h"

struct crypto_keys;

enum {
	TENANT_ID_MAX = 64,		/* bytes incl. NUL: [A-Za-z0-9_-]{1,63} */
	TENANT_NAME_MAX = 201,		/* 200 bytes of UTF-8 + NUL */
	TENANT_HOST_MAX = 256,
	TENANT_PORT_MAX = 6,		/* "65535" + NUL */
	TENANT_USER_MAX = 64,
	TENANT_DBNAME_MAX = 64,
	TENANT_PASSWORD_MAX = 256,	/* bytes, without NUL */
	TENANT_UPDATED_AT_MAX = 64,
};

/* True if s is 1-63 chars of [A-Za-z0-9_-] (tenant IDs, database names). */
bool tenant_id_valid(const char *s);

/* FNV-1a of a tenant ID: a cheap first comparison in lookup tables. */
uint64_t tenant_id_hash(const char *s);

/* A registry row without the password. */
struct tenant_info {
	char tenant_id[TENANT_ID_MAX];
	char name[TENANT_NAME_MAX];
	char host[TENANT_HOST_MAX];
	char port[TENANT_PORT_MAX];
	char user[TENANT_USER_MAX];
	char dbname[TENANT_DBNAME_MAX];
};

/* Reads tenant_id's registry row.  Returns 0, or APP_ERR_NOT_FOUND,
 * APP_ERR_UNAVAILABLE, APP_ERR_INTERNAL with e filled. */
int tenant_get(struct db *master, const char *tenant_id, struct tenant_info *out,
    struct err *e) __attribute__((warn_unused_result));

/* Where and how to connect to one tenant's database (the password in
 * clear: crypto_wipe() it when done). */
struct tenant_target {
	char host[TENANT_HOST_MAX];
	char port[TENANT_PORT_MAX];
	char user[TENANT_USER_MAX];
	char dbname[TENANT_DBNAME_MAX];
	char password[TENANT_PASSWORD_MAX + 1];
	char updated_at[TENANT_UPDATED_AT_MAX];
};

/* Loads tenant_id's connection settings into t, the password opened with
 * keys when open_password (else left empty).  Returns 0, or
 * APP_ERR_NOT_FOUND, APP_ERR_UNAVAILABLE (master unreachable),
 * APP_ERR_INTERNAL (a field too long, or the password cannot be opened)
 * with e filled and t wiped. */
int tenant_target_load(struct db *master, const char *tenant_id,
    const struct crypto_keys *keys, bool open_password, struct tenant_target *t,
    struct err *e) __attribute__((warn_unused_result));

/* The registry row's updated_at as text into out[size].  Returns 0, or
 * APP_ERR_NOT_FOUND (the tenant left the registry), APP_ERR_UNAVAILABLE. */
int tenant_updated_at(struct db *master, const char *tenant_id, char *out,
    size_t size, struct err *e) __attribute__((warn_unused_result));

#endif
