/* board/sim private: the target's state, shared by sim.c (power, console,
 * commands), input.c (USB host side of the HID reports) and render.c
 * (cell grid → pixels). */
#ifndef WEBKVM_SIM_PRIV_H
#define WEBKVM_SIM_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "board/sim/sim.h"
#include "common/log.h"

/* Every line of the virtual target reads "sim: ...". */
#define sim__log(level, ...) wk_log("sim", (level), __VA_ARGS__)

#define SIM__MIN_W 320
#define SIM__MIN_H 200
#define SIM__MAX_W 4096
#define SIM__MAX_H 2160

#define SIM__BOOT_US 2000000ull	/* length of the simulated POST */
#define SIM__LINE_MAX 256	/* command line, output line, "Last:" text */
#define SIM__MENU_N 5

/* Pointer sprite: classic 12x19 arrow, hotspot at its top-left pixel. */
#define SIM__PTR_W 12
#define SIM__PTR_H 19

/* Console layout (cell rows, see sim.h and the brief). */
#define SIM__ROW_TITLE 0
#define SIM__ROW_MENU 2
#define SIM__COL_MENU 3
#define SIM__MENU_WIDTH 20
#define SIM__ROW_OUTPUT 8

/* Colours as 0x00RRGGBB. */
#define SIM__BLACK 0x000000u
#define SIM__BLUE 0x0000AAu
#define SIM__CYAN 0x00AAAAu
#define SIM__GREY 0xAAAAAAu
#define SIM__WHITE 0xFFFFFFu
#define SIM__YELLOW 0xFFFF55u

enum sim__mode {
	SIM__OFF,
	SIM__BOOT,	/* POST screen; input ignored */
	SIM__SETUP,	/* the setup console */
};

struct sim__cell {
	uint32_t cp;
	uint32_t fg, bg;	/* 0x00RRGGBB */
};

struct sim_target {
	/* ---- power and time ---- */
	enum sim__mode mode;
	/* The sim learns the time only from sim_render(): a boot (or, for a
	 * fresh target, the clock) starts at the next render's now_us. */
	bool origin_pending;
	uint64_t origin_us;	/* power-on time: clock origin, boot start */
	uint64_t now_us;	/* now_us of the last render */

	/* ---- USB host side ---- */
	uint8_t kbd_mods;
	uint8_t kbd_keys[6];
	uint8_t leds;		/* HID_LED_* */
	sim_led_out_fn led_fn;
	void *led_ctx;
	uint8_t ptr_buttons;
	int ptr_x, ptr_y;	/* pixels; clamped to the screen at use */
	bool ptr_seen;
	long long wheel, pan;

	/* ---- console ---- */
	int menu_sel;
	int layout;		/* hid/ layout index; 0 (en-us) decodes as a US PC */
	uint32_t dead;		/* dead keysym waiting for its character, or 0 */
	char line[SIM__LINE_MAX];	/* UTF-8 */
	size_t line_len;
	char output[SIM__LINE_MAX];
	char last[SIM__LINE_MAX];

	/* ---- screen ---- */
	int w, h;		/* current canvas */
	int want_w, want_h;	/* resize for the next render; 0 = none */
	int scale, cellw, cellh, cols, rows;
	struct sim__cell *cells;	/* what the canvas shows */
	struct sim__cell *next;		/* scratch: the composed screen */
	uint8_t *dirty;			/* per cell: canvas out of date */
	size_t n_dirty;
	uint32_t *px;			/* canvas, stride w*4 */
	uint32_t margin_rgb;		/* right/bottom strips outside the grid */
	bool margin_dirty;
	uint64_t composed_key;		/* time-derived content last composed */
	bool ptr_drawn;
	int ptr_dx, ptr_dy;		/* where the sprite is drawn */
	uint32_t under[SIM__PTR_W * SIM__PTR_H];
	uint64_t seq;
};

/* sim.c */
/* Rebuilds the console text into the cell grid from the state (as of
 * s->now_us), marking the cells that changed. */
void sim__compose(struct sim_target *s);
/* Runs the command line (Enter). */
void sim__enter(struct sim_target *s);
void sim__activate(struct sim_target *s, int item);
/* Pointer position in pixels of the current canvas. */
void sim__ptr_pos(const struct sim_target *s, int *x, int *y);

/* Decodes the character at *p and moves past it; U+FFFD for a malformed
 * or cut-off sequence (one byte skipped). *p must not be at the NUL. */
uint32_t sim__utf8_next(const char **p);

/* render.c */
/* (Re)allocates the canvas and grids for w×h; all cells dirty.  On failure
 * the previous screen is kept.  0 or -1. */
int sim__screen_alloc(struct sim_target *s, int w, int h);
void sim__screen_free(struct sim_target *s);
void sim__mark_all(struct sim_target *s);
/* Brings the canvas up to date with the cell grid and the pointer. */
void sim__paint(struct sim_target *s);

/* input.c: see sim_hid_input(). */

#endif
