/* common/ — UTF-8, one code point at a time (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF). */
#ifndef WEBKVM_COMMON_UTF8_H
#define WEBKVM_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s[*pos] (s holds len bytes) and advances *pos.
 * Returns 1, 0 at the end, or -1 on a malformed sequence (*pos unchanged). */
int wk_utf8_next(const char *s, size_t len, size_t *pos, uint32_t *cp);
/* Writes cp (a valid scalar value) to out, which has room for 4 bytes;
 * returns the number of bytes written. */
size_t wk_utf8_put(uint32_t cp, char *out);
/* True when all len bytes are well-formed UTF-8. */
bool wk_utf8_valid(const char *s, size_t len);

#endif
