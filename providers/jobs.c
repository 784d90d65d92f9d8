#include "jobs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "xalloc.h"

struct job {
	struct job *hnext;		/* bucket chain */
	struct job *newer, *older;	/* LRU list */
	char id[PROV_JOB_ID_LEN + 1];
	enum prov_id prov;
	char taxid[PROV_TAXID_MAX + 1];
	size_t taxid_len;
	struct prov_knobs knobs;
	uint64_t seed;
	int64_t requests;
	int answered;
	bool completed;
	int64_t last_ms;
};

struct prov_jobs {
	pthread_mutex_t mu;
	struct job **buckets;
	size_t nbuckets;		/* a power of two */
	size_t n, max;
	int64_t ttl_ms;
	struct job *newest, *oldest;
	uint64_t expired, evicted;
};

struct prov_jobs *prov_jobs_new(size_t max, int64_t ttl_ms)
{
	struct prov_jobs *t = xcalloc(1, sizeof *t);
	if (pthread_mutex_init(&t->mu, NULL) != 0)
		xalloc_die(sizeof t->mu);
	t->nbuckets = 16;
	while (t->nbuckets < max && t->nbuckets < ((size_t)1 << 30))
		t->nbuckets <<= 1;
	t->buckets = xcalloc(t->nbuckets, sizeof *t->buckets);
	t->max = max;
	t->ttl_ms = ttl_ms;
	return t;
}

void prov_jobs_free(struct prov_jobs *t)
{
	if (t == NULL)
		return;
	struct job *j = t->newest;
	while (j != NULL) {
		struct job *next = j->older;
		free(j);
		j = next;
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static size_t bucket_of(const struct prov_jobs *t, const char *id)
{
	uint64_t h = prov_hash(prov_hash_init(), id, PROV_JOB_ID_LEN);
	return (size_t)(prov_mix(h) & (t->nbuckets - 1));
}

static void lru_unlink(struct prov_jobs *t, struct job *j)
{
	if (j->newer != NULL)
		j->newer->older = j->older;
	else
		t->newest = j->older;
	if (j->older != NULL)
		j->older->newer = j->newer;
	else
		t->oldest = j->newer;
	j->newer = j->older = NULL;
}

static void lru_push(struct prov_jobs *t, struct job *j)
{
	j->newer = NULL;
	j->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = j;
	t->newest = j;
	if (t->oldest == NULL)
		t->oldest = j;
}

static void remove_job(struct prov_jobs *t, struct job *j)
{
	struct job **pp = &t->buckets[bucket_of(t, j->id)];
	while (*pp != NULL && *pp != j)
		pp = &(*pp)->hnext;
	if (*pp == j)
		*pp = j->hnext;
	lru_unlink(t, j);
	t->n--;
	free(j);
}

/* Forgets the jobs idle for ttl_ms; the oldest are at the LRU tail. */
static void expire(struct prov_jobs *t, int64_t now_ms)
{
	while (t->oldest != NULL && now_ms - t->oldest->last_ms >= t->ttl_ms) {
		remove_job(t, t->oldest);
		t->expired++;
	}
}

static struct job *find(struct prov_jobs *t, const char *id)
{
	if (strlen(id) != PROV_JOB_ID_LEN)
		return NULL;
	struct job *j = t->buckets[bucket_of(t, id)];
	while (j != NULL && memcmp(j->id, id, PROV_JOB_ID_LEN) != 0)
		j = j->hnext;
	return j;
}

int prov_jobs_start(struct prov_jobs *t, enum prov_id p, const char *taxid,
    size_t taxid_len, const struct prov_knobs *k, uint64_t seed, int64_t now_ms,
    char id[PROV_JOB_ID_LEN + 1])
{
	unsigned char raw[PROV_JOB_ID_LEN / 2];
	if (taxid_len == 0 || taxid_len > PROV_TAXID_MAX)
		return -1;
	if (crypto_random(raw, sizeof raw) != 0)
		return -1;
	if (crypto_hex_encode(raw, sizeof raw, id, PROV_JOB_ID_LEN + 1) != 0)
		return -1;
	struct job *j = xcalloc(1, sizeof *j);
	memcpy(j->id, id, PROV_JOB_ID_LEN + 1);
	j->prov = p;
	memcpy(j->taxid, taxid, taxid_len);
	j->taxid_len = taxid_len;
	j->knobs = *k;
	j->seed = seed;
	j->last_ms = now_ms;

	pthread_mutex_lock(&t->mu);
	expire(t, now_ms);
	while (t->n >= t->max && t->oldest != NULL) {
		remove_job(t, t->oldest);
		t->evicted++;
	}
	/* 128 random bits: a clash is not a practical concern, but a clash
	 * must not leave two jobs under one id. */
	struct job *old = find(t, id);
	if (old != NULL)
		remove_job(t, old);
	size_t b = bucket_of(t, id);
	j->hnext = t->buckets[b];
	t->buckets[b] = j;
	lru_push(t, j);
	t->n++;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int prov_jobs_request(struct prov_jobs *t, enum prov_id p, const char *id,
    int64_t now_ms, struct prov_job_view *v)
{
	int rc = -1;
	pthread_mutex_lock(&t->mu);
	expire(t, now_ms);
	struct job *j = find(t, id);
	if (j == NULL || j->prov != p)
		goto out;
	j->requests++;
	j->last_ms = now_ms;
	lru_unlink(t, j);
	lru_push(t, j);
	memcpy(v->id, j->id, sizeof v->id);
	v->prov = j->prov;
	memcpy(v->taxid, j->taxid, sizeof v->taxid);
	v->taxid_len = j->taxid_len;
	v->knobs = j->knobs;
	v->seed = j->seed;
	v->request_no = j->requests;
	v->answered = j->answered;
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int prov_jobs_poll(struct prov_jobs *t, const char *id, int polls,
    bool never_ready, int64_t now_ms, bool *ready, bool *first)
{
	int rc = -1;
	pthread_mutex_lock(&t->mu);
	struct job *j = find(t, id);
	if (j == NULL)
		goto out;
	j->last_ms = now_ms;
	*first = false;
	if (never_ready || j->answered < polls) {
		j->answered++;
		*ready = false;
	} else {
		*ready = true;
		*first = !j->completed;
		j->completed = true;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void prov_jobs_get_stats(struct prov_jobs *t, int64_t now_ms,
    struct prov_jobs_stats *s)
{
	pthread_mutex_lock(&t->mu);
	expire(t, now_ms);
	s->jobs = t->n;
	s->expired = t->expired;
	s->evicted = t->evicted;
	pthread_mutex_unlock(&t->mu);
}
