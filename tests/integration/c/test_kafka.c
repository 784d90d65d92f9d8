/* Integration test of lib/kafka against a running broker: the stand-in
 * (tools/kafka-mock) or real Kafka.  Needs KAFKA_BROKERS (read through
 * cfg_load_from like the relay does); KAFKA_SESSION_TIMEOUT_MS,
 * KAFKA_HEARTBEAT_MS and KAFKA_FETCH_WAIT_MS are honoured too.
 *
 * Every case uses keys and group ids unique to this run, so earlier data in
 * the topics does not matter.  No blind sleeps: every wait polls with a
 * deadline. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "kafka.h"
#include "log.h"
#include "testlib.h"

enum {
	PRODUCE_TIMEOUT_MS = 10000,
	/* First group join on the stand-in takes ~3 s, a rejoin up to
	 * session.timeout.ms - 1 s. */
	CONSUME_DEADLINE_MS = 30000,
	UNREACHABLE_TIMEOUT_MS = 1000,
	PING_TIMEOUT_MS = 2000,
	LATENCY_SENDS = 200,
	NAME_MAX_LEN = 128,
};

static const char UNREACHABLE[] = "127.0.0.1:1";

static const char *brokers;
static char run_id[64];

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_ms_f(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Loads the configuration once; exits 2 if KAFKA_BROKERS is unset. */
static void setup(void)
{
	if (run_id[0] != '\0')
		return;
	brokers = getenv("KAFKA_BROKERS");
	if (brokers == NULL || brokers[0] == '\0') {
		fprintf(stderr, "test_kafka: set KAFKA_BROKERS to a running broker\n");
		exit(2);
	}
	log_init("test_kafka", LOG_WARN);
	int n = snprintf(run_id, sizeof run_id, "%ld-%lld", (long)getpid(),
	    (long long)time(NULL));
	if (n < 0 || (size_t)n >= sizeof run_id) {
		fprintf(stderr, "test_kafka: run id\n");
		exit(2);
	}
	printf("# brokers=%s run=%s\n", brokers, run_id);
}

static void fmt(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s-%s-%s", a, run_id, b);
	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "test_kafka: name too long\n");
		exit(2);
	}
}

static struct kafka_consumer *consumer_opts(const char *group, const char *const *topics,
    size_t n, bool assign_all)
{
	struct kafka_consumer_opts o;
	kafka_consumer_opts_init(&o, NULL, "earliest");
	o.client_id = "test_kafka";
	o.assign_all = assign_all;
	struct err e;
	err_clear(&e);
	struct kafka_consumer *c = kafka_consumer_new(brokers, group,
	    topics, n, &o, &e);
	if (c == NULL)
		fprintf(stderr, "  consumer_new: %s (%s)\n", e.msg, e.detail);
	return c;
}

static struct kafka_consumer *consumer(const char *group, const char *const *topics,
    size_t n)
{
	return consumer_opts(group, topics, n, false);
}

static bool msg_has_key(const struct kafka_msg *m, const char *key)
{
	return m->key != NULL && m->key_len == strlen(key) &&
	    memcmp(m->key, key, m->key_len) == 0;
}

/* produce_wait to each topic; a group consumer (earliest) reads all back. */
static void t_roundtrip_three_topics(void)
{
	setup();
	static const char *const topics[] = {
		KAFKA_TOPIC_CREATE, KAFKA_TOPIC_PROGRESS, KAFKA_TOPIC_READY,
	};
	enum { NT = sizeof topics / sizeof topics[0] };
	char key[NAME_MAX_LEN], group[NAME_MAX_LEN], payload[NT][NAME_MAX_LEN];
	fmt(key, sizeof key, "tenant", "rt");
	fmt(group, sizeof group, "group", "rt");
	struct err e;
	err_clear(&e);
	struct kafka_producer *p = kafka_producer_new(brokers, &e);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	for (size_t i = 0; i < NT; i++) {
		fmt(payload[i], sizeof payload[i], "{\"topic\":\"x\"}", topics[i]);
		int rc = kafka_produce_wait(p, topics[i], key, strlen(key), payload[i],
		    strlen(payload[i]), PRODUCE_TIMEOUT_MS, &e);
		if (rc != 0)
			fprintf(stderr, "  produce %s: %s\n", topics[i], e.detail);
		CHECK_INT_EQ(rc, 0);
	}
	CHECK_INT_EQ(kafka_producer_flush(p, 1000), 0);
	kafka_producer_free(p);

	struct kafka_consumer *c = consumer(group, topics, NT);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	bool seen[NT] = { false };
	size_t nseen = 0;
	long long deadline = now_ms() + CONSUME_DEADLINE_MS;
	while (nseen < NT && now_ms() < deadline) {
		struct kafka_msg *m = NULL;
		int rc = kafka_consumer_poll(c, 200, &m, &e);
		CHECK_INT_EQ(rc, 0);
		if (rc != 0)
			break;
		if (m == NULL || !msg_has_key(m, key)) {
			kafka_msg_free(m);
			continue;
		}
		for (size_t i = 0; i < NT; i++) {
			if (strcmp(m->topic, topics[i]) != 0)
				continue;
			CHECK(!seen[i]);
			CHECK_INT_EQ(m->len, strlen(payload[i]));
			CHECK_STR_EQ(m->payload, payload[i]);
			CHECK(m->offset >= 0);
			if (!seen[i])
				nseen++;
			seen[i] = true;
		}
		kafka_msg_free(m);
	}
	CHECK_INT_EQ(nseen, NT);
	CHECK_INT_EQ(kafka_consumer_close(c, &e), 0);
	kafka_consumer_free(c);
}

/* An unreachable broker list: produce_wait gives up within its bound. */
static void t_produce_unreachable_times_out(void)
{
	setup();
	struct err e;
	err_clear(&e);
	struct kafka_producer *p = kafka_producer_new(UNREACHABLE, &e);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	long long t0 = now_ms();
	int rc = kafka_produce_wait(p, KAFKA_TOPIC_CREATE, "k", 1, "v", 1,
	    UNREACHABLE_TIMEOUT_MS, &e);
	long long took = now_ms() - t0;
	CHECK_INT_EQ(rc, APP_ERR_UNAVAILABLE);
	CHECK_INT_EQ(e.code, APP_ERR_UNAVAILABLE);
	CHECK(took >= UNREACHABLE_TIMEOUT_MS - 50);
	CHECK(took <= UNREACHABLE_TIMEOUT_MS + 1000);
	CHECK(kafka_producer_outq_len(p) > 0);	/* still queued: "not announced" */
	t0 = now_ms();
	kafka_producer_free(p);	/* bounded flush, then drop */
	took = now_ms() - t0;
	CHECK(took <= 5000);
}

static void t_ping(void)
{
	setup();
	struct err e;
	err_clear(&e);
	struct kafka_producer *p = kafka_producer_new(brokers, &e);
	CHECK(p != NULL);
	if (p != NULL) {
		int rc = kafka_ping(p, PING_TIMEOUT_MS, &e);
		if (rc != 0)
			fprintf(stderr, "  ping: %s\n", e.detail);
		CHECK_INT_EQ(rc, 0);
		kafka_producer_free(p);
	}
	p = kafka_producer_new(UNREACHABLE, &e);
	CHECK(p != NULL);
	if (p != NULL) {
		long long t0 = now_ms();
		CHECK_INT_EQ(kafka_ping(p, 500, &e), APP_ERR_UNAVAILABLE);
		CHECK(now_ms() - t0 <= 1500);
		kafka_producer_free(p);
	}
}

/* Polls c until a message with key arrives; returns it or NULL. */
static struct kafka_msg *poll_key(struct kafka_consumer *c, const char *key,
    const char *forbidden_payload, int *forbidden_seen)
{
	struct err e;
	long long deadline = now_ms() + CONSUME_DEADLINE_MS;
	while (now_ms() < deadline) {
		struct kafka_msg *m = NULL;
		if (kafka_consumer_poll(c, 200, &m, &e) != 0) {
			fprintf(stderr, "  poll: %s\n", e.detail);
			return NULL;
		}
		if (m == NULL)
			continue;
		if (msg_has_key(m, key)) {
			if (forbidden_payload && strcmp(m->payload, forbidden_payload) == 0) {
				(*forbidden_seen)++;
				kafka_msg_free(m);
				continue;
			}
			return m;
		}
		kafka_msg_free(m);
	}
	return NULL;
}

/* m1 is produced and `readers` consumers of one group read it (with
 * assign_all each of them gets it: no group splits the partitions); the
 * first commits it and all close.  After m2 is produced, a new consumer of
 * the group starts after m1. */
static void commit_then_resume(const char *name, bool assign_all, int readers)
{
	enum { READERS_MAX = 2 };
	setup();
	static const char *const topics[] = { KAFKA_TOPIC_CREATE };
	char key[NAME_MAX_LEN], group[NAME_MAX_LEN];
	fmt(key, sizeof key, "tenant", name);
	fmt(group, sizeof group, "group", name);
	const char *m1 = "first", *m2 = "second";
	struct err e;
	err_clear(&e);
	struct kafka_producer *p = kafka_producer_new(brokers, &e);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK_INT_EQ(kafka_produce_wait(p, KAFKA_TOPIC_CREATE, key, strlen(key), m1,
	    strlen(m1), PRODUCE_TIMEOUT_MS, &e), 0);
	struct kafka_consumer *r[READERS_MAX] = { NULL };
	for (int i = 0; i < readers && i < READERS_MAX; i++) {
		r[i] = consumer_opts(group, topics, 1, assign_all);
		CHECK(r[i] != NULL);
	}
	int dup = 0;
	for (int i = 0; i < readers && i < READERS_MAX; i++) {
		struct kafka_msg *m = r[i] ? poll_key(r[i], key, NULL, &dup) : NULL;
		CHECK(m != NULL);
		if (m == NULL)
			continue;
		CHECK_STR_EQ(m->payload, m1);
		if (i == 0) {
			int rc = kafka_consumer_commit(r[i], m, true, &e);
			if (rc != 0)
				fprintf(stderr, "  commit: %s\n", e.detail);
			CHECK_INT_EQ(rc, 0);
		}
		kafka_msg_free(m);
	}
	for (int i = 0; i < readers && i < READERS_MAX; i++) {
		if (r[i] != NULL)
			CHECK_INT_EQ(kafka_consumer_close(r[i], &e), 0);
		kafka_consumer_free(r[i]);
	}

	/* Same key, so same partition, after m1. */
	CHECK_INT_EQ(kafka_produce_wait(p, KAFKA_TOPIC_CREATE, key, strlen(key), m2,
	    strlen(m2), PRODUCE_TIMEOUT_MS, &e), 0);
	struct kafka_consumer *c = consumer_opts(group, topics, 1, assign_all);
	CHECK(c != NULL);
	if (c != NULL) {
		struct kafka_msg *m = poll_key(c, key, m1, &dup);
		CHECK(m != NULL);
		if (m != NULL)
			CHECK_STR_EQ(m->payload, m2);
		CHECK_INT_EQ(dup, 0);
		kafka_msg_free(m);
		/* Nothing committed this time: commit(all) is still fine. */
		CHECK_INT_EQ(kafka_consumer_commit(c, NULL, true, &e), 0);
		kafka_consumer_free(c);
	}
	kafka_producer_free(p);
}

/* Commit M1; a new consumer in the same group starts after it. */
static void t_commit_not_redelivered(void)
{
	commit_then_resume("commit", false, 1);
}

/* assign_all: two consumers of one group both read M1; one commits it; a
 * consumer started afterwards in that group starts after it. */
static void t_assign_all_broadcast_and_commit(void)
{
	commit_then_resume("all", true, 2);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Not an assertion on speed: prints produce_wait latency percentiles. */
static void t_produce_wait_latency(void)
{
	setup();
	struct err e;
	err_clear(&e);
	struct kafka_producer *p = kafka_producer_new(brokers, &e);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	char key[NAME_MAX_LEN];
	fmt(key, sizeof key, "tenant", "lat");
	static double ms[LATENCY_SENDS];
	int ok = 0;
	for (int i = 0; i < LATENCY_SENDS; i++) {
		double t0 = now_ms_f();
		int rc = kafka_produce_wait(p, KAFKA_TOPIC_PROGRESS, key, strlen(key),
		    "{\"progress\":1}", 14, PRODUCE_TIMEOUT_MS, &e);
		ms[i] = now_ms_f() - t0;
		ok += rc == 0;
	}
	CHECK_INT_EQ(ok, LATENCY_SENDS);
	qsort(ms, LATENCY_SENDS, sizeof ms[0], cmp_dbl);
	printf("# produce_wait n=%d p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
	    LATENCY_SENDS, ms[LATENCY_SENDS / 2], ms[LATENCY_SENDS * 9 / 10],
	    ms[LATENCY_SENDS * 99 / 100], ms[LATENCY_SENDS - 1]);
	kafka_producer_free(p);
}

TEST_MAIN(
	{ "roundtrip_three_topics", t_roundtrip_three_topics },
	{ "produce_unreachable_times_out", t_produce_unreachable_times_out },
	{ "ping", t_ping },
	{ "commit_not_redelivered", t_commit_not_redelivered },
	{ "assign_all_broadcast_and_commit", t_assign_all_broadcast_and_commit },
	{ "produce_wait_latency", t_produce_wait_latency },
)
