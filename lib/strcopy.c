#include "strcopy.h"

#include <string.h>

bool str_copy(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (size == 0)
		return false;
	if (n >= size) {
		out[0] = '\0';
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}
