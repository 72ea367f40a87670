/* Unit tests for board/: board.conf parsing (every error names its file and
 * line), finding boards in a folder, the tree's own definitions, and
 * struct board_ops with its "not on this board" answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "board/board.h"
#include "board/sim/sim.h"
#include "hid/hid.h"

static char tmpdir[64];
static char err[1024];

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/webkvm-test-board.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes tmpdir/NAME/board.conf; returns its path (static buffer). */
static const char *
write_board(const char *name, const char *text)
{
	static char path[256];
	char dir[200];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/board.conf", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* The tree's board/ (the test binary runs from build/tests or
 * build/san/tests, so the default search finds it). */
static void
tree_dir(char *out, size_t len)
{
	struct stat st;
	char conf[PATH_MAX + 32];

	assert_int_equal(board_dir_resolve(NULL, out, len), 0);
	snprintf(conf, sizeof(conf), "%s/sim/board.conf", out);
	assert_int_equal(stat(conf, &st), 0);
}

static void
test_tree_boards(void **state)
{
	char dir[PATH_MAX], names[BOARD_MAX][BOARD_NAME_MAX];
	struct board_def d;
	int n, seen = 0;

	(void)state;
	tree_dir(dir, sizeof(dir));
	n = board_list(dir, names, BOARD_MAX);
	assert_true(n >= 3);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			assert_true(strcmp(names[i - 1], names[i]) < 0);	/* sorted */
		seen += !strcmp(names[i], "sim") + !strcmp(names[i], "rpi4") + !strcmp(names[i], "qemu-x86_64");
		/* Every board in the tree parses. */
		assert_int_equal(board_find(dir, names[i], &d, err, sizeof(err)), 0);
		assert_string_equal(d.name, names[i]);
		assert_true(d.description[0] != '\0');
	}
	assert_int_equal(seen, 3);

	assert_int_equal(board_find(dir, "sim", &d, err, sizeof(err)), 0);
	assert_int_equal(d.ops, BOARD_OPS_SIM);
	assert_string_equal(d.source, "sim");
	assert_string_equal(d.udc, "");

	assert_int_equal(board_find(dir, "rpi4", &d, err, sizeof(err)), 0);
	assert_int_equal(d.ops, BOARD_OPS_GENERIC);
	assert_string_equal(d.source, "v4l2");
	assert_string_equal(d.udc, "fe980000.usb");
	assert_string_equal(d.device, "/dev/video0");
	assert_int_equal(d.formats[0], CAP_FMT_MJPEG);
	assert_int_equal(d.formats[1], CAP_FMT_YUYV);
	assert_int_equal(d.formats[2], CAP_FMT_NONE);
	assert_int_equal(d.width, 1920);
	assert_int_equal(d.height, 1080);
	assert_int_equal(d.fps, 30);
	assert_int_equal(d.hid_profile, HID_PROFILE_FULL);
	assert_string_equal(d.power_button, "");

	assert_int_equal(board_find(dir, "qemu-x86_64", &d, err, sizeof(err)), 0);
	assert_string_equal(d.udc, "dummy_udc.0");
	assert_int_equal(d.formats[0], CAP_FMT_YUYV);
}

static void
test_find_unknown(void **state)
{
	char dir[PATH_MAX], empty[128];
	struct board_def d;

	(void)state;
	tree_dir(dir, sizeof(dir));
	assert_int_equal(board_find(dir, "nosuchboard", &d, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "\"nosuchboard\" not found"));
	assert_non_null(strstr(err, "qemu-x86_64, rpi4"));
	assert_non_null(strstr(err, "sim"));
	/* A name is a folder, never a path. */
	assert_int_equal(board_find(dir, "../board/sim", &d, err, sizeof(err)), -ENOENT);
	assert_int_equal(board_find(dir, "..", &d, err, sizeof(err)), -ENOENT);
	assert_int_equal(board_find(dir, "", &d, err, sizeof(err)), -ENOENT);
	/* A folder of no boards says so. */
	snprintf(empty, sizeof(empty), "%s/empty", tmpdir);
	mkdir(empty, 0755);
	assert_int_equal(board_find(empty, "sim", &d, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no boards in"));
	assert_int_equal(board_list("/nonexistent/webkvm", NULL, 0), -ENOENT);
}

static void
test_parse_good(void **state)
{
	struct board_def d;
	const char *p = write_board("good",
		"# a comment\n"
		"\n"
		"  description =  a test board  \n"
		"ops = generic\n"
		"source=v4l2\n"
		"device = /dev/video7\n"
		"format = uyvy, MJPEG\n"
		"resolution = 1280x1024\n"
		"fps = 50\n"
		"edid = edid.bin\n"
		"udc = 3f980000.usb\n"
		"hid-profile = keyboard\n"
		"power-button =\n"
		"serial-port = \n");

	(void)state;
	assert_int_equal(board_def_load(p, "good", &d, err, sizeof(err)), 0);
	assert_string_equal(d.description, "a test board");
	assert_string_equal(d.device, "/dev/video7");
	assert_int_equal(d.formats[0], CAP_FMT_UYVY);
	assert_int_equal(d.formats[1], CAP_FMT_MJPEG);
	assert_int_equal(d.formats[2], CAP_FMT_NONE);
	assert_int_equal(d.width, 1280);
	assert_int_equal(d.height, 1024);
	assert_int_equal(d.fps, 50);
	assert_string_equal(d.udc, "3f980000.usb");
	assert_int_equal(d.hid_profile, HID_PROFILE_KEYBOARD);
	/* A relative EDID is the board's own, in its folder. */
	assert_non_null(strstr(d.edid, "/good/edid.bin"));
	assert_int_equal(d.edid[0], '/');

	/* Nothing given: a generic v4l2 board with no preferences. */
	p = write_board("bare", "");
	assert_int_equal(board_def_load(p, "bare", &d, err, sizeof(err)), 0);
	assert_int_equal(d.ops, BOARD_OPS_GENERIC);
	assert_string_equal(d.source, "v4l2");
	assert_int_equal(d.formats[0], CAP_FMT_NONE);
	assert_int_equal(d.width, 0);
	assert_int_equal(d.hid_profile, HID_PROFILE_FULL);
}

static void
test_parse_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;	/* after "FILE:" */
	} t[] = {
		{ "ops = generic\ncolour = blue\n", "board.conf:2: unknown key \"colour\"" },
		{ "fps = 30\n\nfps = 25\n", "board.conf:3: fps given twice (first on line 1)" },
		{ "fps 30\n", "board.conf:1: expected `key = value`" },
		{ "fps = 0\n", "board.conf:1: fps: \"0\" is not a number from 1 to 240" },
		{ "fps = 30fps\n", "board.conf:1: fps:" },
		{ "resolution = 1920*1080\n", "board.conf:1: resolution: \"1920*1080\" is not WxH" },
		{ "resolution = 10x10\n", "board.conf:1: resolution:" },
		{ "format = yuyv,h265\n", "board.conf:1: format: unknown pixel format \"h265\"" },
		{ "format = yuyv,yuyv,yuyv,yuyv,yuyv,yuyv,yuyv,yuyv\n", "board.conf:1: format: more than 7" },
		{ "device = video0\n", "board.conf:1: device: \"video0\" is not an absolute path" },
		{ "udc = ../x\n", "board.conf:1: udc:" },
		{ "udc = a b\n", "board.conf:1: udc:" },
		{ "hid-profile = mouse\n", "board.conf:1: hid-profile: \"mouse\" is not one of" },
		{ "ops = bmc\n", "board.conf:1: ops: \"bmc\" is not sim or generic" },
		{ "ops =\n", "board.conf:1: ops: needs a value" },
		{ "source = hdmi\n", "board.conf:1: source: \"hdmi\" is not one of" },
		{ "# x\nsource = sim\n", "board.conf:2: source = sim needs ops = sim" },
		{ "power-button = gpiochip0:17\n", "board.conf:1: power-button: GPIO lines are not supported yet" },
		{ "hdd-led = gpiochip0:4\n", "board.conf:1: hdd-led: GPIO" },
		{ "mass-storage = yes\n", "board.conf:1: mass-storage: virtual media is not supported yet" },
		{ "serial-port = /dev/ttyS0\n", "board.conf:1: serial-port: the serial console is not supported yet" },
	};
	struct board_def d;
	char text[1200];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *p = write_board("bad", t[i].text);

		err[0] = '\0';
		assert_int_equal(board_def_load(p, "bad", &d, err, sizeof(err)), -EINVAL);
		if (strstr(err, t[i].want) == NULL || strncmp(err, p, strlen(p) - strlen("board.conf")) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, t[i].want);
	}
	/* A line longer than the reader takes. */
	memset(text, 'x', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(board_def_load(write_board("long", text), "long", &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "board.conf:1: line too long"));
	/* No such file. */
	assert_int_equal(board_def_load("/nonexistent/board.conf", "x", &d, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/board.conf: "));
	/* A bad board name is refused before the file is read. */
	assert_int_equal(board_def_load("/nonexistent/board.conf", "a/b", &d, err, sizeof(err)), -EINVAL);
}

static void
test_list_skips(void **state)
{
	char names[BOARD_MAX][BOARD_NAME_MAX], dir[200];
	int n;

	(void)state;
	write_board("zeta", "");
	write_board("alpha", "");
	/* Not boards: a folder without board.conf, a hidden one, a file. */
	snprintf(dir, sizeof(dir), "%s/notaboard", tmpdir);
	mkdir(dir, 0755);
	write_board(".hidden", "");
	n = board_list(tmpdir, names, BOARD_MAX);
	assert_true(n >= 2);
	for (int i = 0; i < n; i++) {
		assert_string_not_equal(names[i], "notaboard");
		assert_string_not_equal(names[i], ".hidden");
	}
	assert_int_equal(board_list(tmpdir, names, 1), 1);
	assert_int_equal(board_dir_resolve("/some/where", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/some/where");
	assert_int_equal(board_dir_resolve("/some/where", dir, 5), -1);
}

static void
test_power_names(void **state)
{
	(void)state;
	for (int a = 0; a < BOARD_POWER_COUNT; a++)
		assert_int_equal(board_power_parse(board_power_name((enum board_power)a)), a);
	assert_int_equal(board_power_parse("force-off"), BOARD_POWER_FORCE_OFF);
	assert_int_equal(board_power_parse("reboot"), BOARD_POWER_REBOOT);
	assert_int_equal(board_power_parse("explode"), -EINVAL);
	assert_int_equal(board_power_parse(""), -EINVAL);
	assert_int_equal(board_power_parse(NULL), -EINVAL);
	assert_string_equal(board_strerror(-ENOTSUP), "not on this board");
	assert_non_null(board_strerror(-12345));
}

static void
test_generic_ops_not_on_this_board(void **state)
{
	struct board_def d;
	struct board *b;
	unsigned have = 9, lit = 9;

	(void)state;
	assert_int_equal(board_def_load(write_board("gen", "ops = generic\n"), "gen", &d, err, sizeof(err)), 0);
	assert_int_equal(board_open(&d, 0, 0, &b, err, sizeof(err)), 0);
	assert_false(board_has_power(b));
	assert_false(board_has_media(b));
	assert_false(board_has_serial(b));
	assert_null(board_sim_target(b));
	assert_string_equal(board_def(b)->name, "gen");
	for (int a = 0; a < BOARD_POWER_COUNT; a++)
		assert_int_equal(board_power(b, (enum board_power)a), -ENOTSUP);
	assert_int_equal(board_leds(b, &have, &lit), -ENOTSUP);
	assert_int_equal(have, 0);
	assert_int_equal(lit, 0);
	assert_int_equal(board_media_insert(b, "/x.iso", BOARD_MEDIA_CDROM), -ENOTSUP);
	assert_int_equal(board_media_eject(b), -ENOTSUP);
	assert_int_equal(board_serial_open(b), -ENOTSUP);
	/* A bad action is bad whatever the board. */
	assert_int_equal(board_power(b, BOARD_POWER_COUNT), -EINVAL);
	board_close(b);
	board_close(NULL);
}

static void
test_sim_ops(void **state)
{
	struct board_def d;
	struct board *b;
	struct cap_frame f;
	unsigned have, lit;

	(void)state;
	assert_int_equal(board_def_load(write_board("s", "ops = sim\nsource = sim\nresolution = 640x400\n"),
					"s", &d, err, sizeof(err)), 0);
	/* The definition's size when none is asked for. */
	assert_int_equal(board_open(&d, 0, 0, &b, err, sizeof(err)), 0);
	assert_non_null(board_sim_target(b));
	assert_int_equal(sim_render(board_sim_target(b), 1000, &f), 0);
	assert_int_equal(f.width, 640);
	assert_int_equal(f.height, 400);
	assert_true(board_has_power(b));
	assert_false(board_has_media(b));
	assert_int_equal(board_media_insert(b, "/x.iso", 0), -ENOTSUP);
	assert_int_equal(board_serial_open(b), -ENOTSUP);

	/* Power through the one interface; the power LED follows. */
	assert_int_equal(board_leds(b, &have, &lit), 0);
	assert_int_equal(have, BOARD_LED_POWER);
	assert_int_equal(lit, BOARD_LED_POWER);
	assert_int_equal(board_power(b, BOARD_POWER_OFF), 0);
	assert_int_equal(board_leds(b, &have, &lit), 0);
	assert_int_equal(lit, 0);
	assert_int_equal(sim_render(board_sim_target(b), 2000, &f), CAP_ENOSIGNAL);
	assert_int_equal(board_power(b, BOARD_POWER_ON), 0);
	assert_int_equal(board_leds(b, &have, &lit), 0);
	assert_int_equal(lit, BOARD_LED_POWER);
	assert_int_equal(board_power(b, BOARD_POWER_FORCE_OFF), 0);
	assert_false(sim_is_on(board_sim_target(b)));
	assert_int_equal(board_power(b, BOARD_POWER_RESET), 0);	/* boots from off */
	assert_true(sim_is_on(board_sim_target(b)));
	assert_int_equal(board_power(b, BOARD_POWER_REBOOT), 0);
	assert_true(sim_is_on(board_sim_target(b)));
	board_close(b);

	/* A size the sim cannot make is an error naming it. */
	assert_int_equal(board_open(&d, 100, 100, &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	assert_non_null(strstr(err, "100x100"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_boards),
		cmocka_unit_test(test_find_unknown),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_list_skips),
		cmocka_unit_test(test_power_names),
		cmocka_unit_test(test_generic_ops_not_on_this_board),
		cmocka_unit_test(test_sim_ops),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
