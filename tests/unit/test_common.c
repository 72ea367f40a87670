/* common/: the clock, the logger, number and address parsing, UTF-8, the
 * JSON helpers and `key = value` files. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/hostport.h"
#include "common/json.h"
#include "common/log.h"
#include "common/parse.h"
#include "common/utf8.h"

/* ---- clock ---- */

static void
clock_moves_forward(void **state)
{
	uint64_t a, b;

	(void)state;
	a = wk_now_us();
	b = wk_now_us();
	assert_true(b >= a);
	assert_true(a > 0);
	assert_true(wk_now_ms() >= a / 1000);
}

/* ---- log ---- */

static char sunk[8][256];
static int n_sunk;

static void
sink(int level, const char *line)
{
	(void)level;
	if (n_sunk < 8)
		snprintf(sunk[n_sunk], sizeof(sunk[0]), "%s", line);
	n_sunk++;
}

static void
log_format_level_and_sink(void **state)
{
	(void)state;
	n_sunk = 0;
	wk_log_set_sink(sink);
	wk_log_set_level(WK_LOG_INFO);
	wk_log("cap", WK_LOG_INFO, "/dev/video0: %d buffers", 4);
	wk_log("cap", WK_LOG_WARN, "slow");
	wk_log("rfb", WK_LOG_ERROR, "bad");
	wk_log("rfb", WK_LOG_DEBUG, "hidden");
	assert_int_equal(n_sunk, 3);
	assert_string_equal(sunk[0], "cap: /dev/video0: 4 buffers");
	assert_string_equal(sunk[1], "cap: warning: slow");
	assert_string_equal(sunk[2], "rfb: error: bad");
	wk_log_set_level(WK_LOG_DEBUG);
	wk_log("rfb", WK_LOG_DEBUG, "shown");
	assert_int_equal(n_sunk, 4);
	wk_log_set_level(99);
	assert_int_equal(wk_log_get_level(), WK_LOG_DEBUG);
	assert_int_equal(wk_log_level_parse("warn"), WK_LOG_WARN);
	assert_int_equal(wk_log_level_parse("loud"), -1);
	assert_int_equal(wk_log_level_parse(NULL), -1);
	wk_log_set_level(WK_LOG_INFO);
	wk_log_set_sink(NULL);
}

static void
log_once_and_recovery(void **state)
{
	struct wk_log_once o = { 0 };

	(void)state;
	n_sunk = 0;
	wk_log_set_sink(sink);
	/* Silent recovery when nothing failed. */
	wk_log_recovered(&o, "cap", "back");
	assert_int_equal(n_sunk, 0);
	for (int i = 0; i < 60; i++)
		wk_log_once(&o, "cap", WK_LOG_WARN, "DQBUF: %s", "No such device");
	assert_int_equal(n_sunk, 1);
	assert_true(wk_log_once(&o, "cap", WK_LOG_WARN, "other"));
	assert_int_equal(n_sunk, 2);
	wk_log_recovered(&o, "cap", "streaming again");
	assert_int_equal(n_sunk, 3);
	assert_string_equal(sunk[2], "cap: streaming again");
	/* After recovery the same failure is news again. */
	assert_true(wk_log_once(&o, "cap", WK_LOG_WARN, "DQBUF: %s", "No such device"));
	assert_int_equal(n_sunk, 4);
	/* More distinct messages than the memory holds: the oldest is
	 * forgotten, nothing overflows. */
	for (int i = 0; i < 3 * WK_LOG_ONCE_MEMORY; i++)
		wk_log_once(&o, "cap", WK_LOG_WARN, "m%d", i);
	assert_false(wk_log_once(&o, "cap", WK_LOG_WARN, "m%d", 3 * WK_LOG_ONCE_MEMORY - 1));
	wk_log_set_sink(NULL);
}

/* ---- parse ---- */

static void
parse_numbers(void **state)
{
	long v = 7;
	int i = 0;
	uint64_t sz = 0;
	long w = 0, h = 0;

	(void)state;
	assert_int_equal(wk_parse_long("010", 0, 100, &v), 0);
	assert_int_equal(v, 10);	/* never octal */
	assert_int_equal(wk_parse_long("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(wk_parse_long("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long(" 5", 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long("5 ", 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long("", 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long("-", 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long(NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(wk_parse_long("101", 0, 100, &v), -ERANGE);
	assert_int_equal(wk_parse_long("99999999999999999999999", LONG_MIN, LONG_MAX, &v), -ERANGE);
	assert_int_equal(wk_parse_long("-9223372036854775808", LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MIN);
	assert_int_equal(wk_parse_long("9223372036854775807", LONG_MIN, LONG_MAX, &v), 0);
	assert_true(v == LONG_MAX);
	assert_int_equal(wk_parse_long("9223372036854775808", LONG_MIN, LONG_MAX, &v), -ERANGE);
	assert_int_equal(wk_parse_int("65535", 1, 65535, &i), 0);
	assert_int_equal(i, 65535);
	assert_int_equal(wk_parse_long_n("123abc", 3, 0, 1000, &v), 0);
	assert_int_equal(v, 123);

	assert_int_equal(wk_parse_size("4096", UINT64_MAX, &sz), 0);
	assert_true(sz == 4096);
	assert_int_equal(wk_parse_size("8M", UINT64_MAX, &sz), 0);
	assert_true(sz == 8u << 20);
	assert_int_equal(wk_parse_size("2GiB", UINT64_MAX, &sz), 0);
	assert_true(sz == 2ull << 30);
	assert_int_equal(wk_parse_size("1k", UINT64_MAX, &sz), 0);
	assert_true(sz == 1024);
	assert_int_equal(wk_parse_size("1T", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_size("-1", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_size("2M", 1u << 20, &sz), -ERANGE);
	assert_int_equal(wk_parse_size("99999999999999999999G", UINT64_MAX, &sz), -ERANGE);

	assert_int_equal(wk_parse_hex("0x00980900", UINT32_MAX, &sz), 0);
	assert_true(sz == 0x980900);
	assert_int_equal(wk_parse_hex("0XfF", 255, &sz), 0);
	assert_true(sz == 255);
	assert_int_equal(wk_parse_hex("0x100", 255, &sz), -ERANGE);
	assert_int_equal(wk_parse_hex("0x1ffffffffffffffff", UINT64_MAX, &sz), -ERANGE);
	assert_int_equal(wk_parse_hex("0x", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_hex("ff", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_hex("0x1g", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_hex("-0x1", UINT64_MAX, &sz), -EINVAL);
	assert_int_equal(wk_parse_hex(NULL, UINT64_MAX, &sz), -EINVAL);

	assert_int_equal(wk_parse_dims("1920x1080", 64, 8192, &w, &h), 0);
	assert_int_equal(w, 1920);
	assert_int_equal(h, 1080);
	assert_int_equal(wk_parse_dims("1920", 64, 8192, &w, &h), -EINVAL);
	assert_int_equal(wk_parse_dims("x1080", 64, 8192, &w, &h), -EINVAL);
	assert_int_equal(wk_parse_dims("10x1080", 64, 8192, &w, &h), -ERANGE);
}

/* ---- host:port ---- */

static void
hostport_rules(void **state)
{
	struct wk_hostport hp;
	char err[300], out[300];

	(void)state;
	assert_int_equal(wk_hostport_parse("127.0.0.1:5900", 0, &hp, err, sizeof(err)), 0);
	assert_string_equal(hp.host, "127.0.0.1");
	assert_int_equal(hp.port, 5900);
	assert_false(hp.ipv6);
	assert_int_equal(wk_hostport_parse("[::1]:5900", 0, &hp, err, sizeof(err)), 0);
	assert_string_equal(hp.host, "::1");
	assert_true(hp.ipv6);
	wk_hostport_format(&hp, out, sizeof(out));
	assert_string_equal(out, "[::1]:5900");
	/* An unbracketed IPv6 address is ambiguous: refused, with the fix. */
	assert_int_equal(wk_hostport_parse("::1:5900", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "brackets"));
	assert_int_equal(wk_hostport_parse("6080", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("6080", WK_HOSTPORT_BARE_PORT, &hp, err, sizeof(err)), 0);
	assert_string_equal(hp.host, "");
	assert_int_equal(hp.port, 6080);
	assert_int_equal(wk_hostport_parse("host:0", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("host:65536", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("host:080", 0, &hp, err, sizeof(err)), 0);
	assert_int_equal(hp.port, 80);
	assert_int_equal(wk_hostport_parse(":5900", 0, &hp, err, sizeof(err)), -EINVAL);
	/* A listener's forms: every address, and a port the kernel picks. */
	assert_int_equal(wk_hostport_parse(":5900", WK_HOSTPORT_EMPTY_HOST, &hp, err, sizeof(err)), 0);
	assert_string_equal(hp.host, "");
	assert_int_equal(hp.port, 5900);
	assert_int_equal(wk_hostport_parse(":", WK_HOSTPORT_EMPTY_HOST, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("::1:5900", WK_HOSTPORT_EMPTY_HOST, &hp, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(wk_hostport_parse("5900", WK_HOSTPORT_EMPTY_HOST, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("127.0.0.1:0", WK_HOSTPORT_PORT_ZERO, &hp, err, sizeof(err)), 0);
	assert_int_equal(hp.port, 0);
	assert_int_equal(wk_hostport_parse("[::1]:0", WK_HOSTPORT_PORT_ZERO, &hp, err, sizeof(err)), 0);
	assert_int_equal(wk_hostport_parse("h:65536", WK_HOSTPORT_PORT_ZERO, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("a b:5900", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("[nope]:5900", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("[::1]5900", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse("", 0, &hp, err, sizeof(err)), -EINVAL);
	assert_int_equal(wk_hostport_parse(NULL, 0, &hp, err, sizeof(err)), -EINVAL);

	assert_true(wk_host_is_loopback("localhost"));
	assert_true(wk_host_is_loopback("127.3.4.5"));
	assert_true(wk_host_is_loopback("::1"));
	assert_true(wk_host_is_loopback("::ffff:127.0.0.1"));
	assert_false(wk_host_is_loopback("0.0.0.0"));
	assert_false(wk_host_is_loopback("::"));
	assert_false(wk_host_is_loopback("10.0.0.1"));
	assert_false(wk_host_is_loopback("example.org"));
}

/* ---- UTF-8 ---- */

static void
utf8_round_trip_and_refusals(void **state)
{
	const uint32_t cps[] = { 0x41, 0xe9, 0x20ac, 0x1f600, 0x10ffff };
	/* Overlong "/", a lone surrogate, past U+10FFFF, a cut sequence, a
	 * stray continuation byte. */
	const char *bad[] = { "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80" };
	char buf[4];
	size_t pos;
	uint32_t cp;

	(void)state;
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		size_t n = wk_utf8_put(cps[i], buf);

		pos = 0;
		assert_int_equal(wk_utf8_next(buf, n, &pos, &cp), 1);
		assert_int_equal(cp, cps[i]);
		assert_int_equal(pos, n);
		assert_int_equal(wk_utf8_next(buf, n, &pos, &cp), 0);
	}
	assert_int_equal(wk_utf8_put(0x20ac, buf), 3);
	assert_memory_equal(buf, "\xe2\x82\xac", 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		pos = 0;
		assert_int_equal(wk_utf8_next(bad[i], strlen(bad[i]), &pos, &cp), -1);
		assert_int_equal(pos, 0);
		assert_false(wk_utf8_valid(bad[i], strlen(bad[i])));
	}
	assert_true(wk_utf8_valid("h\xc3\xa9llo", 6));
	assert_true(wk_utf8_valid("", 0));
}

/* Both ways, against bytes written out by hand. */
static void
utf8_hand_written_bytes(void **state)
{
	static const struct { uint32_t cp; const char *bytes; } t[] = {
		{ 0x41, "A" }, { 0xe9, "\xc3\xa9" }, { 0x20ac, "\xe2\x82\xac" },
		{ 0xffe5, "\xef\xbf\xa5" }, { 0x1f600, "\xf0\x9f\x98\x80" }, { 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	char out[4];
	size_t pos;
	uint32_t cp;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].bytes);

		assert_int_equal(wk_utf8_put(t[i].cp, out), n);
		assert_memory_equal(out, t[i].bytes, n);
		pos = 0;
		assert_int_equal(wk_utf8_next(t[i].bytes, n, &pos, &cp), 1);
		assert_int_equal(cp, t[i].cp);
		assert_int_equal(pos, n);
		assert_int_equal(wk_utf8_next(t[i].bytes, n, &pos, &cp), 0);
	}
	pos = 0;
	assert_int_equal(wk_utf8_next("\xe0\x80\x80", 3, &pos, &cp), -1);	/* overlong */
	assert_int_equal(wk_utf8_next("\xf4\x90\x80\x80", 4, &pos, &cp), -1);	/* past U+10FFFF */
	assert_int_equal(wk_utf8_next("\x80", 1, &pos, &cp), -1);		/* stray continuation */
	assert_int_equal(wk_utf8_next("\xf0\x9f\x98", 3, &pos, &cp), -1);	/* cut off */
	assert_int_equal(pos, 0);
}

/* ---- JSON ---- */

static void
json_object_and_members(void **state)
{
	static const char *const names[] = { "cmd", "n", "on", "text", NULL };
	const char *doc = "{\"cmd\":\"type\",\"n\":42,\"on\":true,\"text\":\"caf\\u00e9\",\"nil\":null}";
	char err[300];
	const char *s;
	size_t len;
	long n;
	bool on;
	json_t *o;

	(void)state;
	o = wk_json_parse_object(doc, strlen(doc), err, sizeof(err));
	assert_non_null(o);
	assert_int_equal(wk_json_get_str(o, "cmd", true, &s, &len, err, sizeof(err)), 0);
	assert_string_equal(s, "type");
	assert_int_equal(wk_json_get_str(o, "text", true, &s, &len, err, sizeof(err)), 0);
	assert_string_equal(s, "caf\xc3\xa9");
	assert_int_equal(len, 5);
	assert_int_equal(wk_json_get_int(o, "n", true, 0, 100, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 42);
	assert_int_equal(wk_json_get_int(o, "n", true, 0, 10, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"n\" must be 0..10"));
	assert_int_equal(wk_json_get_int(o, "cmd", true, 0, 10, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "integer"));
	assert_int_equal(wk_json_get_bool(o, "on", true, &on, err, sizeof(err)), 0);
	assert_true(on);
	assert_int_equal(wk_json_get_bool(o, "missing", false, &on, err, sizeof(err)), -ENOENT);
	assert_int_equal(wk_json_get_str(o, "nil", false, &s, NULL, err, sizeof(err)), -ENOENT);
	assert_int_equal(wk_json_get_str(o, "missing", true, &s, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs \"missing\""));
	assert_int_equal(wk_json_only(o, names, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "\"nil\""));
	json_object_del(o, "nil");
	assert_int_equal(wk_json_only(o, names, err, sizeof(err)), 0);
	json_decref(o);
}

static void
json_refusals(void **state)
{
	const char *bad[] = {
		"[1,2]", "\"s\"", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\xff\"}",
		"{\"a\":1} x", "{", "",
	};
	char err[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(wk_json_parse_object(bad[i], strlen(bad[i]), err, sizeof(err)));
		assert_true(strlen(err) > 0);
	}
}

static void
json_dump_and_quote(void **state)
{
	char out[64], tiny[8];
	json_t *o;

	(void)state;
	o = json_pack("{s:b,s:i,s:s}", "ok", 1, "n", 3, "t", "a\"b");
	assert_non_null(o);
	assert_int_equal(wk_json_dump(o, out, sizeof(out)), (int)strlen("{\"ok\":true,\"n\":3,\"t\":\"a\\\"b\"}"));
	assert_string_equal(out, "{\"ok\":true,\"n\":3,\"t\":\"a\\\"b\"}");
	assert_int_equal(wk_json_dump(o, tiny, sizeof(tiny)), -ENOSPC);
	assert_string_equal(tiny, "");
	json_decref(o);

	assert_int_equal(wk_json_quote(out, sizeof(out), "a\"\\\n\xc3\xa9"), 15);
	assert_string_equal(out, "\"a\\\"\\\\\\u000a\xc3\xa9\"");
	/* Too small: cut, still terminated, the full length returned. */
	assert_int_equal(wk_json_quote(tiny, sizeof(tiny), "abcdefghij"), 12);
	assert_int_equal(strlen(tiny), 7);
	/* A broken byte becomes U+FFFD, never invalid JSON. */
	wk_json_quote(out, sizeof(out), "x\xffy");
	assert_string_equal(out, "\"x\xef\xbf\xbdy\"");
}

/* ---- key = value files ---- */

struct pairs {
	char seen[256];
	int refuse_line;	/* the callback refuses this line */
};

static int
take_pair(void *ctx, int lineno, const char *key, const char *value, char *msg, size_t msglen)
{
	struct pairs *p = ctx;
	size_t n = strlen(p->seen);

	if (lineno == p->refuse_line) {
		snprintf(msg, msglen, "%s refused", key);
		return -ERANGE;
	}
	snprintf(p->seen + n, sizeof(p->seen) - n, "%d:[%s]=[%s];", lineno, key, value);
	return 0;
}

/* Writes text to a new temporary file; its path goes to path. */
static void
conf_file(char *path, size_t len, const char *text)
{
	FILE *fp;
	int fd;

	snprintf(path, len, "/tmp/webkvm-test-conf.XXXXXX");
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(fp = fdopen(fd, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static void
conf_pairs_and_refusals(void **state)
{
	char path[64], err[256], big[WK_CONF_LINE_MAX + 8], s[] = " \t a b \r\n";
	struct pairs p;

	(void)state;
	assert_string_equal(wk_trim(s), "a b");

	conf_file(path, sizeof(path), "# comment\n\n  a = 1 \n\tb=two words\r\n   # indented\nc =\nd = x = y");
	memset(&p, 0, sizeof(p));
	assert_int_equal(wk_conf_read(path, take_pair, &p, err, sizeof(err)), 0);
	assert_string_equal(p.seen, "3:[a]=[1];4:[b]=[two words];6:[c]=[];7:[d]=[x = y];");

	/* The callback's refusal stops the file, with its code and its line. */
	memset(&p, 0, sizeof(p));
	p.refuse_line = 4;
	assert_int_equal(wk_conf_read(path, take_pair, &p, err, sizeof(err)), -ERANGE);
	assert_string_equal(p.seen, "3:[a]=[1];");
	assert_non_null(strstr(err, ":4: b refused"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	unlink(path);

	conf_file(path, sizeof(path), "a = 1\nno equals sign\n");
	memset(&p, 0, sizeof(p));
	assert_int_equal(wk_conf_read(path, take_pair, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: expected `key = value`"));
	unlink(path);

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = '=';
	conf_file(path, sizeof(path), big);
	memset(&p, 0, sizeof(p));
	assert_int_equal(wk_conf_read(path, take_pair, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: line too long"));
	assert_string_equal(p.seen, "");
	unlink(path);

	assert_int_equal(wk_conf_read("/nonexistent/webkvm.conf", take_pair, &p, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/webkvm.conf: No such file or directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clock_moves_forward),
		cmocka_unit_test(log_format_level_and_sink),
		cmocka_unit_test(log_once_and_recovery),
		cmocka_unit_test(parse_numbers),
		cmocka_unit_test(hostport_rules),
		cmocka_unit_test(utf8_round_trip_and_refusals),
		cmocka_unit_test(utf8_hand_written_bytes),
		cmocka_unit_test(json_object_and_members),
		cmocka_unit_test(json_refusals),
		cmocka_unit_test(json_dump_and_quote),
		cmocka_unit_test(conf_pairs_and_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
