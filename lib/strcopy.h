/* strcopy: the one bounded string copy. */
#ifndef STRCOPY_H
#define STRCOPY_H

#include <stdbool.h>
#include <stddef.h>

/* Copies s into out[size] with its NUL.  Returns false, and leaves out
 * empty, when s does not fit: never a silently cut value. */
bool str_copy(char *out, size_t size, const char *s);

#endif
