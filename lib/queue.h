/* queue: the report job queue on Redis (hiredis).
 *
 * One job per report, id "<tenant>:<report>".  Jobs are enqueued
 * idempotently, may be delayed, are claimed by workers under a lease that
 * expires (a job held by a dead worker is taken over after the lease:
 * stalled-job recovery), carry their attempt count and limit, and end in
 * bounded retention sets.  Every transition is one Lua script run by Redis,
 * so it is atomic with respect to every other client; any number of workers
 * (threads with their own struct queue, processes, hosts) may use one queue.
 *
 * Time is Redis server time (TIME inside the scripts), so workers whose
 * clocks disagree still agree on due times and lease expiry.  All *_ms
 * timestamps below are Unix epoch milliseconds of the Redis server.
 *
 * Key layout, <p> = queue_opts.prefix (QUEUE_PREFIX, default "rq"):
 *
 *   <p>:job:<id>    hash, the job record:
 *                     state         waiting | active | completed | failed
 *                     attempts      claims so far (see "Attempts")
 *                     max_attempts  limit given at enqueue
 *                     payload       the caller's bytes (small JSON)
 *                     created_ms updated_ms due_ms finished_ms
 *                     worker        lease owner (last owner once finished)
 *                     lease_until_ms
 *                     token         fencing token, +1 on every claim
 *                     reason        last retry/failure reason (may be "")
 *                     stalls        how often a lease expired
 *   <p>:due         zset, waiting jobs, score = due_ms
 *   <p>:active      zset, active jobs, score = lease_until_ms
 *   <p>:completed   zset, completed jobs, score = finished_ms
 *   <p>:failed      zset, failed jobs, score = finished_ms
 *   <p>:events      stream, transitions (see "Events")
 *
 * A job id is in at most one of the four sets, the one its state names.
 * The scripts compute job keys from the prefix, so the queue needs a single
 * Redis (or a cluster slot: use a prefix with a hash tag, "{rq}").
 *
 * States and transitions (every one also appends an event):
 *
 *   (none) --enqueue-------------------------------> waiting    "enqueued"
 *   waiting (due_ms <= now) --claim-----------------> active     "claimed"
 *   active (lease_until_ms <= now) --claim----------> active     "stalled" (new
 *                                                    owner, new token)
 *   active --extend (token matches)-----------------> active     (no event)
 *   active --retry (token, attempts < max)----------> waiting    "retry"
 *   active --complete (token matches)---------------> completed  "completed"
 *   active --fail (token matches)-------------------> failed     "failed"
 *   completed | failed --requeue--------------------> waiting    "requeued"
 *   completed | failed --trimmed (retention)--------> (deleted)
 *
 * Enqueue of an existing id changes nothing, whatever its state: a
 * duplicate report.create event cannot re-run a report that is running or
 * finished.  Only queue_requeue() re-opens a finished job, when asked.
 *
 * Leases and fencing.  queue_claim() hands a job out with lease_until_ms and
 * a fresh token.  The holder must finish it (retry, complete, fail) or
 * queue_extend() before the lease ends.  Once the lease has ended, the next
 * queue_claim() by any worker takes the job over with a new token; every
 * later call by the old holder (its token is stale) fails with
 * APP_ERR_CONFLICT ("lost lease") and changes nothing, so the old holder must
 * drop its work without writing results.  A holder whose lease has ended
 * but whom nobody has replaced yet still holds the current token, and its
 * calls succeed: the token, not the clock, decides.
 *
 * Attempts.  Every claim counts one attempt, including the reclaim of a
 * stalled job (a worker that dies on a poison job must not retry it
 * forever).  queue_retry() refuses with APP_ERR_TOO_LARGE when attempts >=
 * max_attempts, and the caller then fails the job.  A stalled job reclaimed
 * when its attempts were already used up is still handed out, with
 * attempts > max_attempts and `exhausted` set: the caller must not do more
 * work but finish it with queue_fail() (so the report is marked FAILED
 * instead of being silently dropped).
 *
 * Concurrency.  There is no per-worker state in Redis: a worker's limit is
 * the `max` it passes to queue_claim(), i.e. its limit minus the jobs it
 * currently holds.
 *
 * Retention.  completed and failed keep the newest keep_completed /
 * keep_failed jobs (QUEUE_KEEP_COMPLETED, QUEUE_KEEP_FAILED); the finishing
 * script trims the oldest beyond that and deletes their hashes.  After
 * trimming, an id is unknown again and could be enqueued anew.
 *
 * Events.  <p>:events gets one entry per transition, XADD MAXLEN ~ events_max
 * (QUEUE_EVENTS_MAX; "~" lets Redis trim whole nodes, so the length may
 * exceed events_max by up to stream-node-max-entries, 100 by default).
 * Fields: ev (enqueued, claimed, stalled, retry, completed, failed,
 * requeued), job, attempt, worker (claims and finishes), due_ms (enqueue,
 * retry, requeue), reason (retry, fail).  Read with queue_events_read() or
 * `redis-cli XREAD BLOCK 0 STREAMS <p>:events $` for log tailing.
 *
 * Errors and connections.  A struct queue owns one hiredis connection and is
 * not thread-safe (one per thread).  Every function returns 0 or a negative
 * enum app_err and fills e.  Any Redis failure is APP_ERR_UNAVAILABLE with the
 * Redis text in e->detail.  After a transport error (timeout, reset,
 * protocol) the connection is dropped; the next call reconnects by itself,
 * but not before a backoff (100 ms doubling to 5 s) has passed since the last
 * failed attempt — until then calls fail at once with APP_ERR_UNAVAILABLE, so
 * a worker looping during an outage does not hammer Redis.  An error reply
 * (OOM, READONLY, ...) keeps the connection.  Scripts are loaded with SCRIPT
 * LOAD on connect and run with EVALSHA; a NOSCRIPT reply (Redis restarted
 * or SCRIPT FLUSH) is answered by EVAL of the text, transparently.  A call
 * that failed with APP_ERR_UNAVAILABLE may or may not have been applied (the
 * reply can be lost): every operation is safe to repeat (enqueue is
 * idempotent; retry/complete/fail repeated with the same token answer
 * APP_ERR_CONFLICT once applied, which the caller treats as "lease gone"). */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct config;

enum {
	QUEUE_ID_MAX = 200,		/* bytes of a job id */
	QUEUE_PAYLOAD_MAX = 2048,	/* bytes of a payload */
	QUEUE_WORKER_MAX = 64,		/* bytes of a worker id */
	QUEUE_REASON_MAX = 256,		/* bytes of a reason (longer: truncated) */
	QUEUE_PREFIX_MAX = 64,		/* bytes of a key prefix */
	QUEUE_CLAIM_MAX = 1000,		/* most jobs one queue_claim() hands out */
	QUEUE_EVENT_ID_MAX = 48,	/* "1700000000000-12" + NUL, with room */
	QUEUE_EVENT_NAME_MAX = 16,
	QUEUE_BATCH_MAX = 1024,		/* most ops one queue_run() takes */
};

/* Largest delay_ms / lease_ms any function accepts (a year). */
#define QUEUE_DELAY_MAX_MS ((int64_t)366 * 24 * 3600 * 1000)

enum queue_state {
	QUEUE_WAITING,		/* in <p>:due (delayed while due_ms > now) */
	QUEUE_ACTIVE,		/* in <p>:active, held under a lease */
	QUEUE_COMPLETED,	/* in <p>:completed */
	QUEUE_FAILED,		/* in <p>:failed */
};

/* "waiting", "active", "completed", "failed". */
const char *queue_state_name(enum queue_state s);

struct queue_opts {
	const char *redis_url;	/* redis://[:pw@]host[:port][/db] */
	const char *prefix;	/* key prefix, 1..QUEUE_PREFIX_MAX bytes */
	int timeout_ms;		/* connect and command timeout, >= 1 */
	int keep_completed;	/* retention of <p>:completed, >= 0 */
	int keep_failed;	/* retention of <p>:failed, >= 0 */
	int events_max;		/* approximate cap of <p>:events, >= 1 */
};

/* Fills o from the configuration (REDIS_URL, QUEUE_PREFIX, DEP_TIMEOUT_MS,
 * QUEUE_KEEP_COMPLETED, QUEUE_KEEP_FAILED, QUEUE_EVENTS_MAX); c NULL: the
 * built-in defaults (redis://127.0.0.1:6379/0, "rq", 1000, 1000, 5000,
 * 10000).  Strings point into c (or static storage). */
void queue_opts_init(struct queue_opts *o, const struct config *c);

/* A job as read from Redis.  Plain data, owned by the caller. */
struct queue_job {
	char id[QUEUE_ID_MAX + 1];
	char payload[QUEUE_PAYLOAD_MAX + 1];
	size_t payload_len;
	enum queue_state state;
	int attempts;		/* claims so far, this one included */
	int max_attempts;
	int64_t token;		/* fencing token of the current claim */
	int64_t created_ms, updated_ms;
	int64_t due_ms;		/* waiting: when it becomes claimable */
	int64_t lease_until_ms;	/* active: when the lease ends */
	int64_t finished_ms;	/* completed/failed: when; else 0 */
	int stalls;		/* leases that expired so far */
	char worker[QUEUE_WORKER_MAX + 1];	/* owner / last owner, or "" */
	char reason[QUEUE_REASON_MAX + 1];	/* last retry/fail reason */
	bool stalled;		/* queue_claim(): taken over from an expired lease */
	bool exhausted;		/* queue_claim(): attempts > max_attempts, fail it */
};

struct queue_counts {
	long long waiting;	/* due now (due_ms <= now) */
	long long delayed;	/* waiting with due_ms > now */
	long long active;	/* held, lease running or expired */
	long long stalled;	/* active with an expired lease (subset of active) */
	long long completed;	/* retained */
	long long failed;	/* retained */
};

struct queue_event {
	char id[QUEUE_EVENT_ID_MAX];		/* stream entry id */
	char ev[QUEUE_EVENT_NAME_MAX];		/* enqueued, claimed, ... */
	char job[QUEUE_ID_MAX + 1];
	int attempt;
	char worker[QUEUE_WORKER_MAX + 1];	/* "" when not applicable */
	char reason[QUEUE_REASON_MAX + 1];	/* "" when not applicable */
};

struct queue;

/* Validates o (APP_ERR_BAD_INPUT), connects and loads the scripts
 * (APP_ERR_UNAVAILABLE when Redis cannot be reached within timeout_ms).
 * Returns the queue, or NULL with e filled.  o's strings are copied. */
struct queue *queue_new(const struct queue_opts *o, struct err *e)
	__attribute__((warn_unused_result));

/* Closes the connection and frees q; NULL is a no-op.  Jobs held by this
 * process keep their leases and are recovered by others when they end. */
void queue_free(struct queue *q);

/* Creates job id (1..QUEUE_ID_MAX printable non-space bytes) with payload
 * (<= QUEUE_PAYLOAD_MAX bytes, no NUL), due after delay_ms (0..QUEUE_DELAY_MAX_MS), allowed
 * max_attempts (>= 1) claims.  If the id exists in any state nothing changes
 * and *created is false; else *created is true.  created may be NULL.
 * Returns 0, APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_enqueue(struct queue *q, const char *id, const char *payload,
    int64_t delay_ms, int max_attempts, bool *created, struct err *e)
	__attribute__((warn_unused_result));

/* Claims for worker_id (1..QUEUE_WORKER_MAX printable non-space bytes) up to
 * max (1..QUEUE_CLAIM_MAX) jobs: first active jobs whose lease has ended
 * (stalled; oldest expiry first), then waiting jobs with due_ms <= now
 * (earliest first).  Each gets state active, attempts + 1, token + 1,
 * worker = worker_id, lease_until_ms = now + lease_ms (1..QUEUE_DELAY_MAX_MS).
 * out[max] receives them and *n their number (0 when nothing is due).
 * Returns 0, APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE (*n is then 0; if the
 * reply was lost the jobs stay active and are recovered after the lease). */
int queue_claim(struct queue *q, const char *worker_id, size_t max,
    int64_t lease_ms, struct queue_job *out, size_t *n, struct err *e)
	__attribute__((warn_unused_result));

/* Extends the lease of job (id and token from the claim) to now + lease_ms
 * and updates job->lease_until_ms.  Returns 0, APP_ERR_CONFLICT (lost lease:
 * the job was reclaimed or finished, or is unknown), APP_ERR_BAD_INPUT or
 * APP_ERR_UNAVAILABLE. */
int queue_extend(struct queue *q, struct queue_job *job, int64_t lease_ms,
    struct err *e) __attribute__((warn_unused_result));

/* Puts job back to waiting, due at now + delay_ms, keeping its attempts;
 * reason (may be NULL) is stored and put in the event.  Returns 0 (then
 * job->state and job->due_ms are updated), APP_ERR_TOO_LARGE when attempts
 * >= max_attempts (nothing changes: fail the job instead), APP_ERR_CONFLICT
 * (lost lease), APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_retry(struct queue *q, struct queue_job *job, int64_t delay_ms,
    const char *reason, struct err *e) __attribute__((warn_unused_result));

/* Moves job to completed and trims the retention set.  Returns 0,
 * APP_ERR_CONFLICT (lost lease), APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_complete(struct queue *q, struct queue_job *job, struct err *e)
	__attribute__((warn_unused_result));

/* Moves job to failed with reason (may be NULL) and trims the retention
 * set.  Returns 0, APP_ERR_CONFLICT (lost lease), APP_ERR_BAD_INPUT or
 * APP_ERR_UNAVAILABLE. */
int queue_fail(struct queue *q, struct queue_job *job, const char *reason,
    struct err *e) __attribute__((warn_unused_result));

/* ---- batches: many of the four calls above in one round trip ----------- */

enum queue_op_kind {
	QUEUE_OP_ENQUEUE,	/* as queue_enqueue() */
	QUEUE_OP_RETRY,		/* as queue_retry() */
	QUEUE_OP_COMPLETE,	/* as queue_complete() */
	QUEUE_OP_FAIL,		/* as queue_fail() */
};

/* One operation of queue_run().  Inputs as for the single functions;
 * rc/e/created are outputs. */
struct queue_op {
	enum queue_op_kind kind;
	/* QUEUE_OP_ENQUEUE */
	const char *id;
	const char *payload;
	int max_attempts;
	bool created;			/* out */
	/* QUEUE_OP_RETRY, _COMPLETE, _FAIL: the job (id, token); updated as
	 * the single call updates it */
	struct queue_job *job;
	/* ENQUEUE and RETRY */
	int64_t delay_ms;
	/* RETRY and FAIL (may be NULL) */
	const char *reason;
	/* out */
	int rc;
	struct err e;
};

/* Runs ops[0..n) (n <= QUEUE_BATCH_MAX) pipelined: one round trip for
 * all.  Each op gets the rc (and e) its single function would have
 * returned; ops are applied by Redis in order, each atomically (not the
 * batch as a whole).  A transport failure fails every op without a reply
 * with APP_ERR_UNAVAILABLE (they may or may not have been applied, like a
 * single call).  Returns 0 when every op has rc 0, else the rc of the first
 * op that failed.
 *
 * An invalid op (APP_ERR_BAD_INPUT) fails alone and is not sent; n >
 * QUEUE_BATCH_MAX fails every op with APP_ERR_BAD_INPUT.  The strings and
 * jobs the ops point to must stay valid during the call.  An op answered
 * NOSCRIPT is run again with EVAL after the replies of the whole batch: if
 * the script cache is flushed while a batch runs and another client loads
 * the scripts again meanwhile, such an op is applied after later ops of the
 * batch.  The pipeline is written before any reply is read, so a large
 * batch can meet a closed connection mid-write: the process must ignore
 * SIGPIPE (proc.c does). */
int queue_run(struct queue *q, struct queue_op *ops, size_t n);

/* Re-opens a completed or failed job: waiting, due after delay_ms, attempts
 * 0, max_attempts replaced when > 0.  Returns 0, APP_ERR_NOT_FOUND (unknown
 * or trimmed id), APP_ERR_CONFLICT (waiting or active: nothing changes),
 * APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_requeue(struct queue *q, const char *id, int64_t delay_ms,
    int max_attempts, struct err *e) __attribute__((warn_unused_result));

/* Reads job id into out (stalled/exhausted false).  Returns 0,
 * APP_ERR_NOT_FOUND, APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_get(struct queue *q, const char *id, struct queue_job *out,
    struct err *e) __attribute__((warn_unused_result));

/* Counts by state, in one atomic read.  Returns 0 or APP_ERR_UNAVAILABLE. */
int queue_counts(struct queue *q, struct queue_counts *out, struct err *e)
	__attribute__((warn_unused_result));

/* *ms = milliseconds until the next job becomes claimable (a waiting job's
 * due time or an active job's lease end), 0 if one is claimable now, -1 if
 * the queue holds no waiting or active job.  A worker sleeps
 * min(*ms, poll interval) (or the poll interval when -1) before claiming
 * again.  Returns 0 or APP_ERR_UNAVAILABLE. */
int queue_next_due_ms(struct queue *q, int64_t *ms, struct err *e)
	__attribute__((warn_unused_result));

/* Reads up to max events after stream id after ("0" or "" from the start;
 * the id of the last event read to continue) into out, oldest first; *n
 * gets their number.  Returns 0, APP_ERR_BAD_INPUT or APP_ERR_UNAVAILABLE. */
int queue_events_read(struct queue *q, const char *after, size_t max,
    struct queue_event *out, size_t *n, struct err *e)
	__attribute__((warn_unused_result));

/* ---- retry delays: pure functions, no Redis ---------------------------- */

enum queue_backoff_kind {
	QUEUE_BACKOFF_FIXED,		/* base_ms every time (the original: 10 s) */
	QUEUE_BACKOFF_EXPONENTIAL,	/* base_ms * 2^(attempt-1), capped */
};

struct queue_backoff {
	enum queue_backoff_kind kind;
	int64_t base_ms;		/* >= 0 */
	int64_t cap_ms;			/* exponential: the largest delay (0: none) */
	double jitter;			/* 0..1: the delay is drawn uniformly from
					 * [d * (1 - jitter), d] */
	int64_t retry_after_max_ms;	/* a Retry-After above this is clamped to
					 * it (0: no clamp) */
};

/* The fixed policy of the original service: base_ms, no jitter. */
void queue_backoff_fixed(struct queue_backoff *b, int64_t base_ms);

/* Delay before the retry that follows attempt (>= 1; smaller counts as 1)
 * under b, with rnd (any 32-bit random value, e.g. from crypto_random) as
 * the jitter draw.  retry_after_ms (a provider's Retry-After, -1 if none) is
 * a floor: the result is never smaller (after the clamp).  Never negative;
 * no overflow for any attempt. */
int64_t queue_backoff_delay(const struct queue_backoff *b, int attempt,
    int64_t retry_after_ms, uint32_t rnd);

/* Parses an HTTP Retry-After value, delta-seconds ("120") or an IMF-fixdate
 * ("Wed, 21 Oct 2015 07:28:00 GMT"), into milliseconds from now_epoch_ms
 * (a date in the past gives 0).  Returns 0, or -1 when the value is
 * malformed (*ms untouched). */
int queue_retry_after_parse(const char *value, int64_t now_epoch_ms, int64_t *ms)
	__attribute__((warn_unused_result));

#endif
