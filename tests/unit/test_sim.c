/* Unit tests for board/sim: the virtual target seen from outside, through
 * HID report bytes in and XRGB32 frames out.  Screen text is checked both
 * with sim_row_text() and by reading the pixels back against the font. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "board/sim/sim.h"
#include "common/utf8.h"
#include "hid/hid.h"

#define SEC 1000000ull

struct fx {
	struct sim_target *s;
	struct cap_frame f;
	int w, h, scale, cols, rows;
	int led_calls;
	uint8_t led_last;
	size_t led_len;
};

static void on_led(void *ctx, const uint8_t *report, size_t len)
{
	struct fx *x = ctx;

	x->led_calls++;
	x->led_len = len;
	x->led_last = len ? report[0] : 0xff;
}

/* The geometry rule of sim.h, restated here so the sim is checked against
 * the contract rather than against itself. */
static void geometry(struct fx *x, int w, int h)
{
	x->w = w;
	x->h = h;
	x->scale = w / 640 < h / 360 ? w / 640 : h / 360;
	if (x->scale < 1)
		x->scale = 1;
	x->cols = w / (8 * x->scale);
	x->rows = h / (16 * x->scale);
}

static struct fx *fx_new(int w, int h)
{
	struct fx *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	x->s = sim_new(w, h);
	assert_non_null(x->s);
	sim_set_led_out(x->s, on_led, x);
	geometry(x, w, h);
	return x;
}

static void fx_free(struct fx *x)
{
	sim_free(x->s);
	free(x);
}

static void render(struct fx *x, uint64_t t)
{
	assert_int_equal(sim_render(x->s, t, &x->f), 0);
	assert_int_equal(x->f.fmt, CAP_FMT_XRGB32);
	assert_int_equal(x->f.width, x->w);
	assert_int_equal(x->f.height, x->h);
	assert_int_equal(x->f.stride, x->w * 4);
	assert_int_equal(x->f.size, (size_t)x->w * x->h * 4);
	assert_non_null(x->f.data);
}

static uint32_t pixel(const struct cap_frame *f, int px, int py)
{
	const uint8_t *p = f->data + (size_t)py * f->stride + (size_t)px * 4;

	return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t checksum(const struct cap_frame *f)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < f->size; i++)
		h = (h ^ f->data[i]) * 1099511628211ull;
	return h;
}

/* Which printable ASCII character a cell shows: every pixel under a set
 * glyph bit must share one colour and every other pixel another.  0 when
 * no character fits. */
static char cell_char(const struct fx *x, int row, int col)
{
	int sc = x->scale, x0 = col * 8 * sc, y0 = row * 16 * sc;

	for (int ch = 0x20; ch < 0x7f; ch++) {
		const uint8_t *g = sim_font_glyph((uint32_t)ch);
		uint32_t fg = 0, bg = 0;
		bool have_fg = false, have_bg = false, ok = true;

		for (int py = 0; py < 16 * sc && ok; py++) {
			for (int px = 0; px < 8 * sc && ok; px++) {
				bool on = g[py / sc] & (0x80 >> (px / sc));
				uint32_t c = pixel(&x->f, x0 + px, y0 + py);
				uint32_t *want = on ? &fg : &bg;
				bool *have = on ? &have_fg : &have_bg;
				if (!*have) {
					*want = c;
					*have = true;
				} else if (*want != c) {
					ok = false;
				}
			}
		}
		if (ok && (!have_fg || !have_bg || fg != bg))
			return (char)ch;
	}
	return 0;
}

/* Reads n cells of a row from the pixels. */
static void cells_text(const struct fx *x, int row, int col, int n, char *out)
{
	for (int i = 0; i < n; i++) {
		out[i] = cell_char(x, row, col + i);
		assert_true(out[i] != 0);
	}
	out[n] = '\0';
}

static void assert_cells(const struct fx *x, int row, int col, const char *want)
{
	char got[256];

	cells_text(x, row, col, (int)strlen(want), got);
	assert_string_equal(got, want);
}

static void row_text(const struct fx *x, int row, char *buf, size_t len)
{
	assert_int_equal(sim_row_text(x->s, row, buf, len), 0);
}

static bool screen_has(const struct fx *x, const char *text)
{
	char buf[512];

	for (int r = 0; r < x->rows; r++) {
		row_text(x, r, buf, sizeof(buf));
		if (strstr(buf, text))
			return true;
	}
	return false;
}

/* ---- building reports by hand (boot keyboard, absolute pointer) ---- */

#define L_SHIFT 0x02
#define U_ENTER 0x28
#define U_CAPS 0x39
#define U_NUM 0x53
#define U_KP_1 0x59
#define U_DOWN 0x51
#define U_UP 0x52

static void kbd(struct fx *x, uint8_t mods, uint8_t k0, uint8_t k1)
{
	uint8_t r[HID_KBD_REPORT_LEN] = { mods, 0, k0, k1, 0, 0, 0, 0 };

	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, r, sizeof(r)), 0);
}

static void tap(struct fx *x, uint8_t mods, uint8_t usage)
{
	kbd(x, mods, usage, 0);
	kbd(x, mods, 0, 0);
	if (mods)
		kbd(x, 0, 0, 0);
}

/* US layout usages for the characters the tests type. */
static void type(struct fx *x, const char *text)
{
	for (; *text; text++) {
		char c = *text;
		if (c >= 'a' && c <= 'z')
			tap(x, 0, (uint8_t)(0x04 + c - 'a'));
		else if (c >= 'A' && c <= 'Z')
			tap(x, L_SHIFT, (uint8_t)(0x04 + c - 'A'));
		else if (c >= '1' && c <= '9')
			tap(x, 0, (uint8_t)(0x1e + c - '1'));
		else if (c == '0')
			tap(x, 0, 0x27);
		else if (c == ' ')
			tap(x, 0, 0x2c);
		else if (c == '!')
			tap(x, L_SHIFT, 0x1e);
		else
			fail_msg("type: no usage for '%c'", c);
	}
}

static int ptr(struct fx *x, uint8_t buttons, unsigned ax, unsigned ay, int8_t wheel)
{
	uint8_t r[HID_PTR_REPORT_LEN] = {
		buttons, (uint8_t)ax, (uint8_t)(ax >> 8), (uint8_t)ay,
		(uint8_t)(ay >> 8), (uint8_t)wheel, 0,
	};

	return sim_hid_input(x->s, HID_IFACE_POINTER, r, sizeof(r));
}

/* Absolute value that lands on pixel p of a dimension of n pixels. */
static unsigned abs_for(int p, int n)
{
	return (unsigned)(((long)p * HID_ABS_MAX + (n - 1) / 2) / (n - 1));
}

/* ---- tests ---- */

static void test_font(void **state)
{
	(void)state;
	const uint8_t *a = sim_font_glyph('A'), *b = sim_font_glyph('B');
	const uint8_t *sp = sim_font_glyph(' ');
	int bits = 0;

	for (int i = 0; i < 16; i++)
		bits += __builtin_popcount(a[i]) + __builtin_popcount(sp[i]);
	assert_true(bits > 10);
	assert_memory_not_equal(a, b, 16);
	/* A code point the font lacks gets the replacement glyph. */
	assert_ptr_equal(sim_font_glyph(0x10FFFF), sim_font_glyph(0xFFFD));
	assert_memory_not_equal(sim_font_glyph(0x10FFFF), sp, 16);
	/* Unicode lookup, not just ASCII: box drawing is in the VGA font. */
	assert_memory_not_equal(sim_font_glyph(0x2500), sim_font_glyph(0xFFFD), 16);
}

static void check_geometry(int w, int h, int scale, int cols, int rows)
{
	struct fx *x = fx_new(w, h);
	char buf[256];

	assert_int_equal(x->scale, scale);
	assert_int_equal(x->cols, cols);
	assert_int_equal(x->rows, rows);
	render(x, 5 * SEC);
	assert_cells(x, 0, 1, "webkvm virtual target");
	/* The clock ends one cell before the last column. */
	assert_cells(x, 0, cols - 9, "00:00:00");
	row_text(x, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "00:00:00"));
	assert_int_equal((int)strlen(buf), cols - 1);
	assert_cells(x, 2, 3, "Main");
	assert_cells(x, 6, 3, "Exit");
	assert_int_equal(sim_row_text(x->s, rows - 1, buf, sizeof(buf)), 0);
	assert_int_equal(sim_row_text(x->s, rows, buf, sizeof(buf)), -1);
	assert_int_equal(sim_row_text(x->s, -1, buf, sizeof(buf)), -1);
	fx_free(x);
}

static void test_geometry(void **state)
{
	(void)state;
	check_geometry(1280, 720, 2, 80, 22);
	check_geometry(1920, 1080, 3, 80, 22);
	check_geometry(640, 480, 1, 80, 30);
	check_geometry(1024, 768, 1, 128, 48);
	check_geometry(320, 200, 1, 40, 12);
	check_geometry(4096, 2160, 6, 85, 22);
	assert_null(sim_new(319, 200));
	assert_null(sim_new(320, 199));
	assert_null(sim_new(4097, 2160));
	assert_null(sim_new(4096, 2161));
}

static void test_typing(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];
	int cl = x->rows - 2;

	render(x, 0);
	type(x, "hi");
	tap(x, L_SHIFT, 0x1e);
	render(x, SEC / 10);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> hi!");
	assert_cells(x, cl, 0, "> hi!");
	/* The cursor: an inverse cell after the text. */
	int sc = x->scale;
	assert_int_equal(pixel(&x->f, 5 * 8 * sc + 4, cl * 16 * sc + 4), 0xAAAAAA);
	assert_int_equal(pixel(&x->f, 6 * 8 * sc + 4, cl * 16 * sc + 4), 0x0000AA);

	/* Backspace, then a key held across reports types once. */
	tap(x, 0, 0x2a);
	kbd(x, 0, 0x04, 0);
	kbd(x, 0, 0x04, 0x05);	/* 'a' still held, 'b' pressed */
	kbd(x, 0, 0x05, 0);
	kbd(x, 0, 0, 0);
	render(x, SEC / 5);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> hiab");
	assert_cells(x, cl, 0, "> hiab");

	/* Phantom state (ErrorRollOver) makes no edges; the keys held before
	 * it are not pressed again after it. */
	uint8_t roll[8] = { 0, 0, 1, 1, 1, 1, 1, 1 };
	kbd(x, 0, 0x06, 0);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, roll, 8), 0);
	kbd(x, 0, 0x06, 0);
	kbd(x, 0, 0, 0);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> hiabc");

	/* Ctrl chords do not type. */
	tap(x, 0x01, 0x04);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> hiabc");

	/* Enter runs it: the line empties and the text shows as "Last:". */
	tap(x, 0, U_ENTER);
	render(x, SEC / 2);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, ">");
	row_text(x, x->rows - 4, buf, sizeof(buf));
	assert_string_equal(buf, "Last: hiabc");
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Unknown command: hiabc");
	assert_cells(x, 8, 0, "Unknown command: hiabc");

	type(x, "echo hello world");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "hello world");
	type(x, "clear");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "");
	fx_free(x);
}

static void test_long_line(void **state)
{
	(void)state;
	struct fx *x = fx_new(640, 360);
	char buf[256], want[256];
	int cl = x->rows - 2;

	for (int i = 0; i < 100; i++)
		tap(x, 0, (uint8_t)(0x04 + i % 26));
	tap(x, 0, 0x1e);	/* '1' last */
	render(x, 0);
	row_text(x, cl, buf, sizeof(buf));
	/* The end of the line stays visible. */
	assert_int_equal((int)strlen(buf), x->cols - 1);
	assert_int_equal(buf[strlen(buf) - 1], '1');
	memcpy(want, buf, strlen(buf) + 1);
	assert_cells(x, cl, 0, want);
	fx_free(x);
}

static void test_caps_lock(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];
	int cl = x->rows - 2, st = x->rows - 3;

	render(x, 0);
	assert_int_equal(sim_leds(x->s), 0);
	tap(x, 0, U_CAPS);
	assert_int_equal(x->led_calls, 1);
	assert_int_equal(x->led_len, 1);
	assert_int_equal(x->led_last, HID_LED_CAPS);
	assert_int_equal(sim_leds(x->s), HID_LED_CAPS);
	type(x, "ab");
	tap(x, L_SHIFT, 0x06);	/* Shift inverts Caps Lock: 'c' */
	tap(x, 0, 0x1f);	/* digits ignore Caps Lock */
	render(x, SEC);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> ABc2");
	assert_cells(x, cl, 0, "> ABc2");
	row_text(x, st, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[CAPS]"));
	assert_null(strstr(buf, "[NUM]"));

	/* Keypad: navigation until Num Lock, then digits. */
	tap(x, 0, U_KP_1);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> ABc2");
	tap(x, 0, U_NUM);
	assert_int_equal(x->led_calls, 2);
	assert_int_equal(x->led_last, HID_LED_CAPS | HID_LED_NUM);
	tap(x, 0, U_KP_1);
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> ABc21");

	tap(x, 0, U_CAPS);
	assert_int_equal(x->led_calls, 3);
	assert_int_equal(x->led_last, HID_LED_NUM);
	type(x, "d");
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> ABc21d");
	render(x, 2 * SEC);
	row_text(x, st, buf, sizeof(buf));
	assert_null(strstr(buf, "[CAPS]"));
	assert_non_null(strstr(buf, "[NUM]"));
	assert_cells(x, st, 0, "[NUM]");
	fx_free(x);
}

static void test_menu(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];
	int sc = x->scale;

	render(x, 0);
	/* Highlight follows the selection; the far end of the 20-cell area. */
	int hx = (3 + 19) * 8 * sc + 2;
	assert_int_equal(pixel(&x->f, hx, 2 * 16 * sc + 2), 0x00AAAA);
	assert_int_equal(pixel(&x->f, hx, 3 * 16 * sc + 2), 0x0000AA);
	tap(x, 0, U_DOWN);
	render(x, SEC / 10);
	assert_int_equal(pixel(&x->f, hx, 2 * 16 * sc + 2), 0x0000AA);
	assert_int_equal(pixel(&x->f, hx, 3 * 16 * sc + 2), 0x00AAAA);
	tap(x, 0, U_ENTER);
	render(x, SEC / 5);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Selected: Advanced");
	assert_cells(x, 8, 0, "Selected: Advanced");

	/* Up wraps from the first item to the last. */
	tap(x, 0, U_UP);
	tap(x, 0, U_UP);
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Selected: Exit");
	tap(x, 0, U_DOWN);
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Selected: Main");
	fx_free(x);
}

static void test_pointer(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];

	render(x, 0);
	uint64_t before = checksum(&x->f);
	uint8_t *copy = malloc(x->f.size);
	assert_non_null(copy);
	memcpy(copy, x->f.data, x->f.size);

	/* Never moved: nothing drawn. */
	render(x, SEC / 10);
	assert_int_equal(checksum(&x->f), before);

	unsigned ax = 16000, ay = 20000;
	assert_int_equal(ptr(x, 0, ax, ay, 0), 0);
	render(x, SEC / 5);
	int px = (int)(((double)ax * (x->w - 1)) / HID_ABS_MAX + 0.5);
	int py = (int)(((double)ay * (x->h - 1)) / HID_ABS_MAX + 0.5);
	/* Arrow: black tip, white inside, outline down the left edge. */
	assert_int_equal(pixel(&x->f, px, py), 0x000000);
	assert_int_equal(pixel(&x->f, px + 1, py + 5), 0xFFFFFF);
	assert_int_equal(pixel(&x->f, px, py + 10), 0x000000);
	assert_int_not_equal(pixel(&x->f, px - 1, py + 5), 0xFFFFFF);
	assert_int_not_equal(pixel(&x->f, px + 1, py - 1), 0xFFFFFF);
	row_text(x, x->rows - 3, buf, sizeof(buf));
	char want[64];
	snprintf(want, sizeof(want), "X:%d Y:%d B:00 W:0", px, py);
	assert_non_null(strstr(buf, want));

	/* Moving it away restores what was under it, pixel for pixel. */
	assert_int_equal(ptr(x, 0, HID_ABS_MAX, HID_ABS_MAX, 0), 0);
	render(x, SEC / 4);
	for (int j = 0; j < 19; j++)
		assert_memory_equal(x->f.data + (size_t)(py + j) * x->f.stride + (size_t)px * 4,
				    copy + (size_t)(py + j) * x->f.stride + (size_t)px * 4, 12 * 4);
	/* At the corner it is clipped, tip on the last pixel. */
	assert_int_equal(pixel(&x->f, x->w - 1, x->h - 1), 0x000000);

	/* Wheel adds up. */
	assert_int_equal(ptr(x, 0, HID_ABS_MAX, HID_ABS_MAX, 3), 0);
	assert_int_equal(ptr(x, 0, HID_ABS_MAX, HID_ABS_MAX, -1), 0);
	row_text(x, x->rows - 3, buf, sizeof(buf));
	assert_non_null(strstr(buf, "W:2"));

	/* A click on "Security" (row 5) inside its 20-cell area. */
	int cw = 8 * x->scale, ch = 16 * x->scale;
	unsigned sx = abs_for(20 * cw + cw / 2, x->w), sy = abs_for(5 * ch + ch / 2, x->h);
	assert_int_equal(ptr(x, 0, sx, sy, 0), 0);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_int_equal(ptr(x, 1, sx, sy, 0), 0);
	row_text(x, x->rows - 3, buf, sizeof(buf));
	assert_non_null(strstr(buf, "B:01"));
	assert_int_equal(ptr(x, 0, sx, sy, 0), 0);
	render(x, SEC / 2);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Selected: Security");
	assert_cells(x, 8, 0, "Selected: Security");

	/* Outside the area (col 24), and a right click: nothing. */
	type(x, "clear");
	tap(x, 0, U_ENTER);
	unsigned ox = abs_for(24 * cw + 1, x->w);
	assert_int_equal(ptr(x, 1, ox, sy, 0), 0);
	assert_int_equal(ptr(x, 0, ox, sy, 0), 0);
	assert_int_equal(ptr(x, 2, sx, sy, 0), 0);
	assert_int_equal(ptr(x, 0, sx, sy, 0), 0);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "");
	free(copy);
	fx_free(x);
}

static void test_resize(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];

	render(x, 0);
	type(x, "res 1920x1080");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "Resolution 1920x1080");
	geometry(x, 1920, 1080);
	render(x, SEC / 10);
	assert_cells(x, 0, 1, "webkvm virtual target");
	assert_cells(x, 8, 0, "Resolution 1920x1080");
	row_text(x, x->rows - 4, buf, sizeof(buf));
	assert_string_equal(buf, "Last: res 1920x1080");

	/* Bad sizes: an error on the output line, no change. */
	type(x, "res 100x100");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_non_null(strstr(buf, "out of range"));
	type(x, "res 1024");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_non_null(strstr(buf, "expected WxH"));
	type(x, "res 99999999999999999999x600");
	tap(x, 0, U_ENTER);
	row_text(x, 8, buf, sizeof(buf));
	assert_non_null(strstr(buf, "expected WxH"));
	render(x, SEC / 5);

	assert_int_equal(sim_resize(x->s, 100, 100), -1);
	assert_int_equal(sim_resize(x->s, 640, 360), 0);
	geometry(x, 640, 360);
	render(x, SEC / 4);
	assert_cells(x, 0, 1, "webkvm virtual target");
	assert_cells(x, 8, 0, "res: expected WxH");
	fx_free(x);
}

static void test_malformed(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	uint8_t r[16] = { 0, 0, 0x04 };
	char before[256], after[256];

	render(x, 0);
	uint64_t sum = checksum(&x->f);
	row_text(x, x->rows - 2, before, sizeof(before));
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, r, 7), -1);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, r, 9), -1);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, r, 0), -1);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_KEYBOARD, NULL, 8), -1);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_POINTER, r, 8), -1);
	assert_int_equal(sim_hid_input(x->s, HID_IFACE_POINTER, r, 6), -1);
	assert_int_equal(sim_hid_input(x->s, 2, r, 8), -1);
	assert_int_equal(sim_hid_input(x->s, -1, r, 8), -1);
	/* Coordinates beyond the logical maximum. */
	assert_int_equal(ptr(x, 1, 0x8000, 0, 0), -1);
	assert_int_equal(ptr(x, 1, 0, 0xffff, 0), -1);
	row_text(x, x->rows - 2, after, sizeof(after));
	assert_string_equal(before, after);
	render(x, SEC / 2);
	assert_int_equal(checksum(&x->f), sum);

	/* Random bytes of random lengths never crash it. */
	srand(1234);
	for (int i = 0; i < 20000; i++) {
		uint8_t b[10];
		for (size_t j = 0; j < sizeof(b); j++)
			b[j] = (uint8_t)rand();
		(void)sim_hid_input(x->s, rand() % 3, b, (size_t)(rand() % 10));
		if (i % 1000 == 0)
			render(x, SEC + (uint64_t)i * 1000);
	}
	fx_free(x);
}

static void test_power(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	struct cap_frame f;
	char buf[256];

	render(x, 0);
	tap(x, 0, U_CAPS);
	type(x, "abc");
	sim_power(x->s, SIM_POWER_OFF);
	assert_int_equal(sim_render(x->s, SEC, &f), CAP_ENOSIGNAL);
	/* Off: input ignored, lock state kept. */
	int calls = x->led_calls;
	tap(x, 0, U_NUM);
	type(x, "x");
	assert_int_equal(x->led_calls, calls);
	assert_int_equal(sim_leds(x->s), HID_LED_CAPS);
	assert_int_equal(sim_render(x->s, 2 * SEC, &f), CAP_ENOSIGNAL);

	sim_power(x->s, SIM_POWER_ON);
	uint64_t t0 = 10 * SEC;
	render(x, t0);
	assert_true(screen_has(x, "webkvm virtual BIOS v1.0"));
	assert_cells(x, 0, 0, "webkvm virtual BIOS");
	assert_int_equal(pixel(&x->f, x->w - 1, x->h / 2), 0x000000);
	assert_false(screen_has(x, "Setup Utility"));
	render(x, t0 + 1500000);
	assert_true(screen_has(x, "Memory Test: 16384M OK"));
	assert_true(screen_has(x, "Press DEL to enter Setup"));
	render(x, t0 + 2 * SEC);
	assert_true(screen_has(x, "Setup Utility"));
	assert_cells(x, 0, 1, "webkvm virtual target");
	/* The console starts empty; the clock counts from power-on. */
	row_text(x, x->rows - 2, buf, sizeof(buf));
	assert_string_equal(buf, ">");
	assert_cells(x, 0, x->cols - 9, "00:00:02");
	row_text(x, x->rows - 3, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[CAPS]"));

	/* ON while on does nothing. */
	sim_power(x->s, SIM_POWER_ON);
	render(x, t0 + 3 * SEC);
	assert_true(screen_has(x, "Setup Utility"));
	fx_free(x);
}

static void test_reset(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];

	render(x, 0);
	type(x, "echo before");
	tap(x, 0, U_ENTER);
	type(x, "xyz");
	assert_int_equal(ptr(x, 0, 1000, 1000, 0), 0);
	render(x, SEC);
	tap(x, 0, 0x29);	/* Esc empties the line */
	type(x, "reset");
	tap(x, 0, U_ENTER);
	uint64_t t0 = 5 * SEC;
	render(x, t0);
	assert_true(screen_has(x, "webkvm virtual BIOS v1.0"));
	/* Keys and clicks during boot are ignored. */
	type(x, "q");
	render(x, t0 + 1900000);
	assert_false(screen_has(x, "Setup Utility"));
	assert_true(screen_has(x, "CPU: webkvm virtual CPU @ 3.0GHz"));
	render(x, t0 + 2 * SEC);
	assert_true(screen_has(x, "Setup Utility"));
	row_text(x, x->rows - 2, buf, sizeof(buf));
	assert_string_equal(buf, ">");
	row_text(x, 8, buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_false(screen_has(x, "Last:"));
	assert_cells(x, x->rows - 2, 0, ">  ");

	/* XVP reboot does the same. */
	sim_power(x->s, SIM_POWER_REBOOT);
	render(x, 20 * SEC);
	assert_false(screen_has(x, "Setup Utility"));
	render(x, 22 * SEC);
	assert_true(screen_has(x, "Setup Utility"));
	fx_free(x);
}

/* Ctrl-Alt-Del reboots, as a PC's firmware does; Ctrl-Del or Alt-Del
 * alone do not. */
static void test_ctrl_alt_del(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);

	render(x, 0);
	tap(x, 0x01, 0x4c);		/* LCtrl + Delete */
	tap(x, 0x04, 0x4c);		/* LAlt + Delete */
	render(x, SEC);
	assert_true(screen_has(x, "Setup Utility"));
	kbd(x, 0x01, 0, 0);		/* LCtrl, then LAlt, then Delete */
	kbd(x, 0x05, 0, 0);
	kbd(x, 0x05, 0x4c, 0);
	kbd(x, 0, 0, 0);
	render(x, 2 * SEC);
	assert_false(screen_has(x, "Setup Utility"));
	assert_true(screen_has(x, "webkvm virtual BIOS v1.0"));
	render(x, 5 * SEC);
	assert_true(screen_has(x, "Setup Utility"));
	tap(x, 0x40 | 0x10, 0x63);	/* RAlt + RCtrl + keypad '.' (Num Lock off) */
	render(x, 6 * SEC);
	assert_true(screen_has(x, "webkvm virtual BIOS v1.0"));
	fx_free(x);
}

static void test_clock(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);
	char buf[256];
	uint64_t t0 = 123456789;

	render(x, t0);
	assert_cells(x, 0, x->cols - 9, "00:00:00");
	uint64_t sum = checksum(&x->f);
	render(x, t0 + SEC - 1);
	assert_int_equal(checksum(&x->f), sum);
	render(x, t0 + SEC);
	assert_int_not_equal(checksum(&x->f), sum);
	assert_cells(x, 0, x->cols - 9, "00:00:01");
	row_text(x, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "00:00:01"));
	render(x, t0 + 3661 * SEC);
	assert_cells(x, 0, x->cols - 9, "01:01:01");
	fx_free(x);
}

static void test_static(void **state)
{
	(void)state;
	struct fx *x = fx_new(1280, 720);

	assert_int_equal(ptr(x, 0, 5000, 5000, 0), 0);
	render(x, 0);
	uint64_t sum = checksum(&x->f);
	uint64_t seq = x->f.seq;
	render(x, SEC / 3);
	assert_int_equal(checksum(&x->f), sum);
	/* Reports that change nothing draw nothing. */
	kbd(x, 0, 0, 0);
	assert_int_equal(ptr(x, 0, 5000, 5000, 0), 0);
	render(x, SEC / 2);
	assert_int_equal(checksum(&x->f), sum);
	assert_int_equal(x->f.seq, seq + 2);
	fx_free(x);
}

/* After many partial updates, every cell's pixels still show the text the
 * sim says the row holds: the dirty tracking misses nothing. */
static void test_consistency(void **state)
{
	(void)state;
	struct fx *x = fx_new(640, 360);
	char buf[512];

	srand(42);
	for (int i = 0; i < 300; i++) {
		switch (rand() % 6) {
		case 0: tap(x, 0, (uint8_t)(0x04 + rand() % 26)); break;
		case 1: tap(x, 0, (uint8_t)(rand() % 2 ? U_UP : U_DOWN)); break;
		case 2: tap(x, 0, 0x2a); break;
		case 3: ptr(x, (uint8_t)(rand() % 2), (unsigned)rand() % 32768,
			    (unsigned)rand() % 32768, 0); break;
		case 4: tap(x, 0, U_ENTER); break;
		case 5: tap(x, 0, 0x2c); break;
		}
		if (i % 7 == 0)
			render(x, (uint64_t)i * SEC / 3);
	}
	/* Park the pointer in the bottom-right corner, out of the text. */
	assert_int_equal(ptr(x, 0, HID_ABS_MAX, HID_ABS_MAX, 0), 0);
	render(x, 1000 * SEC);
	for (int r = 0; r < x->rows; r++) {
		char want[512];
		row_text(x, r, buf, sizeof(buf));
		snprintf(want, sizeof(want), "%-*s", x->cols, buf);
		want[x->cols] = '\0';
		cells_text(x, r, 0, x->cols, buf);
		assert_string_equal(buf, want);
	}
	fx_free(x);
}

/* ---- layouts: hid/ types by keysym, the sim decodes with the same layout ---- */

struct link {
	struct sim_target *s;
	struct hid_dev *h;
};

static int link_send(void *ctx, enum hid_iface iface, const uint8_t *buf, size_t len)
{
	struct link *l = ctx;

	return sim_hid_input(l->s, iface, buf, len) == 0 ? 0 : -22;
}

static void link_led(void *ctx, const uint8_t *report, size_t len)
{
	struct link *l = ctx;

	assert_int_equal(hid_led_report(l->h, report, len), 0);
}

static void key(struct link *l, uint32_t keysym)
{
	assert_int_equal(hid_key_keysym(l->h, 1, keysym, true), 0);
	assert_int_equal(hid_key_keysym(l->h, 1, keysym, false), 0);
}

#define CP_MAX 0x10000

/* Types every character of the layout by keysym, one at a time, and reads
 * the command line back.  Returns how many were typed. */
static int round_trip(const char *name, bool caps)
{
	static bool want[CP_MAX];
	struct link l;
	struct hid_transport tr = { link_send, &l };
	struct hid_stroke st[HID_STROKES_MAX];
	int lay = hid_layout_find(name), n = 0, dead = 0;
	char got[512], exp[16];

	assert_true(lay >= 0);
	l.s = sim_new(640, 400);
	assert_non_null(l.s);
	l.h = hid_new(&tr, NULL, NULL);
	assert_non_null(l.h);
	sim_set_led_out(l.s, link_led, &l);
	sim_set_layout(l.s, lay);
	assert_int_equal(hid_set_layout(l.h, lay), 0);
	if (caps) {
		key(&l, 0xffe5);	/* Caps_Lock */
		assert_int_equal(sim_leds(l.s), HID_LED_CAPS);
	}
	int cl = 400 / 16 - 2;

	/* Every level of every key, and what dead keys add. */
	memset(want, 0, sizeof(want));
	for (int u = 0; u < 256; u++) {
		for (int lv = 0; lv < 4; lv++) {
			uint32_t ks = hid_layout_keysym(lay, (uint8_t)u, lv & 1, lv & 2, false);
			uint32_t cp = hid_keysym_to_ucs(ks);
			if (cp && cp < CP_MAX)
				want[cp] = true;
		}
	}
	for (uint32_t cp = 0x20; cp < 0x600; cp++)
		if (hid_layout_plan(lay, hid_keysym_from_ucs(cp), st, HID_STROKES_MAX) == 2)
			want[cp] = true, dead++;

	for (uint32_t cp = 0x20; cp < CP_MAX; cp++) {
		if (!want[cp])
			continue;
		uint32_t ks = hid_keysym_from_ucs(cp);
		key(&l, ks);
		assert_int_equal(sim_row_text(l.s, cl, got, sizeof(got)), 0);
		size_t e = 2;
		memcpy(exp, "> ", 2);
		e += wk_utf8_put(cp, exp + e);
		while (e > 0 && exp[e - 1] == ' ')
			e--;
		exp[e] = '\0';
		if (strcmp(got, exp))
			fail_msg("%s%s: U+%04X typed as keysym 0x%x reads back \"%s\"", name,
				 caps ? " (Caps Lock)" : "", cp, ks, got);
		key(&l, 0xff1b);	/* Escape empties the line */
		n++;
	}
	/* Layouts with dead keys type some characters only through them. */
	if (hid_layout_has_altgr(lay) && strcmp(name, "en-gb"))
		assert_true(dead > 0);
	hid_free(l.h);
	sim_free(l.s);
	return n;
}

static void test_layout_round_trip(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int min;	/* characters it has at least */
	} lays[] = {
		{ "en-us", 95 }, { "en-gb", 150 }, { "de", 150 }, { "fr", 150 },
		{ "es", 150 }, { "it", 120 }, { "pt-br", 150 }, { "sv", 150 },
		{ "ru", 95 }, { "ja", 95 },
	};

	for (size_t i = 0; i < sizeof(lays) / sizeof(lays[0]); i++) {
		int n = round_trip(lays[i].name, false);
		if (n < lays[i].min)
			fail_msg("%s: only %d characters", lays[i].name, n);
		assert_int_equal(round_trip(lays[i].name, true), n);
	}
}

/* Whether the pixels of a cell show the font's glyph of cp, in two colours. */
static bool cell_shows(const struct fx *x, int row, int col, uint32_t cp)
{
	int sc = x->scale, x0 = col * 8 * sc, y0 = row * 16 * sc;
	const uint8_t *g = sim_font_glyph(cp);
	uint32_t col_of[2] = { 0, 0 };
	bool have[2] = { false, false };

	for (int py = 0; py < 16 * sc; py++) {
		for (int px = 0; px < 8 * sc; px++) {
			int on = !!(g[py / sc] & (0x80 >> (px / sc)));
			uint32_t c = pixel(&x->f, x0 + px, y0 + py);
			if (!have[on]) {
				col_of[on] = c;
				have[on] = true;
			} else if (col_of[on] != c) {
				return false;
			}
		}
	}
	return !have[0] || !have[1] || col_of[0] != col_of[1];
}

/* The characters the brief names, typed as one line and shown on screen
 * with the font's glyphs. */
static void test_layout_text(void **state)
{
	(void)state;
	const struct {
		const char *layout;
		const uint32_t *text;
		const char *utf8;
	} cases[] = {
		{ "de", (const uint32_t[]){ '@', 0x20ac, 0xe9, 0xfc, 0xdf, '{', '~', '|', 0xea, '^', 0 },
		  "@€éüß{~|ê^" },
		{ "fr", (const uint32_t[]){ '1', 'a', 'z', 'q', 0xea, 0xe9, 0xe0, 0xeb, '@', 0x20ac, 0 },
		  "1azqêéàë@€" },
		{ "en-gb", (const uint32_t[]){ 0xa3, '"', '@', '#', '~', '\\', '|', 0xe9, 0 },
		  "£\"@#~\\|é" },
		{ "ru", (const uint32_t[]){ 0x41f, 0x440, 0x438, 0x432, 0x435, 0x442, '!', 0x2116, 0 },
		  "Привет!№" },
		{ "es", (const uint32_t[]){ 0xf1, 0xe1, 0xfc, 0xbf, 0xa1, '@', 0 }, "ñáü¿¡@" },
		{ "sv", (const uint32_t[]){ 0xe5, 0xe4, 0xf6, 0xe9, '@', '$', 0 }, "åäöé@$" },
		{ "pt-br", (const uint32_t[]){ 0xe7, 0xe3, 0xf5, 0xe1, 0xea, '/', '?', 0 }, "çãõáê/?" },
		{ "it", (const uint32_t[]){ 0xe8, 0xe9, 0xf2, 0xe0, 0xf9, '@', '#', 0 }, "èéòàù@#" },
		{ "ja", (const uint32_t[]){ '@', '[', ']', ':', '_', '\\', '^', '"', 0 }, "@[]:_\\^\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct link l;
		struct hid_transport tr = { link_send, &l };
		struct fx *x = fx_new(640, 400);
		char buf[256], want[256];
		int lay = hid_layout_find(cases[i].layout);

		l.s = x->s;
		l.h = hid_new(&tr, NULL, NULL);
		assert_non_null(l.h);
		sim_set_layout(x->s, lay);
		assert_int_equal(hid_set_layout(l.h, lay), 0);
		for (const uint32_t *c = cases[i].text; *c; c++)
			key(&l, hid_keysym_from_ucs(*c));
		render(x, SEC / 10);
		snprintf(want, sizeof(want), "> %s", cases[i].utf8);
		row_text(x, x->rows - 2, buf, sizeof(buf));
		assert_string_equal(buf, want);
		int col = 2;
		for (const uint32_t *c = cases[i].text; *c; c++, col++)
			if (!cell_shows(x, x->rows - 2, col, *c))
				fail_msg("%s: cell %d does not show U+%04X", cases[i].layout, col, *c);
		/* Backspace takes a whole character. */
		key(&l, 0xff08);
		row_text(x, x->rows - 2, buf, sizeof(buf));
		while ((want[strlen(want) - 1] & 0xc0) == 0x80)
			want[strlen(want) - 1] = '\0';
		want[strlen(want) - 1] = '\0';
		assert_string_equal(buf, want);
		hid_free(l.h);
		fx_free(x);
	}
}

/* Dead keys on the target: composing, the accent alone, and a character
 * that does not compose. */
static void test_layout_dead_keys(void **state)
{
	(void)state;
	struct fx *x = fx_new(640, 400);
	char buf[256];
	int cl = x->rows - 2;

	sim_set_layout(x->s, hid_layout_find("de"));
	tap(x, 0, 0x2e);		/* dead_acute */
	tap(x, 0, 0x08);		/* e */
	tap(x, L_SHIFT, 0x2e);		/* dead_grave */
	tap(x, L_SHIFT, 0x04);		/* A */
	tap(x, 0, 0x35);		/* dead_circumflex */
	tap(x, 0, 0x35);		/* again: the accent */
	tap(x, 0, 0x2e);		/* dead_acute */
	tap(x, 0, 0x19);		/* v: no v-acute */
	tap(x, 0x40, 0x14);		/* AltGr+Q */
	tap(x, 0x04, 0x14);		/* Left Alt+Q: a shortcut */
	row_text(x, cl, buf, sizeof(buf));
	assert_string_equal(buf, "> éÀ^´v@");
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_font),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_typing),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_caps_lock),
		cmocka_unit_test(test_menu),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_power),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_ctrl_alt_del),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_static),
		cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_layout_round_trip),
		cmocka_unit_test(test_layout_text),
		cmocka_unit_test(test_layout_dead_keys),
	};

	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
