/* call: one provider call of a job's attempt, a small libcurl state
 * machine: START (POST a job) then POLL (GET it); a fresh job is polled
 * right after it is started, a 404 on a poll starts a new job; transient
 * failures are retried after the provider's backoff.  The last call of an
 * attempt to end hands the job to worker/settle.c. */
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

/* xorshift: jitter for the retry delays. */
static uint32_t rnd32(struct worker *w)
{
	uint64_t x = w->rnd;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	w->rnd = x;
	return (uint32_t)(x >> 16);
}

void call_finish(struct worker *w, struct call *c)
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
void call_transient(struct worker *w, struct call *c, int64_t now, const char *why)
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

/* Back-pressure, the provider's "over my limit" (429, or 503 with a
 * Retry-After): the call goes out again after the Retry-After (or the
 * backoff) without using one of the policy's retries, until it has waited
 * pressure_max_ms in all this attempt; then, or when the wait asked for is
 * longer than retry_after_max_ms, it is a transient failure. */
static void call_pressure(struct worker *w, struct call *c, int64_t now,
    const char *why)
{
	struct job *j = c->job;
	const struct policy *pol = &w->policy[c->k];
	int64_t d = queue_backoff_delay(&pol->backoff, c->pressured + 1,
	    c->retry_after_ms, rnd32(w));
	if (w->stopping || c->pressure_ms + d > pol->pressure_max_ms ||
	    (pol->retry_after_max_ms > 0 && c->retry_after_ms > pol->retry_after_max_ms)) {
		call_transient(w, c, now, why);
		return;
	}
	c->pressured++;
	c->pressure_ms += d;
	c->due_ms = now + d;
	delayed_push(w, c);
	w->st.pressured++;
	job_ctx(j);
	struct log_line l;
	log_begin(&l, LOG_INFO, "provider_backpressure");
	log_str(&l, "provider", report_providers[c->k]);
	log_str(&l, "why", why);
	log_int(&l, "delay_ms", d);
	log_int(&l, "waited_ms", c->pressure_ms);
	log_end(&l);
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

int call_start(struct worker *w, struct call *c)
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
	w->http_open[c->k]++;
	w->st.http_requests++;
	return 0;
}


/* What a finished transfer means for its call. */
void call_on_done(struct worker *w, struct call *c, CURLcode res, int64_t now)
{
	struct job *j = c->job;
	struct reportwork_provider *p = &j->ctx.p[c->k];
	long http = 0;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &http);
	call_release(w, c);
	if (res != CURLE_OK) {
		const char *why = res == CURLE_OPERATION_TIMEDOUT ? "timeout" :
		    res == CURLE_WRITE_ERROR ? "response too large" :
		    res == CURLE_COULDNT_CONNECT ? "connection refused" :
		    curl_easy_strerror(res);
		log_poll(c, "error", 0, why);
		call_transient(w, c, now, why);
		return;
	}
	if (http == 429 || http >= 500) {
		char why[64];
		snprintf(why, sizeof why, "HTTP %ld", http);	/* fits */
		bool pressure = http == 429 || (http == 503 && c->retry_after_ms >= 0);
		log_poll(c, pressure ? "busy" : "error", http, why);
		if (pressure)
			call_pressure(w, c, now, why);
		else
			call_transient(w, c, now, why);
		return;
	}
	if (http == 404 && c->step == STEP_POLL) {
		log_poll(c, "unknown_job", http, NULL);
		p->job_id[0] = '\0';
		snprintf(p->status, sizeof p->status, "%s", PROVIDER_PENDING);
		if (++c->restarts > RESTARTS_MAX) {
			call_transient(w, c, now, "provider job lost repeatedly");
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
		call_transient(w, c, now, a.why);
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
