/* firmware/ unit tests: options, config file, control-socket JSON, keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "firmware/config.h"
#include "firmware/control.h"
#include "firmware/daemon.h"
#include "firmware/json.h"

static char err[512];

static int
parse(struct fw_config *c, int argc, const char **argv)
{
	fw_config_defaults(c);
	err[0] = '\0';
	return fw_config_parse_args(c, argc, (char **)argv, err, sizeof(err));
}

static void
test_cli_good(void **state)
{
	struct fw_config c;
	const char *argv[] = { "webkvmd", "--board", "sim", "--rfb-listen=127.0.0.1:5999",
			       "--resolution", "1920x1080", "--fps", "25", "--view-only",
			       "--format", "mjpeg,UYVY", "--log-level", "debug", "--tile", "64" };

	(void)state;
	assert_int_equal(parse(&c, 15, argv), 0);
	assert_string_equal(c.board, "sim");
	assert_string_equal(c.rfb_listen, "127.0.0.1:5999");
	assert_int_equal(c.width, 1920);
	assert_int_equal(c.height, 1080);
	assert_int_equal(c.fps, 25);
	assert_true(c.view_only);
	assert_int_equal(c.formats[0], CAP_FMT_MJPEG);
	assert_int_equal(c.formats[1], CAP_FMT_UYVY);
	assert_int_equal(c.formats[2], CAP_FMT_NONE);
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.tile, 64);
}

static void
test_cli_defaults(void **state)
{
	struct fw_config c;
	const char *argv[] = { "webkvmd" };

	(void)state;
	assert_int_equal(parse(&c, 1, argv), 0);
	assert_string_equal(c.board, "sim");
	assert_string_equal(c.rfb_listen, "127.0.0.1:5900");	/* loopback by default */
	assert_false(c.view_only);
	assert_int_equal(c.tile, 32);
}

static void
expect_cli_error(int argc, const char **argv, const char *needle)
{
	struct fw_config c;

	assert_int_equal(parse(&c, argc, argv), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void
test_cli_errors(void **state)
{
	const char *a1[] = { "webkvmd", "--no-such-thing", "1" };
	const char *a2[] = { "webkvmd", "--fps", "sixty" };
	const char *a3[] = { "webkvmd", "--fps", "0" };
	const char *a4[] = { "webkvmd", "--fps", "60x" };
	const char *a5[] = { "webkvmd", "--resolution", "1920*1080" };
	const char *a6[] = { "webkvmd", "--fps" };
	const char *a7[] = { "webkvmd", "--format", "mjpeg,h264" };
	const char *a8[] = { "webkvmd", "stray" };
	const char *a9[] = { "webkvmd", "--source", "camera" };
	const char *a10[] = { "webkvmd", "--tile", "31" };
	const char *a11[] = { "webkvmd", "--config", "/nonexistent/webkvm.conf" };
	const char *a12[] = { "webkvmd", "--log-level", "loud" };
	const char *a13[] = { "webkvmd", "--fps", "99999999999999999999" };

	(void)state;
	expect_cli_error(3, a1, "no-such-thing");
	expect_cli_error(3, a2, "fps");
	expect_cli_error(3, a3, "fps");
	expect_cli_error(3, a4, "60x");
	expect_cli_error(3, a5, "resolution");
	expect_cli_error(2, a6, "needs a value");
	expect_cli_error(3, a7, "h264");
	expect_cli_error(2, a8, "stray");
	expect_cli_error(3, a9, "camera");
	expect_cli_error(3, a10, "tile");
	expect_cli_error(3, a11, "/nonexistent/webkvm.conf");
	expect_cli_error(3, a12, "loud");
	expect_cli_error(3, a13, "fps");
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_config_file(void **state)
{
	char path[] = "/tmp/webkvm-test-XXXXXX";
	int fd = mkstemp(path);
	struct fw_config c;
	const char *argv[] = { "webkvmd", "--config", path, "--fps", "50" };

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "# comment\n\n  board = sim\nfps = 10\nrfb-listen = [::1]:5901\nview-only = yes\n");
	assert_int_equal(parse(&c, 5, argv), 0);
	assert_int_equal(c.fps, 50);	/* the command line wins */
	assert_string_equal(c.rfb_listen, "[::1]:5901");
	assert_true(c.view_only);

	write_file(path, "fps = 10\ncolour = blue\n");
	assert_int_equal(parse(&c, 3, argv), -1);
	assert_non_null(strstr(err, ":2:"));
	assert_non_null(strstr(err, "colour"));

	write_file(path, "fps 10\n");
	assert_int_equal(parse(&c, 3, argv), -1);
	assert_non_null(strstr(err, ":1:"));

	write_file(path, "fps = 1000\n");
	assert_int_equal(parse(&c, 3, argv), -1);
	assert_non_null(strstr(err, "fps"));

	write_file(path, "view-only = maybe\n");
	assert_int_equal(parse(&c, 3, argv), -1);
	assert_non_null(strstr(err, "maybe"));
	unlink(path);
}

static void
test_config_check(void **state)
{
	struct fw_config c;

	(void)state;
	fw_config_defaults(&c);
	strcpy(c.source, "file");
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--device"));
	fw_config_defaults(&c);
	strcpy(c.board, "rpi4");
	strcpy(c.source, "sim");
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), -1);
}

static void
test_json_good(void **state)
{
	struct fw_json j;
	const char *s = " {\"cmd\":\"type\", \"text\":\"a\\\"b\\n\\u00e9\\ud83d\\ude00\", "
			"\"n\": -1.5e2, \"on\": true, \"off\":false, \"z\":null, \"keys\":[\"ctrl\" ,\"alt\"]} ";
	const struct fw_json_member *m;

	(void)state;
	assert_int_equal(fw_json_parse(&j, s, strlen(s), err, sizeof(err)), 0);
	assert_int_equal(j.n, 7);
	m = fw_json_get(&j, "text");
	assert_non_null(m);
	assert_int_equal(m->type, FW_JSON_STRING);
	assert_string_equal(m->str, "a\"b\n\xc3\xa9\xf0\x9f\x98\x80");
	m = fw_json_get(&j, "n");
	assert_int_equal(m->type, FW_JSON_NUMBER);
	assert_true(m->num == -150.0);
	assert_true(fw_json_get(&j, "on")->b);
	assert_false(fw_json_get(&j, "off")->b);
	assert_int_equal(fw_json_get(&j, "z")->type, FW_JSON_NULL);
	m = fw_json_get(&j, "keys");
	assert_int_equal(m->n_items, 2);
	assert_string_equal(m->items[1], "alt");
	assert_null(fw_json_get(&j, "missing"));
	fw_json_free(&j);
}

static void
test_json_bad(void **state)
{
	static const char *bad[] = {
		"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":{\"b\":1}}", "{\"a\":[1]}",
		"{\"a\":\"x\ny\"}", "{\"a\":1,\"a\":2}", "{\"a\":tru}", "{\"a\":1e999}",
		"{\"a\":\"\\u0000\"}", "{\"a\":--1}", "{a:1}",
	};
	struct fw_json j;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (fw_json_parse(&j, bad[i], strlen(bad[i]), err, sizeof(err)) == 0)
			fail_msg("accepted bad JSON: %s", bad[i]);
		assert_non_null(strstr(err, "bad JSON at byte"));
		fw_json_free(&j);
	}
	/* Random bytes never crash the parser. */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		char buf[64];
		size_t n = (size_t)(rand() % 64);

		for (size_t k = 0; k < n; k++)
			buf[k] = "{}[]\":,\\u0ae tfn1-."[rand() % 20];
		fw_json_parse(&j, buf, n, err, sizeof(err));
		fw_json_free(&j);
	}
}

static void
test_json_quote(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(fw_json_quote(out, sizeof(out), "a\"b\\c\n"), 15);
	assert_string_equal(out, "\"a\\\"b\\\\c\\u000a\"");
	assert_int_equal(fw_json_quote(out, 4, "abcdef"), 8);	/* truncated, reports need */
	assert_string_equal(out, "\"ab");
}

static void
test_keys(void **state)
{
	size_t pos = 0;
	uint32_t cp;
	const char *s = "a\xc3\xa9\xe2\x82\xac";

	(void)state;
	assert_int_equal(fw_key_by_name("ctrl"), 0xffe3);
	assert_int_equal(fw_key_by_name("Delete"), 0xffff);
	assert_int_equal(fw_key_by_name("f1"), 0xffbe);
	assert_int_equal(fw_key_by_name("F12"), 0xffc9);
	assert_int_equal(fw_key_by_name("f24"), 0xffd5);
	assert_int_equal(fw_key_by_name("f25"), 0);
	assert_int_equal(fw_key_by_name("f01"), 0);
	assert_int_equal(fw_key_by_name("x"), 'x');
	assert_int_equal(fw_key_by_name("nope"), 0);

	assert_int_equal(fw_utf8_next(s, strlen(s), &pos, &cp), 1);
	assert_int_equal(cp, 'a');
	assert_int_equal(fw_utf8_next(s, strlen(s), &pos, &cp), 1);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(fw_utf8_next(s, strlen(s), &pos, &cp), 1);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(fw_utf8_next(s, strlen(s), &pos, &cp), 0);
	pos = 0;
	assert_int_equal(fw_utf8_next("\xc0\x80", 2, &pos, &cp), -1);	/* overlong */
	pos = 0;
	assert_int_equal(fw_utf8_next("\xed\xa0\x80", 3, &pos, &cp), -1);	/* surrogate */
	pos = 0;
	assert_int_equal(fw_utf8_next("\xe2\x82", 2, &pos, &cp), -1);	/* truncated */

	assert_int_equal(fw_keysym_of_char('\n'), 0xff0d);
	assert_int_equal(fw_keysym_of_char('A'), 'A');
	assert_int_equal(fw_keysym_of_char(0xe9), 0xe9);
	assert_int_equal(fw_keysym_of_char(0x20ac), 0x010020ac);
	assert_int_equal(fw_keysym_of_char(0x01), 0);
}

static void
test_listen_loopback(void **state)
{
	static const struct { const char *spec; int want; } cases[] = {
		{ "127.0.0.1:5900", 1 }, { "127.1.2.3:1", 1 }, { "[::1]:5900", 1 },
		{ "[::ffff:127.0.0.1]:5900", 1 },
		{ "0.0.0.0:5900", 0 }, { ":5900", 0 }, { "[::]:5900", 0 },
		{ "192.168.1.10:5900", 0 }, { "128.0.0.1:5900", 0 }, { "[fe80::1]:5900", 0 },
		{ "[::ffff:10.0.0.1]:5900", 0 }, { "localhost:5900", 0 }, { "[::2]:5900", 0 },
		{ "5900", -1 }, { "127.0.0.1:", -1 }, { "127.0.0.1:59x", -1 }, { "[::1:5900", -1 },
		{ "[::1]5900", -1 }, { "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (fw_config_listen_loopback(cases[i].spec) != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].spec,
				 fw_config_listen_loopback(cases[i].spec), cases[i].want);
}

static void
test_rfb_exposure(void **state)
{
	const char *open_nopw[] = { "webkvmd", "--rfb-listen", "0.0.0.0:5900" };
	const char *open_pw[] = { "webkvmd", "--rfb-listen", ":5900", "--rfb-password-file", "/x" };
	const char *open_ok[] = { "webkvmd", "--rfb-listen", "[::]:5900", "--rfb-allow-insecure" };
	const char *loop6[] = { "webkvmd", "--rfb-listen", "[::1]:5901" };
	const char *bad[] = { "webkvmd", "--rfb-listen", "nocolon" };
	struct fw_config c;

	(void)state;
	fw_config_defaults(&c);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), 0);	/* 127.0.0.1:5900 */
	assert_int_equal(parse(&c, 3, open_nopw), 0);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--rfb-password-file"));
	assert_non_null(strstr(err, "0.0.0.0:5900"));
	assert_int_equal(parse(&c, 5, open_pw), 0);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), 0);
	assert_int_equal(parse(&c, 4, open_ok), 0);
	assert_true(c.rfb_allow_insecure);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), 0);
	assert_int_equal(parse(&c, 3, loop6), 0);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), 0);
	assert_int_equal(parse(&c, 3, bad), 0);
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nocolon"));
}

static void
no_answer(void *ctx, const struct fw_json *req, char *resp, size_t resplen)
{
	(void)ctx, (void)req;
	snprintf(resp, resplen, "{}");
}

static void
test_control_group(void **state)
{
	char path[64], buf[4096];
	struct group gr, *g = NULL;
	struct fw_control *ctl;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/webkvm-test-ctl-%d.sock", (int)getpid());
	assert_int_equal(getgrgid_r(getgid(), &gr, buf, sizeof(buf), &g), 0);
	assert_non_null(g);

	ctl = fw_control_new(path, g->gr_name, no_answer, NULL, err, sizeof(err));
	assert_non_null(ctl);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	fw_control_free(ctl);
	assert_int_not_equal(lstat(path, &st), 0);

	err[0] = '\0';
	assert_null(fw_control_new(path, "no-such-group-webkvm-test", no_answer, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-group-webkvm-test"));
	assert_int_not_equal(lstat(path, &st), 0);

	/* Default: "webkvm" when it exists, else ours; either way it serves. */
	ctl = fw_control_new(path, NULL, no_answer, NULL, err, sizeof(err));
	assert_non_null(ctl);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	if (getgrnam("webkvm") == NULL)
		assert_int_equal(st.st_gid, getgid());
	fw_control_free(ctl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_good),
		cmocka_unit_test(test_cli_defaults),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_json_good),
		cmocka_unit_test(test_json_bad),
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_listen_loopback),
		cmocka_unit_test(test_rfb_exposure),
		cmocka_unit_test(test_control_group),
	};

	return cmocka_run_group_tests_name("firmware", tests, NULL, NULL);
}
