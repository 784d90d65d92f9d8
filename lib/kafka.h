/* kafka: the project's Kafka clients (librdkafka), shared by the FastCGI pool,
 * the worker and the relay.
 *
 * The same code talks to real Kafka (docker-compose) and to the stand-in
 * (tools/kafka-mock.c); only the bootstrap list differs.  Topics are never
 * created here: real Kafka gets them from its deployment, the stand-in
 * creates them itself.
 *
 * Threads: a producer or a consumer is used by ONE thread at a time (the
 * callbacks, log lines included, run inside that thread's calls to this
 * module).  Use one handle per thread, or lock around every call.
 *
 * Logging: librdkafka log and error events become one lib/log.h line each
 * (ev=kafka_log / ev=kafka_error, comp, fac, code, err), emitted while the
 * handle is being served (produce_wait, flush, poll, ping).  Payloads and
 * keys are never logged. */
#ifndef KAFKA_H
#define KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "err.h"

#define KAFKA_TOPIC_CREATE "report.create"
#define KAFKA_TOPIC_PROGRESS "report.progress"
#define KAFKA_TOPIC_READY "report.ready"

/* ---- producer ----------------------------------------------------------- */

/* Idempotent producer (enable.idempotence=true, acks=all), murmur2 key
 * partitioner (same partition as Java and kafkajs clients for a key). */
struct kafka_producer;

struct kafka_producer_opts {
	const char *client_id;		/* NULL: "report-service" */
	int linger_ms;			/* 0: 5; negative: 0 (no batching delay) */
	int message_timeout_ms;		/* 0: 30000; a message not delivered by
					 * then fails for good */
	int socket_timeout_ms;		/* 0: 10000 */
	int close_flush_ms;		/* 0: 2000; flush bound of _free() */
};

/* Producer with default options.  brokers is "host:port[,host:port]" (copied).
 * Returns NULL and fills e (APP_ERR_INTERNAL: bad configuration) on failure.
 * No connection is made yet: an unreachable broker is not an error here. */
struct kafka_producer *kafka_producer_new(const char *brokers, struct err *e)
	__attribute__((warn_unused_result));

/* Same with options (o NULL: defaults; o is not kept). */
struct kafka_producer *kafka_producer_new_opts(const char *brokers,
    const struct kafka_producer_opts *o, struct err *e)
	__attribute__((warn_unused_result));

/* Produces one message (key and payload are copied before returning) and
 * waits up to timeout_ms for ITS delivery report, serving the producer's
 * queue meanwhile.
 * Returns 0 when the broker acknowledged it (acks=all).
 * Returns APP_ERR_UNAVAILABLE (e filled, detail names topic and librdkafka
 * error) on timeout, on delivery failure or when the local queue is full.
 * IMPORTANT: after a timeout the message is still queued and MAY BE DELIVERED
 * LATER (until message_timeout_ms); the caller must treat the event as "not
 * announced", not as "not sent", and consumers must tolerate duplicates.
 * key may be NULL (keylen 0).  Returns APP_ERR_BAD_INPUT for a NULL topic. */
int kafka_produce_wait(struct kafka_producer *p, const char *topic,
    const void *key, size_t keylen, const void *payload, size_t len,
    int timeout_ms, struct err *e) __attribute__((warn_unused_result));

/* Fire and forget: queues one message (copied) and returns at once.
 * Returns 0 when queued (a later delivery failure is only logged, as
 * ev=kafka_delivery_failed), APP_ERR_UNAVAILABLE when the local queue is
 * full or the producer failed. */
int kafka_produce(struct kafka_producer *p, const char *topic,
    const void *key, size_t keylen, const void *payload, size_t len,
    struct err *e) __attribute__((warn_unused_result));

/* Serves delivery reports and log events for up to timeout_ms (0: do not
 * block).  Call it now and then on an idle producer.  Returns the number of
 * events served. */
int kafka_producer_poll(struct kafka_producer *p, int timeout_ms);

/* Waits up to timeout_ms for every queued message.  Returns 0, or
 * APP_ERR_UNAVAILABLE if messages are still outstanding. */
int kafka_producer_flush(struct kafka_producer *p, int timeout_ms)
	__attribute__((warn_unused_result));

/* Messages queued or in flight, not yet reported. */
int kafka_producer_outq_len(const struct kafka_producer *p);

/* Health probe for /healthz: a metadata request for report.create with a
 * timeout of timeout_ms.  Returns 0 when a broker answered and the topic has
 * partitions, APP_ERR_UNAVAILABLE otherwise (e filled). */
int kafka_ping(struct kafka_producer *p, int timeout_ms, struct err *e)
	__attribute__((warn_unused_result));

/* Looks up topic's partitions and leaders now (a metadata request bounded
 * by timeout_ms), so that the first message produced to it does not wait
 * for that (hundreds of milliseconds against the stand-in).  Returns 0, or
 * APP_ERR_UNAVAILABLE (e filled): the broker did not answer; producing
 * still works later. */
int kafka_producer_warm(struct kafka_producer *p, const char *topic, int timeout_ms,
    struct err *e) __attribute__((warn_unused_result));

/* Flushes for at most close_flush_ms, logs how many messages were still
 * outstanding (ev=kafka_producer_unflushed; they are dropped), destroys the
 * handle and frees p.  NULL is a no-op. */
void kafka_producer_free(struct kafka_producer *p);

/* ---- consumer ----------------------------------------------------------- */

/* Group consumer, at-least-once: enable.auto.commit=false, the caller commits
 * after processing with kafka_consumer_commit(). */
struct kafka_consumer;

struct kafka_consumer_opts {
	const char *client_id;		/* NULL: "report-service" */
	const char *auto_offset_reset;	/* "earliest" or "latest"; NULL: earliest */
	/* Must be identical on every client of the stand-in (mixed timeouts
	 * hung a group); fill them from cfg() with kafka_consumer_opts_init(). */
	int session_timeout_ms;		/* 0: 6000 */
	int heartbeat_ms;		/* 0: 1000 */
	int fetch_wait_ms;		/* 0: 10 (latency of an idle consumer) */
	/* No group membership: the consumer assigns itself every partition of
	 * the topics (from the group's committed offsets) and never
	 * rebalances, so consumers coming and going never stall it; every
	 * such consumer of the group reads every message, which the caller
	 * must tolerate (idempotent processing).  Commits still go to group_id
	 * (which must not also have subscribed members). */
	bool assign_all;
};

/* Fills o from c (KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_MS,
 * KAFKA_FETCH_WAIT_MS; c NULL: built-in defaults) with the given
 * auto_offset_reset (a string literal; NULL: "earliest"). */
void kafka_consumer_opts_init(struct kafka_consumer_opts *o,
    const struct config *c, const char *auto_offset_reset);

/* Creates a consumer in group_id subscribed to topics[0..n) (with
 * assign_all: assigned every partition of them, which needs the broker now:
 * APP_ERR_UNAVAILABLE if it does not answer).  Every change of its
 * partitions is logged: ev=kafka_assigned / ev=kafka_revoked with protocol
 * (eager, or all for assign_all), moved and held.  Strings are
 * copied.  o NULL: defaults.  Returns NULL and fills e on failure
 * (APP_ERR_BAD_INPUT: bad arguments or options, APP_ERR_INTERNAL: librdkafka
 * refused the configuration or the subscription). */
struct kafka_consumer *kafka_consumer_new(const char *brokers,
    const char *group_id, const char *const topics[], size_t n,
    const struct kafka_consumer_opts *o, struct err *e)
	__attribute__((warn_unused_result));

/* One consumed message.  Everything is COPIED into one allocation owned by
 * the caller, independent of the consumer: release it with kafka_msg_free().
 * key and payload are also NUL-terminated (the NUL is not counted). */
struct kafka_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms;		/* -1 if the broker gave none */
	const char *key;		/* NULL if the message had no key */
	size_t key_len;
	const char *payload;		/* never NULL ("" if empty) */
	size_t len;
};

void kafka_msg_free(struct kafka_msg *m);

/* Waits up to timeout_ms for the next message.  Returns 0 with *out set to
 * a message (caller frees) or to NULL when none came in time; transient
 * errors (broker down, rebalance) are logged and count as "none".  Returns
 * APP_ERR_UNAVAILABLE (e filled, *out NULL) on a fatal consumer error; the
 * consumer should then be freed and created again. */
int kafka_consumer_poll(struct kafka_consumer *c, int timeout_ms,
    struct kafka_msg **out, struct err *e) __attribute__((warn_unused_result));

/* Commits m's offset + 1 for m's partition (m NULL: the positions of every
 * message returned by poll so far).  sync true waits for the broker's
 * answer.  Returns 0 (also when there was nothing to commit), or
 * APP_ERR_UNAVAILABLE (e filled): the commit failed (broker down, partition
 * rebalanced away) and the messages will be delivered again.  An async
 * commit's failure is only logged. */
int kafka_consumer_commit(struct kafka_consumer *c, const struct kafka_msg *m,
    bool sync, struct err *e) __attribute__((warn_unused_result));

/* Leaves the group (uncommitted messages will be redelivered to the group).
 * Returns 0 or APP_ERR_UNAVAILABLE (logged and filled into e).  Idempotent. */
int kafka_consumer_close(struct kafka_consumer *c, struct err *e)
	__attribute__((warn_unused_result));

/* Closes (if not closed yet, errors logged) and frees c.  NULL is a no-op. */
void kafka_consumer_free(struct kafka_consumer *c);

#endif
