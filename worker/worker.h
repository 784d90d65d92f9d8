/* worker: the report-worker daemon's shared state (worker/README.md).
 *
 * Two threads.  The intake (intake.c: report.create → Redis queue) runs
 * on its own; everything else, the processor (claimed jobs → provider calls
 * over libcurl multi → tenant database → events) and the reconciler, runs
 * from main.c's event loop.  They share only the flag and wake-up by which
 * the intake says new jobs are waiting.  Redis and PostgreSQL calls are
 * synchronous and bounded by DEP_TIMEOUT_MS. */
#ifndef WORKER_WORKER_H
#define WORKER_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <hiredis.h>

#include "cfg.h"
#include "crypto.h"
#include "db.h"
#include "kafka.h"
#include "queue.h"
#include "reportdef.h"
#include "reportevent.h"
#include "tenant_cache.h"

#include "policy.h"

enum {
	WORKER_CLAIM_BATCH = 256,	/* most jobs one queue_claim() asks for */
	WORKER_CLAIM_ROUNDS = 4,	/* most queue_claim() calls per loop turn */
	WORKER_INTAKE_BATCH = 1024,	/* most Kafka messages per queue pipeline (QUEUE_BATCH_MAX) */
	WORKER_URL_MAX = 1024,
};

#define WORKER_GROUP "report-intake"	/* commits only: every worker reads every partition */

struct job;
struct call;
struct queue_later;

/* A report.ready produced this loop turn, confirmed by proc_flush_ready(). */
struct ready_item {
	char tenant[TENANT_ID_MAX];
	long long report_id;
};

struct worker_stats {
	unsigned long claimed, completed, failed, retried, lost, http_requests,
	    pressured, reconciled, reannounced;	/* the intake counts its own */
};

struct worker {
	const struct config *cfg;
	char id[QUEUE_WORKER_MAX + 1];
	char base_url[WORKER_URL_MAX];	/* PROVIDERS_BASE_URL without trailing / */
	struct policy policy[REPORT_PROVIDERS_N];
	struct reportevent_signer signer;

	struct queue *q;
	struct db *master;
	struct crypto_keys *keys;
	struct tenant_cache *tenants;
	struct pgbouncer *pgb;		/* NULL: tenant databases reached directly */
	struct poolcap *cap;		/* the global connection cap, with pgb */
	int64_t next_pool_sync_ms;	/* registry -> PgBouncer check */
	struct kafka_producer *prod;
	struct intake *intake;		/* report.create → queue, own thread */
	atomic_bool claim_now;		/* set by the intake: new jobs */
	redisContext *lock;		/* the reconciler's lock connection */
	int64_t lock_retry_ms;

	CURLM *multi;
	struct curl_slist *json_hdrs;
	CURL **easy_pool;		/* idle easy handles for reuse */
	int easy_free;
	uint64_t rnd;			/* xorshift state for jitter */

	struct job *jobs;		/* held jobs (doubly linked) */
	int njobs;
	/* Calls due now, FIFO per provider; a provider's calls go out while
	 * it has fewer than its policy's max_conns requests open. */
	struct call *ready_head[REPORT_PROVIDERS_N], *ready_tail[REPORT_PROVIDERS_N];
	int http_open[REPORT_PROVIDERS_N];	/* requests in flight, per provider */
	int ready_turn;			/* provider served first next time */
	struct call *delayed;		/* calls waiting for a backoff */

	struct ready_item *ready;	/* report.ready produced, not confirmed */
	int nready, ready_cap;

	/* Work collected during a step and done at its end in a few round
	 * trips: jobs whose attempt ended (one statement per tenant) and queue
	 * transitions (one pipeline). */
	struct job **settle;
	int nsettle, settle_cap;
	struct queue_later *later;
	int nlater, later_cap;

	struct queue_job *claim_buf;	/* WORKER_CLAIM_BATCH */
	int64_t next_claim_ms;		/* monotonic */
	int64_t next_extend_ms;
	int64_t next_recon_ms;
	bool stopping;
	struct worker_stats st;
};

/* ---- proc.c: the processor ---- */

/* Sets up libcurl multi.  Returns 0 or -1 (logged). */
int proc_init(struct worker *w) __attribute__((warn_unused_result));
void proc_clear(struct worker *w);

/* Claims due jobs when there is room and it is time. */
void proc_claim(struct worker *w, int64_t now);

/* Starts due calls, drives transfers, finishes attempts. */
void proc_step(struct worker *w, int64_t now);

/* Extends leases that are about to end; drops jobs whose lease is lost. */
void proc_extend(struct worker *w, int64_t now);

/* Milliseconds the loop may sleep before the processor needs it (0..cap). */
int64_t proc_timeout(struct worker *w, int64_t now, int64_t cap);

/* SIGTERM: calls not started yet end their attempt now. */
void proc_begin_stop(struct worker *w);

/* The deadline passed: aborts transfers, puts held jobs back (due now). */
void proc_abandon(struct worker *w);

/* True while any job is held. */
bool proc_busy(const struct worker *w);

/* Provider requests in flight, all providers. */
int proc_http_open(const struct worker *w);

/* Reads report_id of h's tenant and produces its event on report.progress
 * and, when ready is true, on report.ready (confirmed by the next
 * proc_flush_ready()).  Returns 0 or an error (logged). */
int proc_announce(struct worker *w, struct tenant_conn *h, long long report_id,
    bool ready);

/* Produces the event JSON ev of tenant's report_id as proc_announce() does. */
int proc_announce_json(struct worker *w, const char *tenant, long long report_id,
    const char *ev, size_t len, bool ready);

/* Waits (DEP_TIMEOUT_MS at most) until every report.ready produced so far
 * is delivered, then sets ready_announced for them, one statement per
 * tenant.  When Kafka does not confirm in time they stay unannounced and
 * the reconciler sends them again. */
void proc_flush_ready(struct worker *w);

/* ---- recon.c: the reconciler ---- */

/* Runs one pass if it is time and this worker gets the lock. */
void recon_maybe_run(struct worker *w, int64_t now);

#endif
