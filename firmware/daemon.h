/* firmware/ — webkvmd: wires capture, the tile diff + RFB server, hid/ and
 * the board together around one event loop. */
#ifndef WEBKVM_FW_DAEMON_H
#define WEBKVM_FW_DAEMON_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/config.h"
#include "firmware/json.h"

struct fw_daemon;

/* Opens everything the config asks for.  A missing capture device is not an
 * error (it is retried); a bad option or an unusable listen address is.
 * Returns 0, or -1 with a message in err. */
int fw_daemon_new(const struct fw_config *cfg, struct fw_daemon **out, char *err, size_t errlen);
/* Runs until SIGINT or SIGTERM (blocked by the caller and read here through
 * a signalfd).  Returns 0 on a clean stop. */
int fw_daemon_run(struct fw_daemon *d);
void fw_daemon_free(struct fw_daemon *d);

/* Answers one control request (see README: control socket). */
void fw_daemon_control(void *ctx, const struct fw_json *req, char *resp, size_t resplen);

/* ---- keys.c ---- */
/* Keysym of a key name ("ctrl", "alt", "delete", "f1"…"f24", "a"); 0 if none. */
uint32_t fw_key_by_name(const char *name);
/* Decodes the UTF-8 code point at s[*pos]: 1 and advances, 0 at the end,
 * -1 on an invalid sequence. */
int fw_utf8_next(const char *s, size_t len, size_t *pos, uint32_t *cp);
/* Keysym typing a character: Latin-1 as is, newline → Return, tab → Tab,
 * others as 0x01000000|cp; 0 for control characters that have no key. */
uint32_t fw_keysym_of_char(uint32_t cp);

/* ---- nosignal.c ---- */
/* Draws the "no signal" screen into an XRGB32 buffer. */
void fw_draw_nosignal(uint8_t *buf, int w, int h, const char *reason, unsigned secs);

#endif
