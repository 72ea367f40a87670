/* rfb/ unit tests: the tile diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rfb/framing.h"
#include "rfb/rfb_server.h"

#define MAXR 4096

struct img {
	struct cap_frame f;
	uint8_t *buf;
	uint8_t *fb;
	int fb_stride;
};

static void
img_init(struct img *im, enum cap_pixfmt fmt, int w, int h, int pad)
{
	int bpp = cap_fmt_bpp(fmt);

	im->f = (struct cap_frame){ .fmt = fmt, .width = w, .height = h, .stride = w * bpp + pad };
	im->f.size = (size_t)im->f.stride * h;
	im->buf = calloc(1, im->f.size);
	assert_non_null(im->buf);
	/* Deterministic noise, so every tile differs from its neighbours. */
	for (size_t i = 0; i < im->f.size; i++)
		im->buf[i] = (uint8_t)(i * 2654435761u >> 13);
	im->f.data = im->buf;
	im->fb_stride = w * 4 + 12;
	im->fb = calloc(1, (size_t)im->fb_stride * h);
	assert_non_null(im->fb);
}

static void
img_free(struct img *im)
{
	free(im->buf);
	free(im->fb);
}

/* True when (x,y) lies inside one of the rectangles. */
static int
covered(const struct rfb_rect *r, int n, int x, int y)
{
	for (int i = 0; i < n; i++)
		if (x >= r[i].x && x < r[i].x + r[i].w && y >= r[i].y && y < r[i].y + r[i].h)
			return 1;
	return 0;
}

static long
area(const struct rfb_rect *r, int n)
{
	long a = 0;

	for (int i = 0; i < n; i++)
		a += (long)r[i].w * r[i].h;
	return a;
}

static void
test_first_frame_is_whole(void **state)
{
	struct rfb_tilediff *td = rfb_tilediff_new(32, 32);
	struct rfb_rect r[MAXR];
	struct img im;
	int n;

	(void)state;
	img_init(&im, CAP_FMT_XRGB32, 100, 70, 0);
	n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	assert_true(n > 0);
	assert_int_equal(area(r, n), 100 * 70);
	assert_int_equal(rfb_tilediff_changed_tiles(td), 4 * 3);
	for (int y = 0; y < 70; y++)
		assert_memory_equal(im.fb + (size_t)y * im.fb_stride, im.buf + (size_t)y * im.f.stride, 400);
	/* Same frame again: nothing. */
	n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	assert_int_equal(n, 0);
	assert_int_equal(rfb_tilediff_changed_tiles(td), 0);
	img_free(&im);
	rfb_tilediff_free(td);
}

/* One pixel changed at each corner of each tile finds exactly that tile,
 * for sizes that are not tile multiples and a stride wider than the line. */
static void
corner_case(enum cap_pixfmt fmt, int w, int h, int pad, int tw, int th)
{
	struct rfb_tilediff *td = rfb_tilediff_new(tw, th);
	struct rfb_rect r[MAXR];
	struct img im;
	int bpp = cap_fmt_bpp(fmt), tiles_x = (w + tw - 1) / tw, tiles_y = (h + th - 1) / th;

	assert_non_null(td);
	img_init(&im, fmt, w, h, pad);
	{ int n0 = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR); if (n0 <= 0) fail_msg("first run: %d (fmt %d %dx%d)", n0, fmt, w, h); }
	for (int ty = 0; ty < tiles_y; ty++) {
		for (int tx = 0; tx < tiles_x; tx++) {
			int x0 = tx * tw, y0 = ty * th;
			int x1 = (x0 + tw < w ? x0 + tw : w) - 1, y1 = (y0 + th < h ? y0 + th : h) - 1;
			int cx[4] = { x0, x1, x0, x1 }, cy[4] = { y0, y0, y1, y1 };

			for (int c = 0; c < 4; c++) {
				uint8_t *p = im.buf + (size_t)cy[c] * im.f.stride + (size_t)cx[c] * bpp;
				int n;

				p[0] ^= 0x5a;
				n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
				assert_int_equal(n, 1);
				assert_int_equal(rfb_tilediff_changed_tiles(td), 1);
				assert_int_equal(r[0].x, x0);
				assert_int_equal(r[0].y, y0);
				assert_int_equal(r[0].w, x1 - x0 + 1);
				assert_int_equal(r[0].h, y1 - y0 + 1);
				assert_true(covered(r, n, cx[c], cy[c]));
				p[0] ^= 0x5a;
				/* Changing it back is a change too. */
				assert_int_equal(rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR), 1);
			}
		}
	}
	img_free(&im);
	rfb_tilediff_free(td);
}

static void
test_corners_xrgb(void **state)
{
	(void)state;
	corner_case(CAP_FMT_XRGB32, 97, 45, 0, 32, 32);
	corner_case(CAP_FMT_XRGB32, 64, 64, 20, 32, 16);
}

static void
test_corners_yuyv(void **state)
{
	(void)state;
	corner_case(CAP_FMT_YUYV, 99, 33, 6, 32, 32);
	corner_case(CAP_FMT_UYVY, 70, 41, 4, 16, 8);	/* 4:2:2 lines are whole 4-byte pairs */
}

static void
test_corners_rgb(void **state)
{
	(void)state;
	corner_case(CAP_FMT_RGB24, 51, 37, 3, 16, 16);
	corner_case(CAP_FMT_RGB565, 66, 20, 4, 32, 8);
}

/* Only changed tiles are converted: the framebuffer outside them keeps
 * what was there. */
static void
test_converts_changed_only(void **state)
{
	struct rfb_tilediff *td = rfb_tilediff_new(32, 32);
	struct rfb_rect r[MAXR];
	struct img im;
	int n;

	(void)state;
	img_init(&im, CAP_FMT_XRGB32, 128, 64, 0);
	rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	memset(im.fb, 0xee, (size_t)im.fb_stride * 64);	/* poison */
	im.buf[(size_t)40 * im.f.stride + 70 * 4] ^= 1;		/* tile (2,1) */
	n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	assert_int_equal(n, 1);
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 128; x++) {
			const uint8_t *fbp = im.fb + (size_t)y * im.fb_stride + (size_t)x * 4;
			const uint8_t *src = im.buf + (size_t)y * im.f.stride + (size_t)x * 4;

			if (x >= 64 && x < 96 && y >= 32)
				assert_memory_equal(fbp, src, 3);
			else
				assert_int_equal(fbp[0], 0xee);
		}
	img_free(&im);
	rfb_tilediff_free(td);
}

/* Adjacent changed tiles in a row come out as one rectangle; a size change
 * reports the whole frame; more rectangles than room are merged. */
static void
test_merge_and_resize(void **state)
{
	struct rfb_tilediff *td = rfb_tilediff_new(16, 16);
	struct rfb_rect r[MAXR];
	struct img im, big;
	int n;

	(void)state;
	img_init(&im, CAP_FMT_XRGB32, 160, 48, 0);
	rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	for (int x = 16; x < 80; x += 16)
		im.buf[(size_t)20 * im.f.stride + (size_t)x * 4] ^= 0xff;
	n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].x, 16);
	assert_int_equal(r[0].w, 64);
	assert_int_equal(r[0].y, 16);
	assert_int_equal(r[0].h, 16);

	/* Checkerboard of changes with room for 3 rectangles. */
	for (int ty = 0; ty < 3; ty++)
		for (int tx = ty & 1; tx < 10; tx += 2)
			im.buf[(size_t)(ty * 16 + 1) * im.f.stride + (size_t)(tx * 16 + 1) * 4] ^= 0xff;
	n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, 3);
	assert_int_equal(n, 3);
	for (int ty = 0; ty < 3; ty++)
		for (int tx = ty & 1; tx < 10; tx += 2)
			assert_true(covered(r, n, tx * 16 + 1, ty * 16 + 1));

	img_init(&big, CAP_FMT_XRGB32, 200, 60, 0);
	n = rfb_tilediff_run(td, &big.f, big.fb, big.fb_stride, true, r, MAXR);
	assert_int_equal(area(r, n), 200 * 60);
	img_free(&big);
	img_free(&im);
	rfb_tilediff_free(td);
}

static void
test_bad_input(void **state)
{
	struct rfb_tilediff *td = rfb_tilediff_new(32, 32);
	struct rfb_rect r[4];
	struct img im;
	struct cap_frame f;

	(void)state;
	assert_null(rfb_tilediff_new(7, 32));
	assert_null(rfb_tilediff_new(33, 32));
	assert_null(rfb_tilediff_new(32, 512));
	img_init(&im, CAP_FMT_XRGB32, 64, 64, 0);
	f = im.f;
	f.stride = 10;	/* shorter than a line */
	assert_true(rfb_tilediff_run(td, &f, im.fb, im.fb_stride, true, r, 4) < 0);
	f = im.f;
	f.size = 100;	/* buffer shorter than the frame */
	assert_true(rfb_tilediff_run(td, &f, im.fb, im.fb_stride, true, r, 4) < 0);
	f = im.f;
	f.fmt = CAP_FMT_MJPEG;
	assert_true(rfb_tilediff_run(td, &f, im.fb, im.fb_stride, true, r, 4) < 0);
	assert_true(rfb_tilediff_run(td, &im.f, im.fb, 8, true, r, 4) < 0);
	img_free(&im);
	rfb_tilediff_free(td);
}

/* Message framing: whole messages only, partial → need more, absurd → bad. */
static void
test_framing(void **state)
{
	static const struct {
		enum rfb__phase ph;
		uint8_t msg[32];
		size_t len;
		long want;	/* length of the whole message, or RFB__BAD */
	} cases[] = {
		{ RFB__PHASE_VERSION, "RFB 003.008\n", 12, 12 },
		{ RFB__PHASE_SECURITY, { 1 }, 1, 1 },
		{ RFB__PHASE_AUTH, { 0 }, 16, 16 },
		{ RFB__PHASE_INIT, { 1 }, 1, 1 },
		{ RFB__PHASE_NORMAL, { 0 }, 20, 20 },				/* SetPixelFormat */
		{ RFB__PHASE_NORMAL, { 2, 0, 0, 3 }, 16, 16 },			/* SetEncodings, 3 */
		{ RFB__PHASE_NORMAL, { 3 }, 10, 10 },				/* FBUpdateRequest */
		{ RFB__PHASE_NORMAL, { 4 }, 8, 8 },				/* KeyEvent */
		{ RFB__PHASE_NORMAL, { 5 }, 6, 6 },				/* PointerEvent */
		{ RFB__PHASE_NORMAL, { 6, 0, 0, 0, 0, 0, 0, 5 }, 13, 13 },	/* CutText "hello" */
		{ RFB__PHASE_NORMAL, { 6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc }, 12, 12 },	/* extended, -4 */
		{ RFB__PHASE_NORMAL, { 250, 0, 1, 4 }, 4, 4 },			/* XVP reset */
		{ RFB__PHASE_NORMAL, { 251, 0, 0, 0, 0, 0, 1, 0 }, 24, 24 },	/* SetDesktopSize, 1 screen */
		{ RFB__PHASE_NORMAL, { 255, 0 }, 12, 12 },			/* QEMU ext key */
		{ RFB__PHASE_NORMAL, { 255, 1 }, 12, RFB__BAD },		/* QEMU audio */
		{ RFB__PHASE_NORMAL, { 2, 0, 0xff, 0xff }, 4, RFB__BAD },	/* 65535 encodings */
		{ RFB__PHASE_NORMAL, { 6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff }, 8, RFB__BAD },
		{ RFB__PHASE_NORMAL, { 7 }, 1, RFB__BAD },			/* file transfer */
		{ RFB__PHASE_NORMAL, { 150 }, 10, RFB__BAD },			/* unknown here */
	};
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = rfb__msg_len(cases[i].ph, cases[i].msg, cases[i].len, &why);

		if (got != cases[i].want)
			fail_msg("case %zu: got %ld, want %ld", i, got, cases[i].want);
		/* Every shorter prefix of a good message needs more bytes. */
		if (cases[i].want > 0)
			for (size_t n = 0; n < cases[i].len; n++)
				assert_int_equal(rfb__msg_len(cases[i].ph, cases[i].msg, n, &why),
						 RFB__NEED_MORE);
	}
	/* Two messages back to back: only the first counts. */
	{
		uint8_t two[16] = { 5, 0, 0, 1, 0, 1, 4, 1 };

		assert_int_equal(rfb__msg_len(RFB__PHASE_NORMAL, two, sizeof(two), &why), 6);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_frame_is_whole),
		cmocka_unit_test(test_corners_xrgb),
		cmocka_unit_test(test_corners_yuyv),
		cmocka_unit_test(test_corners_rgb),
		cmocka_unit_test(test_converts_changed_only),
		cmocka_unit_test(test_merge_and_resize),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_framing),
	};

	return cmocka_run_group_tests_name("rfb", tests, NULL, NULL);
}
