/* Request paths -> files under --web, and MIME types. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "proxy/proxy.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Appends one decoded segment; refuses "..", which is what a traversal
 * attempt looks like after decoding. */
static int
put_segment(const char *seg, size_t n, char *out, size_t outlen, size_t *o)
{
	if (n == 0 || (n == 1 && seg[0] == '.'))
		return 0;
	if (n == 2 && seg[0] == '.' && seg[1] == '.')
		return -EPERM;
	if (*o + (*o > 0) + n + 1 > outlen)
		return -ENAMETOOLONG;
	if (*o > 0)
		out[(*o)++] = '/';
	memcpy(out + *o, seg, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

int
proxy_path_clean(const char *uri, char *out, size_t outlen)
{
	char seg[NAME_MAX + 1];
	size_t sn = 0, o = 0;
	int rc;

	if (outlen == 0)
		return -ENAMETOOLONG;
	out[0] = '\0';
	for (const char *p = uri;; p++) {
		int c = (unsigned char)*p;

		if (c == '?' || c == '#')
			c = '\0';
		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return -EPERM;
			c = hi * 16 + lo;
			p += 2;
			if (c == 0)
				return -EPERM;
		} else if (c == '\0') {
			if ((rc = put_segment(seg, sn, out, outlen, &o)) < 0)
				return rc;
			return 0;
		}
		/* A backslash is a separator on some systems; refusing it keeps
		 * "..\\" from ever meaning something. */
		if (c == '\\')
			return -EPERM;
		if (c == '/') {
			if ((rc = put_segment(seg, sn, out, outlen, &o)) < 0)
				return rc;
			sn = 0;
			continue;
		}
		if (sn == sizeof(seg) - 1)
			return -ENAMETOOLONG;
		seg[sn++] = (char)c;
	}
}

static int
inside(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return 1;
	return strncmp(root, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Resolves `joined` (symlinks and all) into real and stats it; -EPERM when
 * the result lies outside the root. */
static int
resolve_inside(const char *root_real, const char *joined, char *real, struct stat *st)
{
	if (realpath(joined, real) == NULL)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	if (!inside(root_real, real))
		return -EPERM;
	if (stat(real, st) < 0)
		return -errno;
	return 0;
}

int
proxy_path_resolve(const char *root_real, const char *rel, char *out, size_t outlen)
{
	char joined[PATH_MAX], real[PATH_MAX];
	struct stat st = { 0 };	/* the analyser cannot see that -errno is below 0 */
	int rc;

	if (snprintf(joined, sizeof(joined), "%s/%s", root_real, rel) >= (int)sizeof(joined))
		return -ENAMETOOLONG;
	if ((rc = resolve_inside(root_real, joined, real, &st)) < 0)
		return rc;
	/* A folder serves its index.html, checked the same way: it may be a
	 * symlink out of the root too. */
	if (S_ISDIR(st.st_mode)) {
		if (snprintf(joined, sizeof(joined), "%s/index.html", real) >= (int)sizeof(joined))
			return -ENAMETOOLONG;
		if ((rc = resolve_inside(root_real, joined, real, &st)) < 0)
			return rc;
	}
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	if (strlen(real) >= outlen)
		return -ENAMETOOLONG;
	strcpy(out, real);
	return 0;
}

static const struct { const char *ext; const char *type; } mime_table[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "ico", "image/x-icon" },
	{ "wasm", "application/wasm" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "webmanifest", "application/manifest+json" },
	{ "oga", "audio/ogg" },
	{ "mp3", "audio/mpeg" },
};

const char *
proxy_mime_type(const char *path)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');

	if (dot == NULL || (slash != NULL && dot < slash) || dot == path || (slash && dot == slash + 1))
		return "application/octet-stream";
	for (size_t i = 0; i < sizeof(mime_table) / sizeof(mime_table[0]); i++)
		if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
			return mime_table[i].type;
	return "application/octet-stream";
}
