/* board/ — what a board is and what it can do.
 *
 * A board is data first: board/NAME/board.conf (`key = value` lines, see
 * board/README.md) says which frame source and capture device it has, the
 * pixel formats to try, the USB device controller, the EDID, the HID
 * profile, and the hooks for the target's power and reset buttons, its
 * LEDs, virtual media and serial console.  Its values are defaults: the
 * daemon's own options (--device, --format, --udc...) win.
 *
 * What a board can do goes through one interface, struct board_ops.  A
 * board names its implementation in board.conf (`ops = sim` or
 * `ops = generic`).  An operation a board lacks answers -ENOTSUP,
 * "not on this board", never a silent success.
 *
 * Thread: one thread at a time (the daemon's event loop).
 */
#ifndef WEBKVM_BOARD_H
#define WEBKVM_BOARD_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "capture/capture.h"

#define BOARD_NAME_MAX 32	/* with the NUL */
#define BOARD_MAX 64		/* boards listed from one folder */

/* Where boards are looked for when --board-dir is not given: the source
 * tree's board/ (the one holding board.h) when the binary runs from a
 * build folder of it (BIN/../board up to BIN/../../../board: build/webkvmd,
 * build/san/webkvmd, build/san/tests/...), else this folder, where an
 * image installs them. */
#ifndef BOARD_DIR_INSTALLED
#define BOARD_DIR_INSTALLED "/usr/share/webkvm/board"
#endif

/* Errors are negative errno values: -ENOTSUP for an operation this board
 * lacks ("not on this board"), -ENOENT for no such board, -EINVAL for a bad
 * definition or argument, -EIO when the hardware did not do it, -ENOMEM. */
/* "not on this board", ...; never NULL. */
const char *board_strerror(int err);

/* ---- the definition: board/NAME/board.conf ---- */

enum board_ops_kind {
	BOARD_OPS_GENERIC = 0,	/* a real board: USB gadget + capture device + hooks */
	BOARD_OPS_SIM,		/* the virtual target in-process (board/sim) */
};

struct board_def {
	char name[BOARD_NAME_MAX];	/* the folder's name */
	char dir[PATH_MAX];		/* the folder it was read from */
	char description[128];
	enum board_ops_kind ops;
	char source[16];		/* sim | v4l2 | pattern | file */
	char device[256];		/* capture device; "" = the daemon's default */
	enum cap_pixfmt formats[8];	/* NONE-terminated; none = by device kind */
	int width, height;		/* capture wish (no DV timings) / sim size; 0 = none */
	int fps;			/* 0 = none */
	char edid[PATH_MAX];		/* absolute (relative ones are made so); "" = none */
	char udc[64];			/* "" = the first in /sys/class/udc */
	int hid_profile;		/* enum hid_profile */
	/* Hooks later work fills in.  Empty today on every board: the
	 * parser refuses a value until the code behind it exists. */
	char power_button[64];		/* GPIO line pressing the power button */
	char reset_button[64];		/* GPIO line pressing reset */
	char power_led[64];		/* GPIO line reading the power LED */
	char hdd_led[64];		/* GPIO line reading the HDD LED */
	char mass_storage[16];		/* virtual media through the USB gadget */
	char serial_port[256];		/* the target's serial console */
};

/* Reads one board.conf.  name is the board's name (its folder).  Returns 0,
 * or a negative error with "FILE:LINE: what is wrong" (or "FILE: why")
 * in err. */
int board_def_load(const char *path, const char *name, struct board_def *out,
		   char *err, size_t errlen);

/* The folder boards are read from: dir when not NULL or empty, else the
 * first of the default places (above) that is a folder, else the installed
 * one.  Writes it to out (len bytes); returns 0, or -1 when it does not fit. */
int board_dir_resolve(const char *dir, char *out, size_t len);

/* Names of the boards in a folder (sub-folders holding a board.conf),
 * sorted.  Returns how many (at most max), or a negative error when the
 * folder cannot be read. */
int board_list(const char *dir, char names[][BOARD_NAME_MAX], int max);

/* Loads board `name` from folder dir (already resolved).  An unknown name
 * is an error naming the boards that exist. */
int board_find(const char *dir, const char *name, struct board_def *out,
	       char *err, size_t errlen);

/* Prints the boards of a folder with their descriptions ("NAME  text"). */
int board_print_list(FILE *fp, const char *dir);

/* ---- what a board does: struct board_ops ---- */

enum board_power {
	BOARD_POWER_ON = 0,	/* switch on if off */
	BOARD_POWER_OFF,	/* ask to switch off: a short press of the button */
	BOARD_POWER_FORCE_OFF,	/* off now, as holding the button does */
	BOARD_POWER_RESET,	/* hard reset */
	BOARD_POWER_REBOOT,	/* restart; where nothing runs on the target to ask, a reset */
	BOARD_POWER_COUNT
};
/* "on", "off", "force-off", "reset", "reboot" */
const char *board_power_name(enum board_power a);
/* The action of a name, or -EINVAL. */
int board_power_parse(const char *name);

/* LEDs of the target's front panel (bits). */
#define BOARD_LED_POWER 0x1u
#define BOARD_LED_HDD	0x2u

/* board_media_insert flags */
#define BOARD_MEDIA_CDROM	0x1u	/* a CD-ROM drive rather than a disk */
#define BOARD_MEDIA_READONLY	0x2u

struct board;

/* The code behind a board.  A NULL operation is one the board lacks: the
 * board_* call answers -ENOTSUP.  impl is what open() made. */
struct board_ops {
	const char *name;
	/* Makes the board's state.  0 or a negative error (err filled). */
	int (*open)(const struct board_def *def, int width, int height, void **impl,
		    char *err, size_t errlen);
	void (*close)(void *impl);
	int (*power)(void *impl, enum board_power action);
	/* *have: the LEDs the board can see; *lit: those of them lit. */
	int (*leds)(void *impl, unsigned *have, unsigned *lit);
	int (*media_insert)(void *impl, const char *path, unsigned flags);
	int (*media_eject)(void *impl);
	/* A file descriptor on the target's serial console, the caller's. */
	int (*serial_open)(void *impl);
};

extern const struct board_ops board_generic_ops;	/* board/board.c */
extern const struct board_ops board_sim_ops;		/* board/sim/ops.c */

/* Opens the board a definition describes.  width x height is the screen of
 * an in-process target (0 = the definition's, else 1280x720).  Returns 0,
 * or a negative error with a message in err.  Free with board_close. */
int board_open(const struct board_def *def, int width, int height, struct board **out,
	       char *err, size_t errlen);
void board_close(struct board *b);

const struct board_def *board_def(const struct board *b);
/* Whether an operation is there (so XVP is only offered where it works). */
bool board_has_power(const struct board *b);
bool board_has_media(const struct board *b);
bool board_has_serial(const struct board *b);

int board_power(struct board *b, enum board_power action);
int board_leds(struct board *b, unsigned *have, unsigned *lit);
int board_media_insert(struct board *b, const char *path, unsigned flags);
int board_media_eject(struct board *b);
int board_serial_open(struct board *b);

/* The in-process virtual target of an `ops = sim` board (its screen is the
 * sim frame source, its USB host reads the HID reports), else NULL.  Owned
 * by the board. */
struct sim_target *board_sim_target(struct board *b);

#endif
