#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"

char *
wk_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
wk_conf_read(const char *path, wk_conf_fn *fn, void *ctx, char *err, size_t errlen)
{
	char line[WK_CONF_LINE_MAX], msg[512];
	int lineno = 0, rc = -EINVAL;
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *key, *eq;
		int r;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(err, errlen, "%s:%d: line too long (at most %zu characters)", path, lineno,
				 sizeof(line) - 2);
			goto out;
		}
		key = wk_trim(line);
		if (key[0] == '\0' || key[0] == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected `key = value`", path, lineno);
			goto out;
		}
		*eq = '\0';
		msg[0] = '\0';
		if ((r = fn(ctx, lineno, wk_trim(key), wk_trim(eq + 1), msg, sizeof(msg))) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			rc = r;
			goto out;
		}
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
		goto out;
	}
	rc = 0;
out:
	fclose(fp);
	return rc;
}
