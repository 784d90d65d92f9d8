#include "data.h"

#include <string.h>

#include "reportdef.h"

static const char *const names[PROV_N] = {
	[PROV_CREDIT] = REPORT_PROVIDER_CREDIT,
	[PROV_TAX] = REPORT_PROVIDER_TAX,
	[PROV_REGISTRY] = REPORT_PROVIDER_REGISTRY,
};

int prov_by_name(const char *name, size_t len)
{
	for (int i = 0; i < PROV_N; i++)
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return i;
	return -1;
}

const char *prov_name(enum prov_id p)
{
	return names[p];
}

uint64_t prov_hash_init(void)
{
	return 0xcbf29ce484222325ULL;
}

uint64_t prov_hash(uint64_t h, const void *data, size_t n)
{
	const unsigned char *s = data;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t prov_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

double prov_draw(uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = prov_mix(seed ^ prov_mix(a * 0x9e3779b97f4a7c15ULL ^ prov_mix(b)));
	return (double)(x >> 11) / 9007199254740992.0;	/* 2^53 */
}

uint64_t prov_seed(enum prov_id p, const char *taxid, size_t len)
{
	uint64_t h = prov_hash(prov_hash_init(), names[p], strlen(names[p]) + 1);
	return prov_hash(h, taxid, len);
}

/* A deterministic stream of numbers from a seed. */
struct rng { uint64_t s; };

static uint64_t rng_next(struct rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return prov_mix(r->s);
}

/* Uniform in [lo, hi]. */
static long rng_range(struct rng *r, long lo, long hi)
{
	return lo + (long)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* Civil date of days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(long z, int *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long yy = yoe + era * 400;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

enum {
	DAY_2023_01_01 = 19358,		/* days since the epoch */
	DAYS_SPAN = 3 * 365,
	MAX_PROPERTIES = 4,
};

static void credit_json(struct sbuf *sb, struct rng *r)
{
	long score = rng_range(r, 300, 850);
	const char *rating = score >= 750 ? "A" : score >= 670 ? "B" :
	    score >= 580 ? "C" : score >= 500 ? "D" : "E";
	long open = rng_range(r, 0, 15);
	/* Lower scores carry more defaults. */
	long defaults = score >= 700 ? rng_range(r, 0, 1) :
	    score >= 550 ? rng_range(r, 0, 3) : rng_range(r, 1, 6);
	int y, m, d;
	civil_from_days(DAY_2023_01_01 + rng_range(r, 0, DAYS_SPAN - 1), &y, &m, &d);
	sbuf_printf(sb, "{\"score\":%ld,\"rating\":\"%s\",\"openAccounts\":%ld,"
	    "\"defaults\":%ld,\"lastUpdated\":\"%04d-%02d-%02d\"}",
	    score, rating, open, defaults, y, m, d);
}

static void tax_json(struct sbuf *sb, struct rng *r)
{
	static const char *const statuses[] = {
		"COMPLIANT", "COMPLIANT", "COMPLIANT", "PENDING_REVIEW", "DELINQUENT",
	};
	long income = rng_range(r, 120, 5000) * 100;
	long pct = rng_range(r, 8, 35);
	long year = rng_range(r, 2020, 2024);
	const char *status = statuses[rng_range(r, 0, 4)];
	long paid = income * pct / 100;
	if (status[0] == 'D')	/* a delinquent payer paid part of it */
		paid = paid * rng_range(r, 10, 70) / 100;
	sbuf_printf(sb, "{\"declaredIncome\":%ld,\"taxPaid\":%ld,\"year\":%ld,"
	    "\"status\":\"%s\"}", income, paid, year, status);
}

static void registry_json(struct sbuf *sb, struct rng *r)
{
	static const char *const types[] = { "apartment", "house", "land", "commercial" };
	static const char *const cities[] = {
		"Sao Paulo", "Rio de Janeiro", "Lisbon", "Porto", "Madrid",
		"Barcelona", "Buenos Aires", "Santiago", "Bogota", "Lima",
		"Mexico City", "Montevideo",
	};
	static const long lo[] = { 80000, 150000, 20000, 200000 };
	static const long hi[] = { 900000, 2500000, 600000, 5000000 };
	/* 0..MAX_PROPERTIES properties; owning none is the rarer case. */
	static const int count_of[] = { 0, 1, 1, 1, 2, 2, 2, 3, 3, 4 };
	long n = count_of[rng_range(r, 0, (long)(sizeof count_of / sizeof count_of[0]) - 1)];
	long total = 0;
	sbuf_puts(sb, "{\"properties\":[");
	for (long i = 0; i < n; i++) {
		long t = rng_range(r, 0, 3);
		long city = rng_range(r, 0, (long)(sizeof cities / sizeof cities[0]) - 1);
		long value = rng_range(r, lo[t] / 1000, hi[t] / 1000) * 1000;
		unsigned long id = (unsigned long)(rng_next(r) & 0xffffffffUL);
		total += value;
		sbuf_printf(sb, "%s{\"id\":\"PR-%08lX\",\"type\":\"%s\",\"city\":\"%s\","
		    "\"value\":%ld}", i > 0 ? "," : "", id, types[t], cities[city], value);
	}
	sbuf_printf(sb, "],\"totalValue\":%ld}", total);
}

void prov_data_json(struct sbuf *sb, enum prov_id p, const char *taxid,
    size_t len)
{
	struct rng r = { prov_seed(p, taxid, len) };
	switch (p) {
	case PROV_CREDIT:
		credit_json(sb, &r);
		break;
	case PROV_TAX:
		tax_json(sb, &r);
		break;
	case PROV_REGISTRY:
		registry_json(sb, &r);
		break;
	case PROV_N:
		break;
	}
}
