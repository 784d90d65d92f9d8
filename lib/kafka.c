#include "kafka.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "log.h"
#include "xalloc.h"

enum {
	ERRSTR_MAX = 512,
	DEF_LINGER_MS = 5,
	DEF_MESSAGE_TIMEOUT_MS = 30000,
	DEF_SOCKET_TIMEOUT_MS = 10000,
	DEF_CLOSE_FLUSH_MS = 2000,
	DEF_SESSION_TIMEOUT_MS = 6000,
	DEF_HEARTBEAT_MS = 1000,
	DEF_FETCH_WAIT_MS = 10,
	NUM_MAX = 32,
};

static const char DEF_CLIENT_ID[] = "report-service";
static const char PUBLIC_MSG[] = "event bus unavailable";

/* ---- shared helpers -------------------------------------------------------- */

/* log.queue=true routes these to the application thread's poll calls. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
	/* A connection failure (fac FAIL) also reaches on_error: one line is
	 * enough, keep this one for debugging. */
	enum log_level lv = strcmp(fac, "FAIL") == 0 ? LOG_DEBUG : log_level_from_syslog(level);
	struct log_line l;
	log_begin(&l, lv, "kafka_log");
	log_str(&l, "client", rd_kafka_name(rk));
	log_str(&l, "fac", fac);
	log_str(&l, "msg", buf);
	log_end(&l);
}

/* opaque: the handle's `fatal` flag. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bool fatal = err == RD_KAFKA_RESP_ERR__FATAL;
	char fatal_reason[ERRSTR_MAX] = "";
	rd_kafka_resp_err_t orig = RD_KAFKA_RESP_ERR_NO_ERROR;
	if (fatal) {
		orig = rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
		if (opaque != NULL)
			*(bool *)opaque = true;
	}
	struct log_line l;
	log_begin(&l, fatal ? LOG_ERROR : LOG_WARN, "kafka_error");
	log_str(&l, "client", rd_kafka_name(rk));
	log_str(&l, "code", rd_kafka_err2name((rd_kafka_resp_err_t)err));
	if (fatal)
		log_str(&l, "cause", rd_kafka_err2name(orig));
	log_str(&l, "err", fatal && fatal_reason[0] ? fatal_reason : reason);
	log_end(&l);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
    struct err *e)
{
	char errstr[ERRSTR_MAX];
	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) !=
	    RD_KAFKA_CONF_OK)
		return err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka conf %s: %s", name, errstr);
	return 0;
}

static int conf_set_int(rd_kafka_conf_t *conf, const char *name, int value,
    struct err *e)
{
	char num[NUM_MAX];
	int n = snprintf(num, sizeof num, "%d", value);
	if (n < 0 || (size_t)n >= sizeof num)
		return err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka conf %s: cannot format value", name);
	return conf_set(conf, name, num, e);
}

/* Settings every client shares: quick reconnects after a broker restart,
 * logs through the application's poll calls. */
static int conf_common(rd_kafka_conf_t *conf, const char *brokers,
    const char *client_id, bool *fatal_flag, struct err *e)
{
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, fatal_flag);
	int rc = conf_set(conf, "bootstrap.servers", brokers, e);
	if (rc == 0)
		rc = conf_set(conf, "client.id", client_id, e);
	if (rc == 0)
		rc = conf_set(conf, "log.queue", "true", e);
	if (rc == 0)
		rc = conf_set(conf, "log.connection.close", "false", e);
	if (rc == 0)
		rc = conf_set(conf, "reconnect.backoff.ms", "100", e);
	if (rc == 0)
		rc = conf_set(conf, "reconnect.backoff.max.ms", "1000", e);
	return rc;
}

/* Metadata request for one topic: 0 when a broker answered and the topic
 * has partitions (*n: how many; n may be NULL). */
static int topic_meta(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int timeout_ms, int *n,
    struct err *e)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t re = rd_kafka_metadata(rk, 0, rkt, &md,
	    timeout_ms > 0 ? timeout_ms : 1);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR)
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka metadata topic=%s: %s", rd_kafka_topic_name(rkt),
		    rd_kafka_err2str(re));
	int rc = 0;
	if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    md->topics[0].partition_cnt <= 0)
		rc = err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka metadata topic=%s: %s", rd_kafka_topic_name(rkt),
		    md->topic_cnt != 1 ? "topic missing from answer" :
		    md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR ?
		    rd_kafka_err2str(md->topics[0].err) : "no partitions");
	else if (n != NULL)
		*n = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* The same by topic name, through a handle made for the request. */
static int topic_meta_name(rd_kafka_t *rk, const char *topic, int timeout_ms, int *n,
    struct err *e)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rkt == NULL)
		return err_set(e, APP_ERR_INTERNAL, PUBLIC_MSG, "kafka topic %s: %s",
		    topic, rd_kafka_err2str(rd_kafka_last_error()));
	int rc = topic_meta(rk, rkt, timeout_ms, n, e);
	rd_kafka_topic_destroy(rkt);
	return rc;
}

/* ---- producer ---------------------------------------------------------------- */

/* The delivery report one kafka_produce_wait() waits for.  It lives on the
 * producer's list until freed: by the waiter once done, by the delivery
 * callback if the waiter gave up (abandoned), or by kafka_producer_free(). */
struct kafka_dr {
	struct kafka_dr *prev, *next;
	bool done, abandoned;
	rd_kafka_resp_err_t err;
};

struct kafka_producer {
	rd_kafka_t *rk;
	rd_kafka_topic_t *ping_rkt;
	struct kafka_dr pending;	/* list sentinel */
	bool fatal;			/* set by on_error: rebuild the handle */
	char *brokers;
	char *client_id;
	struct kafka_producer_opts o;
};

static void dr_unlink_free(struct kafka_dr *dr)
{
	dr->prev->next = dr->next;
	dr->next->prev = dr->prev;
	free(dr);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
    void *opaque)
{
	(void)opaque;
	struct kafka_dr *dr = m->_private;
	if (dr != NULL && !dr->abandoned) {
		dr->done = true;
		dr->err = m->err;
		return;
	}
	/* Fire-and-forget, or a waiter that timed out: only the log knows. */
	if (dr != NULL || m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		struct log_line l;
		log_begin(&l, m->err ? LOG_WARN : LOG_INFO,
		    m->err ? "kafka_delivery_failed" : "kafka_late_delivery");
		log_str(&l, "client", rd_kafka_name(rk));
		log_str(&l, "topic", m->rkt ? rd_kafka_topic_name(m->rkt) : "");
		if (m->err)
			log_str(&l, "err", rd_kafka_err2str(m->err));
		else
			log_int(&l, "partition", m->partition);
		log_end(&l);
	}
	if (dr != NULL)
		dr_unlink_free(dr);
}

static int producer_build(struct kafka_producer *p, struct err *e)
{
	char errstr[ERRSTR_MAX];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	int rc = conf_common(conf, p->brokers, p->client_id, &p->fatal, e);
	if (rc == 0)
		rc = conf_set(conf, "enable.idempotence", "true", e);
	if (rc == 0)
		rc = conf_set(conf, "acks", "all", e);
	if (rc == 0)
		rc = conf_set(conf, "partitioner", "murmur2_random", e);
	if (rc == 0)
		rc = conf_set_int(conf, "linger.ms", p->o.linger_ms, e);
	if (rc == 0)
		rc = conf_set_int(conf, "message.timeout.ms", p->o.message_timeout_ms, e);
	if (rc == 0)
		rc = conf_set_int(conf, "socket.timeout.ms", p->o.socket_timeout_ms, e);
	if (rc != 0) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (rk == NULL) {
		rd_kafka_conf_destroy(conf);
		return err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka producer: %s", errstr);
	}
	/* The log queue is the main queue, served by rd_kafka_poll(). */
	rd_kafka_resp_err_t re = rd_kafka_set_log_queue(rk, NULL);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_destroy(rk);
		return err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka producer log queue: %s", rd_kafka_err2str(re));
	}
	p->ping_rkt = rd_kafka_topic_new(rk, KAFKA_TOPIC_CREATE, NULL);
	if (p->ping_rkt == NULL) {
		re = rd_kafka_last_error();
		rd_kafka_destroy(rk);
		return err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka producer topic handle: %s", rd_kafka_err2str(re));
	}
	p->rk = rk;
	p->fatal = false;
	return 0;
}

/* Flushes for at most flush_ms, drops what is left, destroys the handle. */
static void producer_teardown(struct kafka_producer *p, int flush_ms)
{
	if (p->rk == NULL)
		return;
	rd_kafka_resp_err_t fe = flush_ms > 0 ? rd_kafka_flush(p->rk, flush_ms) :
	    RD_KAFKA_RESP_ERR_NO_ERROR;
	int left = rd_kafka_outq_len(p->rk);
	if (left > 0) {
		struct log_line l;
		log_begin(&l, LOG_WARN, "kafka_producer_unflushed");
		log_str(&l, "client", rd_kafka_name(p->rk));
		log_int(&l, "outstanding", left);
		log_str(&l, "err", rd_kafka_err2str(fe));
		log_end(&l);
		/* Purge so that destroy does not wait for unreachable brokers. */
		rd_kafka_resp_err_t pe = rd_kafka_purge(p->rk,
		    RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		if (pe != RD_KAFKA_RESP_ERR_NO_ERROR)
			log_kv(LOG_WARN, "kafka_purge_failed", "err",
			    rd_kafka_err2str(pe), NULL);
		(void)rd_kafka_poll(p->rk, 0);	/* serves purge reports; count unused */
	}
	rd_kafka_topic_destroy(p->ping_rkt);
	p->ping_rkt = NULL;
	rd_kafka_destroy(p->rk);
	p->rk = NULL;
	/* Reports that never came: nobody waits for them any more. */
	while (p->pending.next != &p->pending)
		dr_unlink_free(p->pending.next);
}

/* A fatal error (idempotence state lost, e.g. after the stand-in restarted)
 * leaves the handle unusable: replace it. */
static int producer_ensure(struct kafka_producer *p, struct err *e)
{
	if (p->rk != NULL && !p->fatal)
		return 0;
	if (p->rk != NULL) {
		log_kv(LOG_WARN, "kafka_producer_rebuild", "client",
		    rd_kafka_name(p->rk), "reason", "fatal error", NULL);
		producer_teardown(p, 0);
	}
	return producer_build(p, e);
}

struct kafka_producer *kafka_producer_new(const char *brokers, struct err *e)
{
	return kafka_producer_new_opts(brokers, NULL, e);
}

struct kafka_producer *kafka_producer_new_opts(const char *brokers,
    const struct kafka_producer_opts *o, struct err *e)
{
	if (brokers == NULL || brokers[0] == '\0') {
		(void)err_set(e, APP_ERR_BAD_INPUT, "event bus misconfigured",
		    "kafka producer: empty broker list");
		return NULL;
	}
	struct kafka_producer *p = xcalloc(1, sizeof *p);
	p->pending.prev = p->pending.next = &p->pending;
	if (o != NULL)
		p->o = *o;
	p->brokers = xstrdup(brokers);
	p->client_id = xstrdup(p->o.client_id ? p->o.client_id : DEF_CLIENT_ID);
	p->o.client_id = p->client_id;
	if (p->o.linger_ms == 0)
		p->o.linger_ms = DEF_LINGER_MS;
	else if (p->o.linger_ms < 0)
		p->o.linger_ms = 0;
	if (p->o.message_timeout_ms <= 0)
		p->o.message_timeout_ms = DEF_MESSAGE_TIMEOUT_MS;
	if (p->o.socket_timeout_ms <= 0)
		p->o.socket_timeout_ms = DEF_SOCKET_TIMEOUT_MS;
	if (p->o.close_flush_ms <= 0)
		p->o.close_flush_ms = DEF_CLOSE_FLUSH_MS;
	if (producer_build(p, e) != 0) {
		kafka_producer_free(p);
		return NULL;
	}
	return p;
}

/* Queues one message with opaque dr (may be NULL). */
static int produce_one(struct kafka_producer *p, const char *topic,
    const void *key, size_t keylen, const void *payload, size_t len,
    struct kafka_dr *dr, struct err *e)
{
	if (topic == NULL || topic[0] == '\0' || (key == NULL && keylen > 0) ||
	    (payload == NULL && len > 0))
		return err_set(e, APP_ERR_BAD_INPUT, "invalid event",
		    "kafka produce: missing topic, key or payload");
	rd_kafka_resp_err_t re = rd_kafka_producev(p->rk,
	    RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_KEY((void *)key, keylen),
	    RD_KAFKA_V_VALUE((void *)payload, len),
	    RD_KAFKA_V_OPAQUE(dr),
	    RD_KAFKA_V_END);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (re == RD_KAFKA_RESP_ERR__FATAL)
			p->fatal = true;
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka produce topic=%s: %s", topic, rd_kafka_err2str(re));
	}
	return 0;
}

int kafka_produce_wait(struct kafka_producer *p, const char *topic,
    const void *key, size_t keylen, const void *payload, size_t len,
    int timeout_ms, struct err *e)
{
	int rc = producer_ensure(p, e);
	if (rc != 0)
		return rc;
	struct kafka_dr *dr = xcalloc(1, sizeof *dr);
	dr->next = p->pending.next;
	dr->prev = &p->pending;
	p->pending.next->prev = dr;
	p->pending.next = dr;
	rc = produce_one(p, topic, key, keylen, payload, len, dr, e);
	if (rc != 0) {
		dr_unlink_free(dr);
		return rc;
	}
	long long deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		long long left = deadline - clock_mono_ms();
		(void)rd_kafka_poll(p->rk, left > 0 ? (int)left : 0);	/* count unused */
		if (dr->done || left <= 0)
			break;
	}
	if (!dr->done) {
		/* The callback frees it whenever the report comes. */
		dr->abandoned = true;
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka produce topic=%s: no delivery report within %d ms "
		    "(may still be delivered)", topic, timeout_ms);
	}
	rd_kafka_resp_err_t de = dr->err;
	dr_unlink_free(dr);
	if (de != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (de == RD_KAFKA_RESP_ERR__FATAL)
			p->fatal = true;
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka delivery topic=%s: %s", topic, rd_kafka_err2str(de));
	}
	return 0;
}

int kafka_produce(struct kafka_producer *p, const char *topic,
    const void *key, size_t keylen, const void *payload, size_t len,
    struct err *e)
{
	int rc = producer_ensure(p, e);
	if (rc != 0)
		return rc;
	rc = produce_one(p, topic, key, keylen, payload, len, NULL, e);
	(void)rd_kafka_poll(p->rk, 0);	/* serve earlier reports; count unused */
	return rc;
}

int kafka_producer_poll(struct kafka_producer *p, int timeout_ms)
{
	if (p->rk == NULL)
		return 0;
	return rd_kafka_poll(p->rk, timeout_ms > 0 ? timeout_ms : 0);
}

int kafka_producer_flush(struct kafka_producer *p, int timeout_ms)
{
	if (p->rk == NULL)
		return 0;
	rd_kafka_resp_err_t re = rd_kafka_flush(p->rk, timeout_ms > 0 ? timeout_ms : 0);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR)
		return APP_ERR_UNAVAILABLE;
	return 0;
}

int kafka_producer_outq_len(const struct kafka_producer *p)
{
	return p->rk != NULL ? rd_kafka_outq_len(p->rk) : 0;
}

int kafka_ping(struct kafka_producer *p, int timeout_ms, struct err *e)
{
	int rc = producer_ensure(p, e);
	if (rc != 0)
		return rc;
	(void)rd_kafka_poll(p->rk, 0);	/* surface pending logs; count unused */
	return topic_meta(p->rk, p->ping_rkt, timeout_ms, NULL, e);
}

int kafka_producer_warm(struct kafka_producer *p, const char *topic, int timeout_ms,
    struct err *e)
{
	int rc = producer_ensure(p, e);
	return rc != 0 ? rc : topic_meta_name(p->rk, topic, timeout_ms, NULL, e);
}

void kafka_producer_free(struct kafka_producer *p)
{
	if (p == NULL)
		return;
	producer_teardown(p, p->o.close_flush_ms);
	free(p->brokers);
	free(p->client_id);
	free(p);
}

/* ---- consumer ---------------------------------------------------------------- */

enum { ASSIGN_RECHECK_MS = 30000, ASSIGN_METADATA_MS = 2000 };

struct kafka_consumer {
	rd_kafka_t *rk;
	bool fatal;
	bool closed;
	/* assign_all: the topics, and the partitions assigned so far */
	char **topics;
	size_t ntopics;
	int assigned;
	int64_t next_recheck_ms;
};

/* Partitions currently assigned to rk, -1 if librdkafka cannot say. */
static int held(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *now = NULL;
	if (rd_kafka_assignment(rk, &now) != RD_KAFKA_RESP_ERR_NO_ERROR || now == NULL)
		return -1;
	int n = now->cnt;
	rd_kafka_topic_partition_list_destroy(now);
	return n;
}

/* Applies a rebalance (the eager protocol, the only one configured here:
 * the whole assignment is replaced) and logs it as ev=kafka_assigned /
 * ev=kafka_revoked with the partitions held afterwards. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	(void)opaque;
	bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	rd_kafka_resp_err_t re = rd_kafka_assign(rk, assign ? parts : NULL);
	struct log_line l;
	log_begin(&l, re != RD_KAFKA_RESP_ERR_NO_ERROR ? LOG_WARN : LOG_INFO,
	    assign ? "kafka_assigned" : "kafka_revoked");
	log_str(&l, "client", rd_kafka_name(rk));
	log_str(&l, "protocol", "eager");
	log_int(&l, "moved", parts != NULL ? parts->cnt : 0);
	log_int(&l, "held", held(rk));
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_str(&l, "err", rd_kafka_err2str(re));
	log_end(&l);
}

void kafka_consumer_opts_init(struct kafka_consumer_opts *o,
    const struct config *c, const char *auto_offset_reset)
{
	memset(o, 0, sizeof *o);
	o->auto_offset_reset = auto_offset_reset;
	if (c != NULL) {
		o->session_timeout_ms = c->kafka_session_timeout_ms;
		o->heartbeat_ms = c->kafka_heartbeat_ms;
		o->fetch_wait_ms = c->kafka_fetch_wait_ms;
	}
}

/* opaque: unused (the handle's fatal flag is the conf opaque). */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return;
	struct log_line l;
	log_begin(&l, LOG_WARN, "kafka_commit_failed");
	log_str(&l, "client", rd_kafka_name(rk));
	log_int(&l, "partitions", offsets ? offsets->cnt : 0);
	log_str(&l, "err", rd_kafka_err2str(err));
	log_end(&l);
}

/* assign_all: assigns every partition of c's topics, each from the group's
 * committed offset (auto.offset.reset when none).  Done again when the
 * partition count grew (checked every ASSIGN_RECHECK_MS by the poll): the
 * partitions held already restart from their committed offsets too, which
 * may deliver a few messages twice.  Returns 0, or APP_ERR_UNAVAILABLE
 * (e filled) when the broker did not say. */
static int assign_all(struct kafka_consumer *c, struct err *e)
{
	c->next_recheck_ms = clock_mono_ms() + ASSIGN_RECHECK_MS;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
	int rc = 0;
	for (size_t i = 0; i < c->ntopics && rc == 0; i++) {
		int n = 0;
		rc = topic_meta_name(c->rk, c->topics[i], ASSIGN_METADATA_MS, &n, e);
		for (int p = 0; p < n; p++)
			rd_kafka_topic_partition_list_add(l, c->topics[i], p)->offset =
			    RD_KAFKA_OFFSET_STORED;
	}
	if (rc == 0 && l->cnt != c->assigned) {
		rd_kafka_resp_err_t re = rd_kafka_assign(c->rk, l);
		if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rc = err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG, "kafka assign: %s",
			    rd_kafka_err2str(re));
		} else {
			c->assigned = l->cnt;
			struct log_line ll;
			log_begin(&ll, LOG_INFO, "kafka_assigned");
			log_str(&ll, "client", rd_kafka_name(c->rk));
			log_str(&ll, "protocol", "all");
			log_int(&ll, "held", c->assigned);
			log_end(&ll);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

struct kafka_consumer *kafka_consumer_new(const char *brokers,
    const char *group_id, const char *const topics[], size_t n,
    const struct kafka_consumer_opts *o, struct err *e)
{
	struct kafka_consumer_opts d;
	kafka_consumer_opts_init(&d, NULL, NULL);
	if (o != NULL)
		d = *o;
	const char *reset = d.auto_offset_reset ? d.auto_offset_reset : "earliest";
	if (brokers == NULL || brokers[0] == '\0' || group_id == NULL ||
	    group_id[0] == '\0' || topics == NULL || n == 0 ||
	    (strcmp(reset, "earliest") != 0 && strcmp(reset, "latest") != 0)) {
		(void)err_set(e, APP_ERR_BAD_INPUT, "event bus misconfigured",
		    "kafka consumer: need brokers, group, topics and "
		    "auto_offset_reset earliest|latest");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (topics[i] == NULL || topics[i][0] == '\0') {
			(void)err_set(e, APP_ERR_BAD_INPUT, "event bus misconfigured",
			    "kafka consumer: empty topic name");
			return NULL;
		}
	}
	struct kafka_consumer *c = xcalloc(1, sizeof *c);
	char errstr[ERRSTR_MAX];
	rd_kafka_topic_partition_list_t *subs = NULL;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	int rc = conf_common(conf, brokers, d.client_id ? d.client_id : DEF_CLIENT_ID,
	    &c->fatal, e);
	if (rc == 0)
		rc = conf_set(conf, "group.id", group_id, e);
	if (rc == 0)
		rc = conf_set_int(conf, "session.timeout.ms", d.session_timeout_ms > 0 ?
		    d.session_timeout_ms : DEF_SESSION_TIMEOUT_MS, e);
	if (rc == 0)
		rc = conf_set_int(conf, "heartbeat.interval.ms", d.heartbeat_ms > 0 ?
		    d.heartbeat_ms : DEF_HEARTBEAT_MS, e);
	if (rc == 0)
		rc = conf_set_int(conf, "fetch.wait.max.ms", d.fetch_wait_ms > 0 ?
		    d.fetch_wait_ms : DEF_FETCH_WAIT_MS, e);
	if (rc == 0)
		rc = conf_set(conf, "enable.auto.commit", "false", e);
	if (rc == 0)
		rc = conf_set(conf, "auto.offset.reset", reset, e);
	if (rc != 0)
		goto fail;
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (c->rk == NULL) {
		(void)err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka consumer: %s", errstr);
		goto fail;
	}
	conf = NULL;	/* owned by c->rk now */
	/* Everything (logs, errors, commits) is served by consumer_poll. */
	rd_kafka_resp_err_t re = rd_kafka_poll_set_consumer(c->rk);
	if (re == RD_KAFKA_RESP_ERR_NO_ERROR)
		re = rd_kafka_set_log_queue(c->rk, NULL);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
		(void)err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka consumer queues: %s", rd_kafka_err2str(re));
		goto fail;
	}
	if (d.assign_all) {
		c->topics = xcalloc(n, sizeof *c->topics);
		for (size_t i = 0; i < n; i++)
			c->topics[c->ntopics++] = xstrdup(topics[i]);
		if (assign_all(c, e) != 0)
			goto fail;
		return c;
	}
	subs = rd_kafka_topic_partition_list_new((int)n);
	for (size_t i = 0; i < n; i++)
		(void)rd_kafka_topic_partition_list_add(subs, topics[i],
		    RD_KAFKA_PARTITION_UA);	/* element not needed */
	re = rd_kafka_subscribe(c->rk, subs);
	rd_kafka_topic_partition_list_destroy(subs);
	if (re != RD_KAFKA_RESP_ERR_NO_ERROR) {
		(void)err_set(e, APP_ERR_INTERNAL, "event bus misconfigured",
		    "kafka subscribe group=%s: %s", group_id, rd_kafka_err2str(re));
		goto fail;
	}
	return c;
fail:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	c->closed = true;	/* never joined: nothing to leave */
	kafka_consumer_free(c);
	return NULL;
}

void kafka_msg_free(struct kafka_msg *m)
{
	free(m);
}

/* Copies rkm into one allocation: the struct, then topic, key, payload. */
static struct kafka_msg *msg_copy(const rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	size_t tlen = strlen(topic);
	size_t klen = rkm->key ? rkm->key_len : 0;
	size_t plen = rkm->payload ? rkm->len : 0;
	struct kafka_msg *m = xmalloc(sizeof *m + tlen + 1 + klen + 1 + plen + 1);
	char *p = (char *)(m + 1);
	memcpy(p, topic, tlen + 1);
	m->topic = p;
	p += tlen + 1;
	if (rkm->key != NULL) {
		memcpy(p, rkm->key, klen);
		p[klen] = '\0';
		m->key = p;
		p += klen + 1;
	} else {
		m->key = NULL;
	}
	m->key_len = klen;
	if (plen > 0)
		memcpy(p, rkm->payload, plen);
	p[plen] = '\0';
	m->payload = p;
	m->len = plen;
	m->partition = rkm->partition;
	m->offset = rkm->offset;
	rd_kafka_timestamp_type_t tt;
	m->timestamp_ms = rd_kafka_message_timestamp(rkm, &tt);
	return m;
}

int kafka_consumer_poll(struct kafka_consumer *c, int timeout_ms,
    struct kafka_msg **out, struct err *e)
{
	*out = NULL;
	if (c->ntopics > 0 && clock_mono_ms() >= c->next_recheck_ms) {
		struct err re;
		err_clear(&re);
		if (assign_all(c, &re) != 0)
			log_kv(LOG_WARN, "kafka_assign_failed", "detail", re.detail, NULL);
	}
	rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk,
	    timeout_ms > 0 ? timeout_ms : 0);
	if (rkm != NULL && rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		*out = msg_copy(rkm);
		rd_kafka_message_destroy(rkm);
		return 0;
	}
	if (rkm != NULL) {
		if (rkm->err == RD_KAFKA_RESP_ERR__FATAL)
			c->fatal = true;
		if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			struct log_line l;
			log_begin(&l, c->fatal ? LOG_ERROR : LOG_WARN, "kafka_consume_error");
			log_str(&l, "client", rd_kafka_name(c->rk));
			if (rkm->rkt != NULL)
				log_str(&l, "topic", rd_kafka_topic_name(rkm->rkt));
			log_str(&l, "code", rd_kafka_err2name(rkm->err));
			log_str(&l, "err", rd_kafka_message_errstr(rkm));
			log_end(&l);
		}
		rd_kafka_message_destroy(rkm);
	}
	if (c->fatal)
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka consumer %s: fatal error", rd_kafka_name(c->rk));
	return 0;
}

int kafka_consumer_commit(struct kafka_consumer *c, const struct kafka_msg *m,
    bool sync, struct err *e)
{
	rd_kafka_resp_err_t re;
	if (m == NULL) {
		re = rd_kafka_commit(c->rk, NULL, !sync);
	} else {
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, m->topic, m->partition)->offset =
		    m->offset + 1;
		re = rd_kafka_commit(c->rk, l, !sync);
		if (re == RD_KAFKA_RESP_ERR_NO_ERROR && sync)
			re = l->elems[0].err;
		rd_kafka_topic_partition_list_destroy(l);
	}
	if (re == RD_KAFKA_RESP_ERR_NO_ERROR || re == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return 0;
	if (m == NULL)
		return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
		    "kafka commit all: %s", rd_kafka_err2str(re));
	return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
	    "kafka commit topic=%s partition=%d offset=%lld: %s", m->topic,
	    (int)m->partition, (long long)m->offset, rd_kafka_err2str(re));
}

int kafka_consumer_close(struct kafka_consumer *c, struct err *e)
{
	if (c->closed || c->rk == NULL)
		return 0;
	c->closed = true;
	rd_kafka_resp_err_t re = rd_kafka_consumer_close(c->rk);
	if (re == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	log_kv(LOG_WARN, "kafka_consumer_close_failed", "client",
	    rd_kafka_name(c->rk), "err", rd_kafka_err2str(re), NULL);
	return err_set(e, APP_ERR_UNAVAILABLE, PUBLIC_MSG,
	    "kafka consumer close: %s", rd_kafka_err2str(re));
}

void kafka_consumer_free(struct kafka_consumer *c)
{
	if (c == NULL)
		return;
	if (!c->closed && c->rk != NULL) {
		struct err e;
		/* A failure is logged by kafka_consumer_close(). */
		if (kafka_consumer_close(c, &e) != 0)
			c->closed = true;
	}
	if (c->rk != NULL)
		rd_kafka_destroy(c->rk);
	for (size_t i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	free(c);
}
