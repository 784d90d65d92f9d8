/* policy: a provider's retry policy, from a compact spec string
 * (WORKER_PROVIDER_POLICY, PROVIDER_POLICY_<NAME>):
 *
 *   timeout_ms=5000,retries=2,backoff=exp,base_ms=200,cap_ms=2000,
 *   jitter=0.5,retry_after_max_ms=10000
 *
 * timeout_ms bounds one HTTP request; a transient failure (5xx, 429,
 * timeout, connection error, malformed body) is retried up to `retries`
 * times within the same attempt after backoff (fixed: base_ms; exp:
 * base_ms * 2^(n-1) capped at cap_ms; jitter 0..1 draws the delay from
 * [d*(1-jitter), d]), never sooner than the provider's Retry-After.  A
 * Retry-After longer than retry_after_max_ms ends the provider's attempt
 * instead, and the job's next attempt waits that long. */
#ifndef WORKER_POLICY_H
#define WORKER_POLICY_H

#include <stddef.h>

#include "queue.h"

struct policy {
	int timeout_ms;			/* 100..300000 */
	int retries;			/* 0..20 */
	int64_t retry_after_max_ms;	/* 0..3600000 */
	struct queue_backoff backoff;
};

/* The built-in default. */
void policy_default(struct policy *p);

/* Applies spec ("" changes nothing) on top of p.  Returns 0, or -1 with a
 * one-line reason naming the key in err[errlen]. */
int policy_parse(const char *spec, struct policy *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
