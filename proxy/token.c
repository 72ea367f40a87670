/* websockify's TokenFile plugin: lines "token: host:port", '#' comments; a
 * directory means every file in it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/proxy.h"

#define TOKEN_FILE_MAX (4 << 20)	/* a rack of boards, not a database */
#define LINE_MAX_LEN 1024

static const char *
skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int
proxy_token_parse_line(const char *line, char *tok, size_t toklen,
		       struct proxy_addr *target, const char **why)
{
	const char *p = skip_space(line), *sep, *end;
	char addr[PROXY_HOST_MAX + 16], err[128];
	size_t n;

	if (*p == '\0' || *p == '#' || *p == '\r')
		return 0;
	sep = strchr(p, ':');
	if (sep == NULL) {
		*why = "want \"token: host:port\"";
		return -EINVAL;
	}
	n = (size_t)(sep - p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0) {
		*why = "empty token";
		return -EINVAL;
	}
	if (n >= toklen) {
		*why = "token too long";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f) {
			*why = "token has a blank or control character";
			return -EINVAL;
		}
	}
	memcpy(tok, p, n);
	tok[n] = '\0';
	p = skip_space(sep + 1);
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (end == p) {
		*why = "no target after the token";
		return -EINVAL;
	}
	if ((size_t)(end - p) >= sizeof(addr)) {
		*why = "target too long";
		return -EINVAL;
	}
	memcpy(addr, p, (size_t)(end - p));
	addr[end - p] = '\0';
	if (proxy_addr_parse(addr, false, target, err, sizeof(err)) < 0) {
		*why = "bad target: want host:port or [ipv6]:port";
		return -EINVAL;
	}
	return 1;
}

int
proxy_token_find_buf(const char *buf, size_t len, const char *name, const char *token,
		     struct proxy_addr *target, proxy_token_warn_fn *warn, void *ctx)
{
	char line[LINE_MAX_LEN + 1], tok[PROXY_TOKEN_MAX];
	struct proxy_addr a;
	size_t pos = 0;
	int lineno = 0, found = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		const char *why = NULL;
		int rc;

		lineno++;
		if (n > LINE_MAX_LEN) {
			rc = -EINVAL;
			why = "line too long";
		} else if (memchr(buf + pos, '\0', n) != NULL) {
			rc = -EINVAL;
			why = "NUL byte in line";
		} else {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			rc = proxy_token_parse_line(line, tok, sizeof(tok), &a, &why);
		}
		pos += n + (nl != NULL);
		if (rc < 0) {
			if (warn != NULL)
				warn(ctx, name, lineno, why);
		} else if (rc > 0 && !found && token != NULL && strcmp(tok, token) == 0) {
			*target = a;
			found = 1;
			if (warn == NULL)
				break;
		}
	}
	return found;
}

static int
lookup_file(const char *path, const char *token, struct proxy_addr *target,
	    proxy_token_warn_fn *warn, void *ctx)
{
	struct stat st;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out_close;
	}
	if (st.st_size > TOKEN_FILE_MAX) {
		rc = -EFBIG;
		goto out_close;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = proxy_token_find_buf(buf, got, path, token, target, warn, ctx);
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
proxy_token_lookup(const char *source, const char *token, struct proxy_addr *target,
		   proxy_token_warn_fn *warn, void *ctx)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	int rc = 0;

	if (stat(source, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return lookup_file(source, token, target, warn, ctx);
	if ((d = opendir(source)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(names, nc * sizeof(*names));

			if (nn == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
			cap = nc;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	/* Sorted so that a token in two files always resolves the same way.
	 * An empty folder leaves names NULL, which qsort must not get. */
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char path[4096];
		struct stat fst;

		if (snprintf(path, sizeof(path), "%s/%s", source, names[i]) >= (int)sizeof(path))
			continue;
		if (stat(path, &fst) < 0 || !S_ISREG(fst.st_mode))
			continue;
		rc = lookup_file(path, token, target, warn, ctx);
		if (rc < 0 && warn != NULL)
			warn(ctx, path, 0, strerror(-rc));
		if (rc < 0)
			rc = 0;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
proxy_cookie_token(const char *cookie, char *out, size_t outlen)
{
	const char *p = cookie;

	while (*p != '\0') {
		const char *end;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > 6 && strncmp(p, "token=", 6) == 0) {
			const char *v = p + 6;

			n = (size_t)(end - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				v++;
				n -= 2;
			}
			if (n >= outlen)
				return -ENAMETOOLONG;
			memcpy(out, v, n);
			out[n] = '\0';
			return n > 0;
		}
		p = end;
	}
	return 0;
}
