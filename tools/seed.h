/* seed: many tenants fast, for benchmarks and tests.
 *
 * A template database is made once (migrated, holding user 1 "seed" with
 * password "seed-password" and report 1 of that user, COMPLETED), then every
 * tenant "<prefix>-<n>" gets `CREATE DATABASE ... TEMPLATE` of it, several at
 * a time, and a registry row (password sealed like createTenant's).  Tenants
 * already registered are skipped, so a run can be repeated or extended.
 * Seeded users have no user_directory entry (usernames are unique across
 * tenants): clients sign tokens for user 1 of each tenant with JWT_SECRET. */
#ifndef SEED_H
#define SEED_H

#include "err.h"

struct crypto_keys;
struct db;
struct pgbouncer;

struct seed_opts {
	const char *prefix;		/* [A-Za-z0-9_]{1,40}: names "<prefix>-<n>" */
	int count;			/* tenants 1..count */
	int jobs;			/* CREATE DATABASE running at once */
	const char *host, *port, *user, *password;	/* the tenants' server */
	const char *sql_dir;
	int bcrypt_cost;
	int connect_timeout_ms;
};

/* Seeds; prints progress and timings on stdout.  Returns 0 or an app_err
 * with e filled. */
int seed_tenants(const struct seed_opts *o, struct db *master,
    const struct crypto_keys *keys, struct pgbouncer *pgb, struct err *e)
	__attribute__((warn_unused_result));

#endif
