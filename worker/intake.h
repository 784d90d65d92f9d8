/* intake: the worker's Kafka intake, on a thread of its own.
 *
 * report.create messages become jobs in the Redis queue (one pipeline per
 * batch, enqueue is idempotent), then the consumed offsets are committed:
 * at-least-once.  A message Redis could not take is kept, in order, and
 * tried again; nothing after it is committed meanwhile.  A malformed
 * message is logged (ev=kafka_bad_message) and skipped.
 *
 * The thread has its own Kafka consumer, which reads every partition of
 * report.create without joining a group (kafka_consumer_opts.assign_all;
 * offsets committed to WORKER_GROUP), so no worker starting or stopping
 * ever stalls another's intake, and its own Redis connection, so a long
 * turn of the job loop (database writes, a slow tenant) never delays a
 * report's way into the queue.  Each job it creates is logged as ev=job_enqueued with
 * lag_ms, the time from the producer's CreateTime. */
#ifndef WORKER_INTAKE_H
#define WORKER_INTAKE_H

#include <stdbool.h>

#include "cfg.h"

struct intake;

struct intake_stats {
	unsigned long enqueued, duplicates, bad_messages;
};

/* Starts the thread.  wake(arg) is called from it after it created jobs
 * (it must be thread-safe: the worker sets a flag and wakes its loop).
 * Returns NULL (logged) if the thread cannot start.  The consumer and the
 * queue connection are opened by the thread, and reopened after failures. */
struct intake *intake_start(const struct config *c, void (*wake)(void *arg), void *arg)
	__attribute__((warn_unused_result));

/* Stops taking messages, and returns at once: the thread finishes its
 * batch, commits what it enqueued and exits while the caller drains its
 * jobs.  Idempotent. */
void intake_stop(struct intake *in);

/* Counters so far (safe from any thread). */
void intake_stats(const struct intake *in, struct intake_stats *out);

/* Stops, waits for the thread to end, and frees.  NULL is a no-op. */
void intake_free(struct intake *in);

#endif
