#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/hostport.h"
#include "common/parse.h"
#include "firmware/config.h"
#include "hid/hid.h"
#include "rfb/rfb_server.h"
#include "firmware/log.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_FLAG, OPT_SPECIAL };

struct opt {
	const char *name;
	enum opt_kind kind;
	const char *arg;	/* placeholder in --help */
	const char *help;
};

static const struct opt opts[] = {
	{ "config", OPT_SPECIAL, "FILE", "read options from FILE (`name = value` lines) before the command line" },
	{ "board", OPT_STR, "NAME", "board: board/NAME/board.conf, the boards --list-boards shows (sim is the virtual target in-process) [sim]" },
	{ "board-dir", OPT_STR, "DIR", "folder of the board definitions [the source tree's board/ when run from it, else " BOARD_DIR_INSTALLED "]" },
	{ "list-boards", OPT_FLAG, NULL, "list the boards found and exit (also --board help, or --board alone)" },
	{ "source", OPT_STR, "KIND", "frame source: sim, pattern, file, v4l2 [the board's: sim on board sim, else v4l2]" },
	{ "device", OPT_STR, "PATH", "v4l2: capture device [the board's, else /dev/video0]; file: raw frames file or folder of PPM/JPEG" },
	{ "format", OPT_STR, "LIST", "v4l2: pixel formats to try in order, e.g. mjpeg,uyvy [the board's, else by device kind]" },
	{ "file-format", OPT_STR, "FMT", "file: pixel format of a raw frames file: yuyv, uyvy, rgb24, bgr24, rgb565, xrgb32" },
	{ "edid", OPT_STR, "FILE", "v4l2: load this EDID (binary, 128-byte blocks) into the capture device" },
	{ "layout", OPT_STR, "NAME", "the target's keyboard layout, for viewers that send keysyms and for paste: en-us, en-gb, de, fr, es, it, pt-br, sv, ru, ja [en-us]" },
	{ "hid-profile", OPT_STR, "NAME", "USB interfaces the target sees: full (keyboard + absolute + relative mouse), absolute, relative, keyboard [the board's: full]" },
	{ "mouse", OPT_STR, "MODE", "pointer mode at start: absolute (OSes) or relative (BIOS, GRUB); viewers can switch [absolute]" },
	{ "mouse-scale", OPT_STR, "N[/D]", "relative mode: target pixels moved per viewer pixel, 1/1000 to 1000 [1]" },
	{ "paste-delay", OPT_INT, "MS", "typed text: pause after each keyboard report, 0..1000 ms [20: 25 characters/s, what slow firmware keeps up with]" },
	{ "udc", OPT_STR, "NAME", "USB device controller for the HID gadget, e.g. fe980000.usb [the board's, else the first in /sys/class/udc]" },
	{ "buffers", OPT_INT, "N", "v4l2: mmap buffers, 3..16 [4]" },
	{ "resolution", OPT_STR, "WxH", "sim/pattern/file size; v4l2 wish when the device has no DV timings [1280x720]" },
	{ "fps", OPT_INT, "N", "frames per second to produce or ask for, 1..240 [60 sim, 30 pattern/file, device's]" },
	{ "rfb-listen", OPT_STR, "HOST:PORT", "RFB (VNC) listen address; [v6]:port for IPv6 [127.0.0.1:5900]" },
	{ "rfb-password-file", OPT_STR, "FILE", "VNC password (first line of FILE); none by default" },
	{ "rfb-allow-insecure", OPT_FLAG, NULL, "allow a non-loopback --rfb-listen without a VNC password (isolated networks only)" },
	{ "view-only", OPT_FLAG, NULL, "ignore keyboard, mouse and power requests from viewers" },
	{ "desktop-name", OPT_STR, "NAME", "name shown by viewers [webkvm (BOARD)]" },
	{ "control", OPT_STR, "PATH", "control socket (JSON lines) path; none by default" },
	{ "control-group", OPT_STR, "NAME", "group owning the control socket (mode 0660) [webkvm if it exists, else ours]" },
	{ "tile", OPT_INT, "N", "tile-diff tile edge in pixels, even, 8..256 [32]" },
	{ "h264", OPT_STR, "on|off", "H.264 (RFB encoding 50) for viewers that ask for it; off: they get Tight [on]" },
	{ "h264-kbps", OPT_INT, "N", "a viewer's H.264 bitrate cap in kbit/s unless it sets its own, 100..25500 [8000]" },
	{ "log-level", OPT_STR, "LEVEL", "error, warn, info or debug [info]" },
	{ "help", OPT_FLAG, NULL, "show this help and exit" },
};

void
fw_config_defaults(struct fw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->board, sizeof(c->board), "sim");
	snprintf(c->rfb_listen, sizeof(c->rfb_listen), "127.0.0.1:5900");
	c->log_level = FW_LOG_INFO;
	c->tile = 32;
	c->mouse_num = c->mouse_den = 1;
	c->paste_delay_ms = 20;
}

static const struct opt *
find_opt(const char *name)
{
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static int
copy_str(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int
fw_config_set(struct fw_config *c, const char *name, const char *value,
	      char *err, size_t errlen)
{
	const struct opt *o = find_opt(name);

	if (o == NULL || strcmp(name, "config") == 0) {
		snprintf(err, errlen, "unknown option \"%s\" (see --help)", name);
		return -1;
	}
	if (o->kind == OPT_FLAG) {
		bool on;

		if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0)
			on = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
			 strcmp(value, "0") == 0)
			on = false;
		else {
			snprintf(err, errlen, "%s: \"%s\" is not a yes/no value", name, value);
			return -1;
		}
		if (strcmp(name, "view-only") == 0)
			c->view_only = on;
		else if (strcmp(name, "list-boards") == 0)
			c->list_boards = on;
		else if (strcmp(name, "rfb-allow-insecure") == 0)
			c->rfb_allow_insecure = on;
		else
			c->help = on;
		return 0;
	}
	if (value == NULL || value[0] == '\0') {
		snprintf(err, errlen, "%s: needs a value (%s)", name, o->arg);
		return -1;
	}

#define STR(field) do { \
	if (copy_str(c->field, sizeof(c->field), value) < 0) { \
		snprintf(err, errlen, "%s: value too long (at most %zu characters)", name, sizeof(c->field) - 1); \
		return -1; \
	} \
	return 0; } while (0)

	if (strcmp(name, "board") == 0) {
		if (strcmp(value, "help") == 0) {
			c->list_boards = true;
			return 0;
		}
		for (const char *p = value; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
				snprintf(err, errlen, "board: \"%s\" is not a board name", value);
				return -1;
			}
		STR(board);
	}
	if (strcmp(name, "board-dir") == 0)
		STR(board_dir);
	if (strcmp(name, "source") == 0) {
		if (strcmp(value, "sim") && strcmp(value, "pattern") && strcmp(value, "file") &&
		    strcmp(value, "v4l2")) {
			snprintf(err, errlen, "source: \"%s\" is not one of sim, pattern, file, v4l2", value);
			return -1;
		}
		STR(source);
	}
	if (strcmp(name, "device") == 0)
		STR(device);
	if (strcmp(name, "edid") == 0)
		STR(edid);
	if (strcmp(name, "udc") == 0)
		STR(udc);
	if (strcmp(name, "layout") == 0) {
		if (hid_layout_find(value) < 0) {
			char names[256] = "";

			for (int i = 0; i < hid_layout_count(); i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 i ? ", " : "", hid_layout_name(i));
			snprintf(err, errlen, "layout: \"%s\" is not one of %s", value, names);
			return -1;
		}
		STR(layout);
	}
	if (strcmp(name, "hid-profile") == 0) {
		if ((c->hid_profile = hid_profile_find(value)) < 0) {
			c->hid_profile = HID_PROFILE_FULL;
			snprintf(err, errlen, "hid-profile: \"%s\" is not one of full, absolute, relative, keyboard", value);
			return -1;
		}
		c->hid_profile_set = true;
		return 0;
	}
	if (strcmp(name, "mouse") == 0) {
		if (strcmp(value, "absolute") == 0)
			c->mouse = HID_POINTER_ABSOLUTE;
		else if (strcmp(value, "relative") == 0)
			c->mouse = HID_POINTER_RELATIVE;
		else {
			snprintf(err, errlen, "mouse: \"%s\" is not absolute or relative", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "mouse-scale") == 0) {
		const char *slash = strchr(value, '/');
		size_t nl = slash ? (size_t)(slash - value) : strlen(value);
		long num, den = 1;

		if (wk_parse_long_n(value, nl, 1, 1000, &num) < 0 ||
		    (slash && wk_parse_long(slash + 1, 1, 1000, &den) < 0)) {
			snprintf(err, errlen, "mouse-scale: \"%s\" is not N or N/D with N and D from 1 to 1000", value);
			return -1;
		}
		c->mouse_num = (int)num;
		c->mouse_den = (int)den;
		return 0;
	}
	if (strcmp(name, "rfb-listen") == 0)
		STR(rfb_listen);
	if (strcmp(name, "rfb-password-file") == 0)
		STR(rfb_password_file);
	if (strcmp(name, "desktop-name") == 0)
		STR(desktop_name);
	if (strcmp(name, "control") == 0)
		STR(control);
	if (strcmp(name, "control-group") == 0)
		STR(control_group);
#undef STR
	if (strcmp(name, "format") == 0) {
		char why[256];
		int n = cap_fmt_parse_list(value, c->formats,
					   (int)(sizeof(c->formats) / sizeof(c->formats[0])), why, sizeof(why));

		if (n <= 0) {
			snprintf(err, errlen, "format: %s", n < 0 ? why : "empty list");
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "file-format") == 0) {
		c->file_format = cap_fmt_parse(value);
		if (c->file_format == CAP_FMT_NONE || c->file_format == CAP_FMT_MJPEG) {
			snprintf(err, errlen, "file-format: \"%s\" is not one of yuyv, uyvy, rgb24, bgr24, rgb565, xrgb32", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "resolution") == 0) {
		long w, h;

		if (wk_parse_dims(value, 64, 8192, &w, &h) < 0) {
			snprintf(err, errlen, "resolution: \"%s\" is not WxH with 64 <= W,H <= 8192", value);
			return -1;
		}
		c->width = (int)w;
		c->height = (int)h;
		return 0;
	}
	if (strcmp(name, "fps") == 0) {
		if (wk_parse_int(value, 1, 240, &c->fps) < 0) {
			snprintf(err, errlen, "fps: \"%s\" is not a number from 1 to 240", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "paste-delay") == 0) {
		if (wk_parse_int(value, 0, 1000, &c->paste_delay_ms) < 0) {
			snprintf(err, errlen, "paste-delay: \"%s\" is not a number of milliseconds from 0 to 1000", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "buffers") == 0) {
		if (wk_parse_int(value, 3, 16, &c->buffers) < 0) {
			snprintf(err, errlen, "buffers: \"%s\" is not a number from 3 to 16", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "h264") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			snprintf(err, errlen, "h264: \"%s\" is not on or off", value);
			return -1;
		}
		c->h264_off = strcmp(value, "off") == 0;
		return 0;
	}
	if (strcmp(name, "h264-kbps") == 0) {
		if (wk_parse_int(value, 100, 25500, &c->h264_kbps) < 0) {
			snprintf(err, errlen, "h264-kbps: \"%s\" is not a number from 100 to 25500", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "tile") == 0) {
		int n;

		if (wk_parse_int(value, 8, 256, &n) < 0 || (n & 1)) {
			snprintf(err, errlen, "tile: \"%s\" is not an even number from 8 to 256", value);
			return -1;
		}
		c->tile = n;
		return 0;
	}
	if (strcmp(name, "log-level") == 0) {
		int lv = fw_log_level_parse(value);

		if (lv < 0) {
			snprintf(err, errlen, "log-level: \"%s\" is not one of error, warn, info, debug", value);
			return -1;
		}
		c->log_level = lv;
		return 0;
	}
	snprintf(err, errlen, "unknown option \"%s\"", name);
	return -1;
}

static int
take_option(void *ctx, int lineno, const char *key, const char *val, char *msg, size_t msglen)
{
	(void)lineno;
	if (strcmp(key, "config") == 0 || strcmp(key, "help") == 0 || strcmp(key, "list-boards") == 0) {
		snprintf(msg, msglen, "\"%s\" is not allowed in a config file", key);
		return -EINVAL;
	}
	return fw_config_set(ctx, key, val, msg, msglen) < 0 ? -EINVAL : 0;
}

int
fw_config_load(struct fw_config *c, const char *path, char *err, size_t errlen)
{
	return wk_conf_read(path, take_option, c, err, errlen) < 0 ? -1 : 0;
}

/* Splits "--name=value" / "--name" into name and inline value. */
static int
split_arg(const char *arg, char *name, size_t len, const char **inline_val)
{
	const char *eq;
	size_t n;

	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		return -1;
	arg += 2;
	eq = strchr(arg, '=');
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	if (n >= len)
		return -1;
	memcpy(name, arg, n);
	name[n] = '\0';
	*inline_val = eq ? eq + 1 : NULL;
	return 0;
}

int
fw_config_parse_args(struct fw_config *c, int argc, char **argv, char *err, size_t errlen)
{
	char name[64], msg[512];
	const char *val;

	/* --config first, so the command line overrides the file. */
	for (int i = 1; i < argc; i++) {
		if (split_arg(argv[i], name, sizeof(name), &val) == 0 && strcmp(name, "config") == 0) {
			if (val == NULL) {
				if (i + 1 >= argc) {
					snprintf(err, errlen, "config: needs a value (FILE)");
					return -1;
				}
				val = argv[++i];
			}
			if (fw_config_load(c, val, err, errlen) < 0)
				return -1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const struct opt *o;

		if (split_arg(argv[i], name, sizeof(name), &val) < 0) {
			snprintf(err, errlen, "unexpected argument \"%s\" (options start with --; see --help)", argv[i]);
			return -1;
		}
		if ((o = find_opt(name)) == NULL) {
			snprintf(err, errlen, "unknown option \"--%s\" (see --help)", name);
			return -1;
		}
		/* --board with nothing after it (or another option) lists
		 * the boards, as --board help does. */
		if (strcmp(name, "board") == 0 && val == NULL &&
		    (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
			c->list_boards = true;
			continue;
		}
		if (o->kind != OPT_FLAG && val == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s: needs a value (%s)", name, o->arg);
				return -1;
			}
			val = argv[++i];
		}
		if (o->kind == OPT_SPECIAL)
			continue;	/* --config, done above */
		if (fw_config_set(c, name, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s", msg);
			return -1;
		}
	}
	return 0;
}

int
fw_config_listen_loopback(const char *spec)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	struct wk_hostport hp;
	int loop = 1;

	/* The shapes rfb/ listens on: "host:port", "[v6]:port", ":port". */
	if (wk_hostport_parse(spec, WK_HOSTPORT_EMPTY_HOST | WK_HOSTPORT_PORT_ZERO, &hp, NULL, 0) < 0)
		return -1;
	if (hp.host[0] == '\0')
		return 0;	/* every address */
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	/* A name is not resolved here: what it resolves to can change after
	 * this check, so it counts as exposed. */
	if (getaddrinfo(hp.host, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)ai->ai_addr;

			if ((ntohl(a->sin_addr.s_addr) >> 24) != 127)
				loop = 0;
		} else if (ai->ai_family == AF_INET6) {
			const struct in6_addr *a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

			if (!IN6_IS_ADDR_LOOPBACK(a) &&
			    !(IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127))
				loop = 0;
		} else {
			loop = 0;
		}
	}
	freeaddrinfo(res);
	return loop;
}

_Static_assert(sizeof(((struct fw_config *)0)->formats) == sizeof(((struct board_def *)0)->formats),
	       "a board's formats fit the option's");

int
fw_config_apply_board(struct fw_config *c, struct board_def *def, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	bool own;

	if (board_dir_resolve(c->board_dir, dir, sizeof(dir)) < 0) {
		snprintf(err, errlen, "board-dir: path too long");
		return -1;
	}
	if (board_find(dir, c->board, def, err, errlen) < 0)
		return -1;
	own = c->source[0] == '\0' || strcmp(c->source, def->source) == 0;
	if (c->source[0] == '\0')
		snprintf(c->source, sizeof(c->source), "%s", def->source);
	if (strcmp(c->source, "sim") == 0 && def->ops != BOARD_OPS_SIM) {
		snprintf(err, errlen, "source sim: board %s has no in-process virtual target (only a board "
			 "with ops = sim in its board.conf has, such as sim)", def->name);
		return -1;
	}
	/* The capture keys describe the board's own capture, not a test
	 * pattern or a file someone asked for instead. */
	if (own) {
		if (c->device[0] == '\0' && copy_str(c->device, sizeof(c->device), def->device) < 0)
			goto too_long;
		if (c->formats[0] == CAP_FMT_NONE)
			memcpy(c->formats, def->formats, sizeof(c->formats));
		if (c->width == 0 && def->width > 0) {
			c->width = def->width;
			c->height = def->height;
		}
		if (c->fps == 0)
			c->fps = def->fps;
		if (c->edid[0] == '\0' && copy_str(c->edid, sizeof(c->edid), def->edid) < 0)
			goto too_long;
	}
	if (c->udc[0] == '\0')
		snprintf(c->udc, sizeof(c->udc), "%s", def->udc);
	if (!c->hid_profile_set)
		c->hid_profile = def->hid_profile;
	return 0;
too_long:
	snprintf(err, errlen, "board %s: a path in %s/board.conf is too long for webkvmd", def->name, def->dir);
	return -1;
}

int
fw_config_list_boards(FILE *fp, const struct fw_config *c)
{
	char dir[PATH_MAX];

	if (board_dir_resolve(c->board_dir, dir, sizeof(dir)) < 0)
		return -1;
	return board_print_list(fp, dir) < 0 ? -1 : 0;
}

int
fw_config_check(const struct fw_config *c, char *err, size_t errlen)
{
	int loop = fw_config_listen_loopback(c->rfb_listen);

	if (strcmp(c->source, "file") == 0 && c->device[0] == '\0') {
		snprintf(err, errlen, "source file: needs --device PATH (a raw frames file or a folder of PPM/JPEG)");
		return -1;
	}
	if (loop < 0) {
		snprintf(err, errlen, "rfb-listen: \"%s\" is not host:port, [v6]:port or :port", c->rfb_listen);
		return -1;
	}
	if (loop == 1)
		return 0;
	/* Whoever reaches the RFB port types on the target as root: off the
	 * loopback it needs at least the VNC password. */
	if (c->rfb_password_file[0] != '\0') {
		fw__log(FW_LOG_WARN, "rfb: listening on %s beyond loopback: VNC passwords are weak "
			"(8 characters, DES challenge, no encryption); webkvm-proxy with login "
			"and TLS is recommended instead", c->rfb_listen);
		return 0;
	}
	if (c->rfb_allow_insecure) {
		fw__log(FW_LOG_WARN, "rfb: listening on %s beyond loopback WITHOUT a password "
			"(--rfb-allow-insecure): anyone who reaches this port controls the target",
			c->rfb_listen);
		return 0;
	}
	snprintf(err, errlen, "rfb-listen %s is not a loopback address: refusing to serve RFB "
		 "there without a VNC password (--rfb-password-file FILE); better keep "
		 "127.0.0.1:5900 and let webkvm-proxy (login, TLS) face the network",
		 c->rfb_listen);
	return -1;
}

void
fw_config_usage(FILE *fp, const char *argv0)
{
	fprintf(fp, "usage: %s [--option value]...\n\n"
		"webkvmd, the webkvm board daemon: captures the target's screen, serves it over\n"
		"RFB (VNC) and turns viewers' keys and pointer into USB HID reports.\n\n"
		"Every option can also be set in the --config file as `name = value`.\n\n", argv0);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(fp, "  %-28s %s\n", left, opts[i].help);
	}
	fputc('\n', fp);
	fw_config_list_boards(fp, &(struct fw_config){ .board_dir = "" });
}
