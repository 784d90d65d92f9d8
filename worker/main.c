/* report-worker: Kafka report.create → Redis job queue → providers →
 * report files → report.progress / report.ready (worker/README.md).
 *
 * The intake thread (intake.c) turns report.create messages into jobs and
 * wakes the loop.  One event loop: each turn claims due jobs up to
 * WORKER_CONCURRENCY, drives every provider call through libcurl multi,
 * extends leases, and now and then runs the reconciler.  SIGTERM/SIGINT:
 * stop the intake (it commits its offsets) and claiming, let in-flight
 * calls finish until WORKER_SHUTDOWN_MS, put unfinished jobs back, exit 0.
 * SIGHUP reopens LOG_FILE. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "pgbouncer.h"
#include "poolcap.h"
#include "reportwork.h"
#include "worker.h"
#include "xalloc.h"
#include "proc.h"
#include "intake.h"

enum { IDLE_WAIT_MS = 100, BUSY_WAIT_MS = 10, HOST_MAX = 64 };

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

/* The intake thread created jobs: claim them now, not at the next poll. */
static void wake(void *arg)
{
	struct worker *w = arg;
	atomic_store(&w->claim_now, true);
	curl_multi_wakeup(w->multi);
}

/* ---- set-up --------------------------------------------------------------- */

static int make_id(struct worker *w)
{
	if (w->cfg->worker_id[0] != '\0') {
		snprintf(w->id, sizeof w->id, "%s", w->cfg->worker_id);	/* <= 40 */
	} else {
		char host[HOST_MAX] = "worker";
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "worker");
		host[sizeof host - 1] = '\0';
		for (char *p = host; *p; p++)
			if (*p <= ' ' || *p > '~')
				*p = '_';
		if (snprintf(w->id, sizeof w->id, "%.40s-%ld", host, (long)getpid()) >=
		    (int)sizeof w->id)
			return -1;
	}
	return 0;
}

static int load_policies(struct worker *w)
{
	const struct config *c = w->cfg;
	const char *per[REPORT_PROVIDERS_N] = {
		c->provider_policy_credit_bureau, c->provider_policy_tax_authority,
		c->provider_policy_property_registry,
	};
	static const char *const names[REPORT_PROVIDERS_N] = {
		"PROVIDER_POLICY_CREDIT_BUREAU", "PROVIDER_POLICY_TAX_AUTHORITY",
		"PROVIDER_POLICY_PROPERTY_REGISTRY",
	};
	_Static_assert(REPORT_PROVIDERS_N == 3, "one policy variable per provider");
	char err[160];
	for (int k = 0; k < REPORT_PROVIDERS_N; k++) {
		policy_default(&w->policy[k]);
		if (policy_parse(c->worker_provider_policy, &w->policy[k], err, sizeof err) != 0) {
			fprintf(stderr, "report-worker: WORKER_PROVIDER_POLICY: %s\n", err);
			return -1;
		}
		if (policy_parse(per[k], &w->policy[k], err, sizeof err) != 0) {
			fprintf(stderr, "report-worker: %s: %s\n", names[k], err);
			return -1;
		}
	}
	return 0;
}

static int setup(struct worker *w)
{
	const struct config *c = w->cfg;
	size_t bl = strlen(c->providers_base_url);
	while (bl > 0 && c->providers_base_url[bl - 1] == '/')
		bl--;
	if (strncmp(c->providers_base_url, "http://", 7) != 0 &&
	    strncmp(c->providers_base_url, "https://", 8) != 0) {
		fprintf(stderr, "report-worker: PROVIDERS_BASE_URL must be http:// or https://\n");
		return -2;
	}
	if (snprintf(w->base_url, sizeof w->base_url, "%.*s", (int)bl,
	    c->providers_base_url) >= (int)sizeof w->base_url)
		return -1;
	if (load_policies(w) != 0)
		return -2;
	if (make_id(w) != 0)
		return -1;
	reportevent_signer_from_cfg(&w->signer, c);

	char errbuf[256];
	w->keys = crypto_keys_from_cfg(c, errbuf, sizeof errbuf);
	if (w->keys == NULL) {
		fprintf(stderr, "report-worker: %s\n", errbuf);
		return -1;
	}
	w->master = db_new(c->master_db_url, c->dep_timeout_ms, "report-worker");
	struct err e;
	err_clear(&e);
	if (poolcap_from_cfg(c, &w->pgb, &w->cap, &e) != 0) {
		fprintf(stderr, "report-worker: %s\n", e.detail);
		return -1;
	}
	struct tenant_cache_opts to;
	tenant_cache_opts_from_cfg(&to, c, w->keys);
	to.app_name = "report-worker";
	to.pgb = w->pgb;
	to.cap = w->cap;
	w->tenants = tenant_cache_new(w->master, &to);

	struct queue_opts qo;
	queue_opts_init(&qo, c);
	/* Redis may still be starting: the queue reconnects by itself later. */
	int64_t deadline = clock_mono_ms() + 10 * (int64_t)c->dep_timeout_ms;
	while ((w->q = queue_new(&qo, &e)) == NULL) {
		if (e.code != APP_ERR_UNAVAILABLE || clock_mono_ms() > deadline || got_stop) {
			log_kv(LOG_ERROR, "queue_unavailable", "detail", e.detail, NULL);
			return -1;
		}
		usleep(200 * 1000);
	}
	/* A few ms of linger put a turn's report.progress events into one
	 * request; report.ready does not wait, proc_flush_ready() sends it. */
	struct kafka_producer_opts po = { .client_id = "report-worker", .linger_ms = 5 };
	w->prod = kafka_producer_new_opts(c->kafka_brokers, &po, &e);
	if (w->prod == NULL) {
		log_kv(LOG_ERROR, "kafka_producer_failed", "detail", e.detail, NULL);
		return -1;
	}
	/* The first report of a fresh worker must not wait for topic lookups. */
	const char *out[] = { KAFKA_TOPIC_PROGRESS, KAFKA_TOPIC_READY };
	for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
		if (kafka_producer_warm(w->prod, out[i], c->dep_timeout_ms, &e) != 0)
			log_kv(LOG_WARN, "kafka_warm_failed", "detail", e.detail, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || proc_init(w) != 0) {
		log_kv(LOG_ERROR, "curl_init_failed", NULL);
		return -1;
	}
	w->intake = intake_start(c, wake, w);
	if (w->intake == NULL)
		return -1;
	w->next_recon_ms = clock_mono_ms() + c->reconcile_interval_ms / 4;
	return 0;
}

static void teardown(struct worker *w)
{
	intake_free(w->intake);	/* before the multi handle it wakes */
	proc_clear(w);
	if (w->multi != NULL)
		curl_global_cleanup();
	kafka_producer_free(w->prod);
	if (w->lock != NULL)
		redisFree(w->lock);
	queue_free(w->q);
	tenant_cache_free(w->tenants);
	poolcap_close(w->cap);
	pgbouncer_free(w->pgb);
	db_free(w->master);
	crypto_keys_free(w->keys);
}

/* ---- the loop ------------------------------------------------------------- */

/* Tenants changed in the master by anyone (another host, SQL, the admin
 * tool) reach PgBouncer within TENANT_RECHECK_SEC: one small query. */
static void pool_sync_maybe(struct worker *w, int64_t now)
{
	if (w->pgb == NULL || now < w->next_pool_sync_ms)
		return;
	w->next_pool_sync_ms = now + 1000 * (int64_t)(cfg()->tenant_recheck_sec > 0 ?
	    cfg()->tenant_recheck_sec : 1);
	struct err e;
	if (pgbouncer_sync_if_changed(w->pgb, w->master, w->keys, &e) != 0)
		log_kv(LOG_WARN, "pool_sync_failed", "err", e.detail, NULL);
}

static void log_stats(const struct worker *w, const char *ev)
{
	struct log_line l;
	log_begin(&l, LOG_INFO, ev);
	log_int(&l, "claimed", (long long)w->st.claimed);
	log_int(&l, "completed", (long long)w->st.completed);
	log_int(&l, "failed", (long long)w->st.failed);
	log_int(&l, "retried", (long long)w->st.retried);
	log_int(&l, "lost", (long long)w->st.lost);
	struct intake_stats is;
	intake_stats(w->intake, &is);
	log_int(&l, "enqueued", (long long)is.enqueued);
	log_int(&l, "duplicates", (long long)is.duplicates);
	log_int(&l, "bad_messages", (long long)is.bad_messages);
	log_int(&l, "http_requests", (long long)w->st.http_requests);
	log_int(&l, "backpressure", (long long)w->st.pressured);
	log_int(&l, "reconciled", (long long)w->st.reconciled);
	log_int(&l, "reannounced", (long long)w->st.reannounced);
	log_end(&l);
}

static void run(struct worker *w)
{
	int64_t stop_deadline = 0, next_janitor = 0;
	for (;;) {
		int64_t now = clock_mono_ms();
		if (got_hup) {
			got_hup = 0;
			if (log_reopen() != 0)
				log_kv(LOG_WARN, "log_reopen_failed", NULL);
			else
				log_kv(LOG_INFO, "log_reopened", NULL);
		}
		if (got_stop && !w->stopping) {
			w->stopping = true;
			stop_deadline = now + w->cfg->worker_shutdown_ms;
			log_kv(LOG_INFO, "worker_stopping", NULL);
			intake_stop(w->intake);	/* its partitions go to the others now */
			proc_begin_stop(w);
		}
		if (w->stopping) {
			proc_step(w, now);
			proc_flush_ready(w);
			if (!proc_busy(w))
				break;
			if (now >= stop_deadline) {
				proc_abandon(w);
				proc_flush_ready(w);
				break;
			}
			proc_extend(w, now);
			int64_t t = proc_timeout(w, now, BUSY_WAIT_MS);
			curl_multi_poll(w->multi, NULL, 0, (int)t, NULL);
			continue;
		}
		if (atomic_exchange(&w->claim_now, false))
			w->next_claim_ms = 0;
		proc_claim(w, now);
		proc_step(w, now);
		proc_extend(w, now);
		recon_maybe_run(w, now);
		proc_flush_ready(w);
		if (now >= next_janitor) {
			tenant_cache_janitor(w->tenants, 0);
			pool_sync_maybe(w, now);
			next_janitor = now + 1000;
		}
		now = clock_mono_ms();
		int64_t cap = proc_http_open(w) > 0 ? BUSY_WAIT_MS : IDLE_WAIT_MS;
		if (w->next_recon_ms - now < cap)
			cap = w->next_recon_ms - now < 0 ? 0 : w->next_recon_ms - now;
		int64_t t = proc_timeout(w, now, cap);
		if (t <= 0)
			continue;
		/* Provider answers, due backoffs, or the intake's wake-up. */
		curl_multi_poll(w->multi, NULL, 0, (int)t, NULL);
	}
}

int main(void)
{
	cfg_load_or_exit(CFG_WORKER);
	const struct config *c = cfg();
	log_init("worker", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0) {
		fprintf(stderr, "report-worker: cannot open LOG_FILE %s\n", c->log_file);
		return 2;
	}
	proc_on_signals(on_signal);

	static struct worker w;
	w.cfg = c;
	int rc = setup(&w);
	if (rc != 0) {
		rc = rc == -2 ? 2 : 1;
		goto out;
	}
	struct log_line l;
	log_begin(&l, LOG_INFO, "worker_started");
	log_str(&l, "worker", w.id);
	log_int(&l, "concurrency", c->worker_concurrency);
	log_int(&l, "poll_interval_ms", c->queue_poll_interval_ms);
	log_int(&l, "max_attempts", c->queue_max_attempts);
	log_int(&l, "lease_ms", c->queue_lease_ms);
	log_end(&l);
	run(&w);
	log_stats(&w, "worker_stopped");
	rc = 0;
out:
	teardown(&w);
	return rc;
}
