#include "poolcap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "pgbouncer.h"
#include "tenant.h"
#include "xalloc.h"

enum {
	MAGIC = 0x70636170,	/* "pcap" */
	VERSION = 1,
	WAIT_STEP_US = 2000,	/* poll period while waiting for room */
};

enum slot_state { SLOT_FREE, SLOT_ACTIVE, SLOT_CLOSING };

struct slot {
	uint64_t hash;			/* of tenant, 0 when FREE */
	char tenant[TENANT_ID_MAX];
	int32_t state;			/* enum slot_state */
	int32_t users;			/* handles inside enter/exit */
	int32_t reserved;		/* server connections counted for it */
	uint32_t gen;			/* unique per admission (gen_seq) */
	int64_t last_ms;		/* last enter or exit (CLOCK_MONOTONIC) */
};

struct shared {
	uint32_t magic, version;
	int32_t cap, per_tenant, nslots;
	int32_t reserved;		/* sum of slots' reserved */
	uint32_t gen_seq;		/* last generation given out */
	pthread_mutex_t lock;
	uint64_t admissions, evictions, waits, timeouts;
	struct slot slots[];
};

struct poolcap {
	struct shared *sh;
	size_t size;
	int wait_ms;
	struct pgbouncer *pgb;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A tenant ID's hash, never 0 (0 marks a free slot). */
static uint64_t hash_of(const char *s)
{
	uint64_t h = tenant_id_hash(s);
	return h ? h : 1;
}

static void lock(struct shared *sh)
{
	int rc = pthread_mutex_lock(&sh->lock);
	if (rc == EOWNERDEAD) {
		/* A process died holding the lock: the table is updated only
		 * in short, complete steps, so it is consistent. */
		log_kv(LOG_WARN, "pool_lock_recovered", NULL);
		pthread_mutex_consistent(&sh->lock);
	} else if (rc != 0) {
		log_kv(LOG_ERROR, "pool_lock_failed", "err", strerror(rc), NULL);
		abort();
	}
}

static void unlock(struct shared *sh)
{
	pthread_mutex_unlock(&sh->lock);
}

static size_t table_size(int nslots)
{
	return sizeof(struct shared) + (size_t)nslots * sizeof(struct slot);
}

static int init_table(struct shared *sh, const struct poolcap_opts *o, int nslots)
{
	memset(sh, 0, table_size(nslots));
	pthread_mutexattr_t a;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&sh->lock, &a) != 0)
		return -1;
	pthread_mutexattr_destroy(&a);
	sh->cap = o->max_server_conns;
	sh->per_tenant = o->per_tenant;
	sh->nslots = nslots;
	sh->version = VERSION;
	__atomic_store_n(&sh->magic, MAGIC, __ATOMIC_RELEASE);
	return 0;
}

struct poolcap *poolcap_open(const struct poolcap_opts *o, struct pgbouncer *pgb,
    struct err *e)
{
	if (o->max_server_conns < 1 || o->per_tenant < 1 ||
	    o->per_tenant > o->max_server_conns) {
		err_set(e, APP_ERR_INTERNAL, "internal error",
		    "pool: cap %d and per-tenant %d do not fit", o->max_server_conns,
		    o->per_tenant);
		return NULL;
	}
	int fd = open(o->state_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(e, APP_ERR_INTERNAL, "internal error", "pool: open %s: %s",
		    o->state_file, strerror(errno));
		return NULL;
	}
	/* Whoever comes first sizes and initialises the table, under flock so
	 * that two starting processes do not both do it. */
	struct shared *sh = MAP_FAILED;
	size_t size = 0;
	const char *why = NULL;
	if (flock(fd, LOCK_EX) != 0) {
		why = "flock";
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		why = "fstat";
		goto fail;
	}
	if ((size_t)st.st_size >= sizeof(struct shared)) {
		size = (size_t)st.st_size;
		sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (sh == MAP_FAILED) {
			why = "mmap";
			goto fail;
		}
		if (sh->magic == MAGIC && sh->version == VERSION &&
		    table_size(sh->nslots) == size) {
			if (sh->cap != o->max_server_conns ||
			    sh->per_tenant != o->per_tenant) {
				struct log_line l;
				log_begin(&l, LOG_WARN, "pool_settings_differ");
				log_int(&l, "cap", sh->cap);
				log_int(&l, "per_tenant", sh->per_tenant);
				log_int(&l, "mine_cap", o->max_server_conns);
				log_int(&l, "mine_per_tenant", o->per_tenant);
				log_end(&l);
			}
			goto done;
		}
		munmap(sh, size);
		sh = MAP_FAILED;
	}
	int nslots = o->max_server_conns;	/* every tenant reserves >= 1 */
	size = table_size(nslots);
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)size) != 0) {
		why = "ftruncate";
		goto fail;
	}
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sh == MAP_FAILED) {
		why = "mmap";
		goto fail;
	}
	if (init_table(sh, o, nslots) != 0) {
		why = "mutex init";
		goto fail;
	}
done:
	flock(fd, LOCK_UN);
	close(fd);
	struct poolcap *p = xcalloc(1, sizeof *p);
	p->sh = sh;
	p->size = size;
	p->wait_ms = o->wait_ms;
	p->pgb = pgb;
	return p;
fail:
	err_set(e, APP_ERR_INTERNAL, "internal error", "pool: %s %s: %s", why,
	    o->state_file, strerror(errno));
	if (sh != MAP_FAILED)
		munmap(sh, size);
	close(fd);
	return NULL;
}

int poolcap_from_cfg(const struct config *c, struct pgbouncer **pgb,
    struct poolcap **cap, struct err *e)
{
	*pgb = NULL;
	*cap = NULL;
	struct pgbouncer_opts po;
	pgbouncer_opts_from_cfg(&po, c);
	if (!pgbouncer_configured(&po))
		return 0;
	struct poolcap_opts o = { c->pool_state_file, c->pool_max_server_conns,
	    c->pool_tenant_servers, c->pool_wait_ms };
	*pgb = pgbouncer_new(&po);
	*cap = poolcap_open(&o, *pgb, e);
	if (*cap == NULL) {
		pgbouncer_free(*pgb);
		*pgb = NULL;
		return e ? (int)e->code : APP_ERR_INTERNAL;
	}
	return 0;
}

void poolcap_close(struct poolcap *p)
{
	if (p == NULL)
		return;
	munmap(p->sh, p->size);
	free(p);
}

int poolcap_reset(const char *state_file)
{
	return unlink(state_file) == 0 || errno == ENOENT ? 0 : -1;
}

int poolcap_cap(const struct poolcap *p)
{
	return p->sh->cap;
}

int poolcap_per_tenant(const struct poolcap *p)
{
	return p->sh->per_tenant;
}

static int find(struct shared *sh, const char *tenant, uint64_t h, int hint)
{
	if (hint >= 0 && hint < sh->nslots && sh->slots[hint].hash == h &&
	    strcmp(sh->slots[hint].tenant, tenant) == 0)
		return hint;
	for (int i = 0; i < sh->nslots; i++)
		if (sh->slots[i].hash == h && strcmp(sh->slots[i].tenant, tenant) == 0)
			return i;
	return -1;
}

/* Evictable: active, unused (or its use leaked), least recently used. */
static int pick_victim(struct shared *sh, int64_t now, int except)
{
	int best = -1;
	for (int i = 0; i < sh->nslots; i++) {
		struct slot *s = &sh->slots[i];
		if (i == except || s->state != SLOT_ACTIVE)
			continue;
		if (s->users > 0 && now - s->last_ms < POOLCAP_LEAK_MS)
			continue;
		if (best < 0 || s->last_ms < sh->slots[best].last_ms)
			best = i;
	}
	return best;
}

/* Evicts slot v (marked CLOSING by the caller, lock not held): PgBouncer
 * drops the tenant's connections, then the slot's room is released.  On
 * failure the slot goes back to ACTIVE with its reservation (its servers
 * may still be open) and an app_err is returned. */
static int evict(struct poolcap *p, int v, struct err *e)
{
	struct shared *sh = p->sh;
	char tenant[TENANT_ID_MAX];
	lock(sh);
	memcpy(tenant, sh->slots[v].tenant, sizeof tenant);
	unlock(sh);
	int rc = p->pgb == NULL ? err_set(e, APP_ERR_UNAVAILABLE,
	    "database unavailable", "pool: full and no pooler console to evict") :
	    pgbouncer_command(p->pgb, "KILL", tenant, e);
	if (rc == APP_ERR_NOT_FOUND) {
		/* PgBouncer no longer lists the tenant (it left the
		 * registry): it holds no connection of it either. */
		rc = 0;
	} else if (rc == 0) {
		struct err e2;
		/* KILL pauses the database: let its next client in again.
		 * If this fails, the next enter's connect will say so. */
		if (pgbouncer_command(p->pgb, "RESUME", tenant, &e2) != 0)
			log_kv(LOG_WARN, "pool_resume_failed", "tenant", tenant,
			    "err", e2.detail, NULL);
	}
	lock(sh);
	struct slot *s = &sh->slots[v];
	if (rc == 0) {
		sh->reserved -= s->reserved;
		sh->evictions++;
		s->hash = 0;
		s->tenant[0] = '\0';
		s->state = SLOT_FREE;
		s->users = 0;
		s->reserved = 0;
	} else {
		s->state = SLOT_ACTIVE;
	}
	unlock(sh);
	if (rc == 0)
		log_kv(LOG_DEBUG, "pool_tenant_evicted", "tenant", tenant, NULL);
	else
		log_kv(LOG_WARN, "pool_evict_failed", "tenant", tenant, "err",
		    e ? e->detail : "", NULL);
	return rc;
}

/* One try under the lock.  Returns 0 (entered), 1 (no room: wait), or
 * 2 with *victim set (marked CLOSING: evict it, then try again). */
static int try_enter(struct poolcap *p, const char *tenant, uint64_t h, int hint,
    int *slot, uint32_t *gen, int *victim)
{
	struct shared *sh = p->sh;
	int64_t now = now_ms();
	int i = find(sh, tenant, h, hint);
	if (i >= 0 && sh->slots[i].state == SLOT_CLOSING)
		return 1;	/* being evicted: wait until it is gone */
	bool need_new = i < 0;
	bool need_more = !need_new && sh->slots[i].users >= sh->slots[i].reserved &&
	    sh->slots[i].reserved < sh->per_tenant;
	if (need_new || need_more) {
		int free_slot = -1;
		if (need_new)
			for (int k = 0; k < sh->nslots && free_slot < 0; k++)
				if (sh->slots[k].state == SLOT_FREE)
					free_slot = k;
		bool room = sh->reserved + 1 <= sh->cap &&
		    (need_more || free_slot >= 0);
		if (!room) {
			int v = pick_victim(sh, now, i);
			if (v < 0)
				return 1;	/* wait for a use to end */
			sh->slots[v].state = SLOT_CLOSING;
			*victim = v;
			return 2;
		}
		sh->reserved++;
		if (need_new) {
			struct slot *s = &sh->slots[free_slot];
			s->hash = h;
			memcpy(s->tenant, tenant, strlen(tenant) + 1);
			s->state = SLOT_ACTIVE;
			s->users = 0;
			s->reserved = 1;
			s->gen = ++sh->gen_seq;
			sh->admissions++;
			i = free_slot;
		} else {
			sh->slots[i].reserved++;
		}
	}
	sh->slots[i].users++;
	sh->slots[i].last_ms = now;
	*slot = i;
	*gen = sh->slots[i].gen;
	return 0;
}

int poolcap_enter(struct poolcap *p, const char *tenant_id, int hint, int *slot,
    uint32_t *gen, struct err *e)
{
	if (!tenant_id_valid(tenant_id))
		return err_set(e, APP_ERR_NOT_FOUND, "tenant not found",
		    "pool: invalid tenant id");
	uint64_t h = hash_of(tenant_id);
	int64_t deadline = now_ms() + p->wait_ms;
	bool waited = false;
	for (;;) {
		int victim = -1;
		lock(p->sh);
		int rc = try_enter(p, tenant_id, h, hint, slot, gen, &victim);
		if (rc == 0 && waited)
			p->sh->waits++;
		if (rc == 1 && now_ms() >= deadline)
			p->sh->timeouts++;
		unlock(p->sh);
		if (rc == 0)
			return 0;
		if (rc == 2) {
			int erc = evict(p, victim, e);
			if (erc != 0)
				return erc;
			continue;
		}
		if (now_ms() >= deadline) {
			struct log_line l;
			log_begin(&l, LOG_WARN, "pool_wait_timeout");
			log_str(&l, "tenant", tenant_id);
			log_int(&l, "wait_ms", p->wait_ms);
			log_end(&l);
			return err_set(e, APP_ERR_BUSY, "the service is busy: every "
			    "database connection is in use; retry shortly",
			    "pool: no room for tenant %s within %d ms", tenant_id,
			    p->wait_ms);
		}
		waited = true;
		usleep(WAIT_STEP_US);
	}
}

void poolcap_exit(struct poolcap *p, int slot, uint32_t gen)
{
	if (p == NULL || slot < 0 || slot >= p->sh->nslots)
		return;
	lock(p->sh);
	struct slot *s = &p->sh->slots[slot];
	if (s->gen == gen && s->state != SLOT_FREE && s->users > 0) {
		s->users--;
		s->last_ms = now_ms();
	}
	unlock(p->sh);
}

void poolcap_stats(struct poolcap *p, struct poolcap_stats *out)
{
	memset(out, 0, sizeof *out);
	struct shared *sh = p->sh;
	lock(sh);
	out->reserved = sh->reserved;
	for (int i = 0; i < sh->nslots; i++) {
		if (sh->slots[i].state == SLOT_FREE)
			continue;
		out->tenants++;
		out->in_use += sh->slots[i].users;
	}
	out->admissions = sh->admissions;
	out->evictions = sh->evictions;
	out->waits = sh->waits;
	out->timeouts = sh->timeouts;
	unlock(sh);
}
