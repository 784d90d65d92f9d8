/* intake: report.create (Kafka) → jobs (Redis queue), on its own thread. */
#include "intake.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "kafka.h"
#include "log.h"
#include "queue.h"
#include "reportevent.h"
#include "tenant.h"
#include "worker.h"
#include "xalloc.h"

enum {
	POLL_MS = 100,		/* longest block in Kafka: bounds intake_stop() */
	RETRY_MS = 200,		/* Redis refused a batch: try it again after */
	REOPEN_MS = 1000,	/* the consumer or the queue failed to open: */
	REOPEN_MAX_MS = 10000,	/* the wait doubles up to this */
	PAYLOAD_MAX = 1024,
};

struct intake {
	const struct config *cfg;
	void (*wake)(void *);
	void *wake_arg;
	pthread_t thread;
	bool started;
	atomic_bool stop;

	/* The thread's own. */
	struct kafka_consumer *cons;
	struct queue *q;
	struct kafka_msg *held[WORKER_INTAKE_BATCH];	/* Redis refused them:
						 * tried again first, in order */
	int nheld;
	bool uncommitted;	/* enqueued, offsets not committed yet */

	atomic_ulong enqueued, duplicates, bad_messages;
};

/* Validates a report.create message into its job id and payload.  -1: bad. */
static int event_job(const struct kafka_msg *m, char *id, size_t idsz, char *payload,
    size_t psz)
{
	char tenant[TENANT_ID_MAX];
	long long rid;
	if (reportevent_parse_create(m->payload, m->len, tenant, &rid) != 0)
		return -1;
	int a = snprintf(id, idsz, "%s:%lld", tenant, rid);
	int b = snprintf(payload, psz, "{\"tenantID\":\"%s\",\"reportID\":%lld}", tenant,
	    rid);
	return a > 0 && (size_t)a < idsz && b > 0 && (size_t)b < psz ? 0 : -1;
}

/* The enqueue of one consumed message, for enqueue_batch(). */
struct item {
	bool bad;
	char id[QUEUE_ID_MAX + 1];
	char payload[PAYLOAD_MAX];
};

static void log_job(const struct kafka_msg *m, const struct queue_op *o)
{
	struct log_line l;
	log_begin(&l, LOG_INFO, o->created ? "job_enqueued" : "job_duplicate");
	log_str(&l, "job", o->id);
	if (m->timestamp_ms > 0)	/* the producer's CreateTime → now */
		log_int(&l, "lag_ms", clock_wall_ms() - m->timestamp_ms);
	log_end(&l);
}

/* Puts the jobs of msgs[0..n) in the queue in one pipeline.  Returns how
 * many leading messages are done with (enqueued, duplicate, or bad and
 * skipped); the rest, from the first one Redis could not take, must be
 * kept and tried again.  *created: a job was created. */
static int enqueue_batch(struct intake *in, struct kafka_msg **msgs, int n, bool *created)
{
	struct item *it = xcalloc((size_t)n, sizeof *it);
	struct queue_op *ops = xcalloc((size_t)n, sizeof *ops);
	int nops = 0;
	for (int i = 0; i < n; i++) {
		if (event_job(msgs[i], it[i].id, sizeof it[i].id, it[i].payload,
		    sizeof it[i].payload) != 0) {
			it[i].bad = true;
			continue;
		}
		struct queue_op *o = &ops[nops++];
		o->kind = QUEUE_OP_ENQUEUE;
		o->id = it[i].id;
		o->payload = it[i].payload;
		o->max_attempts = in->cfg->queue_max_attempts;
	}
	if (nops > 0)
		(void)queue_run(in->q, ops, (size_t)nops);
	int done = 0, k = 0;
	for (; done < n; done++) {
		const struct kafka_msg *m = msgs[done];
		if (it[done].bad) {
			struct log_line l;
			log_begin(&l, LOG_WARN, "kafka_bad_message");
			log_str(&l, "topic", m->topic);
			log_int(&l, "partition", m->partition);
			log_int(&l, "offset", (long long)m->offset);
			log_end(&l);
			atomic_fetch_add(&in->bad_messages, 1);
			continue;
		}
		const struct queue_op *o = &ops[k++];
		if (o->rc == APP_ERR_UNAVAILABLE) {
			log_kv(LOG_WARN, "job_enqueue_failed", "job", o->id, "detail",
			    o->e.detail, NULL);
			break;
		}
		if (o->rc != 0) {
			log_kv(LOG_WARN, "job_enqueue_refused", "job", o->id, "detail",
			    o->e.detail, NULL);
			continue;
		}
		atomic_fetch_add(o->created ? &in->enqueued : &in->duplicates, 1);
		*created |= o->created;
		log_job(m, o);
	}
	free(ops);
	free(it);
	return done;
}

static void commit(struct intake *in, bool sync)
{
	if (!in->uncommitted || in->nheld > 0 || in->cons == NULL)
		return;
	struct err e;
	err_clear(&e);
	if (kafka_consumer_commit(in->cons, NULL, sync, &e) == 0)
		in->uncommitted = false;
	else
		log_kv(LOG_WARN, "kafka_commit_failed", "detail", e.detail, NULL);
}

static int consumer_open(struct intake *in)
{
	struct kafka_consumer_opts o;
	kafka_consumer_opts_init(&o, in->cfg, "earliest");
	o.client_id = "report-worker";
	/* Every worker reads every partition: no group to join or rebalance,
	 * so a worker starting or stopping never stalls anyone's intake;
	 * the enqueue is idempotent, so the copies are duplicates only. */
	o.assign_all = true;
	const char *topics[] = { KAFKA_TOPIC_CREATE };
	struct err e;
	err_clear(&e);
	in->cons = kafka_consumer_new(in->cfg->kafka_brokers, WORKER_GROUP, topics, 1, &o, &e);
	if (in->cons == NULL) {
		log_kv(LOG_ERROR, "kafka_consumer_failed", "detail", e.detail, NULL);
		return -1;
	}
	return 0;
}

static void consumer_reset(struct intake *in)
{
	kafka_consumer_free(in->cons);	/* uncommitted messages come again */
	in->cons = NULL;
	in->uncommitted = false;
}

static int queue_open(struct intake *in)
{
	struct queue_opts qo;
	queue_opts_init(&qo, in->cfg);
	struct err e;
	err_clear(&e);
	in->q = queue_new(&qo, &e);
	if (in->q == NULL) {
		log_kv(LOG_WARN, "intake_queue_unavailable", "detail", e.detail, NULL);
		return -1;
	}
	return 0;
}

/* One batch: the held messages first, then what Kafka has, waiting up to
 * POLL_MS for the first.  Returns the delay before the next call (0: at
 * once). */
static int turn(struct intake *in)
{
	struct kafka_msg *msgs[WORKER_INTAKE_BATCH];
	int n = 0;
	for (int i = 0; i < in->nheld; i++)
		msgs[n++] = in->held[i];
	in->nheld = 0;
	while (n < WORKER_INTAKE_BATCH) {
		struct kafka_msg *m = NULL;
		struct err e;
		err_clear(&e);
		if (kafka_consumer_poll(in->cons, n == 0 ? POLL_MS : 0, &m, &e) != 0) {
			log_kv(LOG_ERROR, "kafka_consumer_fatal", "detail", e.detail, NULL);
			for (int i = 0; i < n; i++)
				kafka_msg_free(msgs[i]);	/* they come again */
			consumer_reset(in);
			return 0;
		}
		if (m == NULL)
			break;
		msgs[n++] = m;
	}
	if (n == 0)
		return 0;
	bool created = false;
	int done = enqueue_batch(in, msgs, n, &created);
	if (created && in->wake != NULL)
		in->wake(in->wake_arg);
	for (int i = 0; i < done; i++)
		kafka_msg_free(msgs[i]);
	for (int i = done; i < n; i++)
		in->held[in->nheld++] = msgs[i];
	if (done > 0)
		in->uncommitted = true;
	commit(in, false);
	return in->nheld > 0 ? RETRY_MS : 0;
}

/* Sleeps ms in POLL_MS steps, or until asked to stop. */
static void pause_ms(struct intake *in, int ms)
{
	int64_t end = clock_mono_ms() + ms;
	while (!atomic_load(&in->stop) && clock_mono_ms() < end) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static void *run(void *arg)
{
	struct intake *in = arg;
	int reopen_ms = REOPEN_MS;
	while (!atomic_load(&in->stop)) {
		if ((in->q == NULL && queue_open(in) != 0) ||
		    (in->cons == NULL && consumer_open(in) != 0)) {
			pause_ms(in, reopen_ms);
			reopen_ms = reopen_ms * 2 < REOPEN_MAX_MS ? reopen_ms * 2 : REOPEN_MAX_MS;
			continue;
		}
		reopen_ms = REOPEN_MS;
		int delay = turn(in);
		if (delay > 0)
			pause_ms(in, delay);
	}
	commit(in, true);
	if (in->cons != NULL) {
		struct err e;
		err_clear(&e);
		if (kafka_consumer_close(in->cons, &e) != 0)
			log_kv(LOG_WARN, "kafka_close_failed", "detail", e.detail, NULL);
	}
	return NULL;
}

struct intake *intake_start(const struct config *c, void (*wake)(void *arg), void *arg)
{
	struct intake *in = xcalloc(1, sizeof *in);
	in->cfg = c;
	in->wake = wake;
	in->wake_arg = arg;
	atomic_init(&in->stop, false);
	int e = pthread_create(&in->thread, NULL, run, in);
	if (e != 0) {
		log_kv(LOG_ERROR, "intake_thread_failed", "err", strerror(e), NULL);
		free(in);
		return NULL;
	}
	in->started = true;
	return in;
}

void intake_stop(struct intake *in)
{
	if (in != NULL)
		atomic_store(&in->stop, true);
}

void intake_stats(const struct intake *in, struct intake_stats *out)
{
	memset(out, 0, sizeof *out);
	if (in == NULL)
		return;
	out->enqueued = atomic_load(&in->enqueued);
	out->duplicates = atomic_load(&in->duplicates);
	out->bad_messages = atomic_load(&in->bad_messages);
}

void intake_free(struct intake *in)
{
	if (in == NULL)
		return;
	intake_stop(in);
	if (in->started)
		pthread_join(in->thread, NULL);
	for (int i = 0; i < in->nheld; i++)
		kafka_msg_free(in->held[i]);
	kafka_consumer_free(in->cons);
	queue_free(in->q);
	free(in);
}
