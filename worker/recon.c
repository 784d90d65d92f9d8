/* recon: the reconciler.  Every RECONCILE_INTERVAL_MS one worker (the one
 * that takes the Redis lock <prefix>:reconciler, SET NX PX, which simply
 * expires) walks every tenant and
 *   - enqueues reports that are not terminal, untouched for
 *     RECONCILE_GRACE_MS and have no job (never announced, event lost, Redis
 *     flushed), or requeues them when their job already ended;
 *   - announces report.ready again for terminal reports whose announcement
 *     was not confirmed (ready_announced false).
 * At most RECONCILE_BATCH reports of each kind per tenant and run. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "redisc.h"
#include "reportstore.h"
#include "reportwork.h"
#include "xalloc.h"

enum { KEY_MAX = QUEUE_PREFIX_MAX + 16, PAYLOAD_MAX = 128 };

static const char SQL_TENANTS[] = "SELECT tenant_id FROM tenants ORDER BY tenant_id";

/* True if this worker holds the lock for the coming interval. */
static bool take_lock(struct worker *w, int64_t now)
{
	struct err e;
	err_clear(&e);
	if (w->lock == NULL) {
		if (now < w->lock_retry_ms)
			return false;
		w->lock = redisc_open(w->cfg->redis_url, w->cfg->dep_timeout_ms, &e);
		if (w->lock == NULL) {
			log_kv(LOG_WARN, "reconcile_lock_unavailable", "detail", e.detail, NULL);
			w->lock_retry_ms = now + 1000;
			return false;
		}
	}
	char key[KEY_MAX], px[24];
	if (snprintf(key, sizeof key, "%s:reconciler", w->cfg->queue_prefix) >= (int)sizeof key ||
	    snprintf(px, sizeof px, "%d", w->cfg->reconcile_interval_ms) >= (int)sizeof px)
		return false;
	redisReply *r = redisCommand(w->lock, "SET %s %s NX PX %s", key, w->id, px);
	if (r == NULL) {
		log_kv(LOG_WARN, "reconcile_lock_unavailable", "detail",
		    w->lock->errstr, NULL);
		redisFree(w->lock);
		w->lock = NULL;
		w->lock_retry_ms = now + 1000;
		return false;
	}
	bool got = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
	freeReplyObject(r);
	return got;
}

static void one_tenant(struct worker *w, const char *tenant, long long *ids)
{
	struct err e;
	err_clear(&e);
	log_ctx_set("tenant", tenant);
	struct tenant_conn *h = tenant_acquire(w->tenants, tenant, &e);
	if (h == NULL) {
		log_kv(LOG_WARN, "reconcile_tenant_unavailable", "detail", e.detail, NULL);
		return;
	}
	int n = 0;
	char num[24];
	if (reportwork_list_unannounced(h, w->cfg->reconcile_grace_ms,
	    w->cfg->reconcile_batch, ids, &n, &e) != 0)
		log_kv(LOG_WARN, "reconcile_query_failed", "detail", e.detail, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(num, sizeof num, "%lld", ids[i]);	/* fits */
		log_ctx_set("report", num);
		if (proc_announce(w, h, ids[i], true) == 0) {
			w->st.reannounced++;
			log_kv(LOG_INFO, "reconcile_reannounced", NULL);
		}
	}
	n = 0;
	if (reportwork_list_open(h, w->cfg->reconcile_grace_ms, w->cfg->reconcile_batch,
	    ids, &n, &e) != 0)
		log_kv(LOG_WARN, "reconcile_query_failed", "detail", e.detail, NULL);
	for (int i = 0; i < n; i++) {
		char id[QUEUE_ID_MAX + 1], payload[PAYLOAD_MAX];
		snprintf(num, sizeof num, "%lld", ids[i]);	/* fits */
		log_ctx_set("report", num);
		if (snprintf(id, sizeof id, "%s:%lld", tenant, ids[i]) >= (int)sizeof id ||
		    snprintf(payload, sizeof payload, "{\"tenantID\":\"%s\",\"reportID\":%lld}",
		    tenant, ids[i]) >= (int)sizeof payload)
			continue;	/* tenant IDs are short: cannot happen */
		struct queue_job qj;
		int rc = queue_get(w->q, id, &qj, &e);
		if (rc == APP_ERR_NOT_FOUND) {
			bool created = false;
			rc = queue_enqueue(w->q, id, payload, 0, w->cfg->queue_max_attempts,
			    &created, &e);
			if (rc == 0 && created) {
				w->st.reconciled++;
				log_kv(LOG_INFO, "reconcile_enqueued", "job", id, NULL);
				/* Taken in without report.create: it is announced now. */
				struct err me;
				err_clear(&me);
				if (reportstore_mark_announced(h, ids[i], &me) != 0)
					log_kv(LOG_WARN, "reconcile_mark_failed", "detail",
					    me.detail, NULL);
			}
		} else if (rc == 0 && (qj.state == QUEUE_COMPLETED || qj.state == QUEUE_FAILED)) {
			rc = queue_requeue(w->q, id, 0, w->cfg->queue_max_attempts, &e);
			if (rc == 0) {
				w->st.reconciled++;
				log_kv(LOG_INFO, "reconcile_requeued", "job", id, "was",
				    queue_state_name(qj.state), NULL);
			}
		}
		if (rc != 0 && rc != APP_ERR_CONFLICT) {
			log_kv(LOG_WARN, "reconcile_queue_failed", "job", id, "err",
			    app_err_name(e.code), "detail", e.detail, NULL);
			if (rc == APP_ERR_UNAVAILABLE)
				break;
		}
	}
	w->next_claim_ms = 0;	/* look for what was just enqueued */
	tenant_release(h);
	log_ctx_clear();
}

void recon_maybe_run(struct worker *w, int64_t now)
{
	if (w->stopping || now < w->next_recon_ms)
		return;
	w->next_recon_ms = now + w->cfg->reconcile_interval_ms;
	if (!take_lock(w, now))
		return;
	int64_t t0 = clock_mono_ms();
	struct err e;
	err_clear(&e);
	PGresult *r = db_exec(w->master, SQL_TENANTS, 0, NULL, "tenants_list", &e);
	if (r == NULL) {
		log_kv(LOG_WARN, "reconcile_master_unavailable", "detail", e.detail, NULL);
		return;
	}
	long long *ids = xcalloc((size_t)w->cfg->reconcile_batch, sizeof *ids);
	unsigned long before = w->st.reconciled + w->st.reannounced;
	int tenants = PQntuples(r);
	for (int i = 0; i < tenants; i++)
		one_tenant(w, PQgetvalue(r, i, 0), ids);
	PQclear(r);
	free(ids);
	unsigned long fixed = w->st.reconciled + w->st.reannounced - before;
	struct log_line l;
	log_begin(&l, fixed > 0 ? LOG_INFO : LOG_DEBUG, "reconcile_done");
	log_int(&l, "tenants", tenants);
	log_int(&l, "fixed", (long long)fixed);
	log_int(&l, "ms", clock_mono_ms() - t0);
	log_end(&l);
}
