/* proc: claimed jobs: claiming, the loop's steps over them, their lease,
 * the queue transitions of a turn, and the report events.  The provider
 * calls are worker/call.c, the end of an attempt worker/settle.c.
 *
 * An attempt = one round of calls to the providers not finished yet; when
 * its last call ends, the attempt is settled: written to the tenant
 * database, and the job retried, completed or failed in the queue. */
#include "worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "job.h"
#include "jsonh.h"
#include "log.h"
#include "reportwork.h"
#include "sbuf.h"
#include "signurl.h"
#include "xalloc.h"

/* ---- small helpers ------------------------------------------------------ */

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

void job_ctx(const struct job *j)
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

/* A ready list is FIFO (head, tail), one per provider; the delayed list
 * is unordered (head).  Both are doubly linked, so a call leaves either in
 * O(1). */
static void call_unlink(struct worker *w, struct call *c)
{
	if (c->where == LIST_NONE)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (c->where == LIST_READY)
		w->ready_head[c->k] = c->next;
	else
		w->delayed = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else if (c->where == LIST_READY)
		w->ready_tail[c->k] = c->prev;
	c->next = c->prev = NULL;
	c->where = LIST_NONE;
}

void ready_push(struct worker *w, struct call *c)
{
	call_unlink(w, c);
	c->prev = w->ready_tail[c->k];
	c->next = NULL;
	if (c->prev != NULL)
		c->prev->next = c;
	else
		w->ready_head[c->k] = c;
	w->ready_tail[c->k] = c;
	c->where = LIST_READY;
}

/* The provider whose next ready call may go out now (under its connection
 * cap, the worker under WORKER_HTTP_MAX), taking the providers in turn
 * from w->ready_turn; -1 if none. */
static int ready_provider(const struct worker *w)
{
	if (proc_http_open(w) >= w->cfg->worker_http_max)
		return -1;
	for (int i = 0; i < REPORT_PROVIDERS_N; i++) {
		int k = (w->ready_turn + i) % REPORT_PROVIDERS_N;
		if (w->ready_head[k] != NULL && w->http_open[k] < w->policy[k].max_conns)
			return k;
	}
	return -1;
}

/* The next call to send (see ready_provider), or NULL. */
static struct call *ready_next(struct worker *w)
{
	int k = ready_provider(w);
	if (k < 0)
		return NULL;
	w->ready_turn = (k + 1) % REPORT_PROVIDERS_N;
	return w->ready_head[k];
}

void call_release(struct worker *w, struct call *c)
{
	curl_multi_remove_handle(w->multi, c->easy);
	w->http_open[c->k]--;
	if (w->easy_free < w->cfg->worker_http_max)
		w->easy_pool[w->easy_free++] = c->easy;
	else
		curl_easy_cleanup(c->easy);
	c->easy = NULL;
}

void delayed_push(struct worker *w, struct call *c)
{
	call_unlink(w, c);
	c->prev = NULL;
	c->next = w->delayed;
	if (w->delayed != NULL)
		w->delayed->prev = c;
	w->delayed = c;
	c->where = LIST_DELAYED;
}

void job_free(struct worker *w, struct job *j)
{
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		struct call *c = &j->calls[k];
		if (c->easy != NULL)
			call_release(w, c);
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
 * one pipeline at its end (proc_queue_flush), after the database writes they
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

void finish_in_queue(struct worker *w, const struct job *j,
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
void proc_queue_flush(struct worker *w)
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
		struct call *c;
		while ((c = ready_next(w)) != NULL) {
			call_unlink(w, c);
			if (w->stopping) {
				call_finish(w, c);
				continue;
			}
			if (call_start(w, c) != 0) {
				c->retry_after_ms = -1;
				call_transient(w, c, now, "cannot start the request");
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
			struct call *done = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&done);
			CURLcode res = m->data.result;
			if (done == NULL)
				continue;
			call_on_done(w, done, res, now);
			any = true;
		}
		/* Polls queued by answers (start → poll, 404 → start) go out now. */
		if (!any || ready_provider(w) < 0)
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
	if (ready_provider(w) >= 0)
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
	proc_queue_flush(w);
}

int proc_http_open(const struct worker *w)
{
	int n = 0;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++)
		n += w->http_open[k];
	return n;
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
