/* common/ — numbers from the command line, a config file or the network.
 *
 * Decimal only (a leading zero does not mean octal: "010" is ten), no
 * surrounding blanks, nothing after the digits.  Each returns 0 and sets
 * *out, or -EINVAL (not a number) or -ERANGE (outside lo..hi) and leaves
 * *out alone.
 */
#ifndef WEBKVM_COMMON_PARSE_H
#define WEBKVM_COMMON_PARSE_H

#include <stddef.h>
#include <stdint.h>

int wk_parse_long(const char *s, long lo, long hi, long *out);
int wk_parse_int(const char *s, int lo, int hi, int *out);
/* The first len bytes of s (which need not be NUL-terminated there). */
int wk_parse_long_n(const char *s, size_t len, long lo, long hi, long *out);

/* A size in bytes: digits, then optionally K, M or G (powers of 1024, upper
 * or lower case, "KiB"/"MiB"/"GiB" too).  -ERANGE past max. */
int wk_parse_size(const char *s, uint64_t max, uint64_t *out);

/* "0x" (or "0X") and hex digits, as ioctl and control numbers are written;
 * -ERANGE past max. */
int wk_parse_hex(const char *s, uint64_t max, uint64_t *out);

/* "WxH" (e.g. "1920x1080") with each side in lo..hi. */
int wk_parse_dims(const char *s, long lo, long hi, long *w, long *h);

#endif
