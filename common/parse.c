#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"

int
wk_parse_long_n(const char *s, size_t len, long lo, long hi, long *out)
{
	size_t i = 0;
	long v = 0;
	int neg = 0;

	if (s == NULL || len == 0)
		return -EINVAL;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = s[i] - '0';
		/* Accumulate negatively: LONG_MIN has no positive twin. */
		if (v < (LONG_MIN + d) / 10)
			return -ERANGE;
		v = v * 10 - d;
	}
	if (!neg) {
		if (v == LONG_MIN)
			return -ERANGE;
		v = -v;
	}
	if (v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

int
wk_parse_long(const char *s, long lo, long hi, long *out)
{
	if (s == NULL)
		return -EINVAL;
	return wk_parse_long_n(s, strlen(s), lo, hi, out);
}

int
wk_parse_int(const char *s, int lo, int hi, int *out)
{
	long v;
	int rc = wk_parse_long(s, lo, hi, &v);

	if (rc == 0)
		*out = (int)v;
	return rc;
}

int
wk_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	size_t i = 0;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	switch (s[i]) {
	case '\0': break;
	case 'k': case 'K': mult = 1ull << 10; i++; break;
	case 'm': case 'M': mult = 1ull << 20; i++; break;
	case 'g': case 'G': mult = 1ull << 30; i++; break;
	default: return -EINVAL;
	}
	if (mult > 1 && strcmp(s + i, "iB") == 0)
		i += 2;
	if (s[i] != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
wk_parse_hex(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s == NULL || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || s[2] == '\0')
		return -EINVAL;
	for (i = 2; s[i] != '\0'; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / 16)
			return -ERANGE;
		v = v * 16 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
wk_parse_dims(const char *s, long lo, long hi, long *w, long *h)
{
	const char *x;
	long a, b;
	int rc;

	if (s == NULL || (x = strchr(s, 'x')) == NULL)
		return -EINVAL;
	if ((rc = wk_parse_long_n(s, (size_t)(x - s), lo, hi, &a)) < 0 ||
	    (rc = wk_parse_long(x + 1, lo, hi, &b)) < 0)
		return rc;
	*w = a;
	*h = b;
	return 0;
}
