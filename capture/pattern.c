/* The moving test pattern: colour bars, a scrolling grey ramp, the frame
 * number in binary as a row of blocks, and a box bouncing over all of it.
 *
 * Only what moves is redrawn each frame (the box's old and new place and the
 * two bands at the bottom), so most tiles stay unchanged between frames the
 * way a real screen's do, and the pattern costs little at 1080p.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/internal.h"

#define PATTERN_MIN_DIM 16
#define COUNTER_BITS 16

struct rgb {
	uint8_t r, g, b;
};

struct cap__pattern {
	struct cap_source base;
	struct cap__pace pace;
	enum cap_pixfmt fmt;
	int width, height, stride, bpp, fps;
	uint8_t *buf;		/* the one frame buffer, owned */
	uint64_t frame;		/* frames rendered */
	int bars_end, ramp_end;	/* band limits (rows) */
	int box;		/* box side, even */
	int box_x, box_y;	/* where the box is drawn now; -1 before the first frame */
};

static const struct rgb bar_colours[8] = {
	{ 255, 255, 255 }, { 255, 255, 0 }, { 0, 255, 255 }, { 0, 255, 0 },
	{ 255, 0, 255 }, { 255, 0, 0 }, { 0, 0, 255 }, { 0, 0, 0 },
};

static struct rgb
background(const struct cap__pattern *p, int x, int y)
{
	struct rgb c;

	if (y < p->bars_end)
		return bar_colours[(int64_t)x * 8 / p->width];
	if (y < p->ramp_end) {
		uint8_t v = (uint8_t)(((int64_t)x + (int64_t)(p->frame * 4)) * 256 / p->width);

		c.r = c.g = c.b = v;
		return c;
	}
	/* The frame counter, most significant bit on the left. */
	{
		int bw = p->width / COUNTER_BITS;
		int bit = bw > 0 ? x / bw : 0;

		if (bw <= 0 || bit >= COUNTER_BITS || x % bw < 2) {
			c.r = c.g = c.b = 64;
			return c;
		}
		c.r = c.g = c.b = (p->frame >> (COUNTER_BITS - 1 - bit)) & 1 ? 255 : 0;
		return c;
	}
}

static const struct rgb box_fill = { 255, 128, 0 };
static const struct rgb box_edge = { 0, 0, 0 };

static struct rgb
pixel(const struct cap__pattern *p, int x, int y)
{
	if (p->box_x >= 0 && x >= p->box_x && x < p->box_x + p->box &&
	    y >= p->box_y && y < p->box_y + p->box) {
		int dx = x - p->box_x, dy = y - p->box_y;

		if (dx < 2 || dy < 2 || dx >= p->box - 2 || dy >= p->box - 2)
			return box_edge;
		return box_fill;
	}
	return background(p, x, y);
}

/* BT.601 limited range, the same matrix libyuv uses to convert back. */
static void
rgb_to_yuv(struct rgb c, int *y, int *u, int *v)
{
	*y = ((66 * c.r + 129 * c.g + 25 * c.b + 128) >> 8) + 16;
	*u = ((-38 * c.r - 74 * c.g + 112 * c.b + 128 + 32768) >> 8);
	*v = ((112 * c.r - 94 * c.g - 18 * c.b + 128 + 32768) >> 8);
}

/* Draws columns [x0, x1) of row y; for YUYV x0 and x1 are even. */
static void
draw_span(struct cap__pattern *p, int y, int x0, int x1)
{
	uint8_t *row = p->buf + (size_t)y * (size_t)p->stride;

	if (p->fmt == CAP_FMT_YUYV) {
		for (int x = x0; x < x1; x += 2) {
			int y0, u0, v0, y1, u1, v1;
			uint8_t *d = row + (size_t)x * 2;

			rgb_to_yuv(pixel(p, x, y), &y0, &u0, &v0);
			rgb_to_yuv(pixel(p, x + 1, y), &y1, &u1, &v1);
			d[0] = (uint8_t)y0;
			d[1] = (uint8_t)((u0 + u1 + 1) / 2);
			d[2] = (uint8_t)y1;
			d[3] = (uint8_t)((v0 + v1 + 1) / 2);
		}
		return;
	}
	for (int x = x0; x < x1; x++) {
		struct rgb c = pixel(p, x, y);
		uint8_t *d = row + (size_t)x * 4;

		d[0] = c.b;
		d[1] = c.g;
		d[2] = c.r;
		d[3] = 0xff;
	}
}

static void
draw_rect(struct cap__pattern *p, int x, int y, int w, int h)
{
	for (int yy = y; yy < y + h; yy++)
		draw_span(p, yy, x, x + w);
}

/* Rows of a band that are all alike: draw one, copy it down. */
static void
draw_band(struct cap__pattern *p, int y0, int y1)
{
	int saved_x = p->box_x;

	if (y0 >= y1)
		return;
	p->box_x = -1;		/* the box is drawn over the bands afterwards */
	draw_span(p, y0, 0, p->width);
	p->box_x = saved_x;
	for (int y = y0 + 1; y < y1; y++)
		memcpy(p->buf + (size_t)y * (size_t)p->stride,
		       p->buf + (size_t)y0 * (size_t)p->stride, (size_t)p->stride);
}

/* A triangle wave, so the box bounces between the edges. */
static int
bounce(uint64_t t, int range)
{
	uint64_t period, pos;

	if (range <= 0)
		return 0;
	period = 2 * (uint64_t)range;
	pos = t % period;
	return (int)(pos <= (uint64_t)range ? pos : period - pos);
}

static void
render(struct cap__pattern *p)
{
	int old_x = p->box_x, old_y = p->box_y;

	p->box_x = bounce(p->frame * 8, p->width - p->box) & ~1;
	p->box_y = bounce(p->frame * 6, p->height - p->box);
	if (old_x < 0) {
		draw_rect(p, 0, 0, p->width, p->height);
		return;
	}
	draw_rect(p, old_x, old_y, p->box, p->box);
	draw_band(p, p->bars_end, p->ramp_end);
	draw_band(p, p->ramp_end, p->height);
	draw_rect(p, p->box_x, p->box_y, p->box, p->box);
}

static int
pattern_fd(struct cap_source *src)
{
	(void)src;
	return -1;
}

static int
pattern_wait_ms(struct cap_source *src)
{
	struct cap__pattern *p = (struct cap__pattern *)src;

	return cap__pace_wait_ms(&p->pace, wk_now_us());
}

static int
pattern_grab(struct cap_source *src, struct cap_frame *out)
{
	struct cap__pattern *p = (struct cap__pattern *)src;
	uint64_t now = wk_now_us();

	if (!cap__pace_take(&p->pace, now))
		return CAP_EAGAIN;
	render(p);
	p->frame++;
	out->fmt = p->fmt;
	out->width = p->width;
	out->height = p->height;
	out->stride = p->stride;
	out->size = (size_t)p->stride * (size_t)p->height;
	out->data = p->buf;
	out->ts_us = now;
	out->stable = true;	/* one buffer, drawn into only here */
	return 0;
}

static void
pattern_close(struct cap_source *src)
{
	struct cap__pattern *p = (struct cap__pattern *)src;

	free(p->buf);
	free(p);
}

static const struct cap__ops pattern_ops = {
	.fd = pattern_fd,
	.wait_ms = pattern_wait_ms,
	.grab = pattern_grab,
	.close = pattern_close,
};

int
cap__pattern_open(const struct cap_options *opt, struct cap_source **out)
{
	struct cap__pattern *p;
	int w = opt->width ? opt->width : 1280;
	int h = opt->height ? opt->height : 720;
	enum cap_pixfmt fmt = opt->file_fmt == CAP_FMT_YUYV ? CAP_FMT_YUYV : CAP_FMT_XRGB32;
	int fps;

	if (opt->file_fmt != CAP_FMT_NONE && opt->file_fmt != CAP_FMT_YUYV &&
	    opt->file_fmt != CAP_FMT_XRGB32) {
		cap__log(WK_LOG_ERROR, "pattern: format %s not offered (XRGB32 or YUYV)",
			 cap_fmt_name(opt->file_fmt));
		return CAP_EINVAL;
	}
	if (w < PATTERN_MIN_DIM || w > CAP__MAX_DIM || h < PATTERN_MIN_DIM || h > CAP__MAX_DIM) {
		cap__log(WK_LOG_ERROR, "pattern: size %dx%d out of range %d..%d",
			 w, h, PATTERN_MIN_DIM, CAP__MAX_DIM);
		return CAP_EINVAL;
	}
	if (fmt == CAP_FMT_YUYV && (w & 1)) {
		cap__log(WK_LOG_ERROR, "pattern: YUYV needs an even width, not %d", w);
		return CAP_EINVAL;
	}
	if ((fps = cap__fps_or_default(opt->fps, "pattern")) < 0)
		return fps;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return CAP_ENOMEM;
	p->fmt = fmt;
	p->width = w;
	p->height = h;
	p->bpp = cap_fmt_bpp(fmt);
	p->stride = w * p->bpp;
	p->fps = fps;
	if ((p->buf = malloc((size_t)p->stride * (size_t)h)) == NULL) {
		cap__log(WK_LOG_ERROR, "pattern: out of memory for %dx%d", w, h);
		free(p);
		return CAP_ENOMEM;
	}
	p->bars_end = h * 2 / 3;
	p->ramp_end = p->bars_end + (h - p->bars_end) / 2;
	p->box = (w < h ? w : h) / 8;
	p->box = p->box < 8 ? 8 : p->box & ~1;
	p->box_x = p->box_y = -1;
	p->base.ops = &pattern_ops;
	p->base.state = CAP_STATE_OK;
	snprintf(p->base.desc, sizeof(p->base.desc), "pattern %dx%d %s %d fps",
		 w, h, cap_fmt_name(fmt), fps);
	cap__pace_init(&p->pace, fps, wk_now_us());
	*out = &p->base;
	return 0;
}
