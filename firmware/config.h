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

#include "capture/capture.h"

struct fw_config {
	char board[32];		/* sim | qemu-x86_64 | rpi4 | … */
	char source[16];	/* sim | pattern | file | v4l2; "" = board's */
	char device[256];	/* v4l2 node, or file source path */
	enum cap_pixfmt formats[8];	/* v4l2 preference, NONE-terminated */
	enum cap_pixfmt file_format;	/* raw frames file */
	char edid[256];
	char udc[64];		/* USB device controller for the HID gadget; "" = first */
	int width, height;	/* --resolution; 0 = default */
	int fps;		/* 0 = default */
	int buffers;
	char rfb_listen[128];
	char rfb_password_file[256];
	bool view_only;
	char desktop_name[128];
	char control[256];	/* control socket path; "" = none */
	int log_level;
	int tile;		/* tile edge in pixels */
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

/* Checks the combination of options once all are set. */
int fw_config_check(const struct fw_config *c, char *err, size_t errlen);

/* Prints --help: every option with its default. */
void fw_config_usage(FILE *fp, const char *argv0);

#endif
