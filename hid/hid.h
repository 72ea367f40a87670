/* hid/ — the input sink: keys and pointer events become USB HID reports.
 *
 * A struct hid_dev keeps the report state (pressed keys per viewer, buttons,
 * LEDs) and hands each report's bytes to a transport.  Here the transport is
 * a function call into the virtual target; on a board it is the USB gadget.
 * Nothing here knows about RFB or capture.
 *
 * Thread: one thread at a time (the daemon's event loop).
 */
#ifndef WEBKVM_HID_H
#define WEBKVM_HID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/input.h"

/* Report interfaces (one USB HID function each on a gadget). */
enum hid_iface {
	HID_IFACE_KEYBOARD = 0,	/* 8-byte boot keyboard report; 1-byte LED output */
	HID_IFACE_POINTER = 1,	/* absolute pointer report, see below */
	HID_IFACE_MOUSE = 2,	/* relative boot mouse report, see below */
	HID_IFACE_COUNT
};

/* Which interfaces the target has (bits 1 << HID_IFACE_*), as the gadget
 * profiles offer them: some BIOSes reject a composite device or one with
 * an interface they do not know, so fewer can be offered. */
enum hid_profile {
	HID_PROFILE_FULL = 0,	/* keyboard + absolute pointer + relative mouse */
	HID_PROFILE_ABSOLUTE,	/* keyboard + absolute pointer */
	HID_PROFILE_RELATIVE,	/* keyboard + relative mouse */
	HID_PROFILE_KEYBOARD,	/* keyboard only */
	HID_PROFILE_COUNT
};
/* Interfaces of a profile, as a bit mask; 0 for a bad profile. */
unsigned hid_profile_ifaces(enum hid_profile p);
/* "full", "absolute", "relative", "keyboard"; NULL when out of range. */
const char *hid_profile_name(enum hid_profile p);
/* Profile by name, or HID_EINVAL. */
int hid_profile_find(const char *name);

/* How viewers' pointer positions reach the target. */
enum hid_pointer_mode {
	HID_POINTER_ABSOLUTE = 0,	/* the tablet: position as 0..32767 */
	HID_POINTER_RELATIVE = 1,	/* the boot mouse: moves between positions */
};

/* Absolute pointer input report, 7 bytes, no report id:
 *   [0]    buttons: bit0 left, bit1 right, bit2 middle, bit3 back, bit4 forward
 *   [1..2] X, little-endian, 0..32767
 *   [3..4] Y, little-endian, 0..32767
 *   [5]    vertical wheel, signed, +1 = away from the user (scroll up)
 *   [6]    horizontal wheel (AC Pan), signed, +1 = right
 */
#define HID_KBD_REPORT_LEN 8
#define HID_PTR_REPORT_LEN 7
#define HID_ABS_MAX 32767

/* Relative mouse input report, 5 bytes, no report id.  The first three are
 * the boot protocol's mouse report, so a BIOS that asked for the boot
 * protocol and reads only those gets buttons and motion:
 *   [0] buttons as in the pointer report
 *   [1] X motion, signed, -127..127, +1 = right
 *   [2] Y motion, signed, -127..127, +1 = down
 *   [3] vertical wheel, [4] horizontal wheel, as in the pointer report
 */
#define HID_MOUSE_REPORT_LEN 5
#define HID_REL_MAX 127
/* Report length of an interface, 0 when out of range. */
size_t hid_report_len(enum hid_iface iface);

/* LED bits of the keyboard's output report (USB HID LED usages 1..5). */
#define HID_LED_NUM	0x01
#define HID_LED_CAPS	0x02
#define HID_LED_SCROLL	0x04
#define HID_LED_COMPOSE	0x08
#define HID_LED_KANA	0x10

/* Report descriptors, as given to the gadget's report_desc. */
extern const uint8_t hid_kbd_report_desc[];
extern const size_t hid_kbd_report_desc_len;
extern const uint8_t hid_ptr_report_desc[];
extern const size_t hid_ptr_report_desc_len;
extern const uint8_t hid_mouse_report_desc[];
extern const size_t hid_mouse_report_desc_len;

/* Where reports go.  send() must not block; it returns 0 or a negative
 * error (the report is then dropped and logged by hid/). */
struct hid_transport {
	int (*send)(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len);
	void *ctx;
};

/* Called when the target's LED state changes (bits HID_LED_*). */
typedef void (*hid_led_fn)(void *ctx, uint8_t leds);

enum {
	HID_OK = 0,
	HID_EINVAL = -1,	/* bad argument or malformed report */
	HID_EUNMAPPED = -2,	/* keysym / scancode has no HID usage here */
	HID_ENOMEM = -3,
	HID_EIO = -4,		/* transport failed */
};
const char *hid_strerror(int err);

struct hid_dev;

/* Creates the sink.  The transport and callback are copied.  Free with
 * hid_free(), which does not send anything. */
struct hid_dev *hid_new(const struct hid_transport *tr, hid_led_fn on_led, void *led_ctx);
void hid_free(struct hid_dev *h);

/* Viewer ids are chosen by the caller (any int); each viewer's pressed keys
 * and buttons are tracked apart, the target sees their union. */

/* X11 keysym (as in RFB KeyEvent), typed in the target's layout (en-us
 * unless hid_set_layout() says otherwise).  The Shift and AltGr state the
 * keysym needs is produced around the key when the viewer's own modifiers
 * do not give it.  HID_EUNMAPPED for a keysym the layout cannot type. */
int hid_key_keysym(struct hid_dev *h, int viewer, uint32_t keysym, bool down);

/* XT scancode as in the QEMU extended key event: 0x01..0x7f, or 0xe0xx
 * sent as 0xe0 in the high byte (e.g. 0xe04b = Left arrow).  0xe11d is
 * Pause, as QEMU sends it. */
int hid_key_xt(struct hid_dev *h, int viewer, uint32_t xt, bool down);

/* Absolute pointer: x,y in a w×h framebuffer; buttons as WK_BTN_* held and
 * WK_WHEEL_* (common/input.h).  Wheel bits make one step each on their
 * press. */
int hid_pointer(struct hid_dev *h, int viewer, int x, int y, int w, int h_, uint32_t buttons);

/* Pointer mode for hid_pointer().  In relative mode a viewer's first
 * position only sets where it is; each later one becomes the move from the
 * previous position, times the scale, on the relative mouse: split into
 * reports of at most HID_REL_MAX per axis, the scale's remainders carried
 * to the next move so nothing is lost.  Switching mode lets go of the
 * buttons held on the other interface.  0 or HID_EINVAL. */
int hid_set_pointer_mode(struct hid_dev *h, enum hid_pointer_mode mode);
enum hid_pointer_mode hid_get_pointer_mode(const struct hid_dev *h);
/* Target pixels moved per viewer pixel in relative mode, num/den, both
 * 1..1000 [1/1: right for firmware, which does not accelerate]. */
int hid_set_relative_scale(struct hid_dev *h, int num, int den);
/* Moves the relative mouse by (dx, dy) target pixels as they are, for a
 * caller that has motion rather than positions.  Buttons as hid_pointer(). */
int hid_mouse_move(struct hid_dev *h, int viewer, int dx, int dy, uint32_t buttons);

/* The interfaces the target has (mask of 1 << HID_IFACE_*; all by
 * default).  Pointer input for an interface the target lacks is dropped
 * (logged once); the keyboard is always there. */
void hid_set_ifaces(struct hid_dev *h, unsigned mask);

/* Releases every key and button held by one viewer (viewer >= 0) or by all
 * (viewer < 0), and sends the reports that follow. */
int hid_release(struct hid_dev *h, int viewer);

/* Feeds the keyboard's LED output report as read from the host side.
 * HID_EINVAL for a malformed report (dropped). */
int hid_led_report(struct hid_dev *h, const uint8_t *buf, size_t len);
uint8_t hid_leds(const struct hid_dev *h);

/* ---- tables (hid/keymap.c) ---- */

/* HID usage (page 7) of an XT scancode, 0 when none. */
uint8_t hid_usage_from_xt(uint32_t xt);
/* HID usage and whether Shift is needed for a keysym on a US layout.
 * Returns 0 when unmapped. */
uint8_t hid_usage_from_keysym(uint32_t keysym, bool *shift);
/* Modifier bit (0x01 LCtrl … 0x80 RGui) of a usage 0xE0..0xE7, else 0. */
uint8_t hid_modifier_bit(uint8_t usage);

/* ---- keyboard layouts (hid/layout.c, tables from xkb-data) ----
 *
 * Keysyms name characters; which key and level type a character depends on
 * the layout the target is set to.  The tables hold, for each layout, the
 * keysyms of the four levels (plain, Shift, AltGr, Shift+AltGr) of every
 * character key, as X builds them for a pc105 keyboard, and the compositions
 * of the dead keys.  Layout 0 is en-us, the default. */

/* Index of a layout by our name (en-us, en-gb, de, fr, es, it, pt-br, sv,
 * ru, ja; case-insensitive), or HID_EINVAL. */
int hid_layout_find(const char *name);
/* Name of a layout, NULL when out of range. */
const char *hid_layout_name(int layout);
/* Number of layouts; indexes are 0..count-1. */
int hid_layout_count(void);

/* Modifier bits of a stroke (as in the report's modifier byte). */
#define HID_MOD_LSHIFT 0x02
#define HID_MOD_RALT 0x40	/* AltGr on layouts that have it */

/* One key tap that types (part of) a character. */
struct hid_stroke {
	uint8_t usage;		/* keyboard page usage */
	uint8_t mods;		/* HID_MOD_* the key is typed with, for Caps Lock off */
	bool any_mods;		/* a key without levels (Return, Tab, arrows,
				 * modifiers): mods is 0 and whatever the viewer
				 * holds applies */
	bool caps;		/* a letter: Caps Lock turns its Shift over */
	uint32_t keysym;	/* what the tap types: the keysym asked for, or
				 * the dead keysym of the first of two strokes */
};

/* Most strokes one keysym takes: a dead key and the key it modifies. */
#define HID_STROKES_MAX 2

/* The strokes that type keysym on layout, into out[0..max-1]: one for a
 * key level that produces the keysym (preferring fewer modifiers and the
 * main key block over the ISO/JIS extra keys), two when the character only
 * exists as dead key + base key (e.g. 'é' on de: dead_acute, then e).
 * Function and modifier keysyms (0xff00..0xffff, ISO_Level3_Shift,
 * ISO_Left_Tab) map as on every layout.  Unicode keysyms (0x01000000 + code
 * point) match the character they name.
 * Returns the number of strokes, HID_EUNMAPPED when the layout cannot type
 * the keysym, HID_EINVAL for a bad layout, NULL out or max too small.
 * Pure: a paste can check all of its text before typing any of it. */
int hid_layout_plan(int layout, uint32_t keysym, struct hid_stroke *out, int max);

/* Keysym for a Unicode code point, as the paste path types text: Latin-1
 * keysyms for U+0020..U+007E and U+00A0..U+00FF, Return for '\n', Tab for
 * '\t', BackSpace for U+0008, Escape for U+001B, otherwise 0x01000000 + cp.
 * 0 for other control characters and values beyond U+10FFFF. */
uint32_t hid_keysym_from_ucs(uint32_t cp);
/* Code point a keysym types, 0 when none (function and dead keys). */
uint32_t hid_keysym_to_ucs(uint32_t keysym);
/* True for the dead keysyms (0xfe50..0xfe8f). */
bool hid_keysym_is_dead(uint32_t keysym);

/* The target's view: the keysym a key types on layout with the given
 * modifiers, following XKB (keys with one or two levels ignore AltGr, Caps
 * Lock turns over the Shift level of letters).  Layouts without AltGr
 * ignore altgr.  0 when the key is no character key of the layout or the
 * level is empty. */
uint32_t hid_layout_keysym(int layout, uint8_t usage, bool shift, bool altgr, bool caps);
/* True when Right Alt is AltGr on the layout. */
bool hid_layout_has_altgr(int layout);
/* The character a dead key followed by the character cp types (cp ' ' gives
 * the accent itself), 0 when they do not compose. */
uint32_t hid_compose(uint32_t dead_keysym, uint32_t cp);

/* Sets the layout the target uses, for the keysym path (hid_key_keysym);
 * keys held keep the layout they were pressed with.  0 or HID_EINVAL.
 * With a layout set, hid_key_keysym types a character that needs a dead
 * key as a tap of the dead key, then the base key held as long as the
 * keysym; AltGr (Right Alt) is set or cleared around a key like Shift. */
int hid_set_layout(struct hid_dev *h, int layout);
int hid_get_layout(const struct hid_dev *h);

/* ---- descriptor check (hid/descriptor.c), used by tests ---- */

struct hid_report_layout {
	int input_bits;		/* total bits of the input report */
	int output_bits;	/* total bits of the output report */
	int n_fields;
	struct hid_field {
		uint16_t usage_page;
		uint16_t usage_min, usage_max;
		int bit_offset, bit_size, count;
		int32_t logical_min, logical_max;
		bool output;	/* output report field */
		bool relative;
		bool variable;
	} fields[32];
};
/* Parses a report descriptor (short items).  0 or HID_EINVAL. */
int hid_parse_descriptor(const uint8_t *desc, size_t len, struct hid_report_layout *out);

#endif
