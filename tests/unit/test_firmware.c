/* firmware/ unit tests: options, config file, the control protocol, keys,
 * the paste plan and the held-keys queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/utf8.h"
#include "firmware/config.h"
#include "firmware/control.h"
#include "firmware/daemon.h"
#include "firmware/ctlproto.h"
#include "hid/hid.h"

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

/* The keyboard and mouse options: good values land, bad ones are named. */
static void
test_cli_input_options(void **state)
{
	struct fw_config c;
	const char *good[] = { "webkvmd", "--layout", "de", "--hid-profile", "relative", "--mouse",
			       "relative", "--mouse-scale", "3/2", "--paste-delay", "0" };
	const char *d1[] = { "webkvmd" };
	static const struct { const char *opt, *value, *needle; } bad[] = {
		{ "--hid-profile", "tablet", "hid-profile: \"tablet\"" },
		{ "--hid-profile", "", "hid-profile" },
		{ "--mouse", "both", "mouse: \"both\"" },
		{ "--mouse", "Relative", "mouse: \"Relative\"" },
		{ "--mouse-scale", "0", "mouse-scale: \"0\"" },
		{ "--mouse-scale", "1001", "mouse-scale" },
		{ "--mouse-scale", "2/0", "mouse-scale: \"2/0\"" },
		{ "--mouse-scale", "2/", "mouse-scale" },
		{ "--mouse-scale", "/2", "mouse-scale" },
		{ "--mouse-scale", "1/2/3", "mouse-scale" },
		{ "--mouse-scale", "-1", "mouse-scale" },
		{ "--mouse-scale", "12345678901234567890", "mouse-scale" },
		{ "--paste-delay", "-1", "paste-delay: \"-1\"" },
		{ "--paste-delay", "1001", "paste-delay" },
		{ "--paste-delay", "20ms", "paste-delay: \"20ms\"" },
		{ "--layout", "us", "layout: \"us\" is not one of" },
	};

	(void)state;
	assert_int_equal(parse(&c, 11, good), 0);
	assert_string_equal(c.layout, "de");
	assert_int_equal(c.hid_profile, HID_PROFILE_RELATIVE);
	assert_int_equal(c.mouse, HID_POINTER_RELATIVE);
	assert_int_equal(c.mouse_num, 3);
	assert_int_equal(c.mouse_den, 2);
	assert_int_equal(c.paste_delay_ms, 0);
	assert_int_equal(parse(&c, 1, d1), 0);
	assert_int_equal(c.hid_profile, HID_PROFILE_FULL);
	assert_int_equal(c.mouse, HID_POINTER_ABSOLUTE);
	assert_int_equal(c.mouse_num, 1);
	assert_int_equal(c.mouse_den, 1);
	assert_int_equal(c.paste_delay_ms, 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "webkvmd", bad[i].opt, bad[i].value };

		expect_cli_error(3, argv, bad[i].needle);
	}
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
	struct board_def def;

	(void)state;
	fw_config_defaults(&c);
	strcpy(c.source, "file");
	assert_int_equal(fw_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--device"));
	/* The sim source is the in-process target's screen: the board
	 * (board/rpi4/board.conf in the tree) says it has none. */
	fw_config_defaults(&c);
	strcpy(c.board, "rpi4");
	strcpy(c.source, "sim");
	assert_int_equal(fw_config_apply_board(&c, &def, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "virtual target"));
}

/* ---- the control protocol (ctlproto.c) ---- */

static int
req(struct ctl_req *r, const char *line)
{
	err[0] = '\0';
	return ctl_req_parse(r, line, strlen(line), err, sizeof(err));
}

static void
test_ctl_good(void **state)
{
	struct ctl_req r;
	const struct ctl_value *v;

	(void)state;
	assert_int_equal(req(&r, " {\"cmd\":\"type\", \"text\":\"a\\\"b\\n\\u00e9\\ud83d\\ude00\", \"delay_ms\": 20} "), 0);
	assert_int_equal(r.cmd, CTL_TYPE);
	v = ctl_get(&r, "text");
	assert_non_null(v);
	assert_string_equal(v->str, "a\"b\n\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(v->len, 10);
	assert_int_equal(ctl_get(&r, "delay_ms")->num, 20);
	assert_null(ctl_get(&r, "nosuchfield"));
	ctl_req_free(&r);

	/* null is absent */
	assert_int_equal(req(&r, "{\"cmd\":\"type\",\"text\":\"x\",\"delay_ms\":null}"), 0);
	assert_null(ctl_get(&r, "delay_ms"));
	ctl_req_free(&r);

	assert_int_equal(req(&r, "{\"keys\":[\"ctrl\" ,\"alt\", \"/\"],\"cmd\":\"key\"}"), 0);
	v = ctl_get(&r, "keys");
	assert_int_equal(v->n_items, 3);
	assert_string_equal(v->items[2], "/");
	ctl_req_free(&r);

	for (int a = CTL_POWER_ON; a <= CTL_POWER_REBOOT; a++) {
		char line[64];

		snprintf(line, sizeof(line), "{\"cmd\":\"power\",\"action\":\"%s\"}", ctl_power_actions[a]);
		assert_int_equal(req(&r, line), 0);
		assert_int_equal(ctl_get(&r, "action")->num, a);
		ctl_req_free(&r);
	}
	assert_int_equal(req(&r, "{\"cmd\":\"hid\",\"mouse\":\"relative\",\"layout\":\"pt-br\"}"), 0);
	assert_int_equal(ctl_get(&r, "mouse")->num, 1);
	assert_string_equal(ctl_get(&r, "layout")->str, "pt-br");
	assert_null(ctl_get(&r, "profile"));
	ctl_req_free(&r);
	for (int c = 0; c < CTL_CMD_COUNT; c++) {
		char line[64];

		snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}", ctl_cmds[c].name);
		if (ctl_cmds[c].fields[0].required) {
			assert_int_equal(req(&r, line), -1);
		} else {
			assert_int_equal(req(&r, line), 0);
			assert_int_equal(r.cmd, c);
		}
		ctl_req_free(&r);
	}
}

static void
test_ctl_bad(void **state)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{ "", "bad JSON at byte" },
		{ "{\"cmd\":\"status\"", "bad JSON at byte" },
		{ "{\"cmd\":\"status\"} x", "bad JSON at byte" },
		{ "[]", "want a JSON object" },
		{ "{\"cmd\":\"status\",\"cmd\":\"type\"}", "bad JSON" },
		{ "{\"cmd\":\"type\",\"text\":\"a\\u0000b\"}", "bad JSON" },
		{ "{\"cmd\":\"type\",\"text\":\"\\ud800\"}", "bad JSON" },
		{ "{\"cmd\":\"type\",\"text\":\"\xc0\xaf\"}", "bad JSON" },
		{ "{\"cmd\":42}", "request needs \"cmd\"" },
		{ "{\"cmd\":\"launch\"}", "unknown cmd \"launch\"" },
		{ "{\"cmd\":\"status\",\"x\":1}", "status: unknown member \"x\" (want no members)" },
		{ "{\"cmd\":\"type\",\"txt\":\"a\"}", "type: unknown member \"txt\" (want \"text\" or \"delay_ms\")" },
		{ "{\"cmd\":\"type\"}", "type: missing member \"text\"" },
		{ "{\"cmd\":\"type\",\"text\":5}", "type: \"text\" must be a string" },
		{ "{\"cmd\":\"type\",\"text\":\"\"}", "type: \"text\" is empty" },
		{ "{\"cmd\":\"type\",\"text\":\"a\",\"delay_ms\":1001}", "\"delay_ms\" must be an integer from 0 to 1000" },
		{ "{\"cmd\":\"type\",\"text\":\"a\",\"delay_ms\":-1}", "\"delay_ms\"" },
		{ "{\"cmd\":\"type\",\"text\":\"a\",\"delay_ms\":2.5}", "\"delay_ms\"" },
		{ "{\"cmd\":\"type\",\"text\":\"a\",\"delay_ms\":\"10\"}", "\"delay_ms\"" },
		{ "{\"cmd\":\"key\",\"keys\":\"ctrl\"}", "key: \"keys\" must be an array of 1 to 32 strings" },
		{ "{\"cmd\":\"key\",\"keys\":[]}", "\"keys\" must be an array" },
		{ "{\"cmd\":\"key\",\"keys\":[1]}", "\"keys\" item 1 must be a string" },
		{ "{\"cmd\":\"key\",\"keys\":[\"a\",\"\"]}", "\"keys\" item 2" },
		{ "{\"cmd\":\"power\"}", "power: missing member \"action\"" },
		{ "{\"cmd\":\"power\",\"action\":\"explode\"}",
		  "power: \"action\" must be \"on\", \"off\", \"force-off\", \"reset\" or \"reboot\"" },
		{ "{\"cmd\":\"power\",\"action\":\"on \"}", "\"action\" must be" },
		{ "{\"cmd\":\"hid\",\"mouse\":\"tablet\"}", "\"mouse\" must be \"absolute\" or \"relative\"" },
		{ "{\"cmd\":\"hid\",\"layout\":3}", "hid: \"layout\" must be a name" },
		{ "{\"cmd\":\"hid\",\"layout\":\"de\\\",\\\"x\"}", "\"layout\" must be a name" },
		{ "{\"cmd\":\"hid\",\"profile\":\"abcdefghijklmnopqrstuvwxyz0123456\"}", "\"profile\" must be a name" },
		{ "{\"cmd\":\"layout\",\"name\":\"\"}", "layout: \"name\" must be a name" },
	};
	struct ctl_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (req(&r, bad[i].line) == 0)
			fail_msg("accepted %s", bad[i].line);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("%s: said \"%s\", want \"%s\"", bad[i].line, err, bad[i].want);
		ctl_req_free(&r);
	}
	/* The list of commands comes from the table: all of them. */
	assert_int_equal(req(&r, "{}"), -1);
	ctl_req_free(&r);
	for (int c = 0; c < CTL_CMD_COUNT; c++)
		if (strstr(err, ctl_cmds[c].name) == NULL)
			fail_msg("\"%s\" does not list %s", err, ctl_cmds[c].name);
	assert_non_null(strstr(err, "release, target or layout"));
	/* 33 keys: one over */
	{
		char line[512] = "{\"cmd\":\"key\",\"keys\":[";

		for (int i = 0; i < 33; i++)
			strcat(line, i ? ",\"a\"" : "\"a\"");
		strcat(line, "]}");
		assert_int_equal(req(&r, line), -1);
		ctl_req_free(&r);
		strcpy(strstr(line, ",\"a\"]"), "]}");
		assert_int_equal(req(&r, line), 0);
		ctl_req_free(&r);
	}
	/* Random bytes never crash the reader. */
	srand(1);
	for (int i = 0; i < 20000; i++) {
		char buf[64];
		size_t n = (size_t)(rand() % 64);

		for (size_t k = 0; k < n; k++)
			buf[k] = "{}[]\":,\\u0ae tfn1-."[rand() % 20];
		ctl_req_parse(&r, buf, n, err, sizeof(err));
		ctl_req_free(&r);
	}
}

/* The line a request is written as: fields in the table's order, decoded
 * and written again, so nothing is copied through as text. */
static void
test_ctl_line(void **state)
{
	struct ctl_req r;
	char line[128];

	(void)state;
	assert_int_equal(req(&r, "{\"delay_ms\":5,\"text\":\"h\\u00e9\\n\\/\",\"cmd\":\"type\"}"), 0);
	assert_int_equal(ctl_req_line(&r, line, sizeof(line)), 44);
	assert_string_equal(line, "{\"cmd\":\"type\",\"text\":\"h\xc3\xa9\\n/\",\"delay_ms\":5}\n");
	/* Too small a buffer: nothing, never a cut line. */
	assert_int_equal(ctl_req_line(&r, line, 20), -ENOSPC);
	assert_string_equal(line, "");
	ctl_req_free(&r);

	assert_int_equal(ctl_req_fields(&r, CTL_HID, "{\"profile\":\"full\",\"layout\":\"de\"}", 32, err,
					sizeof(err)), 0);
	assert_int_equal(ctl_req_line(&r, line, sizeof(line)), 45);
	assert_string_equal(line, "{\"cmd\":\"hid\",\"layout\":\"de\",\"profile\":\"full\"}\n");
	ctl_req_free(&r);
	/* In a body, "cmd" is not a field. */
	assert_int_equal(ctl_req_fields(&r, CTL_HID, "{\"cmd\":\"power\"}", 15, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown member \"cmd\""));
	ctl_req_free(&r);

	/* Longer than the socket takes. */
	{
		size_t n = FW_CONTROL_MAX_LINE + 64;
		char *body = malloc(n), *big = malloc(n + 64);

		assert_non_null(body);
		assert_non_null(big);
		memset(body, 'a', n);
		memcpy(body, "{\"text\":\"", 9);
		memcpy(body + FW_CONTROL_MAX_LINE - 12, "\"}", 3);
		assert_int_equal(ctl_req_fields(&r, CTL_TYPE, body, strlen(body), err, sizeof(err)), 0);
		assert_int_equal(ctl_req_line(&r, big, n + 64), -ENOSPC);
		ctl_req_free(&r);
		free(body);
		free(big);
	}
	ctl_reply_error(line, sizeof(line), "a \"b\"");
	assert_string_equal(line, "{\"ok\":false,\"error\":\"a \\\"b\\\"\"}");
}

/* The table itself: names unique, every choice field has its choices, the
 * power enum in the order of its names. */
static void
test_ctl_table(void **state)
{
	(void)state;
	for (int c = 0; c < CTL_CMD_COUNT; c++) {
		assert_non_null(ctl_cmds[c].name);
		assert_int_equal(ctl_cmd_find(ctl_cmds[c].name), c);
		for (int f = 0; f < CTL_FIELDS_MAX && ctl_cmds[c].fields[f].name != NULL; f++)
			if (ctl_cmds[c].fields[f].type == CTL_F_CHOICE)
				assert_non_null(ctl_cmds[c].fields[f].choices);
	}
	assert_int_equal(ctl_cmd_find("nope"), -1);
	assert_string_equal(ctl_power_actions[CTL_POWER_ON], "on");
	assert_string_equal(ctl_power_actions[CTL_POWER_REBOOT], "reboot");
	assert_null(ctl_power_actions[CTL_POWER_REBOOT + 1]);
}

static void
test_keys(void **state)
{
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
no_answer(void *ctx, const struct ctl_req *req, char *resp, size_t resplen)
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

/* ---- paste plan ---- */

static int
layout_of(const char *name)
{
	int l = hid_layout_find(name);

	assert_true(l >= 0);
	return l;
}

/* Plans a C string; checks the keysyms when want is given. */
static int
plan(const char *lname, const char *text, struct fw_paste_plan *p,
     const uint32_t *want, size_t n_want)
{
	int rc = fw_paste_plan(layout_of(lname), text, strlen(text), p);

	if (want) {
		assert_int_equal(p->n, n_want);
		for (size_t i = 0; i < n_want; i++)
			assert_int_equal(p->ks[i], want[i]);
	}
	return rc;
}

/* How often needle occurs in hay. */
static int
count_of(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = hay; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

#define RET 0xff0d

static void
test_paste_plan(void **state)
{
	struct fw_paste_plan p;

	(void)state;
	assert_int_equal(plan("en-us", "Hello\n", &p,
			      (const uint32_t[]){ 'H', 'e', 'l', 'l', 'o', RET }, 6), 0);
	assert_int_equal(p.n_bad, 0);
	fw_paste_plan_free(&p);
	assert_null(p.ks);

	/* CR LF is one Enter; a CR or LF alone is one too. */
	assert_int_equal(plan("en-us", "a\r\nb\r\n", &p,
			      (const uint32_t[]){ 'a', RET, 'b', RET }, 4), 0);
	fw_paste_plan_free(&p);
	assert_int_equal(plan("en-us", "\r\n\r\n\n\r\r", &p,
			      (const uint32_t[]){ RET, RET, RET, RET, RET }, 5), 0);
	fw_paste_plan_free(&p);
	assert_int_equal(plan("en-us", "x\ty\r", &p,
			      (const uint32_t[]){ 'x', 0xff09, 'y', RET }, 4), 0);
	fw_paste_plan_free(&p);

	/* Empty text: nothing to type, still a plan to free. */
	assert_int_equal(fw_paste_plan(layout_of("en-us"), "", 0, &p), 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_bad, 0);
	fw_paste_plan_free(&p);

	/* The length counts, not the terminator: a NUL inside is a character
	 * and "ab" cut at 1 is "a". */
	assert_int_equal(fw_paste_plan(layout_of("en-us"), "ab", 1, &p), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ks[0], 'a');
	fw_paste_plan_free(&p);

	/* Dead-key characters are typable where the layout composes them. */
	assert_int_equal(plan("de", "é è ê ô", &p,
			      (const uint32_t[]){ 0xe9, ' ', 0xe8, ' ', 0xea, ' ', 0xf4 }, 7), 0);
	fw_paste_plan_free(&p);
	/* Past Latin-1 a character is its Unicode keysym: the Euro on de. */
	assert_int_equal(plan("de", "\xe2\x82\xac", &p, (const uint32_t[]){ 0x010020ac }, 1), 0);
	fw_paste_plan_free(&p);
	assert_int_equal(plan("en-us", "\xe2\x82\xac", &p, NULL, 0), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.first_bad, 0x20ac);
	fw_paste_plan_free(&p);
	/* Cyrillic types on ru as Cyrillic keysyms; the plan keeps the
	 * keysym the character names (Unicode keysym past Latin-1). */
	assert_int_equal(plan("ru", "да", &p, NULL, 0), 0);
	assert_int_equal(p.n, 2);
	fw_paste_plan_free(&p);
}

static void
test_paste_untypable(void **state)
{
	struct fw_paste_plan p;

	(void)state;
	/* U+2603 SNOWMAN twice: counted twice, listed once, where it first is. */
	assert_int_equal(plan("en-us", "x\xe2\x98\x83y\xe2\x98\x83z", &p,
			      (const uint32_t[]){ 'x', 'y', 'z' }, 3), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.n_bad, 2);
	assert_int_equal(p.first_bad, 0x2603);
	assert_int_equal(p.bad_cp[0], 0x2603);
	assert_int_equal(p.bad_json[0], '[');
	assert_int_equal(p.bad_json[strlen(p.bad_json) - 1], ']');
	assert_int_equal(count_of(p.bad_json, "\"code\":\"U+2603\""), 1);
	assert_non_null(strstr(p.bad_json, "{\"char\":\"\xe2\x98\x83\",\"code\":\"U+2603\",\"at\":1}"));
	assert_null(strstr(p.bad_json, "\"at\":3"));
	fw_paste_plan_free(&p);

	/* '@' is not on the Russian layout; Latin letters are not either. */
	assert_int_equal(plan("ru", "\xd0\xb4@a@", &p, NULL, 0), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.n_bad, 3);
	assert_int_equal(p.first_bad, '@');
	assert_non_null(strstr(p.bad_json, "{\"char\":\"@\",\"code\":\"U+0040\",\"at\":1}"));
	assert_non_null(strstr(p.bad_json, "{\"char\":\"a\",\"code\":\"U+0061\",\"at\":2}"));
	assert_int_equal(count_of(p.bad_json, "U+0040"), 1);
	assert_int_equal(count_of(p.bad_json, "{"), 2);
	fw_paste_plan_free(&p);
	/* ... and on en-us it is the Cyrillic that is missing. */
	assert_int_equal(plan("en-us", "\xd0\xb4@", &p, NULL, 0), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.n_bad, 1);
	assert_int_equal(p.first_bad, 0x434);
	assert_non_null(strstr(p.bad_json, "\"code\":\"U+0434\",\"at\":0}"));
	fw_paste_plan_free(&p);

	/* Index after a CR LF counts it as the one character it types. */
	assert_int_equal(plan("en-us", "a\r\n\xe2\x98\x83", &p, NULL, 0), FW_PASTE_EUNTYPABLE);
	assert_non_null(strstr(p.bad_json, "\"at\":2}"));
	fw_paste_plan_free(&p);

	/* A control character without a key is named, JSON-safe. */
	assert_int_equal(plan("en-us", "a\x01", &p, NULL, 0), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.first_bad, 1);
	assert_non_null(strstr(p.bad_json, "\"char\":\"^A\",\"code\":\"U+0001\""));
	for (const char *s = p.bad_json; *s; s++)
		assert_true((unsigned char)*s >= 0x20);
	fw_paste_plan_free(&p);

	/* More distinct ones than the list holds: all counted, 16 listed,
	 * the list still closed.  Emoji take 4 bytes of UTF-8 and 5 hex
	 * digits, the longest entries there are. */
	char text[256];
	size_t len = 0;
	for (int i = 0; i < FW_PASTE_BAD_MAX + 8; i++) {
		uint32_t cp = 0x1f600 + (uint32_t)i;
		text[len++] = (char)(0xf0 | cp >> 18);
		text[len++] = (char)(0x80 | (cp >> 12 & 0x3f));
		text[len++] = (char)(0x80 | (cp >> 6 & 0x3f));
		text[len++] = (char)(0x80 | (cp & 0x3f));
	}
	assert_int_equal(fw_paste_plan(layout_of("en-us"), text, len, &p), FW_PASTE_EUNTYPABLE);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.n_bad, FW_PASTE_BAD_MAX + 8);
	assert_int_equal(p.first_bad, 0x1f600);
	assert_int_equal(count_of(p.bad_json, "\"code\""), FW_PASTE_BAD_MAX);
	assert_true(strlen(p.bad_json) < sizeof(p.bad_json));
	assert_int_equal(p.bad_json[strlen(p.bad_json) - 1], ']');
	assert_non_null(strstr(p.bad_json, "\"code\":\"U+1F60F\",\"at\":15}"));
	assert_null(strstr(p.bad_json, "U+1F610"));
	for (int i = 0; i < FW_PASTE_BAD_MAX; i++)
		assert_int_equal(p.bad_cp[i], 0x1f600 + (uint32_t)i);
	fw_paste_plan_free(&p);
}

static void
test_paste_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc3(", "\xc0\x80", "\xe0\x80\x80",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\x80", "\xe2\x98",
	};
	struct fw_paste_plan p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fw_paste_plan(layout_of("en-us"), bad[i], strlen(bad[i]), &p),
				 FW_PASTE_EUTF8);
		/* Nothing to free: the sanitizer build checks for leaks. */
		assert_null(p.ks);
	}
	/* Invalid bytes win over untypable characters before them. */
	assert_int_equal(plan("en-us", "\xe2\x98\x83\xff", &p, NULL, 0), FW_PASTE_EUTF8);
	assert_null(p.ks);
}

/* ---- held keys ---- */

static struct fw_held_key
held_key(int viewer, uint32_t code)
{
	return (struct fw_held_key){ .viewer = viewer, .xt = code & 1, .code = code,
				     .keysym = code + 0x100, .down = (code & 2) != 0 };
}

static void
expect_pop(struct fw_held *h, int viewer, uint32_t code)
{
	struct fw_held_key k, want = held_key(viewer, code);

	assert_true(fw_held_pop(h, &k));
	assert_int_equal(k.viewer, want.viewer);
	assert_int_equal(k.code, want.code);
	assert_int_equal(k.keysym, want.keysym);
	assert_int_equal(k.xt, want.xt);
	assert_int_equal(k.down, want.down);
}

static void
test_held_queue(void **state)
{
	static struct fw_held h;
	struct fw_held_key k;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_false(fw_held_pop(&h, &k));
	for (uint32_t i = 0; i < 5; i++) {
		k = held_key(1, i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	for (uint32_t i = 0; i < 5; i++)
		expect_pop(&h, 1, i);
	assert_false(fw_held_pop(&h, &k));

	/* Full: the next push is refused and nothing is overwritten; head is
	 * not 0 now, so the ring wraps. */
	for (uint32_t i = 0; i < FW_HELD_MAX; i++) {
		k = held_key(2, i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	k = held_key(3, 9999);
	assert_int_equal(fw_held_push(&h, &k), -1);
	assert_int_equal(h.n, FW_HELD_MAX);
	for (uint32_t i = 0; i < FW_HELD_MAX; i++)
		expect_pop(&h, 2, i);
	assert_false(fw_held_pop(&h, &k));
	assert_int_equal(h.n, 0);
}

static void
test_held_drop_viewer(void **state)
{
	static struct fw_held h;
	struct fw_held_key k;

	(void)state;
	memset(&h, 0, sizeof(h));
	static const int who[] = { 1, 2, 1, 3, 2, 2, 1, 3 };
	for (uint32_t i = 0; i < 8; i++) {
		k = held_key(who[i], i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	assert_int_equal(fw_held_drop_viewer(&h, 4), 0);
	assert_int_equal(h.n, 8);
	assert_int_equal(fw_held_drop_viewer(&h, 2), 3);
	assert_int_equal(h.n, 5);
	expect_pop(&h, 1, 0);
	expect_pop(&h, 1, 2);
	expect_pop(&h, 3, 3);
	expect_pop(&h, 1, 6);
	expect_pop(&h, 3, 7);
	assert_false(fw_held_pop(&h, &k));

	/* Wrapped: head near the end, the events run over the ring's end. */
	memset(&h, 0, sizeof(h));
	for (uint32_t i = 0; i < FW_HELD_MAX - 10; i++) {
		k = held_key(9, i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	for (uint32_t i = 0; i < FW_HELD_MAX - 10; i++)
		expect_pop(&h, 9, i);
	assert_int_equal(h.head, FW_HELD_MAX - 10);
	for (uint32_t i = 0; i < 40; i++) {
		k = held_key(i % 3 == 0 ? 5 : 6, i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	assert_int_equal(fw_held_drop_viewer(&h, 5), 14);
	assert_int_equal(h.n, 26);
	/* The ring takes as many more as it has room for after the drop. */
	for (uint32_t i = 40; i < 40 + FW_HELD_MAX - 26; i++) {
		k = held_key(7, i);
		assert_int_equal(fw_held_push(&h, &k), 0);
	}
	k = held_key(7, 0);
	assert_int_equal(fw_held_push(&h, &k), -1);
	for (uint32_t i = 0; i < 40; i++)
		if (i % 3 != 0)
			expect_pop(&h, 6, i);
	for (uint32_t i = 40; i < 40 + FW_HELD_MAX - 26; i++)
		expect_pop(&h, 7, i);
	assert_false(fw_held_pop(&h, &k));

	/* Dropping everyone empties it; dropping from empty is 0. */
	k = held_key(1, 1);
	fw_held_push(&h, &k);
	fw_held_push(&h, &k);
	assert_int_equal(fw_held_drop_viewer(&h, 1), 2);
	assert_int_equal(h.n, 0);
	assert_int_equal(fw_held_drop_viewer(&h, 1), 0);
	assert_false(fw_held_pop(&h, &k));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_good),
		cmocka_unit_test(test_cli_defaults),
		cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_cli_input_options),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_check),
		cmocka_unit_test(test_ctl_good),
		cmocka_unit_test(test_ctl_bad),
		cmocka_unit_test(test_ctl_line),
		cmocka_unit_test(test_ctl_table),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_listen_loopback),
		cmocka_unit_test(test_rfb_exposure),
		cmocka_unit_test(test_control_group),
		cmocka_unit_test(test_paste_plan),
		cmocka_unit_test(test_paste_untypable),
		cmocka_unit_test(test_paste_utf8),
		cmocka_unit_test(test_held_queue),
		cmocka_unit_test(test_held_drop_viewer),
	};

	return cmocka_run_group_tests_name("firmware", tests, NULL, NULL);
}
