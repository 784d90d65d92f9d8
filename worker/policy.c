#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SPEC_MAX = 256 };

void policy_default(struct policy *p)
{
	memset(p, 0, sizeof *p);
	p->timeout_ms = 5000;
	p->retries = 2;
	p->retry_after_max_ms = 10000;
	p->max_conns = 128;
	p->pressure_max_ms = 30000;
	p->backoff.kind = QUEUE_BACKOFF_EXPONENTIAL;
	p->backoff.base_ms = 200;
	p->backoff.cap_ms = 2000;
	p->backoff.jitter = 0.5;
	p->backoff.retry_after_max_ms = 0;
}

static int bad(char *err, size_t errlen, const char *key, const char *why)
{
	int n = snprintf(err, errlen, "%s: %s", key, why);
	(void)n;	/* truncation of a diagnostic is harmless */
	return -1;
}

static int num(const char *v, long lo, long hi, long *out)
{
	char *end = NULL;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

int policy_parse(const char *spec, struct policy *p, char *err, size_t errlen)
{
	char buf[SPEC_MAX];
	size_t n = strlen(spec);
	if (n >= sizeof buf)
		return bad(err, errlen, "policy", "too long");
	memcpy(buf, spec, n + 1);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		if (*item == '\0')
			continue;
		char *eq = strchr(item, '=');
		if (eq == NULL)
			return bad(err, errlen, item, "expected key=value");
		*eq = '\0';
		const char *key = item, *val = eq + 1;
		long x;
		if (strcmp(key, "timeout_ms") == 0) {
			if (num(val, 100, 300000, &x) != 0)
				return bad(err, errlen, key, "must be 100..300000");
			p->timeout_ms = (int)x;
		} else if (strcmp(key, "retries") == 0) {
			if (num(val, 0, 20, &x) != 0)
				return bad(err, errlen, key, "must be 0..20");
			p->retries = (int)x;
		} else if (strcmp(key, "backoff") == 0) {
			if (strcmp(val, "fixed") == 0)
				p->backoff.kind = QUEUE_BACKOFF_FIXED;
			else if (strcmp(val, "exp") == 0)
				p->backoff.kind = QUEUE_BACKOFF_EXPONENTIAL;
			else
				return bad(err, errlen, key, "must be fixed or exp");
		} else if (strcmp(key, "base_ms") == 0) {
			if (num(val, 0, 600000, &x) != 0)
				return bad(err, errlen, key, "must be 0..600000");
			p->backoff.base_ms = x;
		} else if (strcmp(key, "cap_ms") == 0) {
			if (num(val, 0, 3600000, &x) != 0)
				return bad(err, errlen, key, "must be 0..3600000");
			p->backoff.cap_ms = x;
		} else if (strcmp(key, "jitter") == 0) {
			char *end = NULL;
			errno = 0;
			double d = strtod(val, &end);
			if (errno != 0 || end == val || *end != '\0' || !(d >= 0 && d <= 1))
				return bad(err, errlen, key, "must be 0..1");
			p->backoff.jitter = d;
		} else if (strcmp(key, "max_conns") == 0) {
			if (num(val, 1, 10000, &x) != 0)
				return bad(err, errlen, key, "must be 1..10000");
			p->max_conns = (int)x;
		} else if (strcmp(key, "pressure_max_ms") == 0) {
			if (num(val, 0, 3600000, &x) != 0)
				return bad(err, errlen, key, "must be 0..3600000");
			p->pressure_max_ms = x;
		} else if (strcmp(key, "retry_after_max_ms") == 0) {
			if (num(val, 0, 3600000, &x) != 0)
				return bad(err, errlen, key, "must be 0..3600000");
			p->retry_after_max_ms = x;
		} else {
			return bad(err, errlen, key, "unknown key");
		}
	}
	return 0;
}
