/* poolcap: one cap on the PostgreSQL server connections of every tenant
 * database, shared by all the service's processes on a host.
 *
 * Tenant databases are reached through PgBouncer in transaction mode, which
 * bounds server connections per database (pool_size) but not in total.  This
 * module adds the total.  A file mapped by every process (the FastCGI pool,
 * the workers, the admin tool) holds a table of tenant slots; a slot
 * reserves between 1 and per_tenant server connections for one tenant, and
 * the reservations never add up to more than the cap.  A process may talk to
 * a tenant only between poolcap_enter() and poolcap_exit(): entering raises
 * the tenant's reservation when more of the service's handles use it at
 * once than it has reserved (PgBouncer opens at most one server connection
 * per concurrent transaction, and at most pool_size per database).
 *
 * When a reservation does not fit, the least recently used tenant that
 * nobody is using is evicted: its slot is marked closing, PgBouncer is told
 * to drop that database's connections (admin console `KILL db`, then
 * `RESUME db`), and only then is the room given to the newcomer.  So the
 * servers PgBouncer holds never exceed the cap, whatever the number of
 * tenants, processes and workers.  When nothing can be evicted (every slot
 * in use), entering waits up to wait_ms and then fails with APP_ERR_BUSY.
 *
 * Every admission of a tenant gets a generation no other admission has; a
 * cached client connection made under another generation was dropped by
 * PgBouncer's KILL and must be reopened (poolcap_enter() reports the
 * generation, the tenant cache compares).
 *
 * A process that dies between enter and exit leaves its use counted; such a
 * slot becomes evictable once it has not been entered for POOLCAP_LEAK_MS.
 *
 * Locking: one process-shared robust mutex guards the table; it is never
 * held across I/O (the eviction's admin commands run unlocked, the slot
 * being marked closing meanwhile). */
#ifndef POOLCAP_H
#define POOLCAP_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

struct config;
struct pgbouncer;

enum {
	POOLCAP_LEAK_MS = 60000,	/* a use older than this is presumed leaked */
};

struct poolcap;

struct poolcap_opts {
	const char *state_file;		/* POOL_STATE_FILE: the shared table */
	int max_server_conns;		/* POOL_MAX_SERVER_CONNS: the cap */
	int per_tenant;			/* POOL_TENANT_SERVERS: pool_size per tenant */
	int wait_ms;			/* POOL_WAIT_MS: longest wait for room */
};

struct poolcap_stats {
	long reserved;			/* server connections reserved now */
	long tenants;			/* tenants holding a slot */
	long in_use;			/* handles inside enter/exit, all processes */
	unsigned long admissions;	/* tenants given a slot */
	unsigned long evictions;	/* tenants evicted to make room */
	unsigned long waits;		/* enters that had to wait */
	unsigned long timeouts;		/* enters that gave up (APP_ERR_BUSY) */
};

/* Maps (creating if needed) the shared table.  The first process sizes it
 * from o; later ones use it as it is and log when their settings differ.
 * pgb (borrowed, may be NULL: eviction then impossible, a full table waits)
 * runs the admin commands.  Returns NULL with e filled (APP_ERR_INTERNAL:
 * the file cannot be opened or mapped). */
struct poolcap *poolcap_open(const struct poolcap_opts *o, struct pgbouncer *pgb,
    struct err *e) __attribute__((warn_unused_result));

/* From the configuration: when POOL_HOST is set, a PgBouncer handle and the
 * mapped cap table (both the caller's to free: poolcap_close(), then
 * pgbouncer_free()); when it is not, both NULL.  Returns 0 or, with e
 * filled, what poolcap_open() returns. */
int poolcap_from_cfg(const struct config *c, struct pgbouncer **pgb,
    struct poolcap **cap, struct err *e) __attribute__((warn_unused_result));

/* Unmaps; uses still entered by this process stay counted until they leak.
 * NULL is a no-op. */
void poolcap_close(struct poolcap *p);

/* Removes the shared table file (stack start-up, when no process uses it). */
int poolcap_reset(const char *state_file);

/* Counts one more use of tenant_id, reserving room for it first.  *slot
 * and *gen receive what poolcap_exit() needs; *gen also tells the caller
 * whether connections it made earlier are still valid (same generation).
 * hint: the slot this tenant had last time (-1: unknown), checked first.
 * Returns 0, or APP_ERR_BUSY after wait_ms without room, or
 * APP_ERR_UNAVAILABLE when an eviction could not be carried out. */
int poolcap_enter(struct poolcap *p, const char *tenant_id, int hint, int *slot,
    uint32_t *gen, struct err *e) __attribute__((warn_unused_result));

/* Ends one use entered with (slot, gen).  A stale pair is ignored. */
void poolcap_exit(struct poolcap *p, int slot, uint32_t gen);

/* A consistent snapshot of the shared counters. */
void poolcap_stats(struct poolcap *p, struct poolcap_stats *out);

/* The table's cap and per-tenant limit as the shared file has them. */
int poolcap_cap(const struct poolcap *p);
int poolcap_per_tenant(const struct poolcap *p);

#endif
