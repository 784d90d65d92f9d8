/* job: what the worker's job modules share (worker/proc.c, call.c,
 * settle.c): a claimed job, its provider calls, and the functions one
 * module offers the others.  Private to the worker. */
#ifndef WORKER_JOB_H
#define WORKER_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "queue.h"
#include "reportwork.h"
#include "sbuf.h"
#include "tenant_cache.h"
#include "worker.h"

enum step { STEP_START, STEP_POLL };

enum { LIST_NONE, LIST_READY, LIST_DELAYED };

enum {
	RESTARTS_MAX = 2,
	REASON_MAX = 480,
	COMPLETE_BYTES = 8 * 1024 * 1024,	/* built files held before their statement */
};

struct call {
	struct call *next, *prev;	/* in the ready or the delayed list */
	int where;			/* LIST_NONE, LIST_READY, LIST_DELAYED */
	struct job *job;
	int k;				/* provider index */
	enum step step;
	int tries;			/* transient failures this attempt */
	int restarts;			/* 404 restarts this attempt */
	int pressured;			/* back-pressure answers this attempt */
	int64_t pressure_ms;		/* waited on back-pressure this attempt */
	bool open;			/* part of the running attempt */
	CURL *easy;			/* while transferring */
	struct sbuf body;
	int64_t due_ms;
	int64_t retry_after_ms;		/* of the last answer, -1 none */
	int64_t t0_us;
};

struct job {
	struct job *prev, *next;
	char tenant[TENANT_ID_MAX];
	long long report_id;
	char qid[QUEUE_ID_MAX + 1];
	int64_t token;
	int attempt, max_attempts;
	bool exhausted;			/* claimed with its attempts used up */
	int64_t lease_end_ms;		/* monotonic estimate */
	int64_t t0_us;
	int calls_open;
	unsigned mask;			/* providers asked this attempt */
	bool permanent;			/* a provider refused for good */
	bool contacted;			/* a request went out this attempt */
	int64_t wait_ms;		/* largest Retry-After hint */
	char *data[REPORT_PROVIDERS_N];	/* COMPLETED this attempt (JSON text) */
	struct reportwork_ctx ctx;
	struct call calls[REPORT_PROVIDERS_N];
	struct sbuf csv, json;		/* built files, while it is being completed */
};

/* ---- proc.c ---- */

/* Sets the log context to the job (tenant, report, job id). */
void job_ctx(const struct job *j);

/* Frees a job that ended (its calls gone from the lists); clears the log
 * context. */
void job_free(struct worker *w, struct job *j);

/* Puts a call on the ready list, or on the delayed list until due_ms. */
void ready_push(struct worker *w, struct call *c);

/* Takes a finished or abandoned request's easy handle back from the multi
 * handle into the pool; the call's provider has one request fewer open. */
void call_release(struct worker *w, struct call *c);
void delayed_push(struct worker *w, struct call *c);

/* Queues the job's transition (retry after delay_ms, complete or fail with
 * reason) for this turn's pipeline. */
void finish_in_queue(struct worker *w, const struct job *j,
    enum queue_op_kind kind, int64_t delay_ms, const char *reason);

/* Sends this turn's queue transitions in one pipeline. */
void proc_queue_flush(struct worker *w);

/* ---- settle.c ---- */

/* The terminal FAILED transition of a job, its events and the queue. */
void fail_report(struct worker *w, struct tenant_conn *h, struct job *j,
    const char *reason);

/* Why a job whose attempts are used up fails, into out[size]. */
void exhausted_reason(const struct job *j, char *out, size_t size);

/* The job's attempt ended (its last call finished): it is settled with the
 * others of this turn by settle_all(). */
void attempt_done(struct worker *w, struct job *j);

/* Settles every attempt that ended this turn. */
void settle_all(struct worker *w);

/* ---- call.c ---- */

/* The call ended for this attempt; the last one ends the attempt. */
void call_finish(struct worker *w, struct call *c);

/* A transient failure: retried after the provider's backoff, or the call
 * ends when its tries are used up. */
void call_transient(struct worker *w, struct call *c, int64_t now, const char *why);

/* Starts the call's HTTP request on the multi handle.  0 or -1. */
int call_start(struct worker *w, struct call *c);

/* A transfer finished with res: the answer is read and the call moves on. */
void call_on_done(struct worker *w, struct call *c, CURLcode res, int64_t now);

#endif
