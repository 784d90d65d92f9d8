/* proc: claimed jobs, their provider calls and the end of each attempt.
 *
 * An attempt = one round over the providers not finished yet.  Per provider
 * a call is a small state machine: START (POST a job) then POLL (GET it);
 * a fresh job is polled right after it is started, a 404 on a poll starts
 * a new job; transient failures are retried after the provider's backoff.
 * When the last call of a job ends, the attempt is written to the tenant
 * database and the job is retried, completed or failed in the queue. */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "jsonh.h"
#include "log.h"
#include "reportwork.h"
#include "sbuf.h"
#include "signurl.h"
#include "xalloc.h"

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

/* ---- small helpers ------------------------------------------------------ */

static uint32_t rnd32(struct worker *w)
{
	uint64_t x = w->rnd;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rnd = x;
	return (uint32_t)(x >> 16);
}

static void log_job_ctx(const char *tenant, long long report_id, const char *qid,
    int attempt)
{
	char num[24];
	log_ctx_set("tenant", tenant);
	snprintf(num, sizeof num, "%lld", report_id);	/* fits */
	log_ctx_set("report", num);
	log_ctx_set("job", qid);
	snprintf(num, sizeof num, "%d", attempt);		/* fits */
	log_ctx_set("attempt", num);
}

static void job_ctx(const struct job *j)
{
	log_job_ctx(j->tenant, j->report_id, j->qid, j->attempt);
}

static void qjob_of(const struct job *j, struct queue_job *qj)
{
	memset(qj, 0, sizeof *qj);
	memcpy(qj->id, j->qid, sizeof j->qid);
	qj->token = j->token;
	qj->attempts = j->attempt;
	qj->max_attempts = j->max_attempts;
}

/* The ready list is FIFO (head, tail); the delayed list is unordered
 * (head).  Both are doubly linked, so a call leaves either in O(1). */
static void call_unlink(struct worker *w, struct call *c)
{
	if (c->where == LIST_NONE)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (c->where == LIST_READY)
		w->ready_head = c->next;
	else
		w->delayed = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else if (c->where == LIST_READY)
		w->ready_tail = c->prev;
	c->next = c->prev = NULL;
	c->where = LIST_NONE;
}

static void ready_push(struct worker *w, struct call *c)
{
	call_unlink(w, c);
	c->prev = w->ready_tail;
	c->next = NULL;
	if (w->ready_tail != NULL)
		w->ready_tail->next = c;
	else
		w->ready_head = c;
	w->ready_tail = c;
	c->where = LIST_READY;
}

static void delayed_push(struct worker *w, struct call *c)
{
	call_unlink(w, c);
	c->prev = NULL;
	c->next = w->delayed;
	if (w->delayed != NULL)
		w->delayed->prev = c;
	w->delayed = c;
	c->where = LIST_DELAYED;
}

static void job_free(struct worker *w, struct job *j)
{
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct call *c = &j->calls[k];
		if (c->easy != NULL) {
			curl_multi_remove_handle(w->multi, c->easy);
			w->http_running--;
			if (w->easy_free < w->cfg->worker_http_max)
				w->easy_pool[w->easy_free++] = c->easy;
			else
				curl_easy_cleanup(c->easy);
			c->easy = NULL;
		}
		call_unlink(w, c);
		sbuf_clear(&c->body);
		free(j->data[k]);
	}
	sbuf_clear(&j->csv);
	sbuf_clear(&j->json);
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		w->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	w->njobs--;
	free(j);
	log_ctx_clear();
}

/* ---- events ------------------------------------------------------------- */

int proc_announce_json(struct worker *w, const char *tenant, long long report_id,
    const char *ev, size_t len, bool ready)
{
	struct err e;
	err_clear(&e);
	int rc = kafka_produce(w->prod, KAFKA_TOPIC_PROGRESS, tenant, strlen(tenant), ev,
	    len, &e);
	if (rc == 0 && ready)
		rc = kafka_produce(w->prod, KAFKA_TOPIC_READY, tenant, strlen(tenant), ev,
		    len, &e);
	if (rc != 0) {
		log_kv(LOG_WARN, ready ? "report_ready_not_announced" :
		    "report_progress_not_announced", "err", app_err_name(e.code),
		    "detail", e.detail, NULL);
		return rc;
	}
	if (ready) {
		if (w->nready == w->ready_cap) {
			w->ready_cap = w->ready_cap ? 2 * w->ready_cap : 64;
			w->ready = xrealloc(w->ready, (size_t)w->ready_cap * sizeof *w->ready);
		}
		struct ready_item *it = &w->ready[w->nready++];
		snprintf(it->tenant, sizeof it->tenant, "%s", tenant);	/* fits */
		it->report_id = report_id;
	}
	return 0;
}

int proc_announce(struct worker *w, struct tenant_conn *h, long long report_id,
    bool ready)
{
	struct sbuf ev;
	struct err e;
	err_clear(&e);
	sbuf_init(&ev, REPORTEVENT_MAX + 1);
	int rc = reportevent_build(h, report_id, &w->signer, (long long)time(NULL),
	    &ev, NULL, &e);
	if (rc == 0)
		rc = proc_announce_json(w, tenant_conn_tenant(h), report_id, ev.p, ev.len,
		    ready);
	else
		log_kv(LOG_WARN, "report_event_failed", "err", app_err_name(e.code),
		    "detail", e.detail, NULL);
	sbuf_clear(&ev);
	return rc;
}

void proc_flush_ready(struct worker *w)
{
	if (w->nready == 0)
		return;
	int64_t t0 = clock_mono_ms();
	if (kafka_producer_flush(w->prod, w->cfg->dep_timeout_ms) != 0) {
		struct log_line l;
		log_begin(&l, LOG_WARN, "report_ready_unconfirmed");
		log_int(&l, "reports", w->nready);
		log_int(&l, "ms", clock_mono_ms() - t0);
		log_end(&l);
		w->nready = 0;	/* the reconciler announces them again */
		return;
	}
	long long ids[REPORTWORK_LOAD_MAX];
	for (int i = 0; i < w->nready; i++) {
		if (w->ready[i].report_id == 0)
			continue;
		const char *tenant = w->ready[i].tenant;
		int n = 0;
		for (int k = i; k < w->nready && n < REPORTWORK_LOAD_MAX; k++) {
			if (w->ready[k].report_id != 0 && strcmp(w->ready[k].tenant, tenant) == 0) {
				ids[n++] = w->ready[k].report_id;
				if (k > i)
					w->ready[k].report_id = 0;
			}
		}
		struct err e;
		err_clear(&e);
		log_ctx_set("tenant", tenant);
		struct tenant_conn *h = tenant_acquire(w->tenants, tenant, &e);
		int rc = h == NULL ? e.code : reportwork_mark_ready_announced(h, ids, n, &e);
		tenant_release(h);
		char num[24];
		for (int k = 0; k < n; k++) {
			snprintf(num, sizeof num, "%lld", ids[k]);	/* fits */
			log_ctx_set("report", num);
			if (rc == 0)
				log_kv(LOG_INFO, "report_ready_announced", NULL);
			else
				log_kv(LOG_WARN, "report_ready_mark_failed", "detail", e.detail, NULL);
		}
		log_ctx_clear();
	}
	w->nready = 0;
}

/* ---- queue transitions --------------------------------------------------
 * Retry, complete and fail are collected during a step and sent to Redis in
 * one pipeline at its end (queue_flush), after the database writes they
 * follow.  A job whose transition is pending is already freed: the entry
 * keeps what the queue and the log need. */

struct queue_later {
	struct queue_job qj;
	enum queue_op_kind kind;
	int64_t delay_ms;
	char reason[QUEUE_REASON_MAX + 1];
	char tenant[TENANT_ID_MAX];
	long long report_id;
};

static void finish_in_queue(struct worker *w, const struct job *j,
    enum queue_op_kind kind, int64_t delay_ms, const char *reason)
{
	if (w->nlater == w->later_cap) {
		w->later_cap = w->later_cap ? 2 * w->later_cap : 64;
		w->later = xrealloc(w->later, (size_t)w->later_cap * sizeof *w->later);
	}
	struct queue_later *l = &w->later[w->nlater++];
	qjob_of(j, &l->qj);
	l->kind = kind;
	l->delay_ms = delay_ms;
	snprintf(l->reason, sizeof l->reason, "%s", reason ? reason : "");	/* may cut */
	memcpy(l->tenant, j->tenant, sizeof l->tenant);
	l->report_id = j->report_id;
}

static void run_ops(struct worker *w, struct queue_op *ops, int n)
{
	for (int i = 0; i < n; i += QUEUE_BATCH_MAX)
		(void)queue_run(w->q, ops + i,
		    (size_t)(n - i < QUEUE_BATCH_MAX ? n - i : QUEUE_BATCH_MAX));
}

static void later_op(struct queue_later *l, struct queue_op *op)
{
	memset(op, 0, sizeof *op);
	op->kind = l->kind;
	op->job = &l->qj;
	op->delay_ms = l->delay_ms;
	op->reason = l->reason;
}

/* Sends the collected transitions; logs the ones Redis refused. */
static void queue_flush(struct worker *w)
{
	int n = w->nlater;
	if (n == 0)
		return;
	struct queue_op *ops = xcalloc((size_t)n, sizeof *ops);
	for (int i = 0; i < n; i++)
		later_op(&w->later[i], &ops[i]);
	run_ops(w, ops, n);
	/* A retry the queue refuses as out of attempts: fail it now (the next
	 * claim would hand it out exhausted otherwise). */
	int *again = xcalloc((size_t)n, sizeof *again);
	int nagain = 0;
	for (int i = 0; i < n; i++) {
		struct queue_later *l = &w->later[i];
		if (l->kind == QUEUE_OP_RETRY && ops[i].rc == APP_ERR_TOO_LARGE) {
			l->kind = QUEUE_OP_FAIL;
			snprintf(l->reason, sizeof l->reason, "attempts exhausted");
			again[nagain++] = i;
		}
	}
	if (nagain > 0) {
		struct queue_op *ops2 = xcalloc((size_t)nagain, sizeof *ops2);
		for (int i = 0; i < nagain; i++)
			later_op(&w->later[again[i]], &ops2[i]);
		run_ops(w, ops2, nagain);
		for (int i = 0; i < nagain; i++)
			ops[again[i]] = ops2[i];
		free(ops2);
	}
	for (int i = 0; i < n; i++) {
		const struct queue_op *o = &ops[i];
		if (o->rc == 0)
			continue;
		const struct queue_later *l = &w->later[i];
		log_job_ctx(l->tenant, l->report_id, l->qj.id, l->qj.attempts);
		struct log_line line;
		log_begin(&line, LOG_WARN, o->rc == APP_ERR_CONFLICT ? "job_lease_lost" :
		    "job_queue_failed");
		log_str(&line, "err", app_err_name(o->e.code));
		log_str(&line, "detail", o->e.detail);
		log_end(&line);
		if (o->rc == APP_ERR_CONFLICT)
			w->st.lost++;
	}
	log_ctx_clear();
	free(again);
	free(ops);
	w->nlater = 0;
}

/* The terminal FAILED transition, its events and the queue. */
static void fail_report(struct worker *w, struct tenant_conn *h, struct job *j,
    const char *reason)
{
	struct err e;
	err_clear(&e);
	struct reportwork_end end;
	int rc = reportwork_fail(h, j->report_id, reason, j->attempt, &end, &e);
	if (rc != 0) {
		log_kv(LOG_WARN, "report_fail_write_failed", "err", app_err_name(e.code),
		    "detail", e.detail, NULL);
		finish_in_queue(w, j, QUEUE_OP_RETRY, w->cfg->queue_poll_interval_ms, "database unavailable");
		return;
	}
	if (end.changed) {
		w->st.failed++;
		log_kv(LOG_INFO, "report_failed", "reason", reason, NULL);
		if (proc_announce(w, h, j->report_id, true) != 0)
			log_kv(LOG_INFO, "report_ready_left_to_reconciler", NULL);
	} else {
		log_kv(LOG_INFO, "report_already_finished", NULL);
	}
	finish_in_queue(w, j, QUEUE_OP_FAIL, 0, reason);
}

/* report.progress + report.ready of a report this worker just completed,
 * from what it knows (the same JSON reportevent_build() reads back). */
static int completed_event(struct worker *w, const struct job *j,
    const struct reportwork_end *end)
{
	struct report_view v;
	memset(&v, 0, sizeof v);
	v.id = j->report_id;
	v.owner_id = j->ctx.owner_id;
	snprintf(v.status, sizeof v.status, "%s", REPORT_COMPLETED);
	v.progress = 100;
	v.attempts = j->attempt;
	v.created_ms = end->created_ms;
	v.completed_ms = end->completed_ms;
	v.nproviders = REPORT_PROVIDERS_N;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct report_provider_view *p = &v.providers[k];
		snprintf(p->name, sizeof p->name, "%s", report_providers[k]);
		snprintf(p->status, sizeof p->status, "%s", PROVIDER_COMPLETED);
		p->attempts = j->ctx.p[k].attempts;
	}
	char url[SIGNURL_MAX];
	struct sbuf ev;
	struct err e;
	err_clear(&e);
	sbuf_init(&ev, REPORTEVENT_MAX + 1);
	int rc = 0;
	if (signurl_make(w->signer.key, w->signer.keylen, w->signer.base_url, j->tenant,
	    j->report_id, SIGNURL_CSV, (long long)time(NULL) + w->signer.ttl_sec, url,
	    sizeof url) != 0)
		rc = err_set(&e, APP_ERR_INTERNAL, "internal error", "cannot sign the URL");
	if (rc == 0)
		rc = reportevent_json(&v, j->tenant, url, &ev, &e);
	if (rc == 0)
		rc = proc_announce_json(w, j->tenant, j->report_id, ev.p, ev.len, true);
	else
		log_kv(LOG_WARN, "report_event_failed", "detail", e.detail, NULL);
	sbuf_clear(&ev);
	return rc;
}

/* Builds j's files from the data of this attempt or, when it is not all
 * in memory (a claim after a crash), from the database.  True: built, j
 * goes to the terminal statement; false: j was failed or retried. */
static bool build_files(struct worker *w, struct tenant_conn *h, struct job *j)
{
	json_object *data[REPORT_PROVIDERS_N] = { NULL };
	struct err e;
	err_clear(&e);
	sbuf_init(&j->csv, REPORTWORK_FILE_MAX + 1);
	sbuf_init(&j->json, REPORTWORK_FILE_MAX + 1);
	int rc = 0;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		const char *why = NULL;
		if (j->data[k] != NULL)
			data[k] = jsonh_parse(j->data[k], strlen(j->data[k]),
			    REPORTWORK_DATA_DEPTH + 2, &why);
		if (data[k] == NULL)
			rc = -1;
	}
	if (rc != 0) {
		for (int k = 0; k < REPORT_PROVIDERS_N; k++)
			if (data[k] != NULL)
				json_object_put(data[k]);
		rc = reportwork_load_data(h, j->report_id, data, &e);
	}
	for (int k = 0; k < REPORT_PROVIDERS_N && rc == 0; k++)
		if (data[k] == NULL)
			rc = err_set(&e, APP_ERR_INTERNAL, "internal error",
			    "%s has no stored data", report_providers[k]);
	int64_t now = clock_wall_ms();
	if (rc == 0)
		rc = reportwork_build_csv(j->report_id, now, data, &j->csv, &e);
	if (rc == 0)
		rc = reportwork_build_json(j->report_id, now, data, &j->json, &e);
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		if (data[k] != NULL)
			json_object_put(data[k]);
	if (rc == APP_ERR_TOO_LARGE) {
		fail_report(w, h, j, "the providers' data is too large for a report");
		return false;
	}
	if (rc != 0) {
		log_kv(LOG_WARN, "report_complete_failed", "err", app_err_name(e.code),
		    "detail", e.detail, NULL);
		finish_in_queue(w, j, QUEUE_OP_RETRY, w->cfg->queue_poll_interval_ms,
		    "database unavailable");
		return false;
	}
	return true;
}

/* Terminal statements of one tenant's jobs whose files are built. */
struct completing {
	struct job **js;
	int n;
	struct reportwork_done_item *items;
	struct reportwork_batch *b;
};

/* Sends the terminal statement of c's jobs (files built) on h. */
static void complete_send(struct tenant_conn *h, struct completing *c)
{
	c->items = xcalloc((size_t)c->n, sizeof *c->items);
	for (int i = 0; i < c->n; i++) {
		c->items[i].report_id = c->js[i]->report_id;
		c->items[i].csv = &c->js[i]->csv;
		c->items[i].json = &c->js[i]->json;
		c->items[i].attempt = c->js[i]->attempt;
	}
	c->b = reportwork_complete_send(h, c->items, c->n);
}

/* Collects it, then each job's event and queue transition; frees the jobs. */
static void complete_collect(struct worker *w, struct tenant_conn *h,
    struct completing *c)
{
	struct err e;
	err_clear(&e);
	(void)reportwork_batch_collect(h, c->b, &e);	/* per item below */
	for (int i = 0; i < c->n; i++) {
		struct job *j = c->js[i];
		const struct reportwork_done_item *it = &c->items[i];
		job_ctx(j);
		if (it->rc != 0) {
			log_kv(LOG_WARN, "report_complete_failed", "err",
			    app_err_name(it->e.code), "detail", it->e.detail, NULL);
			finish_in_queue(w, j, QUEUE_OP_RETRY, w->cfg->queue_poll_interval_ms,
			    "database unavailable");
		} else if (it->out.changed) {
			w->st.completed++;
			struct log_line l;
			log_begin(&l, LOG_INFO, "report_completed");
			log_int(&l, "csv_bytes", (long long)j->csv.len);
			log_int(&l, "json_bytes", (long long)j->json.len);
			log_end(&l);
			if (completed_event(w, j, &it->out) != 0)
				log_kv(LOG_INFO, "report_ready_left_to_reconciler", NULL);
			finish_in_queue(w, j, QUEUE_OP_COMPLETE, 0, NULL);
		} else {
			log_kv(LOG_INFO, "report_already_finished", NULL);
			finish_in_queue(w, j, QUEUE_OP_COMPLETE, 0, NULL);
		}
		job_free(w, j);
	}
	free(c->items);
	c->items = NULL;
	c->b = NULL;
	c->n = 0;
}

/* The reason a report failed after its last attempt. */
static void exhausted_reason(const struct job *j, char *out, size_t size)
{
	struct sbuf sb;
	sbuf_init(&sb, REASON_MAX);
	sbuf_printf(&sb, "attempts exhausted (%d):", j->max_attempts);
	bool first = true;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		const struct reportwork_provider *p = &j->ctx.p[k];
		if (strcmp(p->status, PROVIDER_COMPLETED) == 0)
			continue;
		sbuf_printf(&sb, "%s %s not ready", first ? "" : ";", report_providers[k]);
		if (p->has_error)
			sbuf_printf(&sb, " (last error: %s)", p->error);
		first = false;
	}
	snprintf(out, size, "%s", sb.p);	/* truncation is acceptable */
	sbuf_clear(&sb);
}

static void permanent_reason(const struct job *j, char *out, size_t size)
{
	struct sbuf sb;
	sbuf_init(&sb, REASON_MAX);
	bool first = true;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		const struct reportwork_provider *p = &j->ctx.p[k];
		if (strcmp(p->status, PROVIDER_FAILED) != 0)
			continue;
		sbuf_printf(&sb, "%s%s: %s", first ? "" : "; ", report_providers[k],
		    p->has_error ? p->error : "failed");
		first = false;
	}
	snprintf(out, size, "%s", sb.p);	/* truncation is acceptable */
	sbuf_clear(&sb);
}

/* report.progress after an attempt, from what was just stored (the same
 * JSON as reportevent_build() would read back: lib/reportevent.h). */
static void progress_event(struct worker *w, const struct job *j,
    const struct reportwork_saved *saved)
{
	struct report_view v;
	memset(&v, 0, sizeof v);
	v.id = j->report_id;
	v.owner_id = j->ctx.owner_id;
	snprintf(v.status, sizeof v.status, "%s", REPORT_IN_PROGRESS);
	v.progress = saved->progress;
	v.attempts = j->attempt;
	v.created_ms = saved->created_ms;
	v.completed_ms = -1;
	v.nproviders = REPORT_PROVIDERS_N;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct report_provider_view *p = &v.providers[k];
		snprintf(p->name, sizeof p->name, "%s", report_providers[k]);
		snprintf(p->status, sizeof p->status, "%s", j->ctx.p[k].status);
		p->attempts = j->ctx.p[k].attempts;
		p->error = j->ctx.p[k].has_error ? j->ctx.p[k].error : NULL;
	}
	struct sbuf ev;
	struct err e;
	err_clear(&e);
	sbuf_init(&ev, REPORTEVENT_MAX + 1);
	int rc = reportevent_json(&v, j->tenant, NULL, &ev, &e);
	if (rc == 0)
		rc = kafka_produce(w->prod, KAFKA_TOPIC_PROGRESS, j->tenant, strlen(j->tenant),
		    ev.p, ev.len, &e);
	if (rc != 0)
		log_kv(LOG_WARN, "report_progress_not_announced", "err", app_err_name(e.code),
		    "detail", e.detail, NULL);
	sbuf_clear(&ev);
}

static int providers_done(const struct job *j)
{
	int done = 0;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		if (strcmp(j->ctx.p[k].status, PROVIDER_COMPLETED) == 0)
			done++;
	return done;
}

/* The attempt of j was stored (rc 0, saved) or not (rc, e): move the job
 * on.  True: its files are built and it waits for the terminal statement;
 * false: it was freed. */
static bool attempt_settled(struct worker *w, struct tenant_conn *h, struct job *j,
    int rc, const struct err *e, const struct reportwork_saved *saved)
{
	job_ctx(j);
	int done = providers_done(j);
	if (rc != 0) {
		log_kv(LOG_WARN, "attempt_not_saved", "err", app_err_name(e->code),
		    "detail", e->detail, NULL);
		finish_in_queue(w, j, QUEUE_OP_RETRY, w->cfg->queue_poll_interval_ms,
		    "database unavailable");
		goto out;
	}
	struct log_line l;
	log_begin(&l, LOG_INFO, "attempt_done");
	log_int(&l, "done", done);
	log_int(&l, "progress", saved->progress < 0 ?
	    reportwork_progress(done, REPORT_PROVIDERS_N) : saved->progress);
	log_int(&l, "ms", (clock_mono_us() - j->t0_us) / 1000);
	log_end(&l);
	if (saved->progress < 0) {
		log_kv(LOG_INFO, "report_already_finished", NULL);
		finish_in_queue(w, j, QUEUE_OP_COMPLETE, 0, NULL);
		goto out;
	}
	char reason[REASON_MAX];
	if (done == REPORT_PROVIDERS_N) {
		if (build_files(w, h, j))
			return true;
	} else if (j->permanent) {
		permanent_reason(j, reason, sizeof reason);
		fail_report(w, h, j, reason);
	} else if (j->attempt >= j->max_attempts) {
		exhausted_reason(j, reason, sizeof reason);
		fail_report(w, h, j, reason);
	} else {
		progress_event(w, j, saved);
		/* Attempts start every poll interval: the time this one took
		 * counts toward the wait, but the wait is never under half the
		 * interval, so slow providers are not polled back to back and
		 * other workers get their turn at the job.  A provider's
		 * Retry-After counts from now. */
		int64_t interval = w->cfg->queue_poll_interval_ms;
		int64_t took = (clock_mono_us() - j->t0_us) / 1000;
		int64_t delay = interval - took;
		if (delay < interval / 2)
			delay = interval / 2;
		if (j->wait_ms > delay)
			delay = j->wait_ms;
		finish_in_queue(w, j, QUEUE_OP_RETRY, delay, "providers not ready");
		w->st.retried++;
		struct log_line r;
		log_begin(&r, LOG_INFO, "retry_scheduled");
		log_int(&r, "delay_ms", delay);
		log_end(&r);
		int64_t at = clock_mono_ms() + delay;
		if (at < w->next_claim_ms)
			w->next_claim_ms = at;
	}
out:
	job_free(w, j);
	return false;
}

/* The last call of j's attempt ended: settle it at the end of the step. */
static void attempt_done(struct worker *w, struct job *j)
{
	if (w->nsettle == w->settle_cap) {
		w->settle_cap = w->settle_cap ? 2 * w->settle_cap : 64;
		w->settle = xrealloc(w->settle, (size_t)w->settle_cap * sizeof *w->settle);
	}
	w->settle[w->nsettle++] = j;
}

/* One tenant's share of the attempts settled in a step. */
struct settle_group {
	struct tenant_conn *h;
	int rc;
	struct err e;
	struct job **js;			/* its jobs */
	struct reportwork_save_item *items;	/* one per job */
	int m;
	struct reportwork_batch *b;
	struct completing c;			/* js[0..c.n): files built */
};

/* Stores the attempts that ended this step, one statement per tenant, the
 * statements of up to tenant_cache_wave() tenants at once; then completes the
 * reports that are done the same way and moves every job on.  The queue
 * transitions go out in one pipeline at the end. */
static void settle_all(struct worker *w)
{
	int n = w->nsettle;
	if (n == 0) {
		queue_flush(w);
		return;
	}
	struct job **js = w->settle;
	for (int i = 0; i < n; i++) {
		struct job *j = js[i];
		if (w->stopping && !j->contacted) {
			/* Shutting down before any request of this attempt went
			 * out: nothing to record, due again at once. */
			job_ctx(j);
			log_kv(LOG_INFO, "job_released", "why", "shutdown", NULL);
			finish_in_queue(w, j, QUEUE_OP_RETRY, 0, "worker shutdown");
			job_free(w, j);
			js[i] = NULL;
		}
	}
	/* Group by tenant: order[] holds each group's jobs together. */
	struct job **order = xcalloc((size_t)n, sizeof *order);
	struct reportwork_save_item *items = xcalloc((size_t)n, sizeof *items);
	const char **data = xcalloc((size_t)n * REPORT_PROVIDERS_N, sizeof *data);
	struct settle_group *gs = xcalloc((size_t)n, sizeof *gs);
	int ng = 0, no = 0;
	for (int i = 0; i < n; i++) {
		if (js[i] == NULL)
			continue;
		struct settle_group *g = &gs[ng++];
		g->js = order + no;
		g->items = items + no;
		const char *tenant = js[i]->tenant;
		for (int k = i; k < n && g->m < REPORTWORK_LOAD_MAX; k++) {
			if (js[k] == NULL || (k > i && strcmp(js[k]->tenant, tenant) != 0))
				continue;
			struct job *j = js[k];
			js[k] = NULL;
			struct reportwork_save_item *it = &g->items[g->m];
			it->ctx = &j->ctx;
			it->mask = j->mask;
			it->data = data + (size_t)no * REPORT_PROVIDERS_N;
			for (int p = 0; p < REPORT_PROVIDERS_N; p++)
				data[(size_t)no * REPORT_PROVIDERS_N + p] = j->data[p];
			int done = providers_done(j);
			/* The terminal statement sets 100 once the files exist. */
			it->progress = done == REPORT_PROVIDERS_N ? j->ctx.progress :
			    reportwork_progress(done, REPORT_PROVIDERS_N);
			it->attempt = j->attempt;
			g->js[g->m++] = j;
			no++;
		}
	}
	w->nsettle = 0;
	int wave = tenant_cache_wave(w->tenants);
	for (int first = 0; first < ng; first += wave) {
		int last = first + wave < ng ? first + wave : ng;
		for (int k = first; k < last; k++) {
			struct settle_group *g = &gs[k];
			err_clear(&g->e);
			g->h = tenant_acquire(w->tenants, g->js[0]->tenant, &g->e);
			if (g->h != NULL)
				g->b = reportwork_save_send(g->h, g->items, g->m);
		}
		size_t bytes = 0;
		for (int k = first; k < last; k++) {
			struct settle_group *g = &gs[k];
			g->rc = g->h == NULL ? g->e.code :
			    reportwork_batch_collect(g->h, g->b, &g->e);
			g->c.js = g->js;	/* compacted in place below */
			for (int i = 0; i < g->m; i++) {
				struct job *j = g->js[i];
				const struct reportwork_save_item *it = &g->items[i];
				/* No handle: every job failed alike; else its own. */
				int rc = g->h == NULL ? g->rc : it->rc;
				if (!attempt_settled(w, g->h, j, rc, g->h == NULL ? &g->e : &it->e,
				    &it->out))
					continue;
				g->c.js[g->c.n++] = j;
				bytes += j->csv.len + j->json.len;
				if (bytes >= COMPLETE_BYTES) {
					/* Bound the files held: this tenant's now. */
					complete_send(g->h, &g->c);
					complete_collect(w, g->h, &g->c);
					bytes = 0;
				}
			}
		}
		for (int k = first; k < last; k++)
			if (gs[k].c.n > 0)
				complete_send(gs[k].h, &gs[k].c);
		for (int k = first; k < last; k++) {
			if (gs[k].c.n > 0)
				complete_collect(w, gs[k].h, &gs[k].c);
			tenant_release(gs[k].h);
		}
	}
	free(gs);
	free(data);
	free(items);
	free(order);
	queue_flush(w);
}

/* ---- calls ---------------------------------------------------------------- */

static void call_finish(struct worker *w, struct call *c)
{
	struct job *j = c->job;
	c->open = false;
	sbuf_clear(&c->body);
	if (--j->calls_open == 0)
		attempt_done(w, j);
}

static void set_error(struct job *j, int k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(struct job *j, int k, const char *fmt, ...)
{
	struct reportwork_provider *p = &j->ctx.p[k];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	p->has_error = n >= 0;
}

static void log_poll(const struct call *c, const char *outcome, long http,
    const char *why)
{
	job_ctx(c->job);
	struct log_line l;
	log_begin(&l, LOG_INFO, "provider_polled");
	log_str(&l, "provider", report_providers[c->k]);
	log_str(&l, "call", c->step == STEP_START ? "start" : "poll");
	log_str(&l, "status", outcome);
	if (http > 0)
		log_int(&l, "http", http);
	log_int(&l, "ms", (clock_mono_us() - c->t0_us) / 1000);
	if (why != NULL)
		log_str(&l, "why", why);
	log_end(&l);
}

/* A transient failure: retry within the attempt by the provider's policy,
 * or end the provider's part of this attempt. */
static void transient(struct worker *w, struct call *c, int64_t now, const char *why)
{
	struct job *j = c->job;
	const struct policy *pol = &w->policy[c->k];
	set_error(j, c->k, "%s", why);
	if (pol->retry_after_max_ms > 0 && c->retry_after_ms > pol->retry_after_max_ms) {
		if (c->retry_after_ms > j->wait_ms)
			j->wait_ms = c->retry_after_ms;
		call_finish(w, c);
		return;
	}
	if (c->tries < pol->retries && !w->stopping) {
		c->tries++;
		int64_t d = queue_backoff_delay(&pol->backoff, c->tries, c->retry_after_ms,
		    rnd32(w));
		c->due_ms = now + d;
		delayed_push(w, c);
		job_ctx(j);
		struct log_line l;
		log_begin(&l, LOG_INFO, "provider_retry_scheduled");
		log_str(&l, "provider", report_providers[c->k]);
		log_int(&l, "try", c->tries);
		log_int(&l, "delay_ms", d);
		log_end(&l);
		return;
	}
	call_finish(w, c);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct call *c = ud;
	size_t n = size * nmemb;
	if (c->body.len + n > REPORTWORK_BODY_MAX)
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	sbuf_append(&c->body, ptr, n);
	return c->body.failed ? 0 : n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct call *c = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	if (n > sizeof name - 1 && n < 256 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
		char v[256];
		size_t vl = n - (sizeof name - 1);
		memcpy(v, ptr + sizeof name - 1, vl);
		v[vl] = '\0';
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			v[--vl] = '\0';
		char *s = v;
		while (*s == ' ' || *s == '\t')
			s++;
		int64_t ms;
		if (queue_retry_after_parse(s, clock_wall_ms(), &ms) == 0)
			c->retry_after_ms = ms;
	}
	return n;
}

static int start_transfer(struct worker *w, struct call *c)
{
	struct job *j = c->job;
	char url[WORKER_URL_MAX + 128];
	int n;
	if (c->step == STEP_START)
		n = snprintf(url, sizeof url, "%s/v1/%s/jobs", w->base_url,
		    report_providers[c->k]);
	else
		n = snprintf(url, sizeof url, "%s/v1/%s/jobs/%s", w->base_url,
		    report_providers[c->k], j->ctx.p[c->k].job_id);
	if (n < 0 || (size_t)n >= sizeof url)
		return -1;
	CURL *easy = w->easy_free > 0 ? w->easy_pool[--w->easy_free] : curl_easy_init();
	if (easy == NULL)
		return -1;
	curl_easy_reset(easy);
	sbuf_clear(&c->body);
	sbuf_init(&c->body, REPORTWORK_BODY_MAX + 1);
	c->retry_after_ms = -1;
	const struct policy *pol = &w->policy[c->k];
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)pol->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(pol->timeout_ms < w->cfg->dep_timeout_ms ? pol->timeout_ms :
	    w->cfg->dep_timeout_ms));
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, w->json_hdrs);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "report-worker");
	if (c->step == STEP_START) {
		struct sbuf b;
		sbuf_init(&b, 256);
		sbuf_puts(&b, "{\"taxID\":");
		sbuf_json_str(&b, j->ctx.tax_id, strlen(j->ctx.tax_id));
		sbuf_putc(&b, '}');
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)b.len);
		curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, b.p);
		sbuf_clear(&b);
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
	if (curl_multi_add_handle(w->multi, easy) != CURLM_OK) {
		curl_easy_cleanup(easy);
		sbuf_clear(&c->body);
		return -1;
	}
	c->easy = easy;
	c->job->contacted = true;
	c->t0_us = clock_mono_us();
	w->http_running++;
	w->st.http_requests++;
	return 0;
}


/* What a finished transfer means for its call. */
static void on_done(struct worker *w, struct call *c, CURLcode res, int64_t now)
{
	struct job *j = c->job;
	struct reportwork_provider *p = &j->ctx.p[c->k];
	long http = 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &http);
	curl_multi_remove_handle(w->multi, c->easy);
	w->http_running--;
	if (w->easy_free < w->cfg->worker_http_max)
		w->easy_pool[w->easy_free++] = c->easy;
	else
		curl_easy_cleanup(c->easy);
	c->easy = NULL;
	if (res != CURLE_OK) {
		const char *why = res == CURLE_OPERATION_TIMEDOUT ? "timeout" :
		    res == CURLE_WRITE_ERROR ? "response too large" :
		    res == CURLE_COULDNT_CONNECT ? "connection refused" :
		    curl_easy_strerror(res);
		log_poll(c, "error", 0, why);
		transient(w, c, now, why);
		return;
	}
	if (http == 429 || http >= 500) {
		char why[64];
		snprintf(why, sizeof why, "HTTP %ld", http);	/* fits */
		log_poll(c, "error", http, why);
		transient(w, c, now, why);
		return;
	}
	if (http == 404 && c->step == STEP_POLL) {
		log_poll(c, "unknown_job", http, NULL);
		p->job_id[0] = '\0';
		snprintf(p->status, sizeof p->status, "%s", PROVIDER_PENDING);
		if (++c->restarts > RESTARTS_MAX) {
			transient(w, c, now, "provider job lost repeatedly");
			return;
		}
		c->step = STEP_START;
		sbuf_clear(&c->body);
		ready_push(w, c);
		return;
	}
	if (http < 200 || http > 299) {
		char why[64];
		snprintf(why, sizeof why, "rejected the request (HTTP %ld)", http);	/* fits */
		log_poll(c, "rejected", http, why);
		set_error(j, c->k, "%s", why);
		snprintf(p->status, sizeof p->status, "%s", PROVIDER_FAILED);
		j->permanent = true;
		call_finish(w, c);
		return;
	}
	struct reportwork_answer a;
	reportwork_parse_answer(c->body.p, c->body.len, &a);
	if (a.kind == REPORTWORK_ANSWER_MALFORMED) {
		log_poll(c, "malformed", http, a.why);
		transient(w, c, now, a.why);
		return;
	}
	if (a.kind == REPORTWORK_ANSWER_PROCESSING) {
		p->has_error = false;
		if (c->step == STEP_START) {
			log_poll(c, "started", http, NULL);
			snprintf(p->job_id, sizeof p->job_id, "%s", a.job_id);
			snprintf(p->status, sizeof p->status, "%s", PROVIDER_PROCESSING);
			c->step = STEP_POLL;
			sbuf_clear(&c->body);
			ready_push(w, c);	/* poll it in this attempt too */
			return;
		}
		log_poll(c, "processing", http, NULL);
		snprintf(p->status, sizeof p->status, "%s", PROVIDER_PROCESSING);
		if (c->retry_after_ms > 0) {
			int64_t ra = c->retry_after_ms;
			const struct policy *pol = &w->policy[c->k];
			if (pol->retry_after_max_ms > 0 && ra > pol->retry_after_max_ms)
				ra = pol->retry_after_max_ms;
			if (ra > j->wait_ms)
				j->wait_ms = ra;
		}
		call_finish(w, c);
		return;
	}
	/* completed */
	if (c->step == STEP_START) {
		/* A provider that answers at once: fine, the data is there. */
		p->job_id[0] = '\0';
	}
	const char *text = jsonh_text(a.data, NULL);
	free(j->data[c->k]);
	j->data[c->k] = xstrdup(text);
	json_object_put(a.data);
	log_poll(c, "completed", http, NULL);
	snprintf(p->status, sizeof p->status, "%s", PROVIDER_COMPLETED);
	p->has_error = false;
	call_finish(w, c);
}

/* ---- claiming ------------------------------------------------------------- */

static int parse_payload(const struct queue_job *qj, char *tenant, long long *report)
{
	/* The payload is what intake made of a report.create event. */
	return reportevent_parse_create(qj->payload, qj->payload_len, tenant, report);
}

/* A freshly claimed job, not loaded yet; NULL (and failed in the queue)
 * when its payload is not ours. */
static struct job *job_new(struct worker *w, const struct queue_job *qj, int64_t now)
{
	struct job *j = xcalloc(1, sizeof *j);
	memcpy(j->qid, qj->id, sizeof j->qid);
	j->token = qj->token;
	j->attempt = qj->attempts;
	j->max_attempts = qj->max_attempts;
	j->exhausted = qj->exhausted;
	j->lease_end_ms = now + w->cfg->queue_lease_ms;
	j->t0_us = clock_mono_us();
	j->next = w->jobs;
	if (w->jobs != NULL)
		w->jobs->prev = j;
	w->jobs = j;
	w->njobs++;
	w->st.claimed++;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		j->calls[k].job = j;
		j->calls[k].k = k;
	}
	if (parse_payload(qj, j->tenant, &j->report_id) != 0) {
		log_kv(LOG_WARN, "job_bad_payload", "job", j->qid, NULL);
		finish_in_queue(w, j, QUEUE_OP_FAIL, 0, "bad payload");
		job_free(w, j);
		return NULL;
	}
	job_ctx(j);
	struct log_line l;
	log_begin(&l, LOG_INFO, "job_claimed");
	log_int(&l, "max_attempts", j->max_attempts);
	if (qj->stalled)
		log_str(&l, "stalled", "true");
	log_end(&l);
	log_ctx_clear();
	return j;
}

/* j's report was loaded (rc 0) or not (rc: the error in e): open its calls,
 * or finish it. */
static void job_begin(struct worker *w, struct job *j, struct tenant_conn *h,
    int rc, const struct err *e)
{
	job_ctx(j);
	if (rc == APP_ERR_NOT_FOUND) {
		log_kv(LOG_WARN, "job_report_missing", "detail", e->detail, NULL);
		finish_in_queue(w, j, QUEUE_OP_FAIL, 0, "report not found");
		goto drop;
	}
	if (rc != 0) {
		log_kv(LOG_WARN, "job_load_failed", "err", app_err_name(e->code),
		    "detail", e->detail, NULL);
		finish_in_queue(w, j, QUEUE_OP_RETRY, w->cfg->queue_poll_interval_ms, "database unavailable");
		goto drop;
	}
	if (strcmp(j->ctx.status, REPORT_COMPLETED) == 0 ||
	    strcmp(j->ctx.status, REPORT_FAILED) == 0) {
		log_kv(LOG_INFO, "report_already_finished", "status", j->ctx.status, NULL);
		finish_in_queue(w, j, QUEUE_OP_COMPLETE, 0, NULL);
		goto drop;
	}
	if (j->exhausted) {
		char reason[REASON_MAX];
		exhausted_reason(j, reason, sizeof reason);
		fail_report(w, h, j, reason);
		goto drop;
	}
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct reportwork_provider *p = &j->ctx.p[k];
		if (strcmp(p->status, PROVIDER_COMPLETED) == 0)
			continue;
		if (strcmp(p->status, PROVIDER_FAILED) == 0) {
			j->permanent = true;
			continue;
		}
		struct call *c = &j->calls[k];
		c->step = p->job_id[0] ? STEP_POLL : STEP_START;
		c->open = true;
		p->attempts++;
		j->mask |= 1u << k;
		j->calls_open++;
		ready_push(w, c);
	}
	log_ctx_clear();
	if (j->calls_open == 0)
		attempt_done(w, j);
	return;
drop:
	job_free(w, j);
}

/* Loads the claimed jobs js[0..n), one statement per tenant, and begins
 * each. */
static void begin_all(struct worker *w, struct job **js, int n)
{
	/* Per tenant (a group): its jobs, ids, found flags, data and contexts
	 * side by side in these arrays, from the group's offset on. */
	long long ids[WORKER_CLAIM_BATCH];
	struct job *order[WORKER_CLAIM_BATCH];
	bool found[WORKER_CLAIM_BATCH];
	char *data[WORKER_CLAIM_BATCH * REPORT_PROVIDERS_N];
	struct reportwork_ctx *ctx = xcalloc(WORKER_CLAIM_BATCH, sizeof *ctx);
	struct {
		struct tenant_conn *h;
		struct err e;
		struct reportwork_load l;
	} *gs = xcalloc(WORKER_CLAIM_BATCH, sizeof *gs);
	int ng = 0, no = 0;
	for (int i = 0; i < n; i++) {
		if (js[i] == NULL)
			continue;
		/* Every not yet loaded job of js[i]'s tenant. */
		const char *tenant = js[i]->tenant;
		struct reportwork_load *l = &gs[ng++].l;
		l->ids = ids + no;
		l->out = ctx + no;
		l->found = found + no;
		l->data = data + (size_t)no * REPORT_PROVIDERS_N;
		for (int k = i; k < n; k++) {
			if (js[k] != NULL && strcmp(js[k]->tenant, tenant) == 0) {
				order[no] = js[k];
				ids[no++] = js[k]->report_id;
				l->n++;
				js[k] = NULL;
			}
		}
	}
	/* The loads of up to tenant_cache_wave() tenants run at once. */
	int wave = tenant_cache_wave(w->tenants);
	for (int first = 0; first < ng; first += wave) {
		int last = first + wave < ng ? first + wave : ng;
		for (int g = first; g < last; g++) {
			err_clear(&gs[g].e);
			gs[g].h = tenant_acquire(w->tenants, order[gs[g].l.ids - ids]->tenant,
			    &gs[g].e);
			if (gs[g].h != NULL)
				reportwork_load_send(gs[g].h, &gs[g].l);
		}
		for (int g = first; g < last; g++) {
			struct reportwork_load *l = &gs[g].l;
			struct job **mine = order + (l->ids - ids);
			int rc = gs[g].h == NULL ? gs[g].e.code :
			    reportwork_load_collect(gs[g].h, l, &gs[g].e);
			for (int k = 0; k < l->n; k++) {
				struct job *j = mine[k];
				int jrc = rc;
				struct err je = gs[g].e;
				if (rc == 0 && !l->found[k]) {
					jrc = err_set(&je, APP_ERR_NOT_FOUND, "report not found",
					    "report %lld does not exist", l->ids[k]);
				} else if (rc == 0) {
					j->ctx = l->out[k];
					for (int p = 0; p < REPORT_PROVIDERS_N; p++)
						j->data[p] = l->data[k * REPORT_PROVIDERS_N + p];
				}
				job_begin(w, j, gs[g].h, jrc, &je);
			}
			tenant_release(gs[g].h);
		}
	}
	free(gs);
	free(ctx);
}

/* One queue_claim() of at most WORKER_CLAIM_BATCH jobs, loaded and begun.
 * Returns how many were claimed, -1 when the claim failed. */
static int claim_once(struct worker *w, size_t max, int64_t now)
{
	size_t n = 0;
	struct err e;
	err_clear(&e);
	if (queue_claim(w->q, w->id, max, w->cfg->queue_lease_ms, w->claim_buf, &n, &e) != 0) {
		log_kv(LOG_WARN, "claim_failed", "err", app_err_name(e.code), "detail",
		    e.detail, NULL);
		return -1;
	}
	struct job *js[WORKER_CLAIM_BATCH];
	for (size_t i = 0; i < n; i++)
		js[i] = job_new(w, &w->claim_buf[i], now);
	begin_all(w, js, (int)n);
	settle_all(w);
	return (int)n;
}

void proc_claim(struct worker *w, int64_t now)
{
	if (w->stopping || now < w->next_claim_ms)
		return;
	/* Several claims per turn while whole batches come back, so a long
	 * turn does not cap the claim rate at one batch per turn. */
	for (int round = 0; round < WORKER_CLAIM_ROUNDS; round++) {
		int room = w->cfg->worker_concurrency - w->njobs;
		if (room <= 0) {
			w->next_claim_ms = now + 50;
			return;
		}
		size_t max = room < WORKER_CLAIM_BATCH ? (size_t)room : WORKER_CLAIM_BATCH;
		int n = claim_once(w, max, now);
		if (n < 0) {
			w->next_claim_ms = now + 500;
			return;
		}
		if ((size_t)n < max)
			break;
		if (round == WORKER_CLAIM_ROUNDS - 1) {
			w->next_claim_ms = now;
			return;
		}
	}
	struct err e;
	err_clear(&e);
	int64_t due = -1;
	int64_t poll = w->cfg->queue_poll_interval_ms;
	if (queue_next_due_ms(w->q, &due, &e) != 0 || due < 0 || due > poll)
		due = poll;
	w->next_claim_ms = now + due;
}


void proc_step(struct worker *w, int64_t now)
{
	/* Backoffs that ended. */
	struct call *next;
	for (struct call *c = w->delayed; c != NULL; c = next) {
		next = c->next;
		if (c->due_ms <= now)
			ready_push(w, c);
	}
	for (;;) {
		while (w->ready_head != NULL && w->http_running < w->cfg->worker_http_max) {
			struct call *c = w->ready_head;
			call_unlink(w, c);
			if (w->stopping) {
				call_finish(w, c);
				continue;
			}
			if (start_transfer(w, c) != 0) {
				c->retry_after_ms = -1;
				transient(w, c, now, "cannot start the request");
			}
		}
		int running = 0;
		curl_multi_perform(w->multi, &running);
		bool any = false;
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct call *c = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			CURLcode res = m->data.result;
			if (c == NULL)
				continue;
			on_done(w, c, res, now);
			any = true;
		}
		/* Polls queued by answers (start → poll, 404 → start) go out now. */
		if (!any || w->ready_head == NULL || w->http_running >= w->cfg->worker_http_max)
			break;
	}
	settle_all(w);
	log_ctx_clear();
}

void proc_extend(struct worker *w, int64_t now)
{
	if (now < w->next_extend_ms)
		return;
	int64_t lease = w->cfg->queue_lease_ms;
	w->next_extend_ms = now + (lease / 4 > 20 ? lease / 4 : 20);
	struct job *next;
	for (struct job *j = w->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->lease_end_ms - now > lease / 2)
			continue;
		struct queue_job qj;
		struct err e;
		err_clear(&e);
		qjob_of(j, &qj);
		int rc = queue_extend(w->q, &qj, lease, &e);
		if (rc == 0) {
			j->lease_end_ms = now + lease;
		} else if (rc == APP_ERR_CONFLICT) {
			job_ctx(j);
			log_kv(LOG_WARN, "job_lease_lost", "detail", e.detail, NULL);
			w->st.lost++;
			job_free(w, j);
		} else {
			log_kv(LOG_WARN, "lease_extend_failed", "job", j->qid, "err",
			    app_err_name(e.code), NULL);
		}
	}
}

int64_t proc_timeout(struct worker *w, int64_t now, int64_t cap)
{
	int64_t t = cap;
	if (w->ready_head != NULL && w->http_running < w->cfg->worker_http_max)
		return 0;
	for (const struct call *c = w->delayed; c != NULL; c = c->next)
		if (c->due_ms - now < t)
			t = c->due_ms - now;
	if (!w->stopping && w->njobs < w->cfg->worker_concurrency &&
	    w->next_claim_ms - now < t)
		t = w->next_claim_ms - now;
	if (w->njobs > 0 && w->next_extend_ms - now < t)
		t = w->next_extend_ms - now;
	return t < 0 ? 0 : t;
}

void proc_begin_stop(struct worker *w)
{
	/* Backoffs end the provider's attempt at once. */
	while (w->delayed != NULL) {
		struct call *c = w->delayed;
		call_unlink(w, c);
		call_finish(w, c);
	}
}

void proc_abandon(struct worker *w)
{
	settle_all(w);
	while (w->jobs != NULL) {
		struct job *j = w->jobs;
		job_ctx(j);
		log_kv(LOG_WARN, "job_released", "why", "shutdown deadline", NULL);
		finish_in_queue(w, j, QUEUE_OP_RETRY, 0, "worker shutdown");
		job_free(w, j);
	}
	queue_flush(w);
}

bool proc_busy(const struct worker *w)
{
	return w->njobs > 0;
}

int proc_init(struct worker *w)
{
	w->multi = curl_multi_init();
	if (w->multi == NULL)
		return -1;
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->cfg->worker_http_max);
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)w->cfg->worker_http_max);
	w->json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	w->json_hdrs = curl_slist_append(w->json_hdrs, "Accept: application/json");
	w->json_hdrs = curl_slist_append(w->json_hdrs, "Expect:");
	w->easy_pool = xcalloc((size_t)w->cfg->worker_http_max, sizeof *w->easy_pool);
	w->claim_buf = xcalloc(WORKER_CLAIM_BATCH, sizeof *w->claim_buf);
	uint64_t seed = 0;
	if (crypto_random(&seed, sizeof seed) != 0 || seed == 0)
		seed = (uint64_t)clock_mono_us() | 1;
	w->rnd = seed;
	return w->json_hdrs == NULL ? -1 : 0;
}

void proc_clear(struct worker *w)
{
	while (w->jobs != NULL)
		job_free(w, w->jobs);
	for (int i = 0; i < w->easy_free; i++)
		curl_easy_cleanup(w->easy_pool[i]);
	free(w->easy_pool);
	free(w->ready);
	free(w->settle);
	free(w->later);
	free(w->claim_buf);
	curl_slist_free_all(w->json_hdrs);
	if (w->multi != NULL)
		curl_multi_cleanup(w->multi);
}
