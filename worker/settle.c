/* settle: the end of an attempt.  The attempts that ended in a loop turn
 * are written to the tenant databases together (one statement per tenant,
 * tenants in waves sent before any answer is awaited), reports whose
 * providers all answered are completed (files built and stored), failed
 * ones get their reason, and each job is then retried, completed or failed
 * in the queue. */
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

/* The terminal FAILED transition, its events and the queue. */
void fail_report(struct worker *w, struct tenant_conn *h, struct job *j,
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

/* The public view of j's report from what this worker knows, for the
 * events (the same JSON reportevent_build() reads back: lib/reportevent.h).
 * A COMPLETED report shows every provider completed, without errors. */
static void job_view(const struct job *j, const char *status, int progress,
    int64_t created_ms, int64_t completed_ms, struct report_view *v)
{
	bool done = strcmp(status, REPORT_COMPLETED) == 0;
	memset(v, 0, sizeof *v);
	v->id = j->report_id;
	v->owner_id = j->ctx.owner_id;
	snprintf(v->status, sizeof v->status, "%s", status);
	v->progress = progress;
	v->attempts = j->attempt;
	v->created_ms = created_ms;
	v->completed_ms = completed_ms;
	v->nproviders = REPORT_PROVIDERS_N;
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		const struct reportwork_provider *c = &j->ctx.p[k];
		struct report_provider_view *p = &v->providers[k];
		snprintf(p->name, sizeof p->name, "%s", report_providers[k]);
		snprintf(p->status, sizeof p->status, "%s", done ? PROVIDER_COMPLETED : c->status);
		p->attempts = c->attempts;
		p->error = !done && c->has_error ? c->error : NULL;
	}
}

/* report.progress + report.ready of a report this worker just completed. */
static int completed_event(struct worker *w, const struct job *j,
    const struct reportwork_end *end)
{
	struct report_view v;
	job_view(j, REPORT_COMPLETED, 100, end->created_ms, end->completed_ms, &v);
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
void exhausted_reason(const struct job *j, char *out, size_t size)
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

/* report.progress after an attempt, from what was just stored. */
static void progress_event(struct worker *w, const struct job *j,
    const struct reportwork_saved *saved)
{
	struct report_view v;
	job_view(j, REPORT_IN_PROGRESS, saved->progress, saved->created_ms, -1, &v);
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
void attempt_done(struct worker *w, struct job *j)
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
void settle_all(struct worker *w)
{
	int n = w->nsettle;
	if (n == 0) {
		proc_queue_flush(w);
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
	proc_queue_flush(w);
}
