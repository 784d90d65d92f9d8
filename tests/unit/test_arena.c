#include <stdint.h>

#include "arena.h"
#include "testlib.h"

static int cleanup_order[4];
static int cleanup_n;

static void note(void *p)
{
	cleanup_order[cleanup_n++] = *(int *)p;
}

static void t_alloc_aligned(void)
{
	struct arena *a = arena_new(64);
	for (int i = 1; i < 200; i++) {
		void *p = arena_alloc(a, (size_t)i);
		CHECK_INT_EQ((uintptr_t)p % _Alignof(max_align_t), 0);
		memset(p, 0xAB, (size_t)i);
	}
	void *big = arena_alloc(a, 100000);	/* larger than a block */
	memset(big, 1, 100000);
	CHECK(arena_used(a) >= 100000);
	arena_reset(a);
	CHECK_INT_EQ(arena_used(a), 0);
	arena_free(a);
}

static void t_strings(void)
{
	struct arena *a = arena_new(0);
	CHECK_STR_EQ(arena_strndup(a, "hello world", 5), "hello");
	CHECK_STR_EQ(arena_strdup(a, ""), "");
	CHECK_STR_EQ(arena_printf(a, "%s=%d", "n", 7), "n=7");
	char *z = arena_calloc(a, 32);
	for (int i = 0; i < 32; i++)
		CHECK_INT_EQ(z[i], 0);
	arena_free(a);
}

static void t_cleanups_lifo(void)
{
	static int one = 1, two = 2, three = 3;
	struct arena *a = arena_new(0);
	cleanup_n = 0;
	arena_cleanup_add(a, note, &one);
	arena_cleanup_add(a, note, &two);
	arena_cleanup_add(a, note, &three);
	arena_reset(a);
	CHECK_INT_EQ(cleanup_n, 3);
	CHECK_INT_EQ(cleanup_order[0], 3);
	CHECK_INT_EQ(cleanup_order[2], 1);
	arena_reset(a);		/* cleanups run once */
	CHECK_INT_EQ(cleanup_n, 3);
	arena_cleanup_add(a, note, &one);
	arena_free(a);		/* and on free */
	CHECK_INT_EQ(cleanup_n, 4);
}

TEST_MAIN(
	{ "alloc_aligned", t_alloc_aligned },
	{ "strings", t_strings },
	{ "cleanups_lifo", t_cleanups_lifo },
)
