/* prov_knobs: the behaviour knobs of a mock provider (latency, polls before
 * ready, injected failures) and their two textual forms: the spec string of
 * the PROVIDER_<NAME> settings ("polls=2,latency_ms=50,fail_rate=0.1") and
 * the X-Mock-* request headers.  providers/README.md documents both. */
#ifndef PROV_KNOBS_H
#define PROV_KNOBS_H

#include <stdbool.h>
#include <stddef.h>

enum {
	PROV_KNOB_MAX_POLLS = 1000000,
	PROV_KNOB_MAX_MS = 300000,		/* latency_ms and timeout_ms */
	PROV_KNOB_MAX_RETRY_AFTER = 86400,
	PROV_KNOB_WHY_MAX = 160,
};

struct prov_knobs {
	int polls;		/* processing answers before completed */
	int latency_ms;		/* delay before every answer */
	int timeout_ms;		/* hang of a request picked by timeout_rate */
	int retry_after;	/* seconds, in Retry-After */
	double fail_rate;	/* share of 5xx answers, 0..1 */
	double rate_limit_rate;	/* share of 429 answers, 0..1 */
	double timeout_rate;	/* share of hanging requests (then 504), 0..1 */
	double malformed_rate;	/* share of 200 answers with a broken body */
	bool never_ready;	/* polls answer processing forever */
};

/* What a knob is called in each form. */
struct prov_knob_name {
	const char *spec;	/* key in the spec string */
	const char *header;	/* request header */
};

enum prov_knob_id {
	PROV_K_POLLS, PROV_K_LATENCY, PROV_K_TIMEOUT, PROV_K_RETRY_AFTER,
	PROV_K_FAIL, PROV_K_RATE_LIMIT, PROV_K_TIMEOUT_RATE, PROV_K_MALFORMED,
	PROV_K_NEVER_READY, PROV_K_N
};

extern const struct prov_knob_name prov_knob_names[PROV_K_N];

/* Sets knob id of k from text.  Returns 0, or -1 with a short public reason
 * in why[PROV_KNOB_WHY_MAX] (the value is not echoed); k is unchanged then. */
int prov_knob_set(struct prov_knobs *k, enum prov_knob_id id, const char *text,
    size_t len, char *why) __attribute__((warn_unused_result));

/* Applies a spec string "key=value[,key=value...]" (spaces around items
 * allowed, "" is no change) on top of k.  Returns 0, or -1 with the reason
 * in why (k may be partly changed then; callers stop at start-up). */
int prov_knobs_parse_spec(struct prov_knobs *k, const char *spec, char *why)
	__attribute__((warn_unused_result));

/* True if a draw x in [0,1) falls in the share rate (rate 0: never, 1: always). */
bool prov_knob_hit(double rate, double x);

#endif
