/* board/sim: the virtual target's life cycle, power, console text and
 * commands.  The console is composed as text into a cell grid whenever the
 * state or the shown time changes; render.c turns changed cells into pixels. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board/sim/sim_priv.h"
#include "common/parse.h"
#include "common/utf8.h"
#include "hid/hid.h"

static const char *const menu_names[SIM__MENU_N] = {
	"Main", "Advanced", "Boot", "Security", "Exit",
};

static const char title[] = "webkvm virtual target - Setup Utility";
/* Fits the 80 columns of the usual screens. */
static const char help[] =
	"Up/Down Select  Enter Activate  res WxH  echo TEXT  clear  reset  power off";

static bool size_ok(int w, int h)
{
	return w >= SIM__MIN_W && w <= SIM__MAX_W && h >= SIM__MIN_H && h <= SIM__MAX_H;
}

/* ---- time ---- */

static uint64_t since_power_on(const struct sim_target *s)
{
	if (s->origin_pending || s->now_us < s->origin_us)
		return 0;
	return s->now_us - s->origin_us;
}

/* What of the time the composed screen shows; a change means compose. */
static uint64_t time_key(const struct sim_target *s)
{
	uint64_t t = since_power_on(s);

	switch (s->mode) {
	case SIM__SETUP:
		return 1ull << 62 | t / 1000000;
	case SIM__BOOT:
		return 2ull << 62 | t / 100000;
	case SIM__OFF:
		break;
	}
	return 0;
}

/* ---- composing the grid ---- */

static void fill_row(struct sim_target *s, int row, uint32_t fg, uint32_t bg)
{
	struct sim__cell *c = s->next + (size_t)row * s->cols;

	for (int i = 0; i < s->cols; i++)
		c[i] = (struct sim__cell){ ' ', fg, bg };
}

static void fill_span(struct sim_target *s, int row, int col, int n, uint32_t fg, uint32_t bg)
{
	if (row < 0 || row >= s->rows)
		return;
	struct sim__cell *c = s->next + (size_t)row * s->cols;
	for (int i = col; i < col + n && i < s->cols; i++)
		c[i] = (struct sim__cell){ ' ', fg, bg };
}

/* Text is UTF-8, one cell per character; clipped at the edge. */
static void put(struct sim_target *s, int row, int col, const char *text,
		uint32_t fg, uint32_t bg)
{
	if (row < 0 || row >= s->rows)
		return;
	struct sim__cell *c = s->next + (size_t)row * s->cols;
	for (; *text && col < s->cols; col++) {
		uint32_t cp = sim__utf8_next(&text);
		if (col >= 0)
			c[col] = (struct sim__cell){ cp, fg, bg };
	}
}

static size_t utf8_count(const char *p)
{
	size_t n = 0;

	while (*p) {
		sim__utf8_next(&p);
		n++;
	}
	return n;
}

static void compose_boot(struct sim_target *s)
{
	uint64_t ms = since_power_on(s) / 1000;
	uint32_t fg = SIM__GREY, bg = SIM__BLACK;
	char mem[64];

	put(s, 0, 0, "webkvm virtual BIOS v1.0", SIM__WHITE, bg);
	put(s, 1, 0, "Copyright (C) the webkvm authors", fg, bg);
	if (ms >= 300)
		put(s, 3, 0, "CPU: webkvm virtual CPU @ 3.0GHz", fg, bg);
	if (ms >= 500) {
		/* Counts up like a real memory test, 1 GiB steps. */
		uint64_t mb = ms >= 1100 ? 16384 : (ms - 500) * 16384 / 600 / 1024 * 1024;
		snprintf(mem, sizeof(mem), "Memory Test: %" PRIu64 "M%s", mb,
			 ms >= 1100 ? " OK" : "");
		put(s, 4, 0, mem, fg, bg);
	}
	if (ms >= 1300)
		put(s, 6, 0, "USB: 1 keyboard, 1 mouse", fg, bg);
	if (ms >= 1500)
		put(s, s->rows - 1, 0, "Press DEL to enter Setup", fg, bg);
}

static void compose_setup(struct sim_target *s)
{
	char buf[SIM__LINE_MAX + 64];
	int cols = s->cols, rows = s->rows;

	fill_row(s, SIM__ROW_TITLE, SIM__BLUE, SIM__GREY);
	put(s, SIM__ROW_TITLE, 1, title, SIM__BLUE, SIM__GREY);
	uint64_t sec = since_power_on(s) / 1000000;
	snprintf(buf, sizeof(buf), "%02u:%02u:%02u", (unsigned)(sec / 3600 % 100),
		 (unsigned)(sec / 60 % 60), (unsigned)(sec % 60));
	put(s, SIM__ROW_TITLE, cols - 1 - (int)strlen(buf), buf, SIM__BLUE, SIM__GREY);

	for (int i = 0; i < SIM__MENU_N; i++) {
		bool sel = i == s->menu_sel;
		uint32_t fg = sel ? SIM__WHITE : SIM__GREY;
		uint32_t bg = sel ? SIM__CYAN : SIM__BLUE;
		fill_span(s, SIM__ROW_MENU + i, SIM__COL_MENU, SIM__MENU_WIDTH, fg, bg);
		put(s, SIM__ROW_MENU + i, SIM__COL_MENU, menu_names[i], fg, bg);
	}

	put(s, SIM__ROW_OUTPUT, 0, s->output, SIM__WHITE, SIM__BLUE);

	/* On the smallest screens the "Last:" row would land on the output
	 * row; the output wins. */
	if (rows - 4 > SIM__ROW_OUTPUT && s->last[0]) {
		snprintf(buf, sizeof(buf), "Last: %s", s->last);
		put(s, rows - 4, 0, buf, SIM__GREY, SIM__BLUE);
	}

	int st = rows - 3;
	if (s->leds & HID_LED_NUM)
		put(s, st, 0, "[NUM]", SIM__WHITE, SIM__BLUE);
	if (s->leds & HID_LED_CAPS)
		put(s, st, 6, "[CAPS]", SIM__WHITE, SIM__BLUE);
	if (s->leds & HID_LED_SCROLL)
		put(s, st, 13, "[SCRL]", SIM__WHITE, SIM__BLUE);
	int px, py;
	sim__ptr_pos(s, &px, &py);
	snprintf(buf, sizeof(buf), "X:%d Y:%d B:%02X W:%lld H:%lld", px, py,
		 s->ptr_buttons, s->wheel, s->pan);
	put(s, st, 20, buf, SIM__GREY, SIM__BLUE);

	/* Long lines keep their end visible, where the typing happens. */
	int cl = rows - 2;
	int avail = cols - 3;
	const char *shown = s->line;
	if (avail < 0)
		avail = 0;
	size_t chars = utf8_count(shown);
	for (; chars > (size_t)avail; chars--)
		sim__utf8_next(&shown);
	put(s, cl, 0, "> ", SIM__WHITE, SIM__BLUE);
	put(s, cl, 2, shown, SIM__WHITE, SIM__BLUE);
	/* The cursor is an inverse cell, not a character, so the row's text
	 * is exactly what was typed. */
	fill_span(s, cl, 2 + (int)chars, 1, SIM__BLUE, SIM__GREY);

	fill_row(s, rows - 1, SIM__BLUE, SIM__GREY);
	put(s, rows - 1, 1, help, SIM__BLUE, SIM__GREY);
}

void sim__compose(struct sim_target *s)
{
	size_t n = (size_t)s->cols * s->rows;
	uint32_t bg = s->mode == SIM__SETUP ? SIM__BLUE : SIM__BLACK;

	for (size_t i = 0; i < n; i++)
		s->next[i] = (struct sim__cell){ ' ', SIM__GREY, bg };
	if (s->mode == SIM__BOOT)
		compose_boot(s);
	else if (s->mode == SIM__SETUP)
		compose_setup(s);

	for (size_t i = 0; i < n; i++) {
		const struct sim__cell *a = &s->next[i], *b = &s->cells[i];

		if (a->cp == b->cp && a->fg == b->fg && a->bg == b->bg)
			continue;
		s->cells[i] = s->next[i];
		if (!s->dirty[i]) {
			s->dirty[i] = 1;
			s->n_dirty++;
		}
	}
	if (bg != s->margin_rgb) {
		s->margin_rgb = bg;
		s->margin_dirty = true;
	}
	s->composed_key = time_key(s);
}

/* ---- console actions ---- */

const char *sim_line(const struct sim_target *s)
{
	return s->line;
}

void sim_pointer(const struct sim_target *s, int *x, int *y)
{
	sim__ptr_pos(s, x, y);
}

void sim_keys(const struct sim_target *s, uint8_t *mods, uint8_t keys[6])
{
	*mods = s->kbd_mods;
	memcpy(keys, s->kbd_keys, 6);
}

void sim__ptr_pos(const struct sim_target *s, int *x, int *y)
{
	*x = s->ptr_x < 0 ? 0 : s->ptr_x >= s->w ? s->w - 1 : s->ptr_x;
	*y = s->ptr_y < 0 ? 0 : s->ptr_y >= s->h ? s->h - 1 : s->ptr_y;
}

void sim__activate(struct sim_target *s, int item)
{
	if (item < 0 || item >= SIM__MENU_N)
		return;
	s->menu_sel = item;
	snprintf(s->output, sizeof(s->output), "Selected: %s", menu_names[item]);
}

static void set_output(struct sim_target *s, const char *prefix, const char *text)
{
	/* Truncation is fine: the line is wider than any screen. */
	if (snprintf(s->output, sizeof(s->output), "%s%s", prefix, text) < 0)
		s->output[0] = '\0';
}

static void cmd_res(struct sim_target *s, const char *arg)
{
	const char *x = strpbrk(arg, "xX");
	long w, h;

	if (x == NULL || wk_parse_long_n(arg, (size_t)(x - arg), 0, LONG_MAX, &w) < 0 ||
	    wk_parse_long(x + 1, 0, LONG_MAX, &h) < 0) {
		set_output(s, "res: expected WxH, got: ", arg);
		return;
	}
	if (w < SIM__MIN_W || w > SIM__MAX_W || h < SIM__MIN_H || h > SIM__MAX_H) {
		snprintf(s->output, sizeof(s->output),
			 "res: %ldx%ld out of range (%dx%d to %dx%d)", w, h,
			 SIM__MIN_W, SIM__MIN_H, SIM__MAX_W, SIM__MAX_H);
		return;
	}
	sim_resize(s, (int)w, (int)h);
	snprintf(s->output, sizeof(s->output), "Resolution %ldx%ld", w, h);
}

/* The command word: `word` alone or followed by spaces; returns the
 * argument (spaces skipped) or NULL when cmd is another command. */
static const char *match(const char *cmd, const char *word)
{
	size_t n = strlen(word);

	if (strncasecmp(cmd, word, n) || (cmd[n] && cmd[n] != ' '))
		return NULL;
	cmd += n;
	while (*cmd == ' ')
		cmd++;
	return cmd;
}

void sim__enter(struct sim_target *s)
{
	char cmd[SIM__LINE_MAX];
	const char *arg;
	char *p = s->line;

	while (*p == ' ')
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == ' ')
		n--;
	memcpy(cmd, p, n);
	cmd[n] = '\0';
	s->line_len = 0;
	s->line[0] = '\0';

	if (!n) {
		sim__activate(s, s->menu_sel);
		return;
	}
	memcpy(s->last, cmd, n + 1);

	if ((arg = match(cmd, "res"))) {
		cmd_res(s, arg);
	} else if ((arg = match(cmd, "clear")) && !*arg) {
		s->output[0] = '\0';
	} else if ((arg = match(cmd, "echo"))) {
		set_output(s, "", arg);
	} else if ((arg = match(cmd, "power")) && !strcasecmp(arg, "off")) {
		sim_power(s, SIM_POWER_OFF);
	} else if ((arg = match(cmd, "reset")) && !*arg) {
		sim_power(s, SIM_POWER_RESET);
	} else if ((arg = match(cmd, "reboot")) && !*arg) {
		sim_power(s, SIM_POWER_REBOOT);
	} else if ((arg = match(cmd, "help")) && !*arg) {
		set_output(s, "Commands: res WxH, echo TEXT, clear, reset, reboot, ", "power off");
	} else {
		set_output(s, "Unknown command: ", cmd);
	}
}

/* ---- public API ---- */

struct sim_target *sim_new(int width, int height)
{
	if (!size_ok(width, height)) {
		sim__log(WK_LOG_ERROR, "screen %dx%d out of range (%dx%d to %dx%d)",
			width, height, SIM__MIN_W, SIM__MIN_H, SIM__MAX_W, SIM__MAX_H);
		return NULL;
	}
	struct sim_target *s = calloc(1, sizeof(*s));
	if (!s) {
		sim__log(WK_LOG_ERROR, "out of memory");
		return NULL;
	}
	if (sim__screen_alloc(s, width, height) < 0) {
		free(s);
		return NULL;
	}
	/* Born booted: the clock starts at the first frame. */
	s->mode = SIM__SETUP;
	s->origin_pending = true;
	s->margin_rgb = SIM__BLUE;
	sim__compose(s);
	return s;
}

uint32_t sim__utf8_next(const char **p)
{
	uint32_t cp = (unsigned char)**p;
	size_t pos = 0;

	/* The NUL ends a cut-off sequence: no sequence runs past it. */
	if (cp < 0x80 || wk_utf8_next(*p, strnlen(*p, 4), &pos, &cp) <= 0) {
		*p += 1;
		return cp < 0x80 ? cp : 0xfffd;
	}
	*p += pos;
	return cp;
}

void sim_set_layout(struct sim_target *s, int layout)
{
	if (!s || !hid_layout_name(layout))
		return;
	s->layout = layout;
	s->dead = 0;
}

void sim_free(struct sim_target *s)
{
	if (!s)
		return;
	sim__screen_free(s);
	free(s);
}

static void start_boot(struct sim_target *s)
{
	s->mode = SIM__BOOT;
	s->origin_pending = true;
	s->menu_sel = 0;
	s->line_len = 0;
	s->line[0] = '\0';
	s->dead = 0;
	s->output[0] = '\0';
	s->last[0] = '\0';
	/* The canvas may hold a frame from before power-off that the grid no
	 * longer describes. */
	sim__mark_all(s);
	sim__compose(s);
}

void sim_power(struct sim_target *s, enum sim_power p)
{
	if (!s)
		return;
	switch (p) {
	case SIM_POWER_OFF:
		if (s->mode != SIM__OFF) {
			s->mode = SIM__OFF;
			sim__compose(s);
		}
		return;
	case SIM_POWER_ON:
		if (s->mode == SIM__OFF)
			start_boot(s);
		return;
	case SIM_POWER_RESET:
	case SIM_POWER_REBOOT:
		start_boot(s);
		return;
	}
	sim__log(WK_LOG_WARN, "unknown power action %d ignored", (int)p);
}

bool sim_is_on(const struct sim_target *s)
{
	return s != NULL && s->mode != SIM__OFF;
}

int sim_resize(struct sim_target *s, int width, int height)
{
	if (!size_ok(width, height))
		return -1;
	if (width == s->w && height == s->h) {
		s->want_w = s->want_h = 0;
		return 0;
	}
	s->want_w = width;
	s->want_h = height;
	return 0;
}

int sim_render(void *sim, uint64_t now_us, struct cap_frame *out)
{
	struct sim_target *s = sim;
	bool recompose = false;

	if (!s || !out)
		return CAP_EINVAL;
	if (s->mode == SIM__OFF)
		return CAP_ENOSIGNAL;
	if (s->want_w) {
		int w = s->want_w, h = s->want_h;
		s->want_w = s->want_h = 0;
		/* Out of memory keeps the old size; the error is logged. */
		if (sim__screen_alloc(s, w, h) == 0)
			recompose = true;
	}
	s->now_us = now_us;
	if (s->origin_pending) {
		s->origin_us = now_us;
		s->origin_pending = false;
	}
	if (s->mode == SIM__BOOT && since_power_on(s) >= SIM__BOOT_US)
		s->mode = SIM__SETUP;
	if (recompose || time_key(s) != s->composed_key)
		sim__compose(s);
	sim__paint(s);

	out->fmt = CAP_FMT_XRGB32;
	out->width = s->w;
	out->height = s->h;
	out->stride = s->w * 4;
	out->size = (size_t)out->stride * s->h;
	out->data = (const uint8_t *)s->px;
	out->ts_us = now_us;
	out->seq = ++s->seq;
	return 0;
}

int sim_row_text(const struct sim_target *s, int row, char *buf, size_t len)
{
	if (!s || !buf || !len || row < 0 || row >= s->rows)
		return -1;
	const struct sim__cell *c = s->cells + (size_t)row * s->cols;
	size_t o = 0, keep = 0;

	for (int i = 0; i < s->cols; i++) {
		char u[4];
		size_t n = wk_utf8_put(c[i].cp, u);
		/* Truncate at a character boundary. */
		if (o + n >= len)
			break;
		memcpy(buf + o, u, n);
		o += n;
		if (c[i].cp != ' ')
			keep = o;
	}
	buf[keep] = '\0';
	return 0;
}
