/* Integration test of lib/queue against a real Redis (REDIS_URL, the stack's).
 *
 * Every case works under its own key prefix "rqtest:<pid>:<case>", so runs
 * and cases never see each other's jobs; all keys of the run are deleted at
 * the end.  Waits poll with deadlines; there are no blind sleeps.  One case
 * starts its own redis-server (on a free port) to stop and restart it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "queue.h"
#include "redisc.h"
#include "testlib.h"

enum {
	TIMEOUT_MS = 2000,
	DEADLINE_MS = 10000,
	NAME_LEN = 128,
	FORK_ENQUEUERS = 8,
	MANY_JOBS = 2000,
	MANY_WORKERS = 4,
	WORKER_BATCH = 16,
	EV_BUF = 64,
	/* Short enough to keep the run quick, long enough that a loaded
	 * machine still makes the "not yet" call before it passes. */
	DELAY_MS = 1000,
	SHORT_LEASE_MS = 1000,
};

static const char *redis_url;
static char run_prefix[64];

static void setup(void)
{
	if (run_prefix[0] != '\0')
		return;
	redis_url = getenv("REDIS_URL");
	if (redis_url == NULL || redis_url[0] == '\0') {
		fprintf(stderr, "test_queue: set REDIS_URL to a running Redis\n");
		exit(2);
	}
	log_init("test_queue", LOG_WARN);
	int n = snprintf(run_prefix, sizeof run_prefix, "rqtest:%ld", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof run_prefix)
		exit(2);
	printf("# redis=%s prefix=%s\n", redis_url, run_prefix);
}

static void name(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void name(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "test_queue: name too long\n");
		exit(2);
	}
}

static void case_prefix(char out[NAME_LEN], const char *c)
{
	name(out, NAME_LEN, "%s:%s", run_prefix, c);
}

static struct queue *mkq_opts(const char *c, int keep_c, int keep_f, int ev_max,
    const char *url)
{
	char p[NAME_LEN];
	case_prefix(p, c);
	struct queue_opts o;
	queue_opts_init(&o, NULL);
	o.redis_url = url ? url : redis_url;
	o.prefix = p;
	o.timeout_ms = TIMEOUT_MS;
	o.keep_completed = keep_c;
	o.keep_failed = keep_f;
	o.events_max = ev_max;
	struct err e;
	err_clear(&e);
	struct queue *q = queue_new(&o, &e);
	if (q == NULL && url == NULL)
		fprintf(stderr, "  queue_new: %s (%s)\n", e.msg, e.detail);
	return q;
}

static struct queue *mkq(const char *c)
{
	return mkq_opts(c, 1000, 5000, 10000, NULL);
}

static redisContext *raw(void)
{
	struct err e;
	redisContext *c = redisc_open(redis_url, TIMEOUT_MS, &e);
	if (c == NULL) {
		fprintf(stderr, "test_queue: redis: %s\n", e.detail);
		exit(2);
	}
	return c;
}

/* An integer reply of a command on a raw connection; -1 on error. */
static long long raw_int(redisContext *c, const char *fmt, const char *a)
{
	redisReply *r = redisCommand(c, fmt, a);
	long long v = -1;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

static long long key_int(const char *c, const char *fmt, const char *suffix)
{
	char k[NAME_LEN * 2];
	char p[NAME_LEN];
	case_prefix(p, c);
	name(k, sizeof k, "%s:%s", p, suffix);
	redisContext *r = raw();
	long long v = raw_int(r, fmt, k);
	redisFree(r);
	return v;
}

static int claim_poll(struct queue *q, const char *worker, size_t max,
    int64_t lease, struct queue_job *out, size_t *n, size_t want)
{
	struct err e;
	int64_t deadline = clock_mono_ms() + DEADLINE_MS;
	*n = 0;
	while (clock_mono_ms() < deadline) {
		int rc = queue_claim(q, worker, max, lease, out, n, &e);
		if (rc != 0)
			return rc;
		if (*n >= want)
			return 0;
		int64_t ms;
		if (queue_next_due_ms(q, &ms, &e) != 0)
			return e.code;
		/* nap at most until the next due time, bounded and small */
		struct timespec ts = { 0, (long)(ms > 0 && ms < 20 ? ms : 5) * 1000000L };
		nanosleep(&ts, NULL);
	}
	return APP_ERR_INTERNAL;
}

/* ---- cases --------------------------------------------------------------- */

static void t_enqueue_idempotent(void)
{
	setup();
	struct queue *q = mkq("idem");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	bool created = false;
	CHECK_INT_EQ(queue_enqueue(q, "tenant-a:1", "{\"reportID\":1}", 0, 30, &created, &e), 0);
	CHECK(created);
	CHECK_INT_EQ(queue_enqueue(q, "tenant-a:1", "{\"other\":2}", 5000, 3, &created, &e), 0);
	CHECK(!created);
	struct queue_job j;
	CHECK_INT_EQ(queue_get(q, "tenant-a:1", &j, &e), 0);
	CHECK_STR_EQ(j.payload, "{\"reportID\":1}");
	CHECK_INT_EQ(j.state, QUEUE_WAITING);
	CHECK_INT_EQ(j.attempts, 0);
	CHECK_INT_EQ(j.max_attempts, 30);
	CHECK(j.created_ms > 0);
	CHECK_INT_EQ(j.due_ms, j.created_ms);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.waiting, 1);
	CHECK_INT_EQ(c.delayed + c.active + c.completed + c.failed, 0);
	/* finished: a duplicate enqueue does not re-open it */
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w1", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(queue_complete(q, &j, &e), 0);
	CHECK_INT_EQ(queue_enqueue(q, "tenant-a:1", "{}", 0, 30, &created, &e), 0);
	CHECK(!created);
	CHECK_INT_EQ(queue_get(q, "tenant-a:1", &j, &e), 0);
	CHECK_INT_EQ(j.state, QUEUE_COMPLETED);
	CHECK_INT_EQ(queue_claim(q, "w1", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(queue_get(q, "tenant-a:2", &j, &e), APP_ERR_NOT_FOUND);
	queue_free(q);
}

static void t_enqueue_concurrent_forks(void)
{
	setup();
	pid_t pids[FORK_ENQUEUERS];
	for (int i = 0; i < FORK_ENQUEUERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct queue *q = mkq("forkenq");
			if (q == NULL)
				_exit(1);
			bool created = false;
			struct err e;
			int rc = queue_enqueue(q, "t:42", "{\"reportID\":42}", 0, 30,
			    &created, &e);
			queue_free(q);
			_exit(rc != 0 ? 1 : (created ? 10 : 11));
		}
		CHECK(pids[i] > 0);
	}
	int made = 0, dup = 0, bad = 0;
	for (int i = 0; i < FORK_ENQUEUERS; i++) {
		int st = 0;
		if (pids[i] <= 0 || waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st)) {
			bad++;
			continue;
		}
		int x = WEXITSTATUS(st);
		made += x == 10;
		dup += x == 11;
		bad += x != 10 && x != 11;
	}
	CHECK_INT_EQ(made, 1);
	CHECK_INT_EQ(dup, FORK_ENQUEUERS - 1);
	CHECK_INT_EQ(bad, 0);
	CHECK_INT_EQ(key_int("forkenq", "ZCARD %s", "due"), 1);
	struct queue *q = mkq("forkenq");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct queue_event ev[EV_BUF];
	size_t n = 0;
	struct err e;
	CHECK_INT_EQ(queue_events_read(q, NULL, EV_BUF, ev, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(ev[0].ev, "enqueued");
	CHECK_STR_EQ(ev[0].job, "t:42");
	queue_free(q);
}

static void t_bad_input(void)
{
	setup();
	struct queue *q = mkq("bad");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	bool created = true;
	char longid[QUEUE_ID_MAX + 2];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	static char bigpay[QUEUE_PAYLOAD_MAX + 2];
	memset(bigpay, 'p', sizeof bigpay - 1);
	CHECK_INT_EQ(queue_enqueue(q, "", "{}", 0, 1, &created, &e), APP_ERR_BAD_INPUT);
	CHECK(!created);
	CHECK_INT_EQ(queue_enqueue(q, "a b", "{}", 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "a\r\nb", "{}", 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, longid, "{}", 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, NULL, "{}", 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "ok", bigpay, 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "ok", NULL, 0, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "ok", "{}", -1, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "ok", "{}", INT64_MAX, 1, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_enqueue(q, "ok", "{}", 0, 0, NULL, &e), APP_ERR_BAD_INPUT);
	/* ids with Lua/Redis-special bytes are plain data */
	CHECK_INT_EQ(queue_enqueue(q, "t'\"]]..:*?{x}", "{}", 0, 1, &created, &e), 0);
	CHECK(created);
	struct queue_job j[2];
	size_t n = 9;
	CHECK_INT_EQ(queue_claim(q, "", 1, 1000, j, &n, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(queue_claim(q, "w", 0, 1000, j, &n, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_claim(q, "w", QUEUE_CLAIM_MAX + 1, 1000, j, &n, &e),
	    APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 0, j, &n, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_claim(q, "w", 2, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(j[0].id, "t'\"]]..:*?{x}");
	/* a forged token is a lost lease, a zero token bad input */
	struct queue_job forged = j[0];
	forged.token = 999;
	CHECK_INT_EQ(queue_complete(q, &forged, &e), APP_ERR_CONFLICT);
	CHECK_INT_EQ(e.code, APP_ERR_CONFLICT);
	forged.token = 0;
	CHECK_INT_EQ(queue_complete(q, &forged, &e), APP_ERR_BAD_INPUT);
	memcpy(forged.id, "nope", 5);
	forged.token = 1;
	CHECK_INT_EQ(queue_fail(q, &forged, "x", &e), APP_ERR_CONFLICT);
	CHECK_INT_EQ(queue_extend(q, &j[0], 0, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_retry(q, &j[0], -5, NULL, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_requeue(q, "nope", 0, 0, &e), APP_ERR_NOT_FOUND);
	CHECK_INT_EQ(queue_requeue(q, j[0].id, 0, 0, &e), APP_ERR_CONFLICT);
	struct queue_event ev[2];
	CHECK_INT_EQ(queue_events_read(q, "1-0; DEL x", 2, ev, &n, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_complete(q, &j[0], &e), 0);
	queue_free(q);
}

static void t_delayed_jobs(void)
{
	setup();
	struct queue *q = mkq("delay");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	CHECK_INT_EQ(queue_enqueue(q, "d:1", "{}", DELAY_MS, 5, NULL, &e), 0);
	struct queue_job j;
	size_t n = 9;
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 0);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.delayed, 1);
	CHECK_INT_EQ(c.waiting, 0);
	int64_t ms = -5;
	CHECK_INT_EQ(queue_next_due_ms(q, &ms, &e), 0);
	CHECK(ms >= 0 && ms <= DELAY_MS);
	struct queue_job g;
	CHECK_INT_EQ(queue_get(q, "d:1", &g, &e), 0);
	CHECK_INT_EQ(g.due_ms, g.created_ms + DELAY_MS);
	CHECK_INT_EQ(claim_poll(q, "w", 1, 30000, &j, &n, 1), 0);
	CHECK_INT_EQ(n, 1);
	/* claimed at Redis time >= due time, never before */
	CHECK(j.updated_ms >= g.due_ms);
	CHECK_INT_EQ(j.attempts, 1);
	CHECK(!j.stalled);
	CHECK_INT_EQ(queue_complete(q, &j, &e), 0);
	CHECK_INT_EQ(queue_next_due_ms(q, &ms, &e), 0);
	CHECK_INT_EQ(ms, -1);
	queue_free(q);
}

static void t_claim_respects_max(void)
{
	setup();
	struct queue *q = mkq("max");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	char id[NAME_LEN];
	for (long i = 0; i < 10; i++) {
		name(id, sizeof id, "m:%02ld", i);
		CHECK_INT_EQ(queue_enqueue(q, id, "{}", 0, 5, NULL, &e), 0);
	}
	struct queue_job j[100];
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w", 3, 30000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 3);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT_EQ(j[i].state, QUEUE_ACTIVE);
		CHECK_STR_EQ(j[i].worker, "w");
		CHECK_INT_EQ(j[i].token, 1);
		CHECK(j[i].lease_until_ms >= j[i].updated_ms + 30000);
	}
	CHECK_INT_EQ(queue_claim(q, "w2", 100, 30000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 7);
	CHECK_INT_EQ(queue_claim(q, "w3", 100, 30000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 0);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.active, 10);
	CHECK_INT_EQ(c.stalled, 0);
	CHECK_INT_EQ(c.waiting + c.delayed, 0);
	queue_free(q);
}

static void t_stalled_recovery_and_fencing(void)
{
	setup();
	struct queue *a = mkq("stall"), *b = mkq("stall");
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL) {
		queue_free(a);
		queue_free(b);
		return;
	}
	struct err e;
	CHECK_INT_EQ(queue_enqueue(a, "s:1", "{\"p\":1}", 0, 5, NULL, &e), 0);
	struct queue_job ja, jb;
	size_t n;
	CHECK_INT_EQ(queue_claim(a, "worker-a", 1, SHORT_LEASE_MS, &ja, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(ja.attempts, 1);
	CHECK_INT_EQ(queue_claim(b, "worker-b", 1, 30000, &jb, &n, &e), 0);
	CHECK_INT_EQ(n, 0);	/* lease running */
	CHECK_INT_EQ(claim_poll(b, "worker-b", 1, 30000, &jb, &n, 1), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(jb.id, "s:1");
	CHECK(jb.stalled);
	CHECK(!jb.exhausted);
	CHECK_INT_EQ(jb.attempts, 2);	/* a stalled reclaim counts */
	CHECK_INT_EQ(jb.stalls, 1);
	CHECK(jb.token > ja.token);
	CHECK_STR_EQ(jb.payload, "{\"p\":1}");
	CHECK(jb.updated_ms >= ja.lease_until_ms);
	/* the old holder is fenced off */
	struct queue_job old = ja;
	CHECK_INT_EQ(queue_complete(a, &old, &e), APP_ERR_CONFLICT);
	CHECK_STR_EQ(e.msg, "lost lease");
	CHECK_INT_EQ(queue_retry(a, &old, 0, "x", &e), APP_ERR_CONFLICT);
	CHECK_INT_EQ(queue_fail(a, &old, "x", &e), APP_ERR_CONFLICT);
	CHECK_INT_EQ(queue_extend(a, &old, 60000, &e), APP_ERR_CONFLICT);
	struct queue_job g;
	CHECK_INT_EQ(queue_get(a, "s:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_ACTIVE);
	CHECK_STR_EQ(g.worker, "worker-b");
	CHECK_INT_EQ(g.token, jb.token);
	/* the new holder extends and completes */
	int64_t before = jb.lease_until_ms;
	CHECK_INT_EQ(queue_extend(b, &jb, 60000, &e), 0);
	CHECK(jb.lease_until_ms >= before);
	CHECK_INT_EQ(queue_get(a, "s:1", &g, &e), 0);
	CHECK_INT_EQ(g.lease_until_ms, jb.lease_until_ms);
	CHECK_INT_EQ(queue_complete(b, &jb, &e), 0);
	CHECK_INT_EQ(queue_complete(b, &jb, &e), APP_ERR_CONFLICT);	/* repeat */
	struct queue_event ev[EV_BUF];
	CHECK_INT_EQ(queue_events_read(a, "", EV_BUF, ev, &n, &e), 0);
	CHECK_INT_EQ(n, 4);
	if (n == 4) {
		CHECK_STR_EQ(ev[1].ev, "claimed");
		CHECK_STR_EQ(ev[1].worker, "worker-a");
		CHECK_STR_EQ(ev[2].ev, "stalled");
		CHECK_STR_EQ(ev[2].worker, "worker-b");
		CHECK_INT_EQ(ev[2].attempt, 2);
		CHECK_STR_EQ(ev[3].ev, "completed");
	}
	queue_free(a);
	queue_free(b);
}

static void t_retry_keeps_attempts(void)
{
	setup();
	struct queue *q = mkq("retry");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	CHECK_INT_EQ(queue_enqueue(q, "r:1", "{}", 0, 3, NULL, &e), 0);
	struct queue_job j, g;
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(queue_retry(q, &j, 0, "provider processing", &e), 0);
	CHECK_INT_EQ(j.state, QUEUE_WAITING);
	CHECK_INT_EQ(queue_get(q, "r:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_WAITING);
	CHECK_INT_EQ(g.attempts, 1);
	CHECK_STR_EQ(g.reason, "provider processing");
	CHECK_INT_EQ(queue_retry(q, &j, 0, "again", &e), APP_ERR_CONFLICT);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(j.attempts, 2);
	CHECK_INT_EQ(j.token, 2);
	CHECK_INT_EQ(queue_retry(q, &j, 100000, NULL, &e), 0);
	CHECK(j.due_ms >= j.updated_ms + 100000);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.delayed, 1);
	CHECK_INT_EQ(c.waiting + c.active, 0);
	int64_t ms;
	CHECK_INT_EQ(queue_next_due_ms(q, &ms, &e), 0);
	CHECK(ms > 90000 && ms <= 100000);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 0);
	queue_free(q);
}

static void t_attempts_exhausted(void)
{
	setup();
	struct queue *q = mkq("exh");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	CHECK_INT_EQ(queue_enqueue(q, "x:1", "{}", 0, 2, NULL, &e), 0);
	struct queue_job j, g;
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(queue_retry(q, &j, 0, "1", &e), 0);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(j.attempts, 2);
	CHECK(!j.exhausted);
	CHECK_INT_EQ(queue_retry(q, &j, 0, "2", &e), APP_ERR_TOO_LARGE);
	CHECK_STR_EQ(e.msg, "attempts exhausted");
	CHECK_INT_EQ(queue_get(q, "x:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_ACTIVE);	/* unchanged: the caller fails it */
	CHECK_INT_EQ(queue_fail(q, &j, "attempts exhausted: provider down", &e), 0);
	CHECK_INT_EQ(queue_get(q, "x:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_FAILED);
	CHECK_STR_EQ(g.reason, "attempts exhausted: provider down");
	CHECK(g.finished_ms > 0);
	/* a job that stalls on its last attempt comes back marked exhausted */
	CHECK_INT_EQ(queue_enqueue(q, "x:2", "{}", 0, 1, NULL, &e), 0);
	CHECK_INT_EQ(queue_claim(q, "dies", 1, 100, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(claim_poll(q, "w", 1, 30000, &j, &n, 1), 0);
	CHECK_INT_EQ(n, 1);
	CHECK(j.stalled);
	CHECK(j.exhausted);
	CHECK_INT_EQ(j.attempts, 2);
	CHECK_INT_EQ(queue_fail(q, &j, "worker died on last attempt", &e), 0);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.failed, 2);
	CHECK_INT_EQ(c.active + c.waiting + c.delayed + c.completed, 0);
	/* requeue re-opens a failed job with fresh attempts */
	CHECK_INT_EQ(queue_requeue(q, "x:1", 0, 5, &e), 0);
	CHECK_INT_EQ(queue_get(q, "x:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_WAITING);
	CHECK_INT_EQ(g.attempts, 0);
	CHECK_INT_EQ(g.max_attempts, 5);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(j.token, 3);	/* tokens never repeat */
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.failed, 1);
	CHECK_INT_EQ(c.active, 1);
	queue_free(q);
}

static void t_retention_trimmed(void)
{
	setup();
	struct queue *q = mkq_opts("trim", 5, 3, 10000, NULL);
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	char id[NAME_LEN];
	for (long i = 0; i < 12; i++) {
		name(id, sizeof id, "j%02ld", i);
		CHECK_INT_EQ(queue_enqueue(q, id, "{}", 0, 1, NULL, &e), 0);
	}
	struct queue_job j[12];
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w", 12, 30000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 12);
	if (n != 12) {
		queue_free(q);
		return;
	}
	for (size_t i = 0; i < 8; i++)
		CHECK_INT_EQ(queue_complete(q, &j[i], &e), 0);
	for (size_t i = 8; i < 12; i++)
		CHECK_INT_EQ(queue_fail(q, &j[i], "boom", &e), 0);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.completed, 5);
	CHECK_INT_EQ(c.failed, 3);
	struct queue_job g;
	for (size_t i = 0; i < 12; i++) {
		bool kept = (i >= 3 && i < 8) || i >= 9;
		CHECK_INT_EQ(queue_get(q, j[i].id, &g, &e), kept ? 0 : APP_ERR_NOT_FOUND);
	}
	/* the trimmed hashes are gone from Redis itself */
	CHECK_INT_EQ(key_int("trim", "EXISTS %s", "job:j00"), 0);
	CHECK_INT_EQ(key_int("trim", "EXISTS %s", "job:j08"), 0);
	CHECK_INT_EQ(key_int("trim", "EXISTS %s", "job:j07"), 1);
	CHECK_INT_EQ(key_int("trim", "ZCARD %s", "completed"), 5);
	queue_free(q);
}

static void t_events_capped_and_recorded(void)
{
	setup();
	enum { EV_MAX = 10, EV_JOBS = 400, NODE_SLACK = 100 };
	struct queue *q = mkq_opts("events", 1000, 1000, EV_MAX, NULL);
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	char id[NAME_LEN];
	for (long i = 0; i < EV_JOBS; i++) {
		name(id, sizeof id, "e:%ld", i);
		CHECK_INT_EQ(queue_enqueue(q, id, "{}", 0, 1, NULL, &e), 0);
	}
	long long len = key_int("events", "XLEN %s", "events");
	CHECK(len >= EV_MAX);
	CHECK(len <= EV_MAX + NODE_SLACK);
	queue_free(q);

	/* one job's whole life, read back in order and in pages */
	q = mkq("events2");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct queue_job j;
	size_t n;
	CHECK_INT_EQ(queue_enqueue(q, "t:7", "{}", 0, 3, NULL, &e), 0);
	CHECK_INT_EQ(queue_claim(q, "w-1", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(queue_retry(q, &j, 0, "processing", &e), 0);
	CHECK_INT_EQ(queue_claim(q, "w-2", 1, 30000, &j, &n, &e), 0);
	CHECK_INT_EQ(queue_fail(q, &j, "bad data", &e), 0);
	CHECK_INT_EQ(queue_requeue(q, "t:7", 0, 0, &e), 0);
	static const struct {
		const char *ev, *worker, *reason;
		int attempt;
	} want[] = {
		{ "enqueued", "", "", 0 },
		{ "claimed", "w-1", "", 1 },
		{ "retry", "w-1", "processing", 1 },
		{ "claimed", "w-2", "", 2 },
		{ "failed", "w-2", "bad data", 2 },
		{ "requeued", "", "", 0 },
	};
	enum { NW = sizeof want / sizeof want[0] };
	struct queue_event ev[4];
	char after[QUEUE_EVENT_ID_MAX] = "0";
	size_t seen = 0;
	for (int page = 0; page < 5; page++) {
		CHECK_INT_EQ(queue_events_read(q, after, 4, ev, &n, &e), 0);
		for (size_t i = 0; i < n && seen < NW; i++, seen++) {
			CHECK_STR_EQ(ev[i].ev, want[seen].ev);
			CHECK_STR_EQ(ev[i].job, "t:7");
			CHECK_STR_EQ(ev[i].worker, want[seen].worker);
			CHECK_STR_EQ(ev[i].reason, want[seen].reason);
			CHECK_INT_EQ(ev[i].attempt, want[seen].attempt);
		}
		if (n == 0)
			break;
		memcpy(after, ev[n - 1].id, sizeof after);
	}
	CHECK_INT_EQ(seen, NW);
	queue_free(q);
}

static void t_noscript_recovers(void)
{
	setup();
	struct queue *q = mkq("noscript");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	bool created = false;
	CHECK_INT_EQ(queue_enqueue(q, "n:1", "{}", 0, 3, &created, &e), 0);
	redisContext *r = raw();
	redisReply *rep = redisCommand(r, "SCRIPT FLUSH");
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STATUS);
	if (rep != NULL)
		freeReplyObject(rep);
	CHECK_INT_EQ(queue_enqueue(q, "n:2", "{}", 0, 3, &created, &e), 0);
	CHECK(created);
	rep = redisCommand(r, "SCRIPT FLUSH");
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(r);
	struct queue_job j[2];
	size_t n;
	CHECK_INT_EQ(queue_claim(q, "w", 2, 30000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(queue_complete(q, &j[0], &e), 0);
	CHECK_INT_EQ(queue_complete(q, &j[1], &e), 0);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.completed, 2);
	queue_free(q);
}

/* ---- batches (queue_run) --------------------------------------------------- */

static struct queue_op op_enqueue(const char *id, const char *payload,
    int64_t delay_ms, int max_attempts)
{
	struct queue_op op = { .kind = QUEUE_OP_ENQUEUE, .id = id,
		.payload = payload, .delay_ms = delay_ms,
		.max_attempts = max_attempts };
	return op;
}

static struct queue_op op_job(enum queue_op_kind kind, struct queue_job *job,
    int64_t delay_ms, const char *reason)
{
	struct queue_op op = { .kind = kind, .job = job, .delay_ms = delay_ms,
		.reason = reason };
	return op;
}

/* Runs op with its single function, results into op as queue_run would. */
static void run_single(struct queue *q, struct queue_op *op)
{
	err_clear(&op->e);
	op->created = false;
	switch (op->kind) {
	case QUEUE_OP_ENQUEUE:
		op->rc = queue_enqueue(q, op->id, op->payload, op->delay_ms,
		    op->max_attempts, &op->created, &op->e);
		break;
	case QUEUE_OP_RETRY:
		op->rc = queue_retry(q, op->job, op->delay_ms, op->reason, &op->e);
		break;
	case QUEUE_OP_COMPLETE:
		op->rc = queue_complete(q, op->job, &op->e);
		break;
	case QUEUE_OP_FAIL:
		op->rc = queue_fail(q, op->job, op->reason, &op->e);
		break;
	}
}

enum { MIX_JOBS = 3, MIX_OPS = 8, MIX_IDS = 5 };

/* Enqueues mix:1..3 and claims them into j (in id order: same due time or
 * earlier first).  Then the mixed ops: every kind, a duplicate and two
 * invalid ones between valid ones. */
static bool mix_setup(struct queue *q, struct queue_job j[MIX_JOBS],
    struct queue_op ops[MIX_OPS])
{
	struct err e;
	char id[NAME_LEN];
	for (int i = 0; i < MIX_JOBS; i++) {
		name(id, sizeof id, "mix:%d", i + 1);
		if (queue_enqueue(q, id, "{}", 0, 5, NULL, &e) != 0)
			return false;
	}
	size_t n = 0;
	if (queue_claim(q, "w", MIX_JOBS, 60000, j, &n, &e) != 0 || n != MIX_JOBS)
		return false;
	ops[0] = op_enqueue("mix:4", "{\"n\":4}", 0, 3);	/* new */
	ops[1] = op_enqueue("mix:1", "{\"dup\":1}", 0, 9);	/* duplicate */
	ops[2] = op_job(QUEUE_OP_RETRY, &j[0], 60000, "later");
	ops[3] = op_job(QUEUE_OP_COMPLETE, &j[1], 0, "ignored");
	ops[4] = op_job(QUEUE_OP_FAIL, &j[2], 0, "boom");
	ops[5] = op_enqueue("bad id", "{}", 0, 1);		/* invalid */
	ops[6] = op_job(QUEUE_OP_COMPLETE, NULL, 0, NULL);	/* invalid */
	ops[7] = op_enqueue("mix:5", "{\"n\":5}", 0, 1);
	return true;
}

static void t_batch_matches_single(void)
{
	setup();
	struct queue *qs = mkq("bmix-single");
	struct queue *qb = mkq("bmix-batch");
	CHECK(qs != NULL && qb != NULL);
	if (qs == NULL || qb == NULL) {
		queue_free(qs);
		queue_free(qb);
		return;
	}
	struct queue_job js[MIX_JOBS], jb[MIX_JOBS];
	static struct queue_op os[MIX_OPS], ob[MIX_OPS];
	CHECK(mix_setup(qs, js, os));
	CHECK(mix_setup(qb, jb, ob));
	for (int i = 0; i < MIX_JOBS; i++) {
		char id[NAME_LEN];
		name(id, sizeof id, "mix:%d", i + 1);
		CHECK_STR_EQ(jb[i].id, id);
	}
	for (int i = 0; i < MIX_OPS; i++)
		run_single(qs, &os[i]);
	CHECK_INT_EQ(queue_run(qb, ob, MIX_OPS), APP_ERR_BAD_INPUT);

	/* what each op must get, batch or not */
	static const struct {
		int rc;
		bool created;
	} want[MIX_OPS] = {
		{ 0, true }, { 0, false }, { 0, false }, { 0, false }, { 0, false },
		{ APP_ERR_BAD_INPUT, false }, { APP_ERR_BAD_INPUT, false },
		{ 0, true },
	};
	for (int i = 0; i < MIX_OPS; i++) {
		CHECK_INT_EQ(ob[i].rc, want[i].rc);
		CHECK_INT_EQ(ob[i].created, want[i].created);
		CHECK_INT_EQ(ob[i].rc, os[i].rc);
		CHECK_INT_EQ(ob[i].created, os[i].created);
		CHECK_INT_EQ(ob[i].e.code, os[i].rc == 0 ? APP_OK : os[i].e.code);
		if (ob[i].rc != 0)
			CHECK_STR_EQ(ob[i].e.msg, os[i].e.msg);
	}
	CHECK_STR_EQ(ob[5].e.msg, "bad job id");
	CHECK_STR_EQ(ob[6].e.msg, "bad job");
	/* the jobs are updated as the single calls update them */
	for (int i = 0; i < MIX_JOBS; i++) {
		CHECK_INT_EQ(jb[i].state, js[i].state);
		CHECK_STR_EQ(jb[i].reason, js[i].reason);
		CHECK_INT_EQ(jb[i].lease_until_ms, 0);
	}
	CHECK_INT_EQ(jb[0].state, QUEUE_WAITING);
	CHECK(jb[0].due_ms > 0);
	CHECK_STR_EQ(jb[0].reason, "later");
	CHECK_INT_EQ(jb[1].state, QUEUE_COMPLETED);
	CHECK(jb[1].finished_ms > 0);
	CHECK_STR_EQ(jb[1].reason, "");
	CHECK_INT_EQ(jb[2].state, QUEUE_FAILED);
	CHECK_STR_EQ(jb[2].reason, "boom");

	/* Redis holds the same state either way */
	static const struct {
		enum queue_state state;
		int attempts, max_attempts;
		const char *payload, *reason;
	} st[MIX_IDS] = {
		{ QUEUE_WAITING, 1, 5, "{}", "later" },
		{ QUEUE_COMPLETED, 1, 5, "{}", "" },
		{ QUEUE_FAILED, 1, 5, "{}", "boom" },
		{ QUEUE_WAITING, 0, 3, "{\"n\":4}", "" },
		{ QUEUE_WAITING, 0, 1, "{\"n\":5}", "" },
	};
	struct err e;
	for (int i = 0; i < MIX_IDS; i++) {
		char id[NAME_LEN];
		name(id, sizeof id, "mix:%d", i + 1);
		struct queue_job gs, gb;
		CHECK_INT_EQ(queue_get(qs, id, &gs, &e), 0);
		CHECK_INT_EQ(queue_get(qb, id, &gb, &e), 0);
		CHECK_INT_EQ(gb.state, st[i].state);
		CHECK_INT_EQ(gb.attempts, st[i].attempts);
		CHECK_INT_EQ(gb.max_attempts, st[i].max_attempts);
		CHECK_STR_EQ(gb.payload, st[i].payload);
		CHECK_STR_EQ(gb.reason, st[i].reason);
		CHECK_INT_EQ(gb.state, gs.state);
		CHECK_INT_EQ(gb.attempts, gs.attempts);
		CHECK_STR_EQ(gb.payload, gs.payload);
		CHECK_STR_EQ(gb.reason, gs.reason);
	}
	struct queue_counts cs, cb;
	CHECK_INT_EQ(queue_counts(qs, &cs, &e), 0);
	CHECK_INT_EQ(queue_counts(qb, &cb, &e), 0);
	CHECK_INT_EQ(cb.waiting, 2);
	CHECK_INT_EQ(cb.delayed, 1);
	CHECK_INT_EQ(cb.active, 0);
	CHECK_INT_EQ(cb.completed, 1);
	CHECK_INT_EQ(cb.failed, 1);
	CHECK_MEM_EQ(&cb, &cs, sizeof cb);

	/* an unknown kind fails alone; every op is all ok -> 0 */
	struct queue_op odd[2] = { op_enqueue("mix:6", "{}", 0, 1),
		op_enqueue("mix:7", "{}", 0, 1) };
	odd[1].kind = (enum queue_op_kind)99;
	CHECK_INT_EQ(queue_run(qb, odd, 2), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(odd[0].rc, 0);
	CHECK(odd[0].created);
	CHECK_INT_EQ(odd[1].rc, APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(queue_run(qb, odd, 1), 0);
	CHECK(!odd[0].created);
	CHECK_INT_EQ(queue_run(qb, odd, 0), 0);
	queue_free(qs);
	queue_free(qb);
}

static void t_batch_conflict_and_exhausted(void)
{
	setup();
	struct queue *q = mkq("bconflict");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	CHECK_INT_EQ(queue_enqueue(q, "c:1", "{}", 0, 5, NULL, &e), 0);
	CHECK_INT_EQ(queue_enqueue(q, "c:2", "{}", 0, 1, NULL, &e), 0);
	CHECK_INT_EQ(queue_enqueue(q, "c:3", "{}", 0, 5, NULL, &e), 0);
	struct queue_job j[3], c1;
	size_t n = 0;
	CHECK_INT_EQ(queue_claim(q, "w", 3, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 3);
	if (n != 3) {
		queue_free(q);
		return;
	}
	CHECK_STR_EQ(j[0].id, "c:1");
	/* c:1 retried and claimed again: j[0] holds a stale token now */
	struct queue_job stale = j[0];
	CHECK_INT_EQ(queue_retry(q, &j[0], 0, "again", &e), 0);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 60000, &c1, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	CHECK_STR_EQ(c1.id, "c:1");
	CHECK_INT_EQ(c1.token, stale.token + 1);

	struct queue_op ops[] = {
		op_job(QUEUE_OP_RETRY, &stale, 0, "stale"),
		op_job(QUEUE_OP_RETRY, &j[1], 0, "no more"),	/* 1 of 1 */
		op_job(QUEUE_OP_COMPLETE, &j[2], 0, NULL),
		op_job(QUEUE_OP_RETRY, &c1, 0, "fresh"),
		/* what the caller does after TOO_LARGE, in the same batch:
		 * ops run in order */
		op_job(QUEUE_OP_FAIL, &j[1], 0, "exhausted"),
	};
	enum { NOPS = sizeof ops / sizeof ops[0] };
	CHECK_INT_EQ(queue_run(q, ops, NOPS), APP_ERR_CONFLICT);
	CHECK_INT_EQ(ops[0].rc, APP_ERR_CONFLICT);
	CHECK_STR_EQ(ops[0].e.msg, "lost lease");
	CHECK_INT_EQ(stale.state, QUEUE_ACTIVE);	/* untouched */
	CHECK_INT_EQ(ops[1].rc, APP_ERR_TOO_LARGE);
	CHECK_STR_EQ(ops[1].e.msg, "attempts exhausted");
	CHECK(strstr(ops[1].e.detail, "attempt 1 of 1") != NULL);
	CHECK_INT_EQ(ops[2].rc, 0);
	CHECK_INT_EQ(j[2].state, QUEUE_COMPLETED);
	CHECK_INT_EQ(ops[3].rc, 0);
	CHECK_INT_EQ(c1.state, QUEUE_WAITING);
	CHECK_STR_EQ(c1.reason, "fresh");
	CHECK_INT_EQ(ops[4].rc, 0);
	CHECK_INT_EQ(j[1].state, QUEUE_FAILED);
	CHECK_STR_EQ(j[1].reason, "exhausted");
	for (int i = 2; i < NOPS; i++)
		CHECK_INT_EQ(ops[i].e.code, APP_OK);

	struct queue_job g;
	CHECK_INT_EQ(queue_get(q, "c:1", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_WAITING);
	CHECK_INT_EQ(g.attempts, 2);
	CHECK_INT_EQ(g.token, 2);
	CHECK_STR_EQ(g.reason, "fresh");
	CHECK_INT_EQ(queue_get(q, "c:2", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_FAILED);
	CHECK_STR_EQ(g.reason, "exhausted");
	CHECK_INT_EQ(queue_get(q, "c:3", &g, &e), 0);
	CHECK_INT_EQ(g.state, QUEUE_COMPLETED);
	queue_free(q);
}

static void t_batch_noscript(void)
{
	setup();
	struct queue *q = mkq("bnoscript");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	struct queue_op enq[] = {
		op_enqueue("ns:1", "{}", 0, 5),
		op_enqueue("ns:2", "{}", 0, 5),
		op_enqueue("ns:3", "{}", 0, 5),
	};
	CHECK_INT_EQ(queue_run(q, enq, 3), 0);
	struct queue_job j[3];
	size_t n = 0;
	CHECK_INT_EQ(queue_claim(q, "w", 3, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 3);
	if (n != 3) {
		queue_free(q);
		return;
	}
	redisContext *r = raw();
	redisReply *rep = redisCommand(r, "SCRIPT FLUSH");
	CHECK(rep != NULL && rep->type == REDIS_REPLY_STATUS);
	if (rep != NULL)
		freeReplyObject(rep);
	/* every op is answered NOSCRIPT and run again with EVAL, in order:
	 * the first ns:4 creates, the second is a duplicate */
	struct queue_op ops[] = {
		op_enqueue("ns:4", "{\"first\":1}", 0, 5),
		op_job(QUEUE_OP_RETRY, &j[0], 0, "r"),
		op_job(QUEUE_OP_COMPLETE, &j[1], 0, NULL),
		op_job(QUEUE_OP_FAIL, &j[2], 0, "f"),
		op_enqueue("ns:4", "{\"second\":1}", 0, 5),
	};
	enum { NOPS = sizeof ops / sizeof ops[0] };
	CHECK_INT_EQ(queue_run(q, ops, NOPS), 0);
	for (int i = 0; i < NOPS; i++)
		CHECK_INT_EQ(ops[i].rc, 0);
	CHECK(ops[0].created);
	CHECK(!ops[4].created);
	CHECK_INT_EQ(j[0].state, QUEUE_WAITING);
	CHECK_INT_EQ(j[1].state, QUEUE_COMPLETED);
	CHECK_INT_EQ(j[2].state, QUEUE_FAILED);
	struct queue_job g;
	CHECK_INT_EQ(queue_get(q, "ns:4", &g, &e), 0);
	CHECK_STR_EQ(g.payload, "{\"first\":1}");
	/* flushed again: a batch of mixed scripts still goes through */
	rep = redisCommand(r, "SCRIPT FLUSH");
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(r);
	CHECK_INT_EQ(queue_claim(q, "w", 3, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 2);	/* ns:1 (retried), ns:4 */
	struct queue_op fin[] = {
		op_job(QUEUE_OP_COMPLETE, &j[0], 0, NULL),
		op_job(QUEUE_OP_COMPLETE, &j[1], 0, NULL),
		op_enqueue("ns:5", "{}", 0, 5),
	};
	CHECK_INT_EQ(queue_run(q, fin, 3), 0);
	CHECK(fin[2].created);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.completed, 3);
	CHECK_INT_EQ(c.failed, 1);
	CHECK_INT_EQ(c.waiting, 1);
	queue_free(q);
}

static void t_batch_thousand(void)
{
	setup();
	enum { N = 1000 };
	struct queue *q = mkq("bthousand");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	struct queue_op *ops = calloc(QUEUE_BATCH_MAX + 1, sizeof *ops);
	char (*ids)[NAME_LEN] = calloc(QUEUE_BATCH_MAX + 1, sizeof *ids);
	struct queue_job *j = calloc(N, sizeof *j);
	CHECK(ops != NULL && ids != NULL && j != NULL);
	if (ops == NULL || ids == NULL || j == NULL)
		goto out;
	for (int i = 0; i <= QUEUE_BATCH_MAX; i++) {
		name(ids[i], NAME_LEN, "k:%d", i);
		ops[i] = op_enqueue(ids[i], "{}", 0, 3);
	}
	/* over the limit: every op refused, nothing sent */
	CHECK_INT_EQ(queue_run(q, ops, QUEUE_BATCH_MAX + 1), APP_ERR_BAD_INPUT);
	long refused = 0;
	for (int i = 0; i <= QUEUE_BATCH_MAX; i++)
		refused += ops[i].rc == APP_ERR_BAD_INPUT;
	CHECK_INT_EQ(refused, QUEUE_BATCH_MAX + 1);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.waiting, 0);

	int64_t t0 = clock_mono_us();
	CHECK_INT_EQ(queue_run(q, ops, N), 0);
	double s = (double)(clock_mono_us() - t0) / 1e6;
	printf("# measure: enqueue %d jobs in one queue_run: %.0f ops/s\n", N,
	    N / s);
	long created = 0;
	for (int i = 0; i < N; i++)
		created += ops[i].rc == 0 && ops[i].created;
	CHECK_INT_EQ(created, N);
	size_t n = 0;
	CHECK_INT_EQ(queue_claim(q, "w", N, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, N);
	for (size_t i = 0; i < n; i++)
		ops[i] = op_job(QUEUE_OP_COMPLETE, &j[i], 0, NULL);
	t0 = clock_mono_us();
	CHECK_INT_EQ(queue_run(q, ops, n), 0);
	s = (double)(clock_mono_us() - t0) / 1e6;
	printf("# measure: complete %zu jobs in one queue_run: %.0f ops/s\n", n,
	    (double)n / s);
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.completed, N);
	CHECK_INT_EQ(c.waiting + c.delayed + c.active + c.failed, 0);
out:
	free(ops);
	free(ids);
	free(j);
	queue_free(q);
}

/* ---- many workers ---------------------------------------------------------- */

static int worker_child(int wfd, int idx)
{
	struct queue *q = mkq_opts("many", MANY_JOBS * 2, 1000, MANY_JOBS * 10, NULL);
	if (q == NULL)
		return 1;
	char wid[NAME_LEN];
	name(wid, sizeof wid, "worker-%d", idx);
	struct queue_job j[WORKER_BATCH];
	long done = 0, errors = 0;
	int64_t deadline = clock_mono_ms() + 60000;
	struct err e;
	while (clock_mono_ms() < deadline) {
		size_t n;
		if (queue_claim(q, wid, WORKER_BATCH, 60000, j, &n, &e) != 0) {
			errors++;
			break;
		}
		if (n == 0) {
			struct queue_counts c;
			if (queue_counts(q, &c, &e) != 0) {
				errors++;
				break;
			}
			if (c.waiting + c.delayed + c.active == 0)
				break;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (j[i].attempts != 1 || queue_complete(q, &j[i], &e) != 0)
				errors++;
			else
				done++;
		}
	}
	queue_free(q);
	long out[2] = { done, errors };
	ssize_t w = write(wfd, out, sizeof out);
	return w == (ssize_t)sizeof out ? 0 : 1;
}

static void t_many_workers(void)
{
	setup();
	struct queue *q = mkq_opts("many", MANY_JOBS * 2, 1000, MANY_JOBS * 10, NULL);
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	char id[NAME_LEN], payload[NAME_LEN];
	int64_t t0 = clock_mono_us();
	for (long i = 0; i < MANY_JOBS; i++) {
		name(id, sizeof id, "tenant-m:%ld", i);
		name(payload, sizeof payload,
		    "{\"tenantID\":\"tenant-m\",\"reportID\":%ld}", i);
		bool created = false;
		CHECK_INT_EQ(queue_enqueue(q, id, payload, 0, 30, &created, &e), 0);
		CHECK(created);
	}
	double enq_s = (double)(clock_mono_us() - t0) / 1e6;
	printf("# measure: enqueue %d jobs, 1 process: %.0f ops/s\n", MANY_JOBS,
	    MANY_JOBS / enq_s);
	int fds[2];
	CHECK_INT_EQ(pipe(fds), 0);
	pid_t pids[MANY_WORKERS];
	t0 = clock_mono_us();
	for (int i = 0; i < MANY_WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[0]);
			_exit(worker_child(fds[1], i));
		}
	}
	close(fds[1]);
	long total = 0, errors = 0, per[MANY_WORKERS] = { 0 };
	for (int i = 0; i < MANY_WORKERS; i++) {
		int st = 0;
		CHECK(pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i]);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	double run_s = (double)(clock_mono_us() - t0) / 1e6;
	for (int i = 0; i < MANY_WORKERS; i++) {
		long r[2];
		ssize_t got = read(fds[0], r, sizeof r);
		CHECK_INT_EQ(got, sizeof r);
		if (got != (ssize_t)sizeof r)
			break;
		per[i] = r[0];
		total += r[0];
		errors += r[1];
	}
	close(fds[0]);
	printf("# measure: claim+complete %d jobs, %d processes (batch %d): %.0f jobs/s;"
	    " per process %ld %ld %ld %ld\n", MANY_JOBS, MANY_WORKERS, WORKER_BATCH,
	    MANY_JOBS / run_s, per[0], per[1], per[2], per[3]);
	CHECK_INT_EQ(total, MANY_JOBS);
	CHECK_INT_EQ(errors, 0);
	CHECK_INT_EQ(key_int("many", "ZCARD %s", "completed"), MANY_JOBS);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), 0);
	CHECK_INT_EQ(c.completed, MANY_JOBS);
	CHECK_INT_EQ(c.waiting + c.delayed + c.active + c.failed, 0);
	/* every job completed after exactly one claim */
	long once = 0;
	struct queue_job g;
	for (long i = 0; i < MANY_JOBS; i++) {
		name(id, sizeof id, "tenant-m:%ld", i);
		if (queue_get(q, id, &g, &e) == 0 && g.state == QUEUE_COMPLETED &&
		    g.attempts == 1 && g.token == 1)
			once++;
	}
	CHECK_INT_EQ(once, MANY_JOBS);
	queue_free(q);
}

static void t_single_worker_throughput(void)
{
	setup();
	enum { N = 1000 };
	struct queue *q = mkq("tput");
	CHECK(q != NULL);
	if (q == NULL)
		return;
	struct err e;
	char id[NAME_LEN];
	for (long i = 0; i < N; i++) {
		name(id, sizeof id, "p:%ld", i);
		CHECK_INT_EQ(queue_enqueue(q, id, "{}", 0, 30, NULL, &e), 0);
	}
	int64_t t0 = clock_mono_us();
	long done = 0;
	for (;;) {
		struct queue_job j;
		size_t n;
		if (queue_claim(q, "solo", 1, 30000, &j, &n, &e) != 0 || n == 0)
			break;
		if (queue_complete(q, &j, &e) == 0)
			done++;
	}
	double s = (double)(clock_mono_us() - t0) / 1e6;
	CHECK_INT_EQ(done, N);
	printf("# measure: claim(1)+complete, 1 process: %.0f jobs/s (%.0f round trips/s)\n",
	    N / s, 2 * N / s);
	queue_free(q);
}

/* ---- Redis down ------------------------------------------------------------ */

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof a;
	int port = -1;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static pid_t start_redis(int port)
{
	char p[16];
	name(p, sizeof p, "%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", O_WRONLY);
		if (dn >= 0) {
			dup2(dn, 1);
			dup2(dn, 2);
		}
		execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1",
		    "--save", "", "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
		_exit(127);
	}
	char url[64];
	name(url, sizeof url, "redis://127.0.0.1:%d/0", port);
	int64_t deadline = clock_mono_ms() + DEADLINE_MS;
	while (pid > 0 && clock_mono_ms() < deadline) {
		struct err e;
		redisContext *c = redisc_open(url, 200, &e);
		if (c != NULL) {
			int ok = redisc_ping(c, &e) == 0;
			redisFree(c);
			if (ok)
				return pid;
		}
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void stop_redis(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	int st;
	(void)waitpid(pid, &st, 0);	/* reaping only; the status is irrelevant */
}

static void t_redis_unreachable(void)
{
	setup();
	/* nothing listens: queue_new fails fast */
	int64_t t0 = clock_mono_ms();
	struct queue *q = mkq_opts("down", 10, 10, 10, "redis://127.0.0.1:1/0");
	CHECK(q == NULL);
	CHECK(clock_mono_ms() - t0 < 3 * TIMEOUT_MS);

	/* a private server that dies and comes back */
	int port = free_port();
	CHECK(port > 0);
	pid_t pid = start_redis(port);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	char url[64];
	name(url, sizeof url, "redis://127.0.0.1:%d/0", port);
	q = mkq_opts("down", 10, 10, 10, url);
	CHECK(q != NULL);
	if (q == NULL) {
		stop_redis(pid);
		return;
	}
	struct err e;
	CHECK_INT_EQ(queue_enqueue(q, "d:1", "{}", 0, 3, NULL, &e), 0);
	stop_redis(pid);
	t0 = clock_mono_ms();
	struct queue_job j;
	size_t n = 7;
	CHECK_INT_EQ(queue_claim(q, "w", 1, 1000, &j, &n, &e), APP_ERR_UNAVAILABLE);
	CHECK_INT_EQ(e.code, APP_ERR_UNAVAILABLE);
	CHECK_INT_EQ(n, 0);
	CHECK_INT_EQ(queue_enqueue(q, "d:2", "{}", 0, 3, NULL, &e), APP_ERR_UNAVAILABLE);
	struct queue_counts c;
	CHECK_INT_EQ(queue_counts(q, &c, &e), APP_ERR_UNAVAILABLE);
	int64_t ms;
	CHECK_INT_EQ(queue_next_due_ms(q, &ms, &e), APP_ERR_UNAVAILABLE);
	CHECK_INT_EQ(queue_get(q, "d:1", &j, &e), APP_ERR_UNAVAILABLE);
	CHECK(clock_mono_ms() - t0 < 3 * TIMEOUT_MS);
	/* back (empty: no persistence): the queue reconnects by itself, and
	 * its scripts are loaded again */
	pid = start_redis(port);
	CHECK(pid > 0);
	int64_t deadline = clock_mono_ms() + DEADLINE_MS;
	int rc = -1;
	bool created = false;
	while (pid > 0 && rc != 0 && clock_mono_ms() < deadline) {
		rc = queue_enqueue(q, "d:3", "{}", 0, 3, &created, &e);
		if (rc != 0) {
			CHECK_INT_EQ(rc, APP_ERR_UNAVAILABLE);
			struct timespec ts = { 0, 20 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	CHECK_INT_EQ(rc, 0);
	CHECK(created);
	CHECK_INT_EQ(queue_claim(q, "w", 1, 1000, &j, &n, &e), 0);
	CHECK_INT_EQ(n, 1);
	queue_free(q);
	stop_redis(pid);
}

/* Every op of a batch that meets a dead connection fails with
 * APP_ERR_UNAVAILABLE and the hiredis error; the queue recovers. */
static void check_all_unavailable(const struct queue_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CHECK_INT_EQ(ops[i].rc, APP_ERR_UNAVAILABLE);
		CHECK_INT_EQ(ops[i].e.code, APP_ERR_UNAVAILABLE);
		CHECK(ops[i].e.detail[0] != '\0');
		CHECK(!ops[i].created);
	}
}

static void t_batch_transport_failure(void)
{
	setup();
	/* as the daemons do (proc.c): a write to a dead peer is an error
	 * return, not death */
	signal(SIGPIPE, SIG_IGN);
	int port = free_port();
	CHECK(port > 0);
	pid_t pid = start_redis(port);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	char url[64];
	name(url, sizeof url, "redis://127.0.0.1:%d/0", port);
	struct queue *q = mkq_opts("btransport", 10, 10, 10, url);
	CHECK(q != NULL);
	if (q == NULL) {
		stop_redis(pid);
		return;
	}
	struct queue_op ops[] = {
		op_enqueue("x:1", "{}", 0, 3),
		op_enqueue("x:2", "{}", 0, 3),
		op_enqueue("x:3", "{}", 0, 3),
	};
	enum { NOPS = sizeof ops / sizeof ops[0] };
	CHECK_INT_EQ(queue_run(q, ops, NOPS), 0);

	/* the server closes our connection between two batches */
	redisContext *side = redisConnect("127.0.0.1", port);
	CHECK(side != NULL && side->err == 0);
	if (side != NULL && side->err == 0) {
		redisReply *rep = redisCommand(side,
		    "CLIENT KILL TYPE normal SKIPME yes");
		CHECK(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
		    rep->integer >= 1);
		if (rep != NULL)
			freeReplyObject(rep);
	}
	if (side != NULL)
		redisFree(side);
	struct queue_op more[] = {
		op_enqueue("x:4", "{}", 0, 3),
		op_enqueue("x:5", "{}", 0, 3),
		op_enqueue("x:6", "{}", 0, 3),
	};
	CHECK_INT_EQ(queue_run(q, more, NOPS), APP_ERR_UNAVAILABLE);
	check_all_unavailable(more, NOPS);
	CHECK(strstr(more[0].e.detail, "EVALSHA: ") == more[0].e.detail);
	/* the next batch reconnects (the last connect worked: no backoff);
	 * every op is safe to repeat */
	CHECK_INT_EQ(queue_run(q, more, NOPS), 0);
	struct err e;
	struct queue_job j[2];
	size_t n = 0;
	CHECK_INT_EQ(queue_claim(q, "w", 2, 60000, j, &n, &e), 0);
	CHECK_INT_EQ(n, 2);

	/* the server dies: retry/complete/enqueue all fail, jobs untouched */
	stop_redis(pid);
	int64_t t0 = clock_mono_ms();
	struct queue_op fin[] = {
		op_job(QUEUE_OP_COMPLETE, &j[0], 0, NULL),
		op_job(QUEUE_OP_RETRY, &j[1], 0, "down"),
		op_enqueue("x:7", "{}", 0, 3),
	};
	CHECK_INT_EQ(queue_run(q, fin, NOPS), APP_ERR_UNAVAILABLE);
	check_all_unavailable(fin, NOPS);
	CHECK_INT_EQ(j[0].state, QUEUE_ACTIVE);
	CHECK_INT_EQ(j[1].state, QUEUE_ACTIVE);
	CHECK_STR_EQ(j[1].reason, "");
	/* reconnect refused, then the backoff: fail at once */
	CHECK_INT_EQ(queue_run(q, fin, NOPS), APP_ERR_UNAVAILABLE);
	check_all_unavailable(fin, NOPS);
	CHECK_INT_EQ(queue_run(q, fin, NOPS), APP_ERR_UNAVAILABLE);
	check_all_unavailable(fin, NOPS);
	CHECK(strstr(fin[2].e.detail, "reconnect backoff") != NULL);
	CHECK(clock_mono_ms() - t0 < 3 * TIMEOUT_MS);
	/* validation still comes first: a bad op is bad input, not unavailable */
	struct queue_op bad = op_enqueue("", "{}", 0, 3);
	CHECK_INT_EQ(queue_run(q, &bad, 1), APP_ERR_BAD_INPUT);
	queue_free(q);
}

/* Deletes every key of this run.  Runs last. */
static void t_cleanup(void)
{
	setup();
	redisContext *r = raw();
	char match[NAME_LEN];
	name(match, sizeof match, "%s:*", run_prefix);
	char cursor[32] = "0";
	long deleted = 0;
	do {
		redisReply *rep = redisCommand(r, "SCAN %s MATCH %s COUNT 1000", cursor, match);
		CHECK(rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
			if (rep != NULL)
				freeReplyObject(rep);
			break;
		}
		name(cursor, sizeof cursor, "%s", rep->element[0]->str);
		redisReply *keys = rep->element[1];
		for (size_t i = 0; i < keys->elements; i++)
			deleted += raw_int(r, "DEL %s", keys->element[i]->str) == 1;
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	printf("# deleted %ld keys\n", deleted);
	redisReply *rep = redisCommand(r, "SCAN 0 MATCH %s COUNT 100000", match);
	CHECK(rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->elements == 0);
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(r);
}

TEST_MAIN(
	{ "enqueue_idempotent", t_enqueue_idempotent },
	{ "enqueue_concurrent_forks", t_enqueue_concurrent_forks },
	{ "bad_input", t_bad_input },
	{ "delayed_jobs", t_delayed_jobs },
	{ "claim_respects_max", t_claim_respects_max },
	{ "stalled_recovery_and_fencing", t_stalled_recovery_and_fencing },
	{ "retry_keeps_attempts", t_retry_keeps_attempts },
	{ "attempts_exhausted", t_attempts_exhausted },
	{ "retention_trimmed", t_retention_trimmed },
	{ "events_capped_and_recorded", t_events_capped_and_recorded },
	{ "noscript_recovers", t_noscript_recovers },
	{ "many_workers", t_many_workers },
	{ "single_worker_throughput", t_single_worker_throughput },
	{ "redis_unreachable", t_redis_unreachable },
	{ "batch_matches_single", t_batch_matches_single },
	{ "batch_conflict_and_exhausted", t_batch_conflict_and_exhausted },
	{ "batch_noscript", t_batch_noscript },
	{ "batch_thousand", t_batch_thousand },
	{ "batch_transport_failure", t_batch_transport_failure },
	{ "cleanup", t_cleanup },
)
