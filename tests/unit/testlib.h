/* testlib: the tiny unit-test runner.  One executable per module; each case
 * is a function registered in a table; CHECK macros print both values and
 * mark the case failed; main() prints "N passed, N failed" and exits non-zero
 * on any failure.
 *
 *   static void t_basic(void) { CHECK_INT_EQ(1 + 1, 2); }
 *   TEST_MAIN({ "basic", t_basic })
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		test_failed_checks++; \
	} } while (0)

#define CHECK_INT_EQ(a, b) do { \
	long long va_ = (long long)(a), vb_ = (long long)(b); \
	if (va_ != vb_) { \
		fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", \
		    __FILE__, __LINE__, #a, #b, va_, vb_); \
		test_failed_checks++; \
	} } while (0)

#define CHECK_STR_EQ(a, b) do { \
	const char *sa_ = (a), *sb_ = (b); \
	if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) { \
		fprintf(stderr, "  %s:%d: %s == %s failed:\n    got:  %s\n    want: %s\n", \
		    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
		test_failed_checks++; \
	} } while (0)

#define CHECK_MEM_EQ(a, b, n) do { \
	if (memcmp((a), (b), (n)) != 0) { \
		fprintf(stderr, "  %s:%d: memcmp(%s, %s, %s) failed\n", \
		    __FILE__, __LINE__, #a, #b, #n); \
		test_failed_checks++; \
	} } while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

static inline int test_run(const char *prog, const struct test_case *cases, size_t n)
{
	int passed = 0, failed = 0;
	const char *only = getenv("TEST_ONLY");
	for (size_t i = 0; i < n; i++) {
		if (only != NULL && strcmp(only, cases[i].name) != 0)
			continue;
		int before = test_failed_checks;
		cases[i].fn();
		if (test_failed_checks == before) {
			passed++;
			printf("ok   %s/%s\n", prog, cases[i].name);
		} else {
			failed++;
			printf("FAIL %s/%s\n", prog, cases[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

#define TEST_MAIN(...) \
	int main(int argc, char **argv) { \
		static const struct test_case cases_[] = { __VA_ARGS__ }; \
		const char *p_ = strrchr(argv[0], '/'); \
		(void)argc; \
		return test_run(p_ ? p_ + 1 : argv[0], cases_, \
		    sizeof cases_ / sizeof cases_[0]); \
	}

#endif
