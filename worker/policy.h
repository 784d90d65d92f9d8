/* policy: a provider's call policy, from a compact spec string
 * (WORKER_PROVIDER_POLICY, PROVIDER_POLICY_<NAME>):
 *
 *   timeout_ms=5000,retries=2,backoff=exp,base_ms=200,cap_ms=2000,
 *   jitter=0.5,retry_after_max_ms=10000,max_conns=128,pressure_max_ms=30000
 *
 * timeout_ms bounds one HTTP request; a transient failure (5xx without
 * Retry-After, timeout, connection error or a connection closed without an
 * answer, malformed body) is retried up to `retries` times within the same
 * attempt after backoff (fixed: base_ms; exp: base_ms * 2^(n-1) capped at
 * cap_ms; jitter 0..1 draws the delay from [d*(1-jitter), d]), never sooner
 * than the provider's Retry-After.  A Retry-After longer than
 * retry_after_max_ms ends the provider's attempt instead, and the job's
 * next attempt waits that long.
 *
 * max_conns caps the requests this worker process has open to the provider
 * at once (the provider sees up to max_conns times the number of worker
 * processes); calls beyond it wait their turn in the worker.  Back-pressure
 * (429, or 503 with Retry-After: "over my limit") is not a failure: the
 * call is sent again after the Retry-After (or the backoff), without using
 * one of `retries`, until it has waited pressure_max_ms in all; after that
 * it counts as a transient failure. */
#ifndef WORKER_POLICY_H
#define WORKER_POLICY_H

#include <stddef.h>

#include "queue.h"

struct policy {
	int timeout_ms;			/* 100..300000 */
	int retries;			/* 0..20 */
	int64_t retry_after_max_ms;	/* 0..3600000 */
	int max_conns;			/* 1..10000 */
	int64_t pressure_max_ms;	/* 0..3600000 */
	struct queue_backoff backoff;
};

/* The built-in default. */
void policy_default(struct policy *p);

/* Applies spec ("" changes nothing) on top of p.  Returns 0, or -1 with a
 * one-line reason naming the key in err[errlen]. */
int policy_parse(const char *spec, struct policy *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
