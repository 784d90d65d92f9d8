/* mock-providers: the three slow external providers of the report service
 * (credit-bureau, tax-authority, property-registry) simulated over real
 * HTTP on 127.0.0.1:PROVIDERS_PORT with libmicrohttpd.
 *
 * The protocol (providers/README.md is the contract): POST
 * /v1/<provider>/jobs {"taxID":"..."} starts a job (202, Retry-After,
 * {"jobID","status":"processing"}); GET /v1/<provider>/jobs/<jobID> answers
 * processing until the job has been polled `polls` times, then completed
 * with the provider's data, which depends only on the tax ID.  Knobs per
 * provider (PROVIDER_<NAME> spec strings) and per request (X-Mock-* headers)
 * add latency and inject 5xx, 429, hangs and malformed bodies; every such
 * decision is a hash of the job's seed and the request's number on the job,
 * so a run is reproducible.
 *
 * One thread per connection: a request that sleeps (latency, hang) never
 * stalls another.  PROVIDERS_MAX_CONNS connections are served; a request on
 * a connection beyond that is answered 503 with Retry-After and the
 * connection closed ("over my limit", which clients treat as
 * back-pressure), and only PROV_OVERFLOW_CONNS more are accepted at all,
 * so a flood cannot take a thread each.  Sleeps wait on a condition variable that SIGTERM/SIGINT
 * wakes, so shutdown is prompt; the daemon is then stopped, the job table
 * freed and the process exits 0.  Exit 1: the port is taken or the daemon
 * failed; exit 2: bad configuration. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "cfg.h"
#include "clock.h"
#include "data.h"
#include "jobs.h"
#include "jsonh.h"
#include "knobs.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"
#include "proc.h"

enum {
	PROV_MAX_BODY = 4096,		/* largest accepted request body */
	PROV_MAX_DISCARD = 65536,	/* body bytes read past the limit, then close */
	PROV_IDLE_TIMEOUT_SEC = 60,	/* idle keep-alive connections close */
	PROV_MAX_RESPONSE = 64 * 1024,
	PROV_JSON_DEPTH = 8,
	PROV_LOG_MSG_MAX = 512,
	PROV_OVERFLOW_CONNS = 64,	/* accepted past the limit, to answer 503 */
};

/* What a draw decides; part of every draw's input, so decisions differ. */
enum draw_kind { DRAW_TIMEOUT = 1, DRAW_FAIL, DRAW_RATE_LIMIT, DRAW_MALFORMED,
	DRAW_STATUS };

/* Marks a POST's draw numbers apart from a job's request numbers. */
static const uint64_t post_draw_bit = 1ULL << 63;

struct prov_stats {
	atomic_ullong started;		/* 202 answers */
	atomic_ullong polls;		/* GETs on a known job */
	atomic_ullong completed;	/* jobs answered completed the first time */
	atomic_ullong server_errors;	/* injected 5xx */
	atomic_ullong rate_limited;	/* injected 429 */
	atomic_ullong timeouts;		/* injected hangs */
	atomic_ullong malformed;	/* injected broken bodies */
	atomic_ullong bad_requests;	/* 4xx for the client's mistakes */
	atomic_ullong post_seq;		/* POSTs seen: their draw numbers */
};

static struct {
	struct prov_knobs knobs[PROV_N];
	struct prov_stats stats[PROV_N];
	struct prov_jobs *jobs;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;		/* CLOCK_MONOTONIC */
	bool stopping;
	atomic_int conns;		/* open connections */
	atomic_ullong over_limit;	/* 503 answers past PROVIDERS_MAX_CONNS */
	int max_conns;
} S = {
	.stop_mu = PTHREAD_MUTEX_INITIALIZER,
};

/* State of one request, from its first callback to completion. */
struct req {
	struct sbuf body;
	size_t received;	/* body bytes seen, kept or not */
	bool too_large;
	bool answered;		/* a response is queued */
	bool close;		/* close the connection after the answer */
	int64_t t0_ms;
	int prov;		/* -1 until known (for the log line) */
	char job[PROV_JOB_ID_LEN + 1];
};

/* --- waiting ------------------------------------------------------------- */

/* Waits ms milliseconds or until shutdown starts.  Returns true if the
 * process is stopping (the caller answers at once). */
static bool wait_ms(int ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&S.stop_mu);
	while (!S.stopping && ms > 0) {
		int e = pthread_cond_timedwait(&S.stop_cv, &S.stop_mu, &dl);
		if (e == ETIMEDOUT)
			break;
	}
	bool stopping = S.stopping;
	pthread_mutex_unlock(&S.stop_mu);
	return stopping;
}

static void stop_waiters(void)
{
	pthread_mutex_lock(&S.stop_mu);
	S.stopping = true;
	pthread_cond_broadcast(&S.stop_cv);
	pthread_mutex_unlock(&S.stop_mu);
}

/* --- replies ------------------------------------------------------------- */

static void log_request(struct MHD_Connection *c, const struct req *r,
    const char *method, const char *url, unsigned status)
{
	(void)c;
	if (!log_enabled(LOG_DEBUG))
		return;
	struct log_line l;
	log_begin(&l, LOG_DEBUG, "request");
	log_str(&l, "method", method);
	log_str(&l, "path", url);
	log_int(&l, "status", status);
	log_int(&l, "ms", clock_mono_ms() - r->t0_ms);
	if (r->prov >= 0)
		log_str(&l, "provider", prov_name((enum prov_id)r->prov));
	if (r->job[0] != '\0')
		log_str(&l, "job", r->job);
	log_end(&l);
}

/* Queues body[0..len) with status; retry_after < 0: no Retry-After. */
static enum MHD_Result reply(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url, unsigned status, const char *body,
    size_t len, int retry_after, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len,
	    (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		log_kv(LOG_ERROR, "response_failed", "path", url, NULL);
		return MHD_NO;
	}
	enum MHD_Result ok = MHD_add_response_header(resp, "Content-Type",
	    "application/json");
	if (ok == MHD_YES)
		ok = MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (ok == MHD_YES && retry_after >= 0) {
		char ra[24];
		int n = snprintf(ra, sizeof ra, "%d", retry_after);
		ok = n > 0 && (size_t)n < sizeof ra ?
		    MHD_add_response_header(resp, "Retry-After", ra) : MHD_NO;
	}
	if (ok == MHD_YES && allow != NULL)
		ok = MHD_add_response_header(resp, "Allow", allow);
	if (ok == MHD_YES && r->close)
		ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->answered = ok == MHD_YES;
	if (ok != MHD_YES)
		log_kv(LOG_WARN, "response_failed", "path", url, NULL);
	log_request(c, r, method, url, status);
	return ok;
}

/* {"error":msg} with status; counted as a client mistake if 4xx. */
static enum MHD_Result reply_error(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url, unsigned status, const char *msg,
    int retry_after, const char *allow)
{
	struct sbuf sb;
	sbuf_init(&sb, PROV_MAX_RESPONSE);
	sbuf_puts(&sb, "{\"error\":");
	sbuf_json_str(&sb, msg, strlen(msg));
	sbuf_putc(&sb, '}');
	if (status >= 400 && status < 500 && status != MHD_HTTP_TOO_MANY_REQUESTS &&
	    r->prov >= 0)
		atomic_fetch_add(&S.stats[r->prov].bad_requests, 1);
	enum MHD_Result ok = reply(c, r, method, url, status, sb.p, sb.len,
	    retry_after, allow);
	sbuf_clear(&sb);
	return ok;
}

/* --- knobs from headers -------------------------------------------------- */

/* Applies the X-Mock-* headers of the request on top of k.  Returns 0, or
 * -1 with the reason in why. */
static int header_knobs(struct MHD_Connection *c, struct prov_knobs *k,
    char *why)
{
	for (int i = 0; i < PROV_K_N; i++) {
		const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    prov_knob_names[i].header);
		if (v == NULL)
			continue;
		if (prov_knob_set(k, (enum prov_knob_id)i, v, strlen(v), why) != 0) {
			char tmp[PROV_KNOB_WHY_MAX];
			int n = snprintf(tmp, sizeof tmp, "header %s: %s",
			    prov_knob_names[i].header, why);
			if (n > 0 && (size_t)n < sizeof tmp)
				memcpy(why, tmp, (size_t)n + 1);
			return -1;
		}
	}
	return 0;
}

/* Injects a hang, a 5xx or a 429 if the draws for (seed, n) say so.
 * Returns true if it answered (*ok holds the result). */
static bool inject_failure(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url, const struct prov_knobs *k,
    uint64_t seed, uint64_t n, enum MHD_Result *ok)
{
	struct prov_stats *st = &S.stats[r->prov];
	if (prov_knob_hit(k->timeout_rate, prov_draw(seed, n, DRAW_TIMEOUT))) {
		atomic_fetch_add(&st->timeouts, 1);
		if (wait_ms(k->timeout_ms)) {
			*ok = reply_error(c, r, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "shutting down", -1, NULL);
			return true;
		}
		*ok = reply_error(c, r, method, url, MHD_HTTP_GATEWAY_TIMEOUT,
		    "provider timed out", -1, NULL);
		return true;
	}
	if (prov_knob_hit(k->fail_rate, prov_draw(seed, n, DRAW_FAIL))) {
		static const unsigned codes[] = {
			MHD_HTTP_INTERNAL_SERVER_ERROR, MHD_HTTP_BAD_GATEWAY,
			MHD_HTTP_SERVICE_UNAVAILABLE,
		};
		unsigned code = codes[(unsigned)(prov_draw(seed, n, DRAW_STATUS) * 3.0)];
		atomic_fetch_add(&st->server_errors, 1);
		*ok = reply_error(c, r, method, url, code, "injected provider failure",
		    code == MHD_HTTP_SERVICE_UNAVAILABLE ? k->retry_after : -1, NULL);
		return true;
	}
	if (prov_knob_hit(k->rate_limit_rate, prov_draw(seed, n, DRAW_RATE_LIMIT))) {
		atomic_fetch_add(&st->rate_limited, 1);
		*ok = reply_error(c, r, method, url, MHD_HTTP_TOO_MANY_REQUESTS,
		    "rate limit exceeded", k->retry_after, NULL);
		return true;
	}
	return false;
}

/* --- the provider endpoints ---------------------------------------------- */

static bool taxid_ok(const char *s, size_t n)
{
	if (n < 1 || n > PROV_TAXID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '/' || ch == '-'))
			return false;
	}
	return true;
}

static bool json_content_type(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct == NULL)
		return false;
	static const char want[] = "application/json";
	size_t n = sizeof want - 1;
	if (strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static enum MHD_Result start_job(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url)
{
	enum prov_id p = (enum prov_id)r->prov;
	struct prov_knobs k = S.knobs[p];
	char why[PROV_KNOB_WHY_MAX];
	enum MHD_Result ok;

	if (header_knobs(c, &k, why) != 0)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST, why, -1, NULL);
	if (r->too_large)
		return reply_error(c, r, method, url, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body too large", -1, NULL);
	if (!json_content_type(c))
		return reply_error(c, r, method, url, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		    "Content-Type must be application/json", -1, NULL);
	const char *jwhy = NULL;
	json_object *doc = jsonh_parse(r->body.p, r->body.len, PROV_JSON_DEPTH, &jwhy);
	if (doc == NULL)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST,
		    jwhy != NULL ? jwhy : "invalid JSON", -1, NULL);
	size_t tlen = 0;
	const char *taxid = json_object_is_type(doc, json_type_object) ?
	    jsonh_str(doc, "taxID", &tlen) : NULL;
	char tax[PROV_TAXID_MAX + 1];
	bool valid = taxid != NULL && taxid_ok(taxid, tlen);
	if (valid) {
		memcpy(tax, taxid, tlen);
		tax[tlen] = '\0';
	}
	bool is_obj = json_object_is_type(doc, json_type_object);
	bool has = taxid != NULL;
	json_object_put(doc);
	if (!is_obj)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST,
		    "body must be a JSON object", -1, NULL);
	if (!has)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST,
		    "taxID (string) is required", -1, NULL);
	if (!valid)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST,
		    "taxID must be 1-32 characters of A-Z a-z 0-9 . / -", -1, NULL);

	if (wait_ms(k.latency_ms))
		return reply_error(c, r, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "shutting down", -1, NULL);
	uint64_t seed = prov_seed(p, tax, tlen);
	uint64_t n = atomic_fetch_add(&S.stats[p].post_seq, 1) | post_draw_bit;
	if (inject_failure(c, r, method, url, &k, seed, n, &ok))
		return ok;

	char id[PROV_JOB_ID_LEN + 1];
	if (prov_jobs_start(S.jobs, p, tax, tlen, &k, seed, clock_mono_ms(), id) != 0) {
		log_kv(LOG_ERROR, "job_start_failed", "provider", prov_name(p),
		    "err", "random source failed", NULL);
		return reply_error(c, r, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error", -1, NULL);
	}
	memcpy(r->job, id, sizeof r->job);
	atomic_fetch_add(&S.stats[p].started, 1);
	{
		struct log_line l;
		log_begin(&l, LOG_INFO, "job_started");
		log_str(&l, "provider", prov_name(p));
		log_str(&l, "job", id);
		log_int(&l, "polls", k.polls);
		if (k.never_ready)
			log_str(&l, "never_ready", "true");
		log_end(&l);
	}
	struct sbuf sb;
	sbuf_init(&sb, PROV_MAX_RESPONSE);
	sbuf_puts(&sb, "{\"jobID\":");
	sbuf_json_str(&sb, id, PROV_JOB_ID_LEN);
	sbuf_puts(&sb, ",\"status\":\"processing\"}");
	ok = reply(c, r, method, url, MHD_HTTP_ACCEPTED, sb.p, sb.len,
	    k.retry_after, NULL);
	sbuf_clear(&sb);
	return ok;
}

static bool job_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n != PROV_JOB_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static enum MHD_Result poll_job(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url, const char *id)
{
	enum prov_id p = (enum prov_id)r->prov;
	struct prov_job_view v;
	char why[PROV_KNOB_WHY_MAX];
	enum MHD_Result ok;

	if (!job_id_ok(id) ||
	    prov_jobs_request(S.jobs, p, id, clock_mono_ms(), &v) != 0) {
		struct prov_knobs k = S.knobs[p];
		if (header_knobs(c, &k, why) != 0)
			return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST, why,
			    -1, NULL);
		if (wait_ms(k.latency_ms))
			return reply_error(c, r, method, url,
			    MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down", -1, NULL);
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND,
		    "unknown job", -1, NULL);
	}
	memcpy(r->job, v.id, sizeof r->job);
	atomic_fetch_add(&S.stats[p].polls, 1);
	struct prov_knobs k = v.knobs;
	if (header_knobs(c, &k, why) != 0)
		return reply_error(c, r, method, url, MHD_HTTP_BAD_REQUEST, why, -1, NULL);
	if (wait_ms(k.latency_ms))
		return reply_error(c, r, method, url, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "shutting down", -1, NULL);
	uint64_t n = (uint64_t)v.request_no;
	if (inject_failure(c, r, method, url, &k, v.seed, n, &ok))
		return ok;

	bool ready = false, first = false;
	if (prov_jobs_poll(S.jobs, v.id, k.polls, k.never_ready, clock_mono_ms(),
	    &ready, &first) != 0)
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND,
		    "unknown job", -1, NULL);
	if (first) {
		atomic_fetch_add(&S.stats[p].completed, 1);
		log_kv(LOG_INFO, "job_completed", "provider", prov_name(p),
		    "job", v.id, NULL);
	}
	struct sbuf sb;
	sbuf_init(&sb, PROV_MAX_RESPONSE);
	sbuf_puts(&sb, "{\"jobID\":");
	sbuf_json_str(&sb, v.id, PROV_JOB_ID_LEN);
	if (ready) {
		sbuf_puts(&sb, ",\"status\":\"completed\",\"data\":");
		prov_data_json(&sb, p, v.taxid, v.taxid_len);
		sbuf_putc(&sb, '}');
	} else {
		sbuf_puts(&sb, ",\"status\":\"processing\"}");
	}
	if (sb.failed) {
		sbuf_clear(&sb);
		log_kv(LOG_ERROR, "response_too_large", "provider", prov_name(p),
		    "job", v.id, NULL);
		return reply_error(c, r, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error", -1, NULL);
	}
	size_t len = sb.len;
	if (prov_knob_hit(k.malformed_rate, prov_draw(v.seed, n, DRAW_MALFORMED))) {
		/* A proper prefix of a JSON object is never valid JSON. */
		atomic_fetch_add(&S.stats[p].malformed, 1);
		len = len * 2 / 3;
	}
	ok = reply(c, r, method, url, MHD_HTTP_OK, sb.p, len,
	    ready ? -1 : k.retry_after, NULL);
	sbuf_clear(&sb);
	return ok;
}

/* --- stats and routing --------------------------------------------------- */

static enum MHD_Result stats(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url)
{
	struct sbuf sb;
	struct prov_jobs_stats js;
	prov_jobs_get_stats(S.jobs, clock_mono_ms(), &js);
	sbuf_init(&sb, PROV_MAX_RESPONSE);
	sbuf_puts(&sb, "{\"providers\":{");
	for (int i = 0; i < PROV_N; i++) {
		struct prov_stats *st = &S.stats[i];
		unsigned long long se = atomic_load(&st->server_errors);
		unsigned long long rl = atomic_load(&st->rate_limited);
		unsigned long long to = atomic_load(&st->timeouts);
		unsigned long long ma = atomic_load(&st->malformed);
		sbuf_printf(&sb, "%s\"%s\":{\"jobsStarted\":%llu,\"polls\":%llu,"
		    "\"completed\":%llu,\"failuresInjected\":%llu,\"serverErrors\":%llu,"
		    "\"rateLimited\":%llu,\"timeouts\":%llu,\"malformed\":%llu,"
		    "\"badRequests\":%llu}", i > 0 ? "," : "", prov_name((enum prov_id)i),
		    atomic_load(&st->started), atomic_load(&st->polls),
		    atomic_load(&st->completed), se + rl + to + ma, se, rl, to, ma,
		    atomic_load(&st->bad_requests));
	}
	sbuf_printf(&sb, "},\"jobs\":%zu,\"expired\":%llu,\"evicted\":%llu,"
	    "\"connections\":%d,\"overLimit\":%llu}",
	    js.jobs, (unsigned long long)js.expired, (unsigned long long)js.evicted,
	    atomic_load(&S.conns), atomic_load(&S.over_limit));
	enum MHD_Result ok = sb.failed ?
	    reply_error(c, r, method, url, MHD_HTTP_INTERNAL_SERVER_ERROR,
	    "internal error", -1, NULL) :
	    reply(c, r, method, url, MHD_HTTP_OK, sb.p, sb.len, -1, NULL);
	sbuf_clear(&sb);
	return ok;
}

static enum MHD_Result route(struct MHD_Connection *c, struct req *r,
    const char *method, const char *url)
{
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
	bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

	if (strcmp(url, "/healthz") == 0) {
		if (!get)
			return reply_error(c, r, method, url,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", -1, "GET");
		static const char ok[] = "{\"status\":\"ok\"}";
		return reply(c, r, method, url, MHD_HTTP_OK, ok, sizeof ok - 1, -1, NULL);
	}
	if (strcmp(url, "/v1/stats") == 0) {
		if (!get)
			return reply_error(c, r, method, url,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", -1, "GET");
		return stats(c, r, method, url);
	}
	static const char v1[] = "/v1/";
	if (strncmp(url, v1, sizeof v1 - 1) != 0)
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND, "not found",
		    -1, NULL);
	const char *name = url + sizeof v1 - 1;
	const char *slash = strchr(name, '/');
	size_t nlen = slash != NULL ? (size_t)(slash - name) : strlen(name);
	int p = prov_by_name(name, nlen);
	if (p < 0)
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND,
		    "unknown provider", -1, NULL);
	r->prov = p;
	static const char jobs[] = "/jobs";
	if (slash == NULL || strncmp(slash, jobs, sizeof jobs - 1) != 0)
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND, "not found",
		    -1, NULL);
	const char *rest = slash + sizeof jobs - 1;
	if (rest[0] == '\0') {
		if (!post)
			return reply_error(c, r, method, url,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", -1, "POST");
		return start_job(c, r, method, url);
	}
	if (rest[0] != '/' || rest[1] == '\0' || strchr(rest + 1, '/') != NULL)
		return reply_error(c, r, method, url, MHD_HTTP_NOT_FOUND, "not found",
		    -1, NULL);
	if (!get)
		return reply_error(c, r, method, url, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed", -1, "GET");
	return poll_job(c, r, method, url, rest + 1);
}

/* --- libmicrohttpd callbacks --------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
    const char *url, const char *method, const char *version,
    const char *upload, size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct req *r = *con_cls;
	if (r == NULL) {
		r = xcalloc(1, sizeof *r);
		sbuf_init(&r->body, PROV_MAX_BODY);
		r->t0_ms = clock_mono_ms();
		r->prov = -1;
		*con_cls = r;
		if (atomic_load(&S.conns) > S.max_conns) {
			atomic_fetch_add(&S.over_limit, 1);
			r->close = true;
			return reply_error(c, r, method, url,
			    MHD_HTTP_SERVICE_UNAVAILABLE, "over the connection limit",
			    1, NULL);
		}
		/* A declared oversized body is refused before it is read. */
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno != 0 || end == cl || n > PROV_MAX_BODY)
				return reply_error(c, r, method, url,
				    MHD_HTTP_CONTENT_TOO_LARGE, "request body too large",
				    -1, NULL);
		}
		return MHD_YES;
	}
	if (r->answered) {
		/* Answered early (413): the rest of the upload is dropped. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		r->received += n;
		if (r->received > PROV_MAX_BODY)
			r->too_large = true;
		else
			sbuf_append(&r->body, upload, n);
		/* A client streaming far past the limit is cut off. */
		if (r->received > PROV_MAX_DISCARD) {
			log_kv(LOG_WARN, "body_too_large", "path", url, NULL);
			return MHD_NO;
		}
		return MHD_YES;
	}
	return route(c, r, method, url);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	(void)socket_ctx;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&S.conns, 1);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		atomic_fetch_sub(&S.conns, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct req *r = *con_cls;
	if (r == NULL)
		return;
	sbuf_clear(&r->body);
	free(r);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[PROV_LOG_MSG_MAX];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		return;	/* nothing printable to report */
	size_t len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		msg[--len] = '\0';
	log_kv(LOG_WARN, "mhd", "msg", msg, NULL);
}

/* --- main ---------------------------------------------------------------- */

/* Fills S.knobs from the settings.  Returns 0, or 2 after printing which
 * variable is wrong. */
static int load_knobs(const struct config *c)
{
	const char *specs[PROV_N] = {
		[PROV_CREDIT] = c->provider_credit_bureau,
		[PROV_TAX] = c->provider_tax_authority,
		[PROV_REGISTRY] = c->provider_property_registry,
	};
	static const char *const vars[PROV_N] = {
		[PROV_CREDIT] = "PROVIDER_CREDIT_BUREAU",
		[PROV_TAX] = "PROVIDER_TAX_AUTHORITY",
		[PROV_REGISTRY] = "PROVIDER_PROPERTY_REGISTRY",
	};
	for (int i = 0; i < PROV_N; i++) {
		struct prov_knobs *k = &S.knobs[i];
		memset(k, 0, sizeof *k);
		k->polls = c->provider_polls;
		k->latency_ms = c->provider_latency_ms;
		k->timeout_ms = c->provider_timeout_ms;
		k->retry_after = c->provider_retry_after_sec;
		char why[PROV_KNOB_WHY_MAX];
		if (prov_knobs_parse_spec(k, specs[i], why) != 0) {
			fprintf(stderr, "configuration: %s: %s\n", vars[i], why);
			return 2;
		}
	}
	return 0;
}

static void log_knobs(void)
{
	for (int i = 0; i < PROV_N; i++) {
		const struct prov_knobs *k = &S.knobs[i];
		struct log_line l;
		log_begin(&l, LOG_INFO, "provider_knobs");
		log_str(&l, "provider", prov_name((enum prov_id)i));
		log_int(&l, "polls", k->polls);
		log_int(&l, "latency_ms", k->latency_ms);
		log_int(&l, "timeout_ms", k->timeout_ms);
		log_int(&l, "retry_after", k->retry_after);
		log_dbl(&l, "fail_rate", k->fail_rate);
		log_dbl(&l, "rate_limit_rate", k->rate_limit_rate);
		log_dbl(&l, "timeout_rate", k->timeout_rate);
		log_dbl(&l, "malformed_rate", k->malformed_rate);
		log_str(&l, "never_ready", k->never_ready ? "true" : "false");
		log_end(&l);
	}
}

static int init_stop_cv(void)
{
	pthread_condattr_t a;
	if (pthread_condattr_init(&a) != 0)
		return -1;
	int rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&S.stop_cv, &a) == 0 ? 0 : -1;
	pthread_condattr_destroy(&a);
	return rc;
}

int main(int argc, char **argv)
{
	(void)argv;
	cfg_load_or_exit(CFG_PROVIDERS);
	const struct config *c = cfg();
	log_init("mock-providers", (enum log_level)c->log_level);
	if (c->log_file[0] != '\0' && log_open(c->log_file) != 0) {
		fprintf(stderr, "mock-providers: cannot open LOG_FILE %s: %s\n",
		    c->log_file, strerror(errno));
		return 2;
	}
	if (argc > 1) {
		log_kv(LOG_ERROR, "usage", "err", "mock-providers takes no arguments; "
		    "configure it with PROVIDER_* and PROVIDERS_* environment "
		    "variables", NULL);
		return 2;
	}
	if (load_knobs(c) != 0)
		return 2;
	if (init_stop_cv() != 0) {
		log_kv(LOG_ERROR, "cond_init_failed", NULL);
		return 1;
	}

	/* Block the stop signals before the daemon starts threads, so only
	 * sigwait() below sees them; a peer closing early must not kill us. */
	sigset_t stop;
	if (proc_block_signals(&stop) != 0) {
		log_kv(LOG_ERROR, "sigmask_failed", NULL);
		return 1;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_kv(LOG_ERROR, "sigpipe_ignore_failed", NULL);
		return 1;
	}

	int rc = 1;
	struct MHD_Daemon *d = NULL;
	S.max_conns = c->providers_max_conns;
	S.jobs = prov_jobs_new((size_t)c->providers_max_jobs,
	    (int64_t)c->providers_job_ttl_sec * 1000);

	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)c->providers_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
	    (uint16_t)c->providers_port, NULL, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)(c->providers_max_conns + PROV_OVERFLOW_CONNS),
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)PROV_IDLE_TIMEOUT_SEC,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		struct log_line l;
		log_begin(&l, LOG_ERROR, "listen_failed");
		log_str(&l, "setting", "PROVIDERS_PORT");
		log_int(&l, "port", c->providers_port);
		log_str(&l, "err", "cannot listen (port in use?); choose another "
		    "PROVIDERS_PORT or stop the process holding it");
		log_end(&l);
		goto out;
	}
	log_knobs();
	{
		struct log_line l;
		log_begin(&l, LOG_INFO, "providers_ready");
		log_str(&l, "addr", "127.0.0.1");
		log_int(&l, "port", c->providers_port);
		log_int(&l, "max_jobs", c->providers_max_jobs);
		log_int(&l, "max_conns", c->providers_max_conns);
		log_end(&l);
	}

	if (proc_wait_stop(&stop, "providers_stopping") != 0)
		goto out;
	rc = 0;
out:
	stop_waiters();
	if (d != NULL)
		MHD_stop_daemon(d);
	prov_jobs_free(S.jobs);
	S.jobs = NULL;
	pthread_cond_destroy(&S.stop_cv);
	log_kv(rc == 0 ? LOG_INFO : LOG_ERROR, "providers_exit", "status",
	    rc == 0 ? "0" : "1", NULL);
	return rc;
}
