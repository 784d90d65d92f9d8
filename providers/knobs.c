#include "knobs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct prov_knob_name prov_knob_names[PROV_K_N] = {
	[PROV_K_POLLS] = { "polls", "X-Mock-Polls" },
	[PROV_K_LATENCY] = { "latency_ms", "X-Mock-Latency-Ms" },
	[PROV_K_TIMEOUT] = { "timeout_ms", "X-Mock-Timeout-Ms" },
	[PROV_K_RETRY_AFTER] = { "retry_after", "X-Mock-Retry-After" },
	[PROV_K_FAIL] = { "fail_rate", "X-Mock-Fail-Rate" },
	[PROV_K_RATE_LIMIT] = { "rate_limit_rate", "X-Mock-Rate-Limit-Rate" },
	[PROV_K_TIMEOUT_RATE] = { "timeout_rate", "X-Mock-Timeout-Rate" },
	[PROV_K_MALFORMED] = { "malformed_rate", "X-Mock-Malformed-Rate" },
	[PROV_K_NEVER_READY] = { "never_ready", "X-Mock-Never-Ready" },
};

enum { VALUE_MAX = 32 };

static int why_set(char *why, const char *name, const char *msg)
{
	int n = snprintf(why, PROV_KNOB_WHY_MAX, "%s %s", name, msg);
	if (n < 0 || n >= PROV_KNOB_WHY_MAX)
		(void)snprintf(why, PROV_KNOB_WHY_MAX, "bad knob value"); /* fits */
	return -1;
}

static int parse_int(const char *v, long max, int *out)
{
	if (v[0] < '0' || v[0] > '9')
		return -1;
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < 0 || x > max)
		return -1;
	*out = (int)x;
	return 0;
}

static int parse_rate(const char *v, double *out)
{
	if ((v[0] < '0' || v[0] > '9') && v[0] != '.')
		return -1;
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno != 0 || *end != '\0' || !isfinite(x) || x < 0.0 || x > 1.0)
		return -1;
	*out = x;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "yes") == 0 || strcmp(v, "on") == 0)
		*out = true;
	else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "no") == 0 || strcmp(v, "off") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

int prov_knob_set(struct prov_knobs *k, enum prov_knob_id id, const char *text,
    size_t len, char *why)
{
	char v[VALUE_MAX];
	const char *name = prov_knob_names[id].spec;
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0)
		return why_set(why, name, "is empty");
	if (len >= sizeof v)
		return why_set(why, name, "is too long");
	memcpy(v, text, len);
	v[len] = '\0';
	if (memchr(v, '\0', len) != NULL)
		return why_set(why, name, "contains a NUL byte");
	switch (id) {
	case PROV_K_POLLS:
		if (parse_int(v, PROV_KNOB_MAX_POLLS, &k->polls) != 0)
			return why_set(why, name, "must be an integer 0..1000000");
		return 0;
	case PROV_K_LATENCY:
		if (parse_int(v, PROV_KNOB_MAX_MS, &k->latency_ms) != 0)
			return why_set(why, name, "must be an integer 0..300000");
		return 0;
	case PROV_K_TIMEOUT:
		if (parse_int(v, PROV_KNOB_MAX_MS, &k->timeout_ms) != 0)
			return why_set(why, name, "must be an integer 0..300000");
		return 0;
	case PROV_K_RETRY_AFTER:
		if (parse_int(v, PROV_KNOB_MAX_RETRY_AFTER, &k->retry_after) != 0)
			return why_set(why, name, "must be an integer 0..86400");
		return 0;
	case PROV_K_FAIL:
	case PROV_K_RATE_LIMIT:
	case PROV_K_TIMEOUT_RATE:
	case PROV_K_MALFORMED: {
		double *dst = id == PROV_K_FAIL ? &k->fail_rate :
		    id == PROV_K_RATE_LIMIT ? &k->rate_limit_rate :
		    id == PROV_K_TIMEOUT_RATE ? &k->timeout_rate : &k->malformed_rate;
		if (parse_rate(v, dst) != 0)
			return why_set(why, name, "must be a number 0..1");
		return 0;
	}
	case PROV_K_NEVER_READY:
		if (parse_bool(v, &k->never_ready) != 0)
			return why_set(why, name, "must be true or false");
		return 0;
	case PROV_K_N:
		break;
	}
	return why_set(why, name, "is not a knob");
}

int prov_knobs_parse_spec(struct prov_knobs *k, const char *spec, char *why)
{
	const char *p = spec;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		const char *key = p;
		size_t klen = eq != NULL ? (size_t)(eq - p) : n;
		while (klen > 0 && (*key == ' ' || *key == '\t')) {
			key++;
			klen--;
		}
		while (klen > 0 && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
			klen--;
		if (klen == 0 && eq == NULL && end != NULL) {
			(void)snprintf(why, PROV_KNOB_WHY_MAX, "empty item"); /* fits */
			return -1;
		}
		if (klen > 0 || eq != NULL) {
			if (eq == NULL) {
				int m = snprintf(why, PROV_KNOB_WHY_MAX,
				    "item %.*s has no '='", (int)(klen > 40 ? 40 : klen), key);
				if (m < 0 || m >= PROV_KNOB_WHY_MAX)
					(void)snprintf(why, PROV_KNOB_WHY_MAX, "bad item");
				return -1;
			}
			int id = -1;
			for (int i = 0; i < PROV_K_N; i++) {
				if (strlen(prov_knob_names[i].spec) == klen &&
				    memcmp(prov_knob_names[i].spec, key, klen) == 0)
					id = i;
			}
			if (id < 0) {
				int m = snprintf(why, PROV_KNOB_WHY_MAX,
				    "unknown knob '%.*s' (polls, latency_ms, timeout_ms, "
				    "retry_after, fail_rate, rate_limit_rate, timeout_rate, "
				    "malformed_rate, never_ready)",
				    (int)(klen > 40 ? 40 : klen), key);
				if (m < 0 || m >= PROV_KNOB_WHY_MAX)
					(void)snprintf(why, PROV_KNOB_WHY_MAX, "unknown knob");
				return -1;
			}
			if (prov_knob_set(k, (enum prov_knob_id)id, eq + 1,
			    n - (size_t)(eq + 1 - p), why) != 0)
				return -1;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

bool prov_knob_hit(double rate, double x)
{
	if (rate <= 0.0)
		return false;
	if (rate >= 1.0)
		return true;
	return x < rate;
}
