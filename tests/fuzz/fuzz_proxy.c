/* The proxy's pure parsers, chosen by the first byte of the input:
 *   0 command line (the rest split on NUL into argv)
 *   1 listen/target address      2 one token file line
 *   3 a whole token file (first line: the token looked up)
 *   4 Cookie header              5 request path, cleaned then resolved
 *   6 JSON document (REST body)  7 REST request: method NUL path NUL body
 *   8 daemon answer line for a REST path: path NUL answer
 *   9 MIME type of a file name
 * proxy_path_resolve runs under a temporary web root with a file, a folder
 * and a symlink out of the root. */
#include <limits.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_common.h"
#include "common/hostport.h"
#include "proxy/proxy.h"

static char root[PATH_MAX];

static void
rm_root(void)
{
	char cmd[PATH_MAX + 16];

	if (root[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz: could not remove %s\n", root);
	}
}

static void
put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if ((f = fopen(p, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(p);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/webkvm-fuzz-web.XXXXXX", p[PATH_MAX];

	(void)argc;
	(void)argv;
	/* --help prints the usage. */
	if (freopen("/dev/null", "w", stdout) == NULL)
		abort();
	if (mkdtemp(tmpl) == NULL || realpath(tmpl, root) == NULL) {
		perror("fuzz: web root");
		abort();
	}
	atexit(rm_root);
	put("index.html", "<html></html>\n");
	put("app.js", "1;\n");
	snprintf(p, sizeof(p), "%s/sub", root);
	if (mkdir(p, 0700) < 0)
		abort();
	put("sub/index.html", "x\n");
	snprintf(p, sizeof(p), "%s/out", root);
	if (symlink("/etc", p) < 0)
		abort();
	return 0;
}

/* Splits s (NUL-separated, n bytes plus a final NUL) into up to max parts. */
static int
parts(char *s, size_t n, const char **out, size_t *lens, int max)
{
	int k = 0;
	size_t i = 0;

	while (k < max) {
		size_t l = (k == max - 1) ? n - i : strnlen(s + i, n - i);

		out[k] = s + i;
		lens[k] = l;
		k++;
		if (i + l >= n)
			break;
		i += l + 1;
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], out[PATH_MAX], tok[PROXY_TOKEN_MAX];
	struct proxy_addr a;
	const char *why, *p[3] = { "", "", "" };
	size_t pl[3] = { 0, 0, 0 };
	char *s;
	int rc;

	if (size < 1)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 10) {
	case 0: {
		char *argv[64], *store;
		struct proxy_options o;
		int argc = fuzz_split_args(data + 1, size - 1, "webkvm-proxy", argv, 64, &store);

		memset(&o, 0, sizeof(o));
		err[0] = '\0';
		rc = proxy_cli_parse(argc, argv, &o, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || rc == 1 || rc == -EINVAL);
		if (rc == -EINVAL)
			FUZZ_CHECK(err[0] != '\0');
		if (rc == 0) {
			FUZZ_CHECK(o.listen.port >= 0 && o.listen.port <= 65535);
			(void)wk_host_is_loopback(o.listen.host);
		}
		free(store);
		break;
	}
	case 1:
		memset(&a, 0, sizeof(a));
		rc = proxy_addr_parse(s, size > 1 && (data[1] & 1), &a, err, sizeof(err));
		if (rc == 0) {
			FUZZ_CHECK(a.port >= 0 && a.port <= 65535);
			FUZZ_CHECK(strnlen(a.host, sizeof(a.host)) < sizeof(a.host));
			(void)wk_host_is_loopback(a.host);
		}
		(void)wk_host_is_loopback(s);
		break;
	case 2:
		why = NULL;
		rc = proxy_token_parse_line(s, tok, sizeof(tok), &a, &why);
		FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
		if (rc == -EINVAL)
			FUZZ_CHECK(why != NULL);
		if (rc == 1)
			FUZZ_CHECK(strnlen(tok, sizeof(tok)) < sizeof(tok));
		break;
	case 3: {
		char *nl = memchr(s, '\n', size - 1);
		char *name;

		if (nl == NULL)
			break;
		name = fuzz_strndup((const uint8_t *)s, (size_t)(nl - s));
		rc = proxy_token_find_buf(nl + 1, size - 1 - (size_t)(nl + 1 - s), "fuzz", name,
					  &a, NULL, NULL);
		FUZZ_CHECK(rc == 0 || rc == 1);
		free(name);
		break;
	}
	case 4: {
		size_t outlen = size > 1 ? (size_t)data[1] % (PROXY_TOKEN_MAX + 1) : 0;
		char *o = malloc(outlen ? outlen : 1);

		rc = proxy_cookie_token(s, o, outlen);
		FUZZ_CHECK(rc == 0 || rc == 1 || rc == -ENAMETOOLONG || rc == -EINVAL);
		if (rc == 1)
			FUZZ_CHECK(strnlen(o, outlen) < outlen);
		free(o);
		break;
	}
	case 5:
		rc = proxy_path_clean(s, out, sizeof(out));
		if (rc == 0) {
			char res[PATH_MAX];

			/* No ".." segment survives cleaning. */
			FUZZ_CHECK(strcmp(out, "..") != 0 && strncmp(out, "../", 3) != 0 &&
				   strstr(out, "/../") == NULL);
			FUZZ_CHECK(strlen(out) < 3 || strcmp(out + strlen(out) - 3, "/..") != 0);
			rc = proxy_path_resolve(root, out, res, sizeof(res));
			if (rc == 0)
				FUZZ_CHECK(strncmp(res, root, strlen(root)) == 0);
		}
		break;
	case 6:
		err[0] = '\0';
		rc = proxy_json_check(s, size - 1, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || (rc == -EINVAL && err[0] != '\0'));
		break;
	case 7: {
		struct proxy_rest_req r;
		char line[512];

		parts(s, size - 1, p, pl, 3);
		r.method = p[0];
		r.path = p[1];
		r.body = pl[2] ? p[2] : NULL;
		r.body_len = pl[2];
		rc = proxy_rest_build(&r, line, sizeof(line), err, sizeof(err));
		if (rc == 0) {
			size_t n = strlen(line);

			FUZZ_CHECK(n > 0 && line[n - 1] == '\n');
			/* One request, one line. */
			FUZZ_CHECK(memchr(line, '\n', n - 1) == NULL);
		} else {
			FUZZ_CHECK(rc == 400 || rc == 404 || rc == 405 || rc == 413);
		}
		break;
	}
	case 8:
		parts(s, size - 1, p, pl, 2);
		rc = proxy_rest_status(p[0], p[1], pl[1]);
		FUZZ_CHECK(rc == 200 || rc == 400 || rc == 409 || rc == 502);
		break;
	default:
		FUZZ_CHECK(proxy_mime_type(s) != NULL);
		break;
	}
	free(s);
	return 0;
}
