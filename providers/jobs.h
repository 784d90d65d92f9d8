/* prov_jobs: the bounded job table of the mock providers.
 *
 * A job belongs to one provider and one tax ID, carries the knobs it was
 * started with, and counts the requests made on it and the "processing"
 * answers given.  The table holds at most max jobs: a job not touched for
 * ttl_ms is forgotten, and when the table is full the least recently used
 * job goes.  All functions are thread-safe (one mutex); the table copies
 * what it returns, so nothing points into it after a call. */
#ifndef PROV_JOBS_H
#define PROV_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "knobs.h"

enum {
	PROV_JOB_ID_LEN = 32,		/* lower-case hex */
	PROV_TAXID_MAX = 32,
};

struct prov_jobs;

/* A copy of a job's state at one request. */
struct prov_job_view {
	char id[PROV_JOB_ID_LEN + 1];
	enum prov_id prov;
	char taxid[PROV_TAXID_MAX + 1];
	size_t taxid_len;
	struct prov_knobs knobs;	/* as started */
	uint64_t seed;			/* of its failure decisions */
	int64_t request_no;		/* this request's number on the job, 1.. */
	int answered;			/* processing answers given before */
};

struct prov_jobs_stats {
	size_t jobs;		/* in the table now */
	uint64_t expired;	/* forgotten after the TTL */
	uint64_t evicted;	/* pushed out by a full table */
};

/* A table for at most max jobs, forgotten after ttl_ms without a request.
 * Never NULL (allocation failure aborts). */
struct prov_jobs *prov_jobs_new(size_t max, int64_t ttl_ms);

/* Frees the table and every job.  NULL is allowed. */
void prov_jobs_free(struct prov_jobs *t);

/* Starts a job with a new random id written to id[PROV_JOB_ID_LEN + 1].
 * taxid must be 1..PROV_TAXID_MAX bytes.  Returns 0, or -1 if the system's
 * random source failed or the tax ID is too long. */
int prov_jobs_start(struct prov_jobs *t, enum prov_id p, const char *taxid,
    size_t taxid_len, const struct prov_knobs *k, uint64_t seed, int64_t now_ms,
    char id[PROV_JOB_ID_LEN + 1]) __attribute__((warn_unused_result));

/* Looks the job id of provider p up, counts a request on it, marks it used
 * and copies it to *v.  Returns 0, or -1 if there is no such job (never
 * started, started for another provider, expired or evicted). */
int prov_jobs_request(struct prov_jobs *t, enum prov_id p, const char *id,
    int64_t now_ms, struct prov_job_view *v) __attribute__((warn_unused_result));

/* Answers one poll of job id: if never_ready, or fewer than polls
 * processing answers were given, counts one more and sets *ready false;
 * otherwise sets *ready true and *first to whether this is the first
 * completed answer.  Returns 0, or -1 if the job is gone. */
int prov_jobs_poll(struct prov_jobs *t, const char *id, int polls,
    bool never_ready, int64_t now_ms, bool *ready, bool *first)
	__attribute__((warn_unused_result));

/* Forgets the jobs idle past the TTL at now_ms, then fills *s. */
void prov_jobs_get_stats(struct prov_jobs *t, int64_t now_ms,
    struct prov_jobs_stats *s);

#endif
