/* bench/ — the full-motion 1080p sequence of the H.264 benchmarks
 * (bench_h264.c, bench_h264_cpu.c): the committed desktop
 * (bench/desktop-1080p.yuyv.gz: a terminal of text, a window with a
 * photo-like picture), its terminal scrolling up MOTION_SCROLL_PX lines a
 * frame and its picture window gliding over the root, bouncing.  Every
 * frame is a function of its index alone, so both sides of a figure (and
 * an arm64 build of a program next to the x86 one) get the same bytes.
 *
 * Header-only like bench.h: needs zlib and libyuv.
 */
#ifndef WEBKVM_BENCH_MOTION_H
#define WEBKVM_BENCH_MOTION_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyuv/convert_argb.h>
#include <zlib.h>

#define MOTION_W 1920
#define MOTION_H 1080
/* Where bench/make-desktop-frame.sh put the terminal and the picture
 * window in the committed frame. */
#define MOTION_TERM_X 8
#define MOTION_TERM_Y 8
#define MOTION_TERM_W 716
#define MOTION_TERM_H 964
#define MOTION_PIC_X 930
#define MOTION_PIC_Y 160
#define MOTION_PIC_W 960
#define MOTION_PIC_H 720
/* The picture glides over the root right of the terminal. */
#define MOTION_PIC_X_MIN 736
#define MOTION_SCROLL_PX 6
#define MOTION_PIC_DX 5
#define MOTION_PIC_DY 3

struct motion {
	int w, h;		/* frames handed out: the middle w×h of 1080p */
	uint8_t *desk;		/* the desktop, XRGB32 1920×1080 */
	uint8_t *base;		/* the desktop without its picture window */
	uint8_t *full;		/* one 1080p frame */
};

static inline void
motion_free(struct motion *m)
{
	free(m->desk), free(m->base), free(m->full);
	m->desk = m->base = m->full = NULL;
}

/* Reads the desktop at path; w×h (even, at most 1920×1080) is the size of
 * the frames motion_frame() hands out.  0, or -1 with a message on stderr. */
static inline int
motion_init(struct motion *m, const char *path, int w, int h)
{
	size_t ysize = (size_t)MOTION_W * MOTION_H * 2, fsize = (size_t)MOTION_W * MOTION_H * 4;
	uint8_t *yuyv = malloc(ysize);
	const uint8_t *root;
	gzFile z = NULL;

	memset(m, 0, sizeof(*m));
	m->w = w, m->h = h;
	m->desk = malloc(fsize), m->base = malloc(fsize), m->full = malloc(fsize);
	if (yuyv == NULL || m->desk == NULL || m->base == NULL || m->full == NULL) {
		fprintf(stderr, "motion: out of memory\n");
		goto fail;
	}
	if (w < 2 || h < 2 || w > MOTION_W || h > MOTION_H || (w & 1) || (h & 1)) {
		fprintf(stderr, "motion: %dx%d is not an even size within %dx%d\n", w, h, MOTION_W,
			MOTION_H);
		goto fail;
	}
	if ((z = gzopen(path, "rb")) == NULL) {
		fprintf(stderr, "motion: %s: cannot open (run from the top of the tree)\n", path);
		goto fail;
	}
	if (gzread(z, yuyv, (unsigned)ysize) != (int)ysize || gzread(z, yuyv, 1) != 0) {
		fprintf(stderr, "motion: %s: not one %dx%d YUYV frame\n", path, MOTION_W, MOTION_H);
		goto fail;
	}
	gzclose(z);
	YUY2ToARGB(yuyv, MOTION_W * 2, m->desk, MOTION_W * 4, MOTION_W, MOTION_H);
	free(yuyv);
	memcpy(m->base, m->desk, fsize);
	/* The root's colour, from the top right corner. */
	root = m->desk + ((size_t)4 * MOTION_W + MOTION_W - 4) * 4;
	for (int y = MOTION_PIC_Y; y < MOTION_PIC_Y + MOTION_PIC_H; y++)
		for (int x = MOTION_PIC_X; x < MOTION_PIC_X + MOTION_PIC_W; x++)
			memcpy(m->base + ((size_t)y * MOTION_W + x) * 4, root, 4);
	return 0;
fail:
	if (z != NULL)
		gzclose(z);
	free(yuyv);
	motion_free(m);
	return -1;
}

/* k * speed folded into 0..range and back. */
static inline int
motion__bounce(int k, int speed, int range)
{
	int t = (int)((long)k * speed % (2L * range));

	return t <= range ? t : 2 * range - t;
}

/* Frame k into out (XRGB32, m->w × m->h, stride m->w * 4). */
static inline void
motion_frame(struct motion *m, int k, uint8_t *out)
{
	const size_t row = (size_t)MOTION_W * 4;
	int off = (int)((long)k * MOTION_SCROLL_PX % MOTION_TERM_H);
	int px = MOTION_PIC_X_MIN +
		 motion__bounce(k, MOTION_PIC_DX, MOTION_W - MOTION_PIC_W - MOTION_PIC_X_MIN);
	int py = motion__bounce(k, MOTION_PIC_DY, MOTION_H - MOTION_PIC_H);
	int x0 = (MOTION_W - m->w) / 2, y0 = (MOTION_H - m->h) / 2;

	memcpy(m->full, m->base, row * MOTION_H);
	for (int y = 0; y < MOTION_TERM_H; y++)
		memcpy(m->full + (size_t)(MOTION_TERM_Y + y) * row + MOTION_TERM_X * 4,
		       m->desk + (size_t)(MOTION_TERM_Y + (y + off) % MOTION_TERM_H) * row +
			       MOTION_TERM_X * 4,
		       (size_t)MOTION_TERM_W * 4);
	for (int y = 0; y < MOTION_PIC_H; y++)
		memcpy(m->full + (size_t)(py + y) * row + (size_t)px * 4,
		       m->desk + (size_t)(MOTION_PIC_Y + y) * row + MOTION_PIC_X * 4,
		       (size_t)MOTION_PIC_W * 4);
	for (int y = 0; y < m->h; y++)
		memcpy(out + (size_t)y * m->w * 4, m->full + (size_t)(y0 + y) * row + (size_t)x0 * 4,
		       (size_t)m->w * 4);
}

#endif
