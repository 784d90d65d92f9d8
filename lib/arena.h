/* arena: a per-request memory pool.
 *
 * Everything made for one request is allocated from its arena and released
 * by one arena_reset() at the end of the request loop.  Foreign resources
 * (PGresult, json_object, jwt_t) are tied to the arena's lifetime with
 * arena_cleanup_add(), as nginx's ngx_pool_cleanup_add() does.
 *
 * Allocations never return NULL: on exhaustion the process aborts (xalloc). */
#ifndef ARENA_H
#define ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* A new arena whose blocks are at least block_size bytes (0: default). */
struct arena *arena_new(size_t block_size);

/* Runs the cleanups, then frees every block and the arena.  NULL is a no-op. */
void arena_free(struct arena *a);

/* Runs the cleanups in reverse order of registration, then forgets every
 * allocation.  The first block is kept for the next request. */
void arena_reset(struct arena *a);

/* n bytes aligned for any type; the memory is uninitialised. */
void *arena_alloc(struct arena *a, size_t n) __attribute__((returns_nonnull));

/* n zeroed bytes. */
void *arena_calloc(struct arena *a, size_t n) __attribute__((returns_nonnull));

/* Copies of strings; the result is always NUL-terminated. */
char *arena_strndup(struct arena *a, const char *s, size_t n)
	__attribute__((returns_nonnull));
char *arena_strdup(struct arena *a, const char *s) __attribute__((returns_nonnull));

/* A formatted string allocated from the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), returns_nonnull));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0), returns_nonnull));

/* Calls fn(data) at the next arena_reset() or arena_free(). */
void arena_cleanup_add(struct arena *a, void (*fn)(void *), void *data);

/* Bytes handed out since the last reset (for metrics and tests). */
size_t arena_used(const struct arena *a);

#endif
