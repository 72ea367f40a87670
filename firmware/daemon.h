/* firmware/ — webkvmd: wires capture, the tile diff + RFB server, hid/ and
 * the board together around one event loop. */
#ifndef WEBKVM_FW_DAEMON_H
#define WEBKVM_FW_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/config.h"
#include "firmware/ctlproto.h"

struct fw_daemon;

/* Opens everything the config asks for.  A missing capture device is not an
 * error (it is retried); a bad option or an unusable listen address is.
 * Returns 0, or -1 with a message in err. */
int fw_daemon_new(const struct fw_config *cfg, struct fw_daemon **out, char *err, size_t errlen);
/* Runs until SIGINT or SIGTERM (blocked by the caller and read here through
 * a signalfd).  Returns 0 on a clean stop. */
int fw_daemon_run(struct fw_daemon *d);
void fw_daemon_free(struct fw_daemon *d);

/* Answers one control request, already checked against the protocol's
 * table (firmware/ctlproto.h), with one JSON object (no newline) in resp.
 * In ctl.c. */
void fw_daemon_control(void *ctx, const struct ctl_req *req, char *resp, size_t resplen);

/* ---- keys.c ---- */
/* Keysym of a key name ("ctrl", "alt", "delete", "f1"…"f24", "a"); 0 if none. */
uint32_t fw_key_by_name(const char *name);
/* Keysym typing a character: Latin-1 as is, newline → Return, tab → Tab,
 * others as 0x01000000|cp; 0 for control characters that have no key. */
uint32_t fw_keysym_of_char(uint32_t cp);

/* ---- paste.c: the plan and the held keys (the engine is internal) ---- */
enum {
	FW_PASTE_EUTF8 = -1,		/* the text is not valid UTF-8 */
	FW_PASTE_EUNTYPABLE = -2,	/* characters the layout cannot type */
	FW_PASTE_ENOMEM = -3,
};
#define FW_PASTE_BAD_MAX 16

/* A text as the keysyms that type it on a layout. */
struct fw_paste_plan {
	uint32_t *ks;		/* one per character; "\r\n" is one Return */
	size_t n;
	/* Characters the layout cannot type: how many, the first, and a JSON
	 * array of the distinct ones (at most FW_PASTE_BAD_MAX) as
	 * {"char":"€","code":"U+20AC","at":INDEX}. */
	size_t n_bad;
	uint32_t first_bad;
	uint32_t bad_cp[FW_PASTE_BAD_MAX];
	char bad_json[FW_PASTE_BAD_MAX * 64 + 4];
};
/* Plans text (len bytes of UTF-8) on layout.  0; FW_PASTE_EUNTYPABLE with
 * the plan's n_bad/bad_json filled (free it all the same); FW_PASTE_EUTF8
 * or FW_PASTE_ENOMEM with nothing to free. */
int fw_paste_plan(int layout, const char *text, size_t len, struct fw_paste_plan *out);
void fw_paste_plan_free(struct fw_paste_plan *p);

/* Viewers' key events held back while a text is typed, so they are never
 * interleaved with it; replayed in order when it ends. */
#define FW_HELD_MAX 512
struct fw_held_key {
	int viewer;
	bool xt;		/* a QEMU extended key event: code is the scancode */
	uint32_t code, keysym;
	bool down;
};
struct fw_held {
	struct fw_held_key k[FW_HELD_MAX];
	size_t head, n;
};
/* 0, or -1 when full (the event is dropped). */
int fw_held_push(struct fw_held *h, const struct fw_held_key *k);
bool fw_held_pop(struct fw_held *h, struct fw_held_key *k);
/* Forgets one viewer's events (it left); returns how many. */
size_t fw_held_drop_viewer(struct fw_held *h, int viewer);

/* ---- nosignal.c ---- */
/* Draws the "no signal" screen into an XRGB32 buffer. */
void fw_draw_nosignal(uint8_t *buf, int w, int h, const char *reason, unsigned secs);

#endif
