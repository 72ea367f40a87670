/* board/sim: the cell grid and the pointer sprite drawn into the XRGB32
 * canvas.  Only cells marked dirty are drawn and the sprite restores what
 * was under it, so a frame costs in proportion to what changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/sim/font.h"
#include "board/sim/sim_priv.h"

/* The canvas is written as uint32_t; XRGB32 wants bytes B,G,R,X. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define PIX(rgb) __builtin_bswap32(rgb)
#else
#define PIX(rgb) (rgb)
#endif

/* '#' outline, '.' fill, ' ' transparent. */
static const char ptr_sprite[SIM__PTR_H][SIM__PTR_W + 1] = {
	"#           ",
	"##          ",
	"#.#         ",
	"#..#        ",
	"#...#       ",
	"#....#      ",
	"#.....#     ",
	"#......#    ",
	"#.......#   ",
	"#........#  ",
	"#.........# ",
	"#......#####",
	"#...#..#    ",
	"#..##..#    ",
	"#.# #..#    ",
	"##   #..#   ",
	"#    #..#   ",
	"      #..#  ",
	"       ##   ",
};

int sim__screen_alloc(struct sim_target *s, int w, int h)
{
	int scale = w / 640 < h / 360 ? w / 640 : h / 360;
	if (scale < 1)
		scale = 1;
	int cellw = SIM__GLYPH_W * scale, cellh = SIM__GLYPH_H * scale;
	int cols = w / cellw, rows = h / cellh;
	size_t n = (size_t)cols * rows;

	uint32_t *px = malloc((size_t)w * h * sizeof(*px));
	struct sim__cell *cells = calloc(n, sizeof(*cells));
	struct sim__cell *next = calloc(n, sizeof(*next));
	uint8_t *dirty = malloc(n);
	if (!px || !cells || !next || !dirty) {
		sim__log(WK_LOG_ERROR, "screen %dx%d: out of memory", w, h);
		free(px);
		free(cells);
		free(next);
		free(dirty);
		return -1;
	}
	sim__screen_free(s);
	s->px = px;
	s->cells = cells;
	s->next = next;
	s->dirty = dirty;
	s->w = w;
	s->h = h;
	s->scale = scale;
	s->cellw = cellw;
	s->cellh = cellh;
	s->cols = cols;
	s->rows = rows;
	s->ptr_drawn = false;
	sim__mark_all(s);
	return 0;
}

void sim__screen_free(struct sim_target *s)
{
	free(s->px);
	free(s->cells);
	free(s->next);
	free(s->dirty);
	s->px = NULL;
	s->cells = s->next = NULL;
	s->dirty = NULL;
}

void sim__mark_all(struct sim_target *s)
{
	size_t n = (size_t)s->cols * s->rows;

	memset(s->dirty, 1, n);
	s->n_dirty = n;
	s->margin_dirty = true;
}

static void fill_rect(struct sim_target *s, int x, int y, int w, int h, uint32_t rgb)
{
	uint32_t v = PIX(rgb);

	for (int j = 0; j < h; j++) {
		uint32_t *p = s->px + (size_t)(y + j) * s->w + x;
		for (int i = 0; i < w; i++)
			p[i] = v;
	}
}

static void fill_margins(struct sim_target *s)
{
	int gw = s->cols * s->cellw, gh = s->rows * s->cellh;

	fill_rect(s, gw, 0, s->w - gw, gh, s->margin_rgb);
	fill_rect(s, 0, gh, s->w, s->h - gh, s->margin_rgb);
	s->margin_dirty = false;
}

static void draw_cell(struct sim_target *s, int row, int col)
{
	const struct sim__cell *c = &s->cells[(size_t)row * s->cols + col];
	const uint8_t *glyph = sim_font_glyph(c->cp);
	uint32_t fg = PIX(c->fg), bg = PIX(c->bg);
	int sc = s->scale;
	size_t stride = (size_t)s->w;
	uint32_t *top = s->px + (size_t)row * s->cellh * stride + (size_t)col * s->cellw;

	for (int gy = 0; gy < SIM__GLYPH_H; gy++) {
		uint32_t *line = top + (size_t)gy * sc * stride;
		uint32_t *p = line;
		unsigned bits = glyph[gy];

		for (int gx = 0; gx < SIM__GLYPH_W; gx++, bits <<= 1) {
			uint32_t v = (bits & 0x80) ? fg : bg;
			for (int k = 0; k < sc; k++)
				*p++ = v;
		}
		/* Scaled lines repeat the first one. */
		for (int k = 1; k < sc; k++)
			memcpy(line + k * stride, line, (size_t)s->cellw * sizeof(*line));
	}
}

static void draw_dirty(struct sim_target *s)
{
	for (int r = 0; r < s->rows && s->n_dirty; r++) {
		uint8_t *d = s->dirty + (size_t)r * s->cols;
		for (int c = 0; c < s->cols; c++) {
			if (!d[c])
				continue;
			draw_cell(s, r, c);
			d[c] = 0;
			s->n_dirty--;
		}
	}
	s->n_dirty = 0;
}

/* The sprite's rectangle clipped to the canvas. */
static void ptr_clip(const struct sim_target *s, int x, int y, int *w, int *h)
{
	*w = s->w - x < SIM__PTR_W ? s->w - x : SIM__PTR_W;
	*h = s->h - y < SIM__PTR_H ? s->h - y : SIM__PTR_H;
}

static void ptr_restore(struct sim_target *s)
{
	int w, h;

	ptr_clip(s, s->ptr_dx, s->ptr_dy, &w, &h);
	for (int j = 0; j < h; j++)
		memcpy(s->px + (size_t)(s->ptr_dy + j) * s->w + s->ptr_dx,
		       s->under + j * SIM__PTR_W, (size_t)w * sizeof(uint32_t));
	s->ptr_drawn = false;
}

static void ptr_draw(struct sim_target *s, int x, int y)
{
	int w, h;
	uint32_t black = PIX(SIM__BLACK), white = PIX(SIM__WHITE);

	ptr_clip(s, x, y, &w, &h);
	for (int j = 0; j < h; j++) {
		uint32_t *p = s->px + (size_t)(y + j) * s->w + x;
		memcpy(s->under + j * SIM__PTR_W, p, (size_t)w * sizeof(*p));
		for (int i = 0; i < w; i++) {
			char c = ptr_sprite[j][i];
			if (c == '#')
				p[i] = black;
			else if (c == '.')
				p[i] = white;
		}
	}
	s->ptr_dx = x;
	s->ptr_dy = y;
	s->ptr_drawn = true;
}

void sim__paint(struct sim_target *s)
{
	bool want = s->mode == SIM__SETUP && s->ptr_seen;
	int x = 0, y = 0;

	if (want)
		sim__ptr_pos(s, &x, &y);
	bool moved = want != s->ptr_drawn ||
		     (want && (x != s->ptr_dx || y != s->ptr_dy));
	/* Lift the sprite before anything under it may be redrawn, so the
	 * saved pixels never go stale. */
	if (s->ptr_drawn && (moved || s->n_dirty || s->margin_dirty))
		ptr_restore(s);
	if (s->margin_dirty)
		fill_margins(s);
	if (s->n_dirty)
		draw_dirty(s);
	if (want && !s->ptr_drawn)
		ptr_draw(s, x, y);
}
