/* Unit tests of the pure parts of lib/queue: retry delays and Retry-After. */
#include <stdint.h>

#include "queue.h"
#include "testlib.h"

static void t_fixed_is_the_original(void)
{
	struct queue_backoff b;
	queue_backoff_fixed(&b, 10000);
	static const int attempts[] = { -5, 0, 1, 2, 10, 30, 1000, 2147483647 };
	for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
		CHECK_INT_EQ(queue_backoff_delay(&b, attempts[i], -1, 0), 10000);
		CHECK_INT_EQ(queue_backoff_delay(&b, attempts[i], -1, UINT32_MAX), 10000);
	}
}

static void t_exponential_doubles_to_cap(void)
{
	struct queue_backoff b = { QUEUE_BACKOFF_EXPONENTIAL, 500, 60000, 0.0, 0 };
	static const struct {
		int attempt;
		int64_t want;
	} cases[] = {
		{ 1, 500 }, { 2, 1000 }, { 3, 2000 }, { 4, 4000 }, { 7, 32000 },
		{ 8, 60000 }, { 9, 60000 }, { 63, 60000 }, { 64, 60000 },
		{ 2147483647, 60000 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT_EQ(queue_backoff_delay(&b, cases[i].attempt, -1, 12345),
		    cases[i].want);
}

static void t_exponential_without_cap_never_overflows(void)
{
	struct queue_backoff b = { QUEUE_BACKOFF_EXPONENTIAL, INT64_MAX, 0, 1.0, 0 };
	for (int a = 1; a < 200; a++) {
		int64_t d = queue_backoff_delay(&b, a, -1, UINT32_MAX);
		CHECK(d >= 0);
	}
	struct queue_backoff z = { QUEUE_BACKOFF_EXPONENTIAL, 0, 0, 0.5, 0 };
	CHECK_INT_EQ(queue_backoff_delay(&z, 40, -1, 7), 0);
	struct queue_backoff neg = { QUEUE_BACKOFF_EXPONENTIAL, -10, 100, 0.0, 0 };
	CHECK_INT_EQ(queue_backoff_delay(&neg, 3, -1, 7), 0);
}

static void t_jitter_bounds(void)
{
	struct queue_backoff b = { QUEUE_BACKOFF_EXPONENTIAL, 1000, 8000, 0.5, 0 };
	/* attempt 3: d = 4000, drawn from [2000, 4000] */
	CHECK_INT_EQ(queue_backoff_delay(&b, 3, -1, 0), 4000);
	int64_t lo = queue_backoff_delay(&b, 3, -1, UINT32_MAX);
	CHECK(lo >= 2000 && lo <= 2001);
	CHECK_INT_EQ(queue_backoff_delay(&b, 3, -1, 0x80000000u), 3000);
	uint32_t x = 2463534242u;	/* xorshift32 draws */
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		int64_t d = queue_backoff_delay(&b, 1 + i % 6, -1, x);
		int64_t full = 1000LL << (i % 6);
		if (full > 8000)
			full = 8000;
		CHECK(d >= full / 2 && d <= full);
	}
	/* jitter outside [0, 1] is clamped */
	struct queue_backoff wild = { QUEUE_BACKOFF_FIXED, 1000, 0, 7.0, 0 };
	int64_t d = queue_backoff_delay(&wild, 1, -1, UINT32_MAX);
	CHECK(d >= 0 && d <= 1);
	wild.jitter = -3.0;
	CHECK_INT_EQ(queue_backoff_delay(&wild, 1, -1, UINT32_MAX), 1000);
}

static void t_retry_after_is_a_floor(void)
{
	struct queue_backoff b = { QUEUE_BACKOFF_EXPONENTIAL, 1000, 8000, 0.5, 0 };
	CHECK_INT_EQ(queue_backoff_delay(&b, 1, 5000, 0), 5000);	/* above */
	CHECK_INT_EQ(queue_backoff_delay(&b, 3, 100, 0), 4000);	/* below */
	CHECK_INT_EQ(queue_backoff_delay(&b, 10, 120000, 0), 120000);	/* above cap */
	CHECK_INT_EQ(queue_backoff_delay(&b, 1, 0, UINT32_MAX), 501);
	struct queue_backoff f;
	queue_backoff_fixed(&f, 10000);
	CHECK_INT_EQ(queue_backoff_delay(&f, 1, 30000, 0), 30000);
	CHECK_INT_EQ(queue_backoff_delay(&f, 1, 2000, 0), 10000);
	/* a hostile Retry-After is clamped when a clamp is set */
	f.retry_after_max_ms = 60000;
	CHECK_INT_EQ(queue_backoff_delay(&f, 1, INT64_MAX, 0), 60000);
	f.retry_after_max_ms = 0;
	CHECK(queue_backoff_delay(&f, 1, INT64_MAX, 0) > 0);
}

static void t_retry_after_parse(void)
{
	/* 2015-10-21T07:28:00Z = 1445412480 */
	const int64_t now = 1445412480000LL;
	static const struct {
		const char *in;
		int rc;
		int64_t ms;
	} cases[] = {
		{ "120", 0, 120000 },
		{ " 0 ", 0, 0 },
		{ "999999999999", 0, 999999999999000LL },
		{ "Wed, 21 Oct 2015 07:28:10 GMT", 0, 10000 },
		{ "Wed, 21 Oct 2015 07:27:00 GMT", 0, 0 },	/* past */
		{ "Thu, 01 Jan 1970 00:00:00 GMT", 0, 0 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 0, 0 },
		{ "Thu, 29 Feb 2024 12:00:00 GMT", 0, 1709208000000LL - now },
		{ "", -1, 0 },
		{ "   ", -1, 0 },
		{ "-5", -1, 0 },
		{ "1.5", -1, 0 },
		{ "12a", -1, 0 },
		{ "9999999999999", -1, 0 },
		{ "Wed, 21 Oct 2015 07:28:00 UTC", -1, 0 },
		{ "Wed, 21 Foo 2015 07:28:00 GMT", -1, 0 },
		{ "Xyz, 21 Oct 2015 07:28:00 GMT", -1, 0 },
		{ "Wed, 32 Oct 2015 07:28:00 GMT", -1, 0 },
		{ "Wed, 21 Oct 2015 24:28:00 GMT", -1, 0 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT extra", -1, 0 },
		{ "Wednesday, 21-Oct-15 07:28:00 GMT", -1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t ms = -42;
		int rc = queue_retry_after_parse(cases[i].in, now, &ms);
		if (rc != cases[i].rc)
			fprintf(stderr, "  case %s\n", cases[i].in);
		CHECK_INT_EQ(rc, cases[i].rc);
		CHECK_INT_EQ(ms, cases[i].rc == 0 ? cases[i].ms : -42);
	}
	int64_t ms = 0;
	CHECK_INT_EQ(queue_retry_after_parse(NULL, now, &ms), -1);
}

static void t_state_names(void)
{
	CHECK_STR_EQ(queue_state_name(QUEUE_WAITING), "waiting");
	CHECK_STR_EQ(queue_state_name(QUEUE_ACTIVE), "active");
	CHECK_STR_EQ(queue_state_name(QUEUE_COMPLETED), "completed");
	CHECK_STR_EQ(queue_state_name(QUEUE_FAILED), "failed");
	CHECK_STR_EQ(queue_state_name((enum queue_state)99), "unknown");
}

static void t_opts_defaults(void)
{
	struct queue_opts o;
	queue_opts_init(&o, NULL);
	CHECK_STR_EQ(o.prefix, "rq");
	CHECK_INT_EQ(o.keep_completed, 1000);
	CHECK_INT_EQ(o.keep_failed, 5000);
	CHECK_INT_EQ(o.events_max, 10000);
	/* bad options are refused before any connection attempt */
	struct err e;
	err_clear(&e);
	o.prefix = "has space";
	CHECK(queue_new(&o, &e) == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_BAD_INPUT);
	o.prefix = "rq";
	o.redis_url = "http://x";
	CHECK(queue_new(&o, &e) == NULL);
	CHECK_INT_EQ(e.code, APP_ERR_BAD_INPUT);
}

TEST_MAIN(
	{ "fixed_is_the_original", t_fixed_is_the_original },
	{ "exponential_doubles_to_cap", t_exponential_doubles_to_cap },
	{ "exponential_without_cap_never_overflows",
	  t_exponential_without_cap_never_overflows },
	{ "jitter_bounds", t_jitter_bounds },
	{ "retry_after_is_a_floor", t_retry_after_is_a_floor },
	{ "retry_after_parse", t_retry_after_parse },
	{ "state_names", t_state_names },
	{ "opts_defaults", t_opts_defaults },
)
