/* board/sim — the virtual target machine.
 *
 * A simulated PC: it consumes the USB HID report bytes a real target's USB
 * host would receive (boot keyboard, absolute pointer; layouts in hid/hid.h),
 * answers with the keyboard LED output report, and renders its screen, a
 * BIOS-setup-like text console, into XRGB32 frames (bytes B,G,R,X).
 *
 * Screen geometry (tests rely on it): the console is a grid of character
 * cells drawn with the VGA 8x16 font (Uni2-VGA16) scaled by
 *     scale = max(1, min(width / 640, height / 360))
 * so a cell is (8*scale)×(16*scale) pixels, cols = width / cellw,
 * rows = height / cellh, with the grid's origin at pixel (0,0).  Each cell
 * has one background and one foreground colour.  The mouse pointer is drawn
 * on top; the clock in the top row changes once a second.
 *
 * Thread: one thread at a time.
 */
#ifndef WEBKVM_SIM_H
#define WEBKVM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

struct sim_target;

enum sim_power {
	SIM_POWER_OFF = 0,	/* screen gives no signal, input ignored */
	SIM_POWER_ON,		/* boots if off */
	SIM_POWER_RESET,	/* hard reset: boot sequence again */
	SIM_POWER_REBOOT,	/* same as reset for the sim */
};

/* Called with the keyboard LED output report (1 byte, HID_LED_* bits) each
 * time the target's lock state changes, as a USB host sends it. */
typedef void (*sim_led_out_fn)(void *ctx, const uint8_t *report, size_t len);

/* Creates a powered-on target that has finished booting, screen w×h
 * (minimum 320×200, maximum 4096×2160).  NULL on bad size or no memory. */
struct sim_target *sim_new(int width, int height);
void sim_free(struct sim_target *s);

void sim_set_led_out(struct sim_target *s, sim_led_out_fn fn, void *ctx);

/* A report from the keyboard (iface 0, 8 bytes), the absolute pointer
 * (iface 1, 7 bytes) or the relative mouse (iface 2, 5 bytes; one pixel
 * per count) arrived from the USB bus.  Returns 0 or -1 for a
 * malformed report (dropped). */
int sim_hid_input(struct sim_target *s, int iface, const uint8_t *buf, size_t len);

/* Power control (XVP / power button). */
void sim_power(struct sim_target *s, enum sim_power p);
/* Whether the target is on (booting or running): its power LED. */
bool sim_is_on(const struct sim_target *s);

/* Renders the screen as of now_us (CLOCK_MONOTONIC µs) and returns it in
 * *out as CAP_FMT_XRGB32.  The pixels belong to the sim and stay valid until
 * the next call.  Returns CAP_ENOSIGNAL while powered off.  A `res WxH`
 * command typed on the console changes the size of the next frames.
 * Matches cap_render_fn. */
int sim_render(void *sim, uint64_t now_us, struct cap_frame *out);

/* Requests a new screen size (as `res WxH` does).  0 or -1 when out of range. */
int sim_resize(struct sim_target *s, int width, int height);

/* Text of one console row (UTF-8, trailing spaces trimmed) into buf; for
 * tests and the control socket's status. Returns 0 or -1 when out of range. */
int sim_row_text(const struct sim_target *s, int row, char *buf, size_t len);

/* Keyboard layout the target decodes key reports with: a hid/ layout index
 * (hid_layout_find()).  0, en-us, is the default and decodes as a US PC
 * keyboard; the others follow the layout tables, with AltGr (Right Alt) and
 * dead keys composing with the next character.  Out of range is ignored.
 * A pending dead key is dropped. */
void sim_set_layout(struct sim_target *s, int layout);

/* What the target has received, for tests that check input without
 * reading the screen: the command line being typed (UTF-8) and where the
 * pointer is, in pixels. */
const char *sim_line(const struct sim_target *s);
void sim_pointer(const struct sim_target *s, int *x, int *y);
/* The keyboard as the target last saw it: modifier byte and key array. */
void sim_keys(const struct sim_target *s, uint8_t *mods, uint8_t keys[6]);

/* Lock state as the target sees it (HID_LED_* bits). */
uint8_t sim_leds(const struct sim_target *s);

/* Glyph of the built-in VGA font for a Unicode code point: 16 bytes, one
 * per line, bit 7 leftmost; the replacement glyph when the font lacks it. */
const uint8_t *sim_font_glyph(uint32_t cp);

#endif
