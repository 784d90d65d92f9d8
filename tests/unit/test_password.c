#include <string.h>
#include <time.h>

#include "password.h"
#include "testlib.h"

static void t_hash_format_and_verify(void)
{
	char h[PASSWORD_HASH_MAX];
	struct err e;
	CHECK_INT_EQ(password_hash("pass", 4, 4, h, &e), 0);
	CHECK(strncmp(h, "$2b$04$", 7) == 0);
	CHECK_INT_EQ(strlen(h), 60);
	CHECK(password_verify("pass", 4, h));
	CHECK(!password_verify("pasS", 4, h));
	CHECK(!password_verify("pass ", 5, h));
	CHECK(!password_verify("", 0, h));
	/* Salted: the same password hashes differently. */
	char h2[PASSWORD_HASH_MAX];
	CHECK_INT_EQ(password_hash("pass", 4, 4, h2, &e), 0);
	CHECK(strcmp(h, h2) != 0);
	CHECK(password_verify("pass", 4, h2));
}

static void t_cost_10(void)
{
	char h[PASSWORD_HASH_MAX];
	struct err e;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT_EQ(password_hash("correct horse", 13, 10, h, &e), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(strncmp(h, "$2b$10$", 7) == 0);
	CHECK(password_verify("correct horse", 13, h));
	printf("     cost-10 bcrypt hash: %.1f ms\n",
	    (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
}

static void t_length_limits(void)
{
	struct err e;
	char pw[100];
	memset(pw, 'a', sizeof pw);
	CHECK_INT_EQ(password_policy_check(pw, 3, 4, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(password_policy_check(pw, 4, 4, &e), 0);
	CHECK_INT_EQ(password_policy_check(pw, 72, 4, &e), 0);
	CHECK_INT_EQ(password_policy_check(pw, 73, 4, &e), APP_ERR_BAD_INPUT);
	CHECK(strstr(e.msg, "72") != NULL);
	CHECK_INT_EQ(password_policy_check("ab\0cd", 5, 4, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(password_policy_check(pw, 0, 0, &e), APP_ERR_BAD_INPUT);

	char h[PASSWORD_HASH_MAX];
	CHECK_INT_EQ(password_hash(pw, 73, 4, h, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(password_hash("ab\0cd", 5, 4, h, &e), APP_ERR_BAD_INPUT);
	CHECK_INT_EQ(password_hash(pw, 72, 3, h, &e), APP_ERR_INTERNAL);
	CHECK_INT_EQ(password_hash(pw, 72, 4, h, &e), 0);
	CHECK(password_verify(pw, 72, h));
	/* bcrypt would accept a longer password sharing the first 72 bytes;
	 * verify refuses it instead. */
	CHECK(!password_verify(pw, 73, h));
	CHECK(!password_verify(pw, 71, h));
}

static void t_malformed_hash(void)
{
	CHECK(!password_verify("pass", 4, ""));
	CHECK(!password_verify("pass", 4, "*0"));
	CHECK(!password_verify("pass", 4, "$1$abc$def"));
	CHECK(!password_verify("pass", 4,
	    "$2b$04$XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"));
}

static void t_dummy_verify(void)
{
	/* Only that it runs at both a built-in and a generated cost. */
	password_dummy_verify("whatever", 8, 4);
	password_dummy_verify("whatever", 8, 10);
	password_dummy_verify("ab\0c", 4, 4);
	CHECK(1);
}

TEST_MAIN(
	{ "hash_format_and_verify", t_hash_format_and_verify },
	{ "cost_10", t_cost_10 },
	{ "length_limits", t_length_limits },
	{ "malformed_hash", t_malformed_hash },
	{ "dummy_verify", t_dummy_verify },
)
