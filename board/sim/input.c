/* board/sim: the USB host side.  Report bytes come in as a PC's HID driver
 * receives them; key edges come from diffing successive keyboard reports,
 * characters from the target's layout (a US PC keyboard by default, else
 * hid/'s layout tables, with AltGr and dead keys), and lock keys answer with
 * the LED output report (what the host's SET_REPORT carries). */
#include <string.h>

#include "board/sim/sim_priv.h"
#include "common/utf8.h"
#include "hid/hid.h"

#define MOD_CTRL 0x11
#define MOD_SHIFT 0x22
#define MOD_ALT 0x44
#define MOD_GUI 0x88
#define MOD_LALT 0x04
#define MOD_RALT 0x40

/* Keyboard page usages the console acts on. */
enum {
	U_ERR_ROLLOVER = 0x01,
	U_A = 0x04, U_Z = 0x1d,
	U_1 = 0x1e, U_0 = 0x27,
	U_ENTER = 0x28, U_ESC = 0x29, U_BACKSPACE = 0x2a, U_TAB = 0x2b,
	U_SPACE = 0x2c, U_MINUS = 0x2d, U_SLASH = 0x38,
	U_CAPS = 0x39, U_SCROLL = 0x47,
	U_HOME = 0x4a, U_DELETE = 0x4c, U_END = 0x4d,
	U_DOWN = 0x51, U_UP = 0x52,
	U_NUM = 0x53,
	U_KP_SLASH = 0x54, U_KP_STAR = 0x55, U_KP_MINUS = 0x56, U_KP_PLUS = 0x57,
	U_KP_ENTER = 0x58, U_KP_1 = 0x59, U_KP_2 = 0x5a, U_KP_7 = 0x5f,
	U_KP_8 = 0x60, U_KP_9 = 0x61, U_KP_0 = 0x62, U_KP_DOT = 0x63,
	U_NONUS_BSLASH = 0x64, U_KP_EQUAL = 0x67,
};

/* Usages U_MINUS..U_SLASH; 0x32 (Non-US #) gives backslash, as PC hosts
 * map it on a US layout. */
static const char punct_plain[] = "-=[]\\\\;'`,./";
static const char punct_shift[] = "_+{}||:\"~<>?";
static const char digit_shift[] = "!@#$%^&*()";

/* Keypad digits with Num Lock on, in usage order from KP_1. */
static const char kp_digits[] = "1234567890.";

static void send_leds(struct sim_target *s)
{
	uint8_t report = s->leds;

	if (s->led_fn)
		s->led_fn(s->led_ctx, &report, sizeof(report));
}

static void toggle_lock(struct sim_target *s, uint8_t bit)
{
	s->leds ^= bit;
	send_leds(s);
}

/* The character a key press types, 0 for none. */
static char key_char(const struct sim_target *s, uint8_t u, uint8_t mods)
{
	bool shift = mods & MOD_SHIFT;

	if (u >= U_A && u <= U_Z) {
		bool upper = shift != !!(s->leds & HID_LED_CAPS);
		return (char)((upper ? 'A' : 'a') + (u - U_A));
	}
	if (u >= U_1 && u <= U_0)
		return shift ? digit_shift[u - U_1] : "1234567890"[u - U_1];
	if (u == U_SPACE)
		return ' ';
	if (u >= U_MINUS && u <= U_SLASH)
		return shift ? punct_shift[u - U_MINUS] : punct_plain[u - U_MINUS];
	if (u == U_NONUS_BSLASH)
		return shift ? '|' : '\\';
	switch (u) {
	case U_KP_SLASH: return '/';
	case U_KP_STAR: return '*';
	case U_KP_MINUS: return '-';
	case U_KP_PLUS: return '+';
	case U_KP_EQUAL: return '=';
	}
	/* Shift flips the keypad back to navigation, as on a PC. */
	if (u >= U_KP_1 && u <= U_KP_DOT && (s->leds & HID_LED_NUM) && !shift)
		return kp_digits[u - U_KP_1];
	return 0;
}

static void line_add(struct sim_target *s, uint32_t cp)
{
	char u[4];
	size_t n = wk_utf8_put(cp, u);

	if (s->line_len + n < sizeof(s->line)) {
		memcpy(s->line + s->line_len, u, n);
		s->line_len += n;
		s->line[s->line_len] = '\0';
	}
}

/* The character a key press types on a layout from the tables, 0 for none.
 * A dead key types nothing and waits: the next character composes with it
 * when the two compose, else the accent is typed before it (as a PC does);
 * the same dead key twice types the accent. */
static uint32_t layout_char(struct sim_target *s, uint8_t u, uint8_t mods, bool altgr)
{
	bool shift = mods & MOD_SHIFT;
	uint32_t ks = hid_layout_keysym(s->layout, u, shift, altgr, s->leds & HID_LED_CAPS);
	uint32_t cp;

	if (hid_keysym_is_dead(ks)) {
		uint32_t prev = s->dead;
		s->dead = 0;
		if (prev == ks)
			return hid_compose(ks, ' ');
		if (prev && (cp = hid_compose(prev, ' ')))
			line_add(s, cp);
		s->dead = ks;
		return 0;
	}
	if (ks)
		cp = hid_keysym_to_ucs(ks);
	else if (u >= U_KP_SLASH && u <= U_KP_EQUAL && u != U_NONUS_BSLASH)
		cp = (unsigned char)key_char(s, u, mods);	/* the keypad */
	else
		cp = 0;
	if (!cp || !s->dead)
		return cp;
	uint32_t composed = hid_compose(s->dead, cp);
	if (!composed) {
		uint32_t accent = hid_compose(s->dead, ' ');
		if (accent)
			line_add(s, accent);
		composed = cp;
	}
	s->dead = 0;
	return composed;
}

static void menu_move(struct sim_target *s, int step)
{
	s->menu_sel = (s->menu_sel + step + SIM__MENU_N) % SIM__MENU_N;
}

static void key_press(struct sim_target *s, uint8_t u, uint8_t mods)
{
	bool numpad_nav = !(s->leds & HID_LED_NUM) || (mods & MOD_SHIFT);

	switch (u) {
	case U_CAPS:
		toggle_lock(s, HID_LED_CAPS);
		return;
	case U_NUM:
		toggle_lock(s, HID_LED_NUM);
		return;
	case U_SCROLL:
		toggle_lock(s, HID_LED_SCROLL);
		return;
	case U_ENTER:
	case U_KP_ENTER:
		s->dead = 0;
		sim__enter(s);
		return;
	case U_BACKSPACE:
		/* A whole character, not the last byte of its UTF-8. */
		while (s->line_len && (s->line[s->line_len - 1] & 0xc0) == 0x80)
			s->line_len--;
		if (s->line_len)
			s->line_len--;
		s->line[s->line_len] = '\0';
		s->dead = 0;
		return;
	case U_ESC:
		s->line_len = 0;
		s->line[0] = '\0';
		s->dead = 0;
		return;
	case U_UP:
		menu_move(s, -1);
		return;
	case U_DOWN:
		menu_move(s, 1);
		return;
	case U_HOME:
		s->menu_sel = 0;
		return;
	case U_END:
		s->menu_sel = SIM__MENU_N - 1;
		return;
	}
	/* Ctrl-Alt-Del reboots, as a PC's firmware does (keypad '.' is
	 * Delete without Num Lock). */
	if ((mods & MOD_CTRL) && (mods & MOD_ALT) &&
	    (u == U_DELETE || (u == U_KP_DOT && numpad_nav))) {
		sim_power(s, SIM_POWER_REBOOT);
		return;
	}
	if (numpad_nav) {
		switch (u) {
		case U_KP_8: menu_move(s, -1); return;
		case U_KP_2: menu_move(s, 1); return;
		case U_KP_7: s->menu_sel = 0; return;
		case U_KP_1: s->menu_sel = SIM__MENU_N - 1; return;
		}
	}
	/* Ctrl/Alt/GUI chords are shortcuts, not text; Right Alt is AltGr
	 * where the layout has one. */
	bool altgr = hid_layout_has_altgr(s->layout) && (mods & MOD_RALT);
	uint8_t alt = altgr ? mods & MOD_LALT : mods & MOD_ALT;
	if ((mods & (MOD_CTRL | MOD_GUI)) || alt)
		return;
	/* The layout tables for every layout, en-us included: its key left
	 * of Z types < and > as X's pc105 tables say. */
	uint32_t cp = layout_char(s, u, mods, altgr);
	if (cp)
		line_add(s, cp);
}

static bool has_key(const uint8_t *keys, uint8_t u)
{
	return memchr(keys, u, 6) != NULL;
}

static void kbd_report(struct sim_target *s, const uint8_t *buf)
{
	const uint8_t *keys = buf + 2;

	s->kbd_mods = buf[0];
	/* Phantom state (too many keys): the key array says nothing, only the
	 * modifier byte is valid, so no key edges come from it. */
	if (has_key(keys, U_ERR_ROLLOVER))
		return;
	for (int i = 0; i < 6; i++) {
		uint8_t u = keys[i];
		/* 0 is no key, 1..3 are error codes; a usage listed twice in
		 * one report is pressed once. */
		if (u <= 0x03 || has_key(s->kbd_keys, u) || memchr(keys, u, i))
			continue;
		/* Re-checked per key: Enter may have run `reset`. */
		if (s->mode == SIM__SETUP)
			key_press(s, u, buf[0]);
	}
	memcpy(s->kbd_keys, keys, 6);
}

/* A click on a menu line runs it, as in a firmware setup screen. */
static void ptr_buttons(struct sim_target *s, uint8_t buttons)
{
	uint8_t pressed = buttons & ~s->ptr_buttons;

	s->ptr_buttons = buttons;
	if (pressed & 0x01) {
		int px, py;
		sim__ptr_pos(s, &px, &py);
		int row = py / s->cellh, col = px / s->cellw;
		if (row >= SIM__ROW_MENU && row < SIM__ROW_MENU + SIM__MENU_N &&
		    col >= SIM__COL_MENU && col < SIM__COL_MENU + SIM__MENU_WIDTH)
			sim__activate(s, row - SIM__ROW_MENU);
	}
}

static int ptr_report(struct sim_target *s, const uint8_t *buf)
{
	unsigned x = buf[1] | (unsigned)buf[2] << 8;
	unsigned y = buf[3] | (unsigned)buf[4] << 8;

	if (x > HID_ABS_MAX || y > HID_ABS_MAX)
		return -1;
	if (s->mode != SIM__SETUP) {
		s->ptr_buttons = buf[0] & 0x1f;
		return 0;
	}
	/* The tablet's range spans the screen, as an OS maps it. */
	s->ptr_x = (int)(((uint64_t)x * (uint64_t)(s->w - 1) + HID_ABS_MAX / 2) / HID_ABS_MAX);
	s->ptr_y = (int)(((uint64_t)y * (uint64_t)(s->h - 1) + HID_ABS_MAX / 2) / HID_ABS_MAX);
	s->ptr_seen = true;
	s->wheel += (int8_t)buf[5];
	s->pan += (int8_t)buf[6];
	ptr_buttons(s, buf[0] & 0x1f);
	return 0;
}

/* The relative mouse moves the pointer one pixel per count, without
 * acceleration, stopping at the screen's edges: what firmware does. */
static int mouse_report(struct sim_target *s, const uint8_t *buf)
{
	int px, py;

	if ((int8_t)buf[1] == -128 || (int8_t)buf[2] == -128)
		return -1;	/* outside the descriptor's -127..127 */
	if (s->mode != SIM__SETUP) {
		s->ptr_buttons = buf[0] & 0x1f;
		return 0;
	}
	sim__ptr_pos(s, &px, &py);
	s->ptr_x = px + (int8_t)buf[1];
	s->ptr_y = py + (int8_t)buf[2];
	sim__ptr_pos(s, &s->ptr_x, &s->ptr_y);
	s->ptr_seen = true;
	s->wheel += (int8_t)buf[3];
	s->pan += (int8_t)buf[4];
	ptr_buttons(s, buf[0] & 0x1f);
	return 0;
}

int sim_hid_input(struct sim_target *s, int iface, const uint8_t *buf, size_t len)
{
	int ret;

	if (!s || !buf)
		return -1;
	switch (iface) {
	case HID_IFACE_KEYBOARD:
		if (len != HID_KBD_REPORT_LEN)
			return -1;
		kbd_report(s, buf);
		ret = 0;
		break;
	case HID_IFACE_POINTER:
		if (len != HID_PTR_REPORT_LEN)
			return -1;
		ret = ptr_report(s, buf);
		break;
	case HID_IFACE_MOUSE:
		if (len != HID_MOUSE_REPORT_LEN)
			return -1;
		ret = mouse_report(s, buf);
		break;
	default:
		return -1;
	}
	if (ret == 0)
		sim__compose(s);
	return ret;
}

void sim_set_led_out(struct sim_target *s, sim_led_out_fn fn, void *ctx)
{
	s->led_fn = fn;
	s->led_ctx = ctx;
}

uint8_t sim_leds(const struct sim_target *s)
{
	return s->leds;
}
