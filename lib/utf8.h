/* utf8: validation of UTF-8 byte sequences (RFC 3629). */
#ifndef UTF8_H
#define UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the well-formed UTF-8 sequence starting at s, or 0 if the
 * bytes there are not one (overlong forms, surrogates and code points above
 * U+10FFFF are rejected). */
size_t utf8_valid_seq(const char *s, size_t n);

/* True if s[0..n) is entirely well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Encodes code point cp (<= U+10FFFF, not a surrogate) into out; returns the
 * number of bytes written (1-4), or 0 if cp is not encodable. */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
