/* xalloc: allocation that never returns NULL.
 *
 * Policy (STYLE.md): an allocation failure is logged and the process aborts;
 * the process manager restarts it.  Callers therefore never check these. */
#ifndef XALLOC_H
#define XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

/* Called on allocation failure: writes one line to stderr and aborts. */
void xalloc_die(size_t n) __attribute__((noreturn));

#endif
