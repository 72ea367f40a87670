/* firmware/ — webkvmd's options: command line and `key = value` file.
 *
 * Every option has one name, used as `--name VALUE` on the command line and
 * as `name = VALUE` in the config file; the command line wins.
 */
#ifndef WEBKVM_FW_CONFIG_H
#define WEBKVM_FW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "board/board.h"
#include "capture/capture.h"

struct fw_config {
	char board[BOARD_NAME_MAX];	/* a folder of board_dir holding a board.conf */
	char board_dir[256];	/* where boards are; "" = board_dir_resolve()'s default */
	bool list_boards;	/* --list-boards, --board help, --board alone */
	char source[16];	/* sim | pattern | file | v4l2; "" = board's */
	char device[256];	/* v4l2 node, or file source path */
	enum cap_pixfmt formats[8];	/* v4l2 preference, NONE-terminated */
	enum cap_pixfmt file_format;	/* raw frames file */
	char edid[256];
	char udc[64];		/* USB device controller for the HID gadget; "" = first */
	char layout[16];	/* the target's keyboard layout for keysym input; "" = en-us */
	int hid_profile;	/* enum hid_profile: interfaces the gadget offers */
	bool hid_profile_set;	/* given, so the board's default does not apply */
	int mouse;		/* enum hid_pointer_mode at start */
	int mouse_num, mouse_den;	/* relative mode: target pixels per viewer pixel */
	int paste_delay_ms;	/* pause between keyboard reports when typing text */
	int width, height;	/* --resolution; 0 = default */
	int fps;		/* 0 = default */
	int buffers;
	char rfb_listen[128];
	char rfb_password_file[256];
	bool rfb_allow_insecure;	/* non-loopback RFB without a password */
	bool view_only;
	char desktop_name[128];
	char control[256];	/* control socket path; "" = none */
	char control_group[64];	/* group owning the control socket; "" = see fw_control_new */
	int log_level;
	int tile;		/* tile edge in pixels */
	bool h264_off;		/* --h264 off */
	int h264_kbps;		/* 0 = rfb/'s default */
	bool help;
};

/* Defaults: board sim, RFB on 127.0.0.1:5900, info logging. */
void fw_config_defaults(struct fw_config *c);

/* Sets one option by name (without leading dashes).  Returns 0, or -1 with
 * a message naming the option and what is wrong in err. */
int fw_config_set(struct fw_config *c, const char *name, const char *value,
		  char *err, size_t errlen);

/* Reads a config file: `name = value` lines, `#` comments, blank lines.
 * Returns 0, or -1 with "FILE:LINE: message" in err. */
int fw_config_load(struct fw_config *c, const char *path, char *err, size_t errlen);

/* Parses argv: --config FILE is read first, then the other options in
 * order.  Accepts `--name value` and `--name=value`; flags take no value.
 * Returns 0, or -1 with a message in err. */
int fw_config_parse_args(struct fw_config *c, int argc, char **argv, char *err, size_t errlen);

/* Reads the board (c->board in c->board_dir) into def and fills what the
 * options left unset from it: source; with the board's own source, device,
 * format, resolution, fps and edid; udc and hid-profile.  An unknown board
 * is an error naming the boards found.  0, or -1 with a message in err. */
int fw_config_apply_board(struct fw_config *c, struct board_def *def, char *err, size_t errlen);

/* Prints the boards found in c->board_dir (or the default folder) for
 * --list-boards.  0, or -1 when the folder cannot be read. */
int fw_config_list_boards(FILE *fp, const struct fw_config *c);

/* Checks the combination of options once all are set.  An RFB listen
 * address that is not loopback needs --rfb-password-file (refused without;
 * with one, a warning that VNC passwords are weak is logged;
 * --rfb-allow-insecure lets it through with a louder one). */
int fw_config_check(const struct fw_config *c, char *err, size_t errlen);

/* 1 when every address of an RFB listen spec ("host:port", "[v6]:port",
 * ":port") is loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), 0 when one
 * is not, -1 when the spec is malformed.  Only numeric hosts are looked at:
 * a name (even "localhost") counts as not loopback, as ":port" (all
 * addresses) does. */
int fw_config_listen_loopback(const char *spec);

/* Prints --help: every option with its default. */
void fw_config_usage(FILE *fp, const char *argv0);

#endif
