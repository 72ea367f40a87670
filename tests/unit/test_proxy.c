/* proxy/: command line, token files, URL paths, MIME types, REST bodies,
 * logins, and the few pure pieces of the lws glue (server_int.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/hostport.h"
#include "proxy/proxy.h"
#include "proxy/server_int.h"

/* ---- command line ---- */

/* The arguments as webkvm-proxy's command line: its name first and, as
 * main() gets it, NULL after the last; counted by the compiler, so the
 * callers pass no sentinel through a variadic call and there is no limit. */
#define ARGV(...) ((char *[]){ "webkvm-proxy", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof(ARGV(__VA_ARGS__)) / sizeof(char *)) - 1)
/* C11 has no empty __VA_ARGS__: the name alone. */
#define ARGV_NONE ((char *[]){ "webkvm-proxy", NULL })
#define parse(o, err, errlen, ...) \
	proxy_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), (errlen))

static void
test_cli_websockify_order(void **state)
{
	struct proxy_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--web", "web/dist", "127.0.0.1:6080",
			       "127.0.0.1:5900"), 0);
	assert_string_equal(o.listen.host, "127.0.0.1");
	assert_int_equal(o.listen.port, 6080);
	assert_true(o.has_target);
	assert_string_equal(o.target.host, "127.0.0.1");
	assert_int_equal(o.target.port, 5900);
	assert_string_equal(o.web, "web/dist");
	assert_int_equal(o.auth, PROXY_AUTH_DEFAULT);

	/* options after the addresses, and --opt=value */
	assert_int_equal(parse(&o, err, sizeof(err), "6080", "localhost:5901", "--heartbeat=30",
			       "--idle-timeout", "5", "--timeout", "7", "-v", "--control", "/run/c.sock"), 0);
	assert_string_equal(o.listen.host, "");
	assert_int_equal(o.heartbeat, 30);
	assert_int_equal(o.idle_timeout, 5);
	assert_int_equal(o.timeout, 7);
	assert_true(o.verbose);
	assert_string_equal(o.control, "/run/c.sock");
	assert_int_equal(o.sndbuf, 0);
	assert_string_equal(o.target.host, "localhost");
	assert_int_equal(parse(&o, err, sizeof(err), "--sndbuf=65536", "6080", "h:1"), 0);
	assert_int_equal(o.sndbuf, 65536);

	assert_int_equal(parse(&o, err, sizeof(err), "[::1]:6080", "[fe80::1]:5900"), 0);
	assert_string_equal(o.listen.host, "::1");
	assert_string_equal(o.target.host, "fe80::1");

	assert_int_equal(parse(&o, err, sizeof(err), "--cert", "c.pem", "--key", "k.pem", "--ssl-only",
			       "--token-plugin", "websockify.token_plugins.TokenFile", "--token-source", "/etc/t",
			       "0.0.0.0:443"), 0);
	assert_true(o.ssl_only);
	assert_string_equal(o.token_source, "/etc/t");
	assert_false(o.has_target);

	assert_int_equal(parse(&o, err, sizeof(err), "--unix-target", "/run/rfb.sock", "127.0.0.1:6080"), 0);
	assert_string_equal(o.unix_target, "/run/rfb.sock");
}

static void
expect_bad_argv(const char *want, int argc, char **argv)
{
	struct proxy_options o;
	char err[256];

	assert_int_equal(proxy_cli_parse(argc, argv, &o, err, sizeof(err)), -EINVAL);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}
#define expect_bad(want, ...) expect_bad_argv((want), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void
test_cli_errors(void **state)
{
	(void)state;
	expect_bad("unknown option", "--frobnicate", "6080", "h:1");
	expect_bad("unknown option", "--webx", "d", "6080", "h:1");
	expect_bad("needs a value", "6080", "h:1", "--web");
	expect_bad_argv("missing", 1, ARGV_NONE);
	expect_bad("no target", "6080");
	expect_bad("bad port", "70000", "h:1");
	expect_bad("bad port", "abc", "h:1");
	expect_bad("bad port", "h:0", "h:1");
	expect_bad("want host:port", "6080", "5900");
	expect_bad("bad port", "6080", "h:5900x");
	expect_bad("IPv6 addresses need brackets", "::1:6080", "h:1");
	expect_bad("not an IPv6 address", "[zz::1]:6080", "h:1");
	expect_bad("want [ipv6]:port", "[::1]6080", "h:1");
	expect_bad("empty host", ":6080", "h:1");
	expect_bad("bad character", "ho st:6080", "h:1");
	expect_bad("unexpected argument", "6080", "h:1", "extra");
	expect_bad("bad number of seconds", "--heartbeat", "-1", "6080", "h:1");
	expect_bad("bad number of seconds", "--timeout", "1x", "6080", "h:1");
	expect_bad("--sndbuf: want a number of bytes", "--sndbuf", "4095", "6080", "h:1");
	expect_bad("--sndbuf: want a number of bytes", "--sndbuf", "64k", "6080", "h:1");
	expect_bad("--sndbuf: want a number of bytes", "--sndbuf", "67108865", "6080", "h:1");
	expect_bad("--sndbuf: want a number of bytes", "--sndbuf", "-65536", "6080", "h:1");
	expect_bad("only TokenFile", "--token-plugin", "TokenRedis", "--token-source", "x", "6080");
	expect_bad("needs --token-source", "--token-plugin", "TokenFile", "6080");
	expect_bad("needs --token-plugin", "--token-source", "x", "6080");
	expect_bad("only one of", "--unix-target", "/s", "6080", "h:1");
	expect_bad("--key needs --cert", "--key", "k", "6080", "h:1");
	expect_bad("unknown mode", "--auth", "basic", "127.0.0.1:6080", "h:1");
	/* --auth none only where nobody else can reach it */
	expect_bad("loopback", "--auth", "none", "6080", "h:1");
	expect_bad("loopback", "--auth", "none", "0.0.0.0:6080", "h:1");
	expect_bad("loopback", "--auth", "none", "[::]:6080", "h:1");
	expect_bad("loopback", "--auth", "none", "192.168.1.2:6080", "h:1");
}

static void
test_cli_auth_none_on_loopback(void **state)
{
	struct proxy_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--auth", "none", "127.0.0.1:6080", "h:1"), 0);
	assert_int_equal(o.auth, PROXY_AUTH_NONE);
	assert_int_equal(parse(&o, err, sizeof(err), "--auth=none", "[::1]:6080", "h:1"), 0);
	assert_int_equal(parse(&o, err, sizeof(err), "--auth", "none", "localhost:6080", "h:1"), 0);
	assert_int_equal(parse(&o, err, sizeof(err), "--auth", "none", "127.1.2.3:6080", "h:1"), 0);
	assert_true(wk_host_is_loopback("::ffff:127.0.0.1"));
	assert_false(wk_host_is_loopback("128.0.0.1"));
	assert_false(wk_host_is_loopback(""));
	assert_false(wk_host_is_loopback("::"));
}

/* ---- token files ---- */

struct warns {
	int n;
	int line[8];
	char why[8][80];
};

static void
collect(void *ctx, const char *file, int line, const char *why)
{
	struct warns *w = ctx;

	(void)file;
	if (w->n < 8) {
		w->line[w->n] = line;
		snprintf(w->why[w->n], sizeof(w->why[0]), "%s", why);
	}
	w->n++;
}

static void
test_token_lines(void **state)
{
	struct proxy_addr a;
	char tok[64];
	const char *why = NULL;

	(void)state;
	assert_int_equal(proxy_token_parse_line("abc: 10.0.0.5:5900", tok, sizeof(tok), &a, &why), 1);
	assert_string_equal(tok, "abc");
	assert_string_equal(a.host, "10.0.0.5");
	assert_int_equal(a.port, 5900);
	assert_int_equal(proxy_token_parse_line("  v6 :[::1]:5901\r", tok, sizeof(tok), &a, &why), 1);
	assert_string_equal(tok, "v6");
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 5901);
	assert_int_equal(proxy_token_parse_line("# comment: x:1", tok, sizeof(tok), &a, &why), 0);
	assert_int_equal(proxy_token_parse_line("   ", tok, sizeof(tok), &a, &why), 0);
	assert_int_equal(proxy_token_parse_line("", tok, sizeof(tok), &a, &why), 0);
	assert_int_equal(proxy_token_parse_line("nocolon", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line(": h:1", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line("t:", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line("t: host", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line("t: host:99999", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line("a b: h:1", tok, sizeof(tok), &a, &why), -EINVAL);
	assert_int_equal(proxy_token_parse_line("averyveryverylongtoken: h:1", tok, 8, &a, &why), -EINVAL);
}

static void
test_token_buffer(void **state)
{
	static const char file[] =
		"# rack A\n"
		"alpha: 127.0.0.1:5900\n"
		"\n"
		"broken line\n"
		"beta: [::1]:5901\n"
		"gamma: host:notaport\n"
		"alpha: 10.0.0.1:1\n"		/* first entry wins */
		"last: h:7";			/* no final newline */
	struct proxy_addr a;
	struct warns w = { 0 };

	(void)state;
	assert_int_equal(proxy_token_find_buf(file, strlen(file), "f", "alpha", &a, collect, &w), 1);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(w.n, 2);
	assert_int_equal(w.line[0], 4);
	assert_int_equal(w.line[1], 6);
	assert_non_null(strstr(w.why[1], "bad target"));
	assert_int_equal(proxy_token_find_buf(file, strlen(file), "f", "beta", &a, NULL, NULL), 1);
	assert_string_equal(a.host, "::1");
	assert_int_equal(proxy_token_find_buf(file, strlen(file), "f", "last", &a, NULL, NULL), 1);
	assert_int_equal(a.port, 7);
	assert_int_equal(proxy_token_find_buf(file, strlen(file), "f", "delta", &a, NULL, NULL), 0);
	assert_int_equal(proxy_token_find_buf(file, strlen(file), "f", "gamma", &a, NULL, NULL), 0);
	/* a NUL inside a line is a bad line, not the end of the file */
	assert_int_equal(proxy_token_find_buf("x: h:1\0\ny: h:2\n", 15, "f", "y", &a, NULL, NULL), 1);
}

static void
test_token_directory(void **state)
{
	char dir[] = "/tmp/webkvm-token-XXXXXX", path[PATH_MAX];
	struct proxy_addr a;
	struct warns w = { 0 };
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("one: h1:1\nbad\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/b", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("two: h2:2\n", f);
	fclose(f);
	assert_int_equal(proxy_token_lookup(dir, "two", &a, NULL, NULL), 1);
	assert_string_equal(a.host, "h2");
	assert_int_equal(proxy_token_lookup(path, "one", &a, NULL, NULL), 0);
	assert_int_equal(proxy_token_lookup(dir, NULL, NULL, collect, &w), 0);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.line[0], 2);
	assert_int_equal(proxy_token_lookup("/nonexistent/tokens", "x", &a, NULL, NULL), -ENOENT);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_cookie_token(void **state)
{
	char t[16];

	(void)state;
	assert_int_equal(proxy_cookie_token("token=abc", t, sizeof(t)), 1);
	assert_string_equal(t, "abc");
	assert_int_equal(proxy_cookie_token("a=1; token=\"q\" ; b=2", t, sizeof(t)), 1);
	assert_string_equal(t, "q");
	assert_int_equal(proxy_cookie_token("mytoken=x; b=2", t, sizeof(t)), 0);
	assert_int_equal(proxy_cookie_token("token=", t, sizeof(t)), 0);
	assert_int_equal(proxy_cookie_token("token=0123456789abcdefXYZ", t, sizeof(t)), -ENAMETOOLONG);
}

/* ---- paths ---- */

static void
expect_clean(const char *uri, int rc, const char *want)
{
	char out[256];
	int got = proxy_path_clean(uri, out, sizeof(out));

	if (got != rc)
		fail_msg("%s: rc %d, want %d", uri, got, rc);
	if (rc == 0 && strcmp(out, want) != 0)
		fail_msg("%s: \"%s\", want \"%s\"", uri, out, want);
}

static void
test_path_clean(void **state)
{
	(void)state;
	expect_clean("/", 0, "");
	expect_clean("/index.html", 0, "index.html");
	expect_clean("//a/./b//c.js?x=1#f", 0, "a/b/c.js");
	expect_clean("/a%20b.html", 0, "a b.html");
	expect_clean("/app/", 0, "app");
	expect_clean("/..", -EPERM, NULL);
	expect_clean("/../etc/passwd", -EPERM, NULL);
	expect_clean("/a/../b", -EPERM, NULL);
	expect_clean("/%2e%2e/etc", -EPERM, NULL);
	expect_clean("/%2E%2e/etc", -EPERM, NULL);
	expect_clean("/.%2e/etc", -EPERM, NULL);
	expect_clean("/..%2fetc", -EPERM, NULL);
	expect_clean("/a%00.html", -EPERM, NULL);
	expect_clean("/a%zz", -EPERM, NULL);
	expect_clean("/a%2", -EPERM, NULL);
	expect_clean("/..\\etc", -EPERM, NULL);
	expect_clean("/...", 0, "...");
	expect_clean("/..a", 0, "..a");
}

static void
test_path_resolve(void **state)
{
	char root[] = "/tmp/webkvm-root-XXXXXX", out_dir[] = "/tmp/webkvm-out-XXXXXX";
	char rootreal[PATH_MAX], p[PATH_MAX + 64], q[PATH_MAX + 64], res[PATH_MAX];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_non_null(mkdtemp(out_dir));
	assert_non_null(realpath(root, rootreal));
	snprintf(p, sizeof(p), "%s/index.html", root);
	assert_non_null(f = fopen(p, "w"));
	fclose(f);
	snprintf(p, sizeof(p), "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", out_dir);
	assert_non_null(f = fopen(p, "w"));
	fclose(f);
	snprintf(q, sizeof(q), "%s/out", root);
	assert_int_equal(symlink(p, q), 0);
	snprintf(q, sizeof(q), "%s/outdir", root);
	assert_int_equal(symlink(out_dir, q), 0);
	snprintf(q, sizeof(q), "%s/in", root);
	assert_int_equal(symlink("index.html", q), 0);

	assert_int_equal(proxy_path_resolve(rootreal, "", res, sizeof(res)), 0);
	snprintf(p, sizeof(p), "%s/index.html", rootreal);
	assert_string_equal(res, p);
	assert_int_equal(proxy_path_resolve(rootreal, "in", res, sizeof(res)), 0);
	assert_string_equal(res, p);
	assert_int_equal(proxy_path_resolve(rootreal, "out", res, sizeof(res)), -EPERM);
	assert_int_equal(proxy_path_resolve(rootreal, "outdir/secret", res, sizeof(res)), -EPERM);
	assert_int_equal(proxy_path_resolve(rootreal, "missing.js", res, sizeof(res)), -ENOENT);
	assert_int_equal(proxy_path_resolve(rootreal, "sub", res, sizeof(res)), -ENOENT);	/* no index */
	assert_int_equal(proxy_path_resolve(rootreal, "index.html", res, 8), -ENAMETOOLONG);

	snprintf(q, sizeof(q), "rm -rf '%s' '%s'", root, out_dir);
	assert_int_equal(system(q), 0);
}

static void
test_mime(void **state)
{
	(void)state;
	assert_string_equal(proxy_mime_type("/w/index.html"), "text/html; charset=utf-8");
	assert_string_equal(proxy_mime_type("a.JS"), "text/javascript; charset=utf-8");
	assert_string_equal(proxy_mime_type("a.mjs"), "text/javascript; charset=utf-8");
	assert_string_equal(proxy_mime_type("a.css"), "text/css; charset=utf-8");
	assert_string_equal(proxy_mime_type("a.json"), "application/json");
	assert_string_equal(proxy_mime_type("a.svg"), "image/svg+xml");
	assert_string_equal(proxy_mime_type("a.png"), "image/png");
	assert_string_equal(proxy_mime_type("favicon.ico"), "image/x-icon");
	assert_string_equal(proxy_mime_type("a.wasm"), "application/wasm");
	assert_string_equal(proxy_mime_type("a.woff2"), "font/woff2");
	assert_string_equal(proxy_mime_type("a.js.map"), "application/json");
	assert_string_equal(proxy_mime_type("a.txt"), "text/plain; charset=utf-8");
	assert_string_equal(proxy_mime_type("Makefile"), "application/octet-stream");
	assert_string_equal(proxy_mime_type("dir.d/file"), "application/octet-stream");
	assert_string_equal(proxy_mime_type("/w/.hidden"), "application/octet-stream");
	assert_string_equal(proxy_mime_type("a.exe"), "application/octet-stream");
}

/* ---- JSON and REST ---- */

static void
test_json_check(void **state)
{
	static const char *const good[] = {
		"{}", "[]", "0", "-1.5e+3", "\"\"", "true", " null ", "{\"a\":[1,{\"b\":\"\\u00e9\\ud83d\\ude00\"}]}",
		"\"caf\xc3\xa9\"", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
	};
	static const char *const bad[] = {
		"", "{", "{\"a\"}", "{\"a\":}", "{a:1}", "[1,]", "{\"a\":1,}", "01", "1.", "-", ".5", "1e",
		"tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\x01\"",
		"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{} {}", "[1] x", "'a'", "NaN",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (proxy_json_check(good[i], strlen(good[i]), err, sizeof(err)) != 0)
			fail_msg("good JSON %s refused: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (proxy_json_check(bad[i], strlen(bad[i]), err, sizeof(err)) != -EINVAL)
			fail_msg("bad JSON \"%s\" accepted", bad[i]);
	assert_int_equal(proxy_json_check("[1,\0]", 5, err, sizeof(err)), -EINVAL);
	/* jansson counts the NUL it stopped at. */
	assert_non_null(strstr(err, "byte 4"));
}

static int
rest(const char *method, const char *path, const char *body, char *line, char *err)
{
	struct proxy_rest_req r = { method, path, body, body ? strlen(body) : 0 };

	return proxy_rest_build(&r, line, 70000, err, 256);
}

static void
test_rest_build(void **state)
{
	static char line[70000];
	char err[256];

	(void)state;
	assert_int_equal(rest("GET", "/api/status", NULL, line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"status\"}\n");
	assert_int_equal(rest("POST", "/api/type", "{ \"text\" : \"h\\u00e9llo\\n\" }", line, err), 0);
	/* The line is written from the decoded request: UTF-8 as is. */
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"h\xc3\xa9llo\\n\"}\n");
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":[\"ctrl\", \"alt\",\"delete\"]}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"key\",\"keys\":[\"ctrl\",\"alt\",\"delete\"]}\n");
	assert_int_equal(rest("POST", "/api/power", "{\"action\":\"reboot\"}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"power\",\"action\":\"reboot\"}\n");
	/* Newlines between array items stay out of the one control line
	 * (found by tests/fuzz: regress/proxy/rest-key-newline-in-array). */
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":[\"ctrl\",\n\"alt\"\r\n,\"f1\"]}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"key\",\"keys\":[\"ctrl\",\"alt\",\"f1\"]}\n");

	assert_int_equal(rest("POST", "/api/status", NULL, line, err), 405);
	assert_int_equal(rest("GET", "/api/type", NULL, line, err), 405);
	assert_int_equal(rest("GET", "/api/nope", NULL, line, err), 404);
	assert_int_equal(rest("POST", "/api/type", NULL, line, err), 400);
	assert_int_equal(rest("POST", "/api/type", "{nope", line, err), 400);
	assert_non_null(strstr(err, "bad JSON"));
	assert_int_equal(rest("POST", "/api/type", "[\"text\"]", line, err), 400);
	assert_int_equal(rest("POST", "/api/type", "{}", line, err), 400);
	assert_non_null(strstr(err, "missing member"));
	assert_int_equal(rest("POST", "/api/type", "{\"text\":1}", line, err), 400);
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"a\",\"cmd\":\"power\"}", line, err), 400);
	assert_non_null(strstr(err, "unknown member"));
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"a\",\"text\":\"b\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":\"ctrl\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":[]}", line, err), 400);
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":[1]}", line, err), 400);
	assert_int_equal(rest("POST", "/api/key", "{\"keys\":[\"\"]}", line, err), 400);
	assert_int_equal(rest("POST", "/api/power", "{\"action\":\"explode\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/power", "{\"action\":\"on \"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/power", "{\"action\":[\"on\"]}", line, err), 400);
	{
		/* 33 keys: over the daemon's limit */
		char body[600] = "{\"keys\":[";

		for (int i = 0; i < 33; i++)
			strcat(body, i ? ",\"a\"" : "\"a\"");
		strcat(body, "]}");
		assert_int_equal(rest("POST", "/api/key", body, line, err), 400);
	}
	{
		struct proxy_rest_req r = { "POST", "/api/type", "x", PROXY_BODY_MAX + 1 };

		assert_int_equal(proxy_rest_build(&r, line, sizeof(line), err, sizeof(err)), 413);
	}
}

/* The input endpoints of the BIOS-grade keyboard and mouse: layout, pointer
 * mode and gadget profile, paced paste, cancel and release. */
static void
test_rest_build_hid(void **state)
{
	static char line[70000];
	char err[256];

	(void)state;
	assert_int_equal(rest("GET", "/api/hid", NULL, line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"hid\"}\n");
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":\"de\"}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"hid\",\"layout\":\"de\"}\n");
	assert_int_equal(rest("POST", "/api/hid", " {\"mouse\" : \"relative\",\n\"profile\":\"full\",\"layout\":\"pt-br\"} ",
			      line, err), 0);
	/* Members in the protocol table's order. */
	assert_string_equal(line, "{\"cmd\":\"hid\",\"layout\":\"pt-br\",\"mouse\":\"relative\",\"profile\":\"full\"}\n");
	assert_int_equal(rest("POST", "/api/hid", "{\"profile\":\"keyboard\"}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"hid\",\"profile\":\"keyboard\"}\n");

	/* Unknown members are named; values must be plain names. */
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":\"de\",\"speed\":3}", line, err), 400);
	assert_non_null(strstr(err, "unknown member \"speed\" (want \"layout\", \"mouse\" or \"profile\")"));
	assert_int_equal(rest("POST", "/api/hid", "{\"cmd\":\"power\"}", line, err), 400);
	assert_non_null(strstr(err, "\"cmd\""));
	assert_int_equal(rest("POST", "/api/hid", "{}", line, err), 400);
	assert_int_equal(rest("POST", "/api/hid", NULL, line, err), 400);
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":3}", line, err), 400);
	assert_non_null(strstr(err, "\"layout\""));
	assert_int_equal(rest("POST", "/api/hid", "{\"mouse\":\"\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/hid", "{\"mouse\":[\"relative\"]}", line, err), 400);
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":\"de\\\",\\\"cmd\\\":\\\"x\"}", line, err), 400);
	/* An escape is read as what it stands for, never copied through. */
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":\"d\\u0065\"}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"hid\",\"layout\":\"de\"}\n");
	assert_int_equal(rest("POST", "/api/hid", "{\"profile\":\"abcdefghijklmnopqrstuvwxyz0123456\"}", line, err), 400);
	assert_int_equal(rest("POST", "/api/hid", "{\"profile\":\"abcdefghijklmnopqrstuvwxyz012345\"}", line, err), 0);
	assert_int_equal(rest("POST", "/api/hid", "{\"layout\":\"de\",\"layout\":\"fr\"}", line, err), 400);
	assert_int_equal(rest("PUT", "/api/hid", "{\"layout\":\"de\"}", line, err), 405);
	assert_non_null(strstr(err, "GET or POST"));

	/* Paste pacing: an integer 0..1000 ms, passed on as a number. */
	assert_int_equal(rest("POST", "/api/type", "{\"delay_ms\":250,\"text\":\"ab\"}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"ab\",\"delay_ms\":250}\n");
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"ab\",\"delay_ms\":0}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"ab\",\"delay_ms\":0}\n");
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"ab\",\"delay_ms\":1000}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"ab\",\"delay_ms\":1000}\n");
	{
		static const char *const bad[] = { "1001", "-1", "2.5", "1e2", "\"20\"", "true", "[20]" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char body[128];

			snprintf(body, sizeof(body), "{\"text\":\"ab\",\"delay_ms\":%s}", bad[i]);
			if (rest("POST", "/api/type", body, line, err) != 400)
				fail_msg("delay_ms %s accepted", bad[i]);
			assert_non_null(strstr(err, "delay_ms"));
		}
	}
	/* Past what jansson's integers hold: the body itself is refused. */
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"ab\",\"delay_ms\":99999999999999999999}", line, err), 400);
	assert_non_null(strstr(err, "bad JSON"));
	/* null is an absent optional member. */
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"ab\",\"delay_ms\":null}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"ab\"}\n");
	assert_int_equal(rest("POST", "/api/type", "{\"delay_ms\":20}", line, err), 400);
	assert_non_null(strstr(err, "missing member \"text\""));
	assert_int_equal(rest("POST", "/api/type", "{\"text\":\"a\",\"delay\":20}", line, err), 400);
	assert_non_null(strstr(err, "unknown member \"delay\""));

	/* No parameters: no body, an empty object, nothing else. */
	assert_int_equal(rest("POST", "/api/cancel", NULL, line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"cancel\"}\n");
	assert_int_equal(rest("POST", "/api/cancel", " { } ", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"cancel\"}\n");
	assert_int_equal(rest("POST", "/api/release", NULL, line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"release\"}\n");
	assert_int_equal(rest("POST", "/api/release", "{}", line, err), 0);
	assert_string_equal(line, "{\"cmd\":\"release\"}\n");
	assert_int_equal(rest("POST", "/api/cancel", "{\"all\":true}", line, err), 400);
	assert_non_null(strstr(err, "unknown member \"all\" (want no members)"));
	assert_int_equal(rest("POST", "/api/release", "[]", line, err), 400);
	assert_int_equal(rest("POST", "/api/cancel", "{", line, err), 400);
	assert_int_equal(rest("GET", "/api/cancel", NULL, line, err), 405);
	assert_int_equal(rest("GET", "/api/release", NULL, line, err), 405);
	{
		struct proxy_rest_req r = { "POST", "/api/cancel", "x", PROXY_BODY_MAX + 1 };

		assert_int_equal(proxy_rest_build(&r, line, sizeof(line), err, sizeof(err)), 413);
	}
	/* A line buffer too small for the request is 413, never a cut line. */
	{
		struct proxy_rest_req r = { "POST", "/api/hid", "{\"layout\":\"en-us\",\"mouse\":\"absolute\"}", 0 };
		char small[40];

		r.body_len = strlen(r.body);
		assert_int_equal(proxy_rest_build(&r, small, sizeof(small), err, sizeof(err)), 413);
	}
}

static void
test_rest_status(void **state)
{
	(void)state;
	assert_int_equal(proxy_rest_status("/api/status", "{\"ok\":true,\"w\":1}", 17), 200);
	assert_int_equal(proxy_rest_status("/api/type", "{\"ok\":false,\"error\":\"x\"}", 24), 400);
	assert_int_equal(proxy_rest_status("/api/power", "{\"ok\":false,\"error\":\"x\"}", 24), 409);
	assert_int_equal(proxy_rest_status("/api/status", "garbage", 7), 502);
	assert_int_equal(proxy_rest_status("/api/status", "[true]", 6), 502);
}

/* ---- auth.c ---- */

#define FIXTURE_HASH "$argon2id$v=19$m=65536,t=3,p=1$+Jgh1IRAHbtnFUkqyh5XZw$" \
		     "nIpYPq9ZvbUJe0ePW53zRmekdTMlZigD0ZapD4aCjuk"

static void
test_cli_security_options(void **state)
{
	struct proxy_options o;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "127.0.0.1:6080", "h:1"), 0);
	assert_null(o.users);
	assert_int_equal(o.session_idle, PROXY_SESSION_IDLE_DEFAULT);
	assert_int_equal(o.session_max, PROXY_SESSION_MAX_DEFAULT);
	assert_false(o.tls);
	assert_int_equal(parse(&o, err, sizeof(err), "--users", "/u", "--session-idle", "5",
			       "--session-max=9", "--allow-origin", "https://a.example",
			       "--allow-origin", "http://b:8080", "--user", "nobody", "--tls",
			       "--state-dir", "/s", "6080", "h:1"), 0);
	assert_string_equal(o.users, "/u");
	assert_int_equal(o.session_idle, 5);
	assert_int_equal(o.session_max, 9);
	assert_int_equal(o.n_allow_origin, 2);
	assert_string_equal(o.allow_origin[1], "http://b:8080");
	assert_string_equal(o.run_as, "nobody");
	assert_string_equal(o.state_dir, "/s");
	assert_true(o.tls);
	/* --ssl-only alone means TLS with the self-signed certificate. */
	assert_int_equal(parse(&o, err, sizeof(err), "--ssl-only", "6080", "h:1"), 0);
	assert_true(o.tls && o.ssl_only);
	assert_int_equal(parse(&o, err, sizeof(err), "--session-idle", "0", "6080", "h:1"), -EINVAL);
	assert_int_equal(parse(&o, err, sizeof(err), "--allow-origin", "evil.example", "6080", "h:1"),
			 -EINVAL);
	assert_non_null(strstr(err, "--allow-origin"));
}

static void
test_users_lines(void **state)
{
	char name[PROXY_USER_MAX], hash[PROXY_HASH_MAX];
	const char *why = NULL;

	(void)state;
	assert_int_equal(proxy_users_parse_line("admin:" FIXTURE_HASH "\n", name, sizeof(name), hash,
						sizeof(hash), &why), 1);
	assert_string_equal(name, "admin");
	assert_string_equal(hash, FIXTURE_HASH);
	assert_int_equal(proxy_users_parse_line("# c", name, sizeof(name), hash, sizeof(hash), &why), 0);
	assert_int_equal(proxy_users_parse_line("  ", name, sizeof(name), hash, sizeof(hash), &why), 0);
	assert_int_equal(proxy_users_parse_line("admin", name, sizeof(name), hash, sizeof(hash), &why), -EINVAL);
	assert_int_equal(proxy_users_parse_line(":" FIXTURE_HASH, name, sizeof(name), hash, sizeof(hash), &why),
			 -EINVAL);
	assert_int_equal(proxy_users_parse_line("a b:" FIXTURE_HASH, name, sizeof(name), hash, sizeof(hash), &why),
			 -EINVAL);
	assert_int_equal(proxy_users_parse_line("a:$1$md5$x", name, sizeof(name), hash, sizeof(hash), &why),
			 -EINVAL);
	assert_non_null(strstr(why, "argon2id"));
	assert_int_equal(proxy_users_parse_line("a:$argon2id$x y", name, sizeof(name), hash, sizeof(hash), &why),
			 -EINVAL);
	assert_true(proxy_user_name_ok("a.b_c-1"));
	assert_false(proxy_user_name_ok("-a"));
	assert_false(proxy_user_name_ok(""));
	assert_false(proxy_user_name_ok("a:b"));
}

static void
test_users_buffer_and_verify(void **state)
{
	static const char buf[] = "# users\nbroken line\nadmin:" FIXTURE_HASH "\nbob:$argon2id$v=19$x\n";
	char hash[PROXY_HASH_MAX];
	int n = -1;

	(void)state;
	assert_int_equal(proxy_users_find_buf(buf, sizeof(buf) - 1, "admin", hash, sizeof(hash), &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(proxy_users_find_buf(buf, sizeof(buf) - 1, "carol", hash, sizeof(hash), NULL), 0);
	assert_int_equal(proxy_users_find_buf(buf, 10, "admin", hash, sizeof(hash), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(proxy_users_find_buf(buf, sizeof(buf) - 1, "admin", hash, sizeof(hash), NULL), 1);
	assert_int_equal(proxy_password_verify(hash, "correct horse"), 0);
	assert_int_equal(proxy_password_verify(hash, "correct horsE"), -EACCES);
	assert_int_equal(proxy_password_verify(hash, ""), -EACCES);
	assert_int_equal(proxy_password_verify("$argon2id$v=19$x", "a"), -EINVAL);
}

static void
test_login_body(void **state)
{
	char u[PROXY_USER_MAX], pw[16], err[128];
	const char *ok = "{ \"user\" : \"admin\", \"password\":\"a\\\"b\\u00e9\\n\" }";

	(void)state;
	assert_int_equal(proxy_login_parse(ok, strlen(ok), u, sizeof(u), pw, sizeof(pw), err, sizeof(err)), 0);
	assert_string_equal(u, "admin");
	assert_string_equal(pw, "a\"b\xc3\xa9\n");
	static const char *bad[] = {
		"", "{", "[]", "{\"user\":\"a\"}", "{\"password\":\"a\"}", "{\"user\":1,\"password\":\"a\"}",
		"{\"user\":\"a\",\"password\":\"a\",\"x\":\"y\"}", "{\"user\":\"a\",\"password\":\"\\u0000\"}",
		"{\"user\":\"a\",\"password\":\"0123456789abcdef\"}", "{\"user\":\"a\" \"password\":\"b\"}",
		/* a duplicate key, a lone surrogate, bytes that are not UTF-8 */
		"{\"user\":\"a\",\"user\":\"b\",\"password\":\"c\"}",
		"{\"user\":\"a\",\"password\":\"\\ud800\"}",
		"{\"user\":\"a\",\"password\":\"\xff\"}",
		"{\"user\":\"a\",\"password\":null}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(proxy_login_parse(bad[i], strlen(bad[i]), u, sizeof(u), pw, sizeof(pw),
						   err, sizeof(err)), -EINVAL);
	/* What is wrong is said. */
	assert_int_equal(proxy_login_parse(bad[8], strlen(bad[8]), u, sizeof(u), pw, sizeof(pw),
					   err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "\"password\" too long");
	assert_int_equal(proxy_login_parse(bad[6], strlen(bad[6]), u, sizeof(u), pw, sizeof(pw),
					   err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "want {\"user\""));
	assert_int_equal(proxy_login_parse("{", 1, u, sizeof(u), pw, sizeof(pw), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad JSON"));
	/* A character outside the BMP, as a surrogate pair or raw. */
	{
		const char *pair = "{\"user\":\"a\",\"password\":\"\\ud83d\\ude00\"}";
		const char *raw = "{\"password\":\"\xf0\x9f\x98\x80\",\"user\":\"a\"}";

		assert_int_equal(proxy_login_parse(pair, strlen(pair), u, sizeof(u), pw, sizeof(pw),
						   err, sizeof(err)), 0);
		assert_string_equal(pw, "\xf0\x9f\x98\x80");
		assert_int_equal(proxy_login_parse(raw, strlen(raw), u, sizeof(u), pw, sizeof(pw),
						   err, sizeof(err)), 0);
		assert_string_equal(pw, "\xf0\x9f\x98\x80");
	}
}

static void
test_cookie_value(void **state)
{
	char v[70];

	(void)state;
	assert_int_equal(proxy_cookie_value("a=1; webkvm_session=abc ; b=2", "webkvm_session", v, sizeof(v)), 1);
	assert_string_equal(v, "abc");
	assert_int_equal(proxy_cookie_value("xwebkvm_session=abc", "webkvm_session", v, sizeof(v)), 0);
	assert_int_equal(proxy_cookie_value("webkvm_sessionx=abc", "webkvm_session", v, sizeof(v)), 0);
	assert_int_equal(proxy_cookie_value("s=0123456789", "s", v, 5), -ENAMETOOLONG);
}

static void
test_sessions(void **state)
{
	static struct proxy_sessions t;
	char id[PROXY_SESSION_ID_LEN + 1], id2[PROXY_SESSION_ID_LEN + 1], first[PROXY_SESSION_ID_LEN + 1];
	const struct proxy_session *s;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.idle = 10000;
	t.max = 100000;
	assert_int_equal(proxy_session_new(&t, "admin", 1000000, id), 0);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);
	assert_int_equal(proxy_session_new(&t, "bob", 1000000, id2), 0);
	assert_string_not_equal(id, id2);
	s = proxy_session_get(&t, id, 1005000);
	assert_non_null(s);
	assert_string_equal(s->user, "admin");
	/* One wrong character, the wrong length, upper case: no session. */
	strcpy(first, id);
	first[63] = first[63] == '0' ? '1' : '0';
	assert_null(proxy_session_get(&t, first, 1005000));
	first[63] = '\0';
	assert_null(proxy_session_get(&t, first, 1005000));
	assert_null(proxy_session_get(&t, "", 1005000));
	/* Idle 10 s: used at 1005 s, so alive at 1014 s; bob, idle since 1000 s, is gone. */
	assert_non_null(proxy_session_get(&t, id, 1014000));
	assert_null(proxy_session_get(&t, id2, 1014000));	/* bob idle since 1000 */
	for (long long now = 1020000; now < 1100000; now += 8000)
		assert_non_null(proxy_session_get(&t, id, now));
	/* Absolute: created at 1000 s, 100 s at most. */
	assert_null(proxy_session_get(&t, id, 1100000));
	/* Logout. */
	assert_int_equal(proxy_session_new(&t, "admin", 2000000, id), 0);
	assert_int_equal(proxy_session_end(&t, id), 1);
	assert_int_equal(proxy_session_end(&t, id), 0);
	assert_null(proxy_session_get(&t, id, 2000000));
	/* A full table drops the least recently used. */
	assert_int_equal(proxy_session_new(&t, "u0", 3000000, first), 0);
	for (int i = 1; i < PROXY_SESSIONS_MAX; i++)
		assert_int_equal(proxy_session_new(&t, "u", 3001000, id), 0);
	assert_non_null(proxy_session_get(&t, id, 3002000));
	assert_non_null(proxy_session_get(&t, first, 3002000));	/* now the most recent */
	assert_int_equal(proxy_session_new(&t, "v", 3003000, id2), 0);
	assert_non_null(proxy_session_get(&t, first, 3003000));
	assert_non_null(proxy_session_get(&t, id2, 3003000));
}

static void
test_rate_limit(void **state)
{
	static struct proxy_ratelimit rl;
	int want[] = { 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60 };
	long long t = 100000;

	(void)state;
	memset(&rl, 0, sizeof(rl));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(proxy_rate_wait(&rl, "10.0.0.1", t), 0);
		assert_int_equal(proxy_rate_fail(&rl, "10.0.0.1", t), want[i]);
		assert_int_equal(proxy_rate_wait(&rl, "10.0.0.1", t), want[i]);
		assert_int_equal(proxy_rate_wait(&rl, "10.0.0.2", t), 0);
		/* Rounded up: 1 ms before the end is still a second. */
		if (want[i] > 0)
			assert_int_equal(proxy_rate_wait(&rl, "10.0.0.1", t + want[i] * 1000LL - 1), 1);
		t += want[i] * 1000LL;
	}
	proxy_rate_ok(&rl, "10.0.0.1");
	assert_int_equal(proxy_rate_fail(&rl, "10.0.0.1", t), 0);
	/* Bounded: many addresses evict the longest idle entry. */
	for (int i = 0; i < 3; i++)
		proxy_rate_fail(&rl, "10.9.9.9", t);
	assert_int_equal(proxy_rate_wait(&rl, "10.9.9.9", t), 1);
	for (int i = 0; i < PROXY_RATE_MAX; i++) {
		char a[32];

		snprintf(a, sizeof(a), "192.168.%d.%d", i / 256, i % 256);
		proxy_rate_fail(&rl, a, t + 1 + i);
	}
	assert_int_equal(proxy_rate_wait(&rl, "10.9.9.9", t), 0);
}

static void
test_origin(void **state)
{
	const char *allow[] = { "https://kvm.example.com/", "http://10.0.0.5:8080" };

	(void)state;
	assert_true(proxy_origin_ok("http://127.0.0.1:6080", "127.0.0.1:6080", false, NULL, 0));
	assert_true(proxy_origin_ok("http://KVM.local", "kvm.local:80", false, NULL, 0));
	assert_true(proxy_origin_ok("https://kvm.local:443", "kvm.local", true, NULL, 0));
	assert_true(proxy_origin_ok("http://[::1]:6080", "[::1]:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("https://127.0.0.1:6080", "127.0.0.1:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("http://127.0.0.1:6081", "127.0.0.1:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("http://127.0.0.1:6080.evil", "127.0.0.1:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("null", "127.0.0.1:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("", "127.0.0.1:6080", false, NULL, 0));
	assert_false(proxy_origin_ok("http://evil", "", false, NULL, 0));
	assert_false(proxy_origin_ok("http://a@evil", "a@evil", false, NULL, 0));
	assert_true(proxy_origin_ok("https://kvm.example.com", "x", false, allow, 2));
	assert_true(proxy_origin_ok("http://10.0.0.5:8080", "x", false, allow, 2));
	assert_false(proxy_origin_ok("http://10.0.0.5", "x", false, allow, 2));
	assert_false(proxy_origin_ok("https://kvm.example.com.evil", "x", false, allow, 2));
}

static void
test_tls_selfsigned_reuse(void **state)
{
	char dir[] = "/tmp/webkvm-test-tls-XXXXXX", cert[PATH_MAX], key[PATH_MAX], err[256];
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* Existing files are reused, not remade, and their mode tightened. */
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(i ? key : cert, "w");

		assert_non_null(f);
		fputs("x\n", f);
		fclose(f);
		chmod(i ? key : cert, 0644);
	}
	assert_int_equal(proxy_tls_selfsigned(dir, cert, sizeof(cert), key, sizeof(key), err, sizeof(err)), 0);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/* ---- where the proxy may listen ---- */

static void
test_listen_check(void **state)
{
	struct proxy_options o;
	char err[512];

	(void)state;
	assert_int_equal(parse(&o, err, sizeof(err), "--users", "/etc/u", "0.0.0.0:6080", "h:1"), 0);
	/* With users, anywhere. */
	assert_int_equal(proxy_listen_check(&o, 1, NULL, err, sizeof(err)), 0);
	assert_int_equal(proxy_listen_check(&o, 1, "192.0.2.1", err, sizeof(err)), 0);
	/* Without users, only on loopback; the reason is the missing users,
	 * not an --auth none nobody gave. */
	assert_int_equal(proxy_listen_check(&o, 0, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "no users are configured"));
	assert_non_null(strstr(err, "webkvm-passwd add --file /etc/u NAME"));
	assert_non_null(strstr(err, "0.0.0.0:6080"));
	assert_null(strstr(err, "--auth"));
	assert_int_equal(parse(&o, err, sizeof(err), "--users", "/etc/u", "localhost:6080", "h:1"), 0);
	assert_int_equal(proxy_listen_check(&o, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(proxy_listen_check(&o, 0, "127.0.0.1", err, sizeof(err)), 0);
	/* A name that resolved somewhere else. */
	assert_int_equal(proxy_listen_check(&o, 0, "192.0.2.1", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "no users are configured"));
	assert_non_null(strstr(err, "192.0.2.1"));
	assert_null(strstr(err, "--auth"));
	/* Every address ("" = a bare port) is not loopback. */
	assert_int_equal(parse(&o, err, sizeof(err), "6080", "h:1"), 0);
	assert_int_equal(proxy_listen_check(&o, 0, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "*:6080"));
	assert_non_null(strstr(err, PROXY_USERS_DEFAULT));
	/* --auth none says so. */
	assert_int_equal(parse(&o, err, sizeof(err), "--auth", "none", "localhost:6080", "h:1"), 0);
	assert_int_equal(proxy_listen_check(&o, 0, "192.0.2.1", err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "--auth none: localhost resolves to 192.0.2.1"));
	assert_int_equal(proxy_listen_check(&o, 5, "192.0.2.1", err, sizeof(err)), -EPERM);
	assert_int_equal(proxy_listen_check(&o, 0, "::1", err, sizeof(err)), 0);
}

/* ---- the pending request heads (the 431 answer's addressee) ---- */

static void
test_pending_never_drops(void **state)
{
	/* Stand-ins: the set only compares pointers. */
	static char wsi[200];
	struct lws *w[200];

	(void)state;
	for (int i = 0; i < 200; i++)
		w[i] = (struct lws *)&wsi[i];
	assert_null(proxy__pending_only());
	proxy__pending_add(w[0]);
	assert_ptr_equal(proxy__pending_only(), w[0]);
	proxy__pending_add(w[1]);
	assert_null(proxy__pending_only());
	proxy__pending_del(w[0]);
	assert_ptr_equal(proxy__pending_only(), w[1]);
	proxy__pending_del(w[1]);
	proxy__pending_del(w[1]);
	assert_null(proxy__pending_only());

	/* More heads pending than the old 64 slots: the 65th was not
	 * recorded, so with it and one other left, the other was taken for
	 * the only one and got the 431 meant for the 65th. */
	for (int i = 0; i < 65; i++)
		proxy__pending_add(w[i]);
	for (int i = 1; i < 64; i++)
		proxy__pending_del(w[i]);
	assert_null(proxy__pending_only());
	proxy__pending_del(w[0]);
	assert_ptr_equal(proxy__pending_only(), w[64]);
	proxy__pending_del(w[64]);

	for (int i = 0; i < 200; i++)
		proxy__pending_add(w[i]);
	for (int i = 0; i < 200; i++)
		if (i != 137)
			proxy__pending_del(w[i]);
	assert_ptr_equal(proxy__pending_only(), w[137]);
	proxy__pending_free();
	assert_null(proxy__pending_only());
}

/* ---- the WebSocket frame header of spliced frames ---- */

static void
test_ws_frame_header(void **state)
{
	static const struct { size_t len; size_t hlen; uint8_t hdr[10]; } cases[] = {
		{ 0, 2, { 0x82, 0 } },
		{ 125, 2, { 0x82, 125 } },
		{ 126, 4, { 0x82, 126, 0, 126 } },
		{ 65535, 4, { 0x82, 126, 0xff, 0xff } },
		{ 65536, 10, { 0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0 } },
		{ 262144, 10, { 0x82, 127, 0, 0, 0, 0, 0, 4, 0, 0 } },
	};
	uint8_t hdr[10];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(hdr, 0xee, sizeof(hdr));
		assert_int_equal(proxy__ws_frame_header(hdr, cases[i].len), cases[i].hlen);
		assert_memory_equal(hdr, cases[i].hdr, cases[i].hlen);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_websockify_order),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_cli_auth_none_on_loopback),
		cmocka_unit_test(test_token_lines),
		cmocka_unit_test(test_token_buffer),
		cmocka_unit_test(test_token_directory),
		cmocka_unit_test(test_cookie_token),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_path_resolve),
		cmocka_unit_test(test_mime),
		cmocka_unit_test(test_json_check),
		cmocka_unit_test(test_rest_build),
		cmocka_unit_test(test_rest_build_hid),
		cmocka_unit_test(test_rest_status),
		cmocka_unit_test(test_cli_security_options),
		cmocka_unit_test(test_users_lines),
		cmocka_unit_test(test_users_buffer_and_verify),
		cmocka_unit_test(test_login_body),
		cmocka_unit_test(test_cookie_value),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_tls_selfsigned_reuse),
		cmocka_unit_test(test_listen_check),
		cmocka_unit_test(test_pending_never_drops),
		cmocka_unit_test(test_ws_frame_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
