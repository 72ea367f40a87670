/* rfb/ unit tests: the tile diff, message framing, the shared Tight encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdbool.h>
#include <turbojpeg.h>
#include <zlib.h>

#include "rfb/framing.h"
#include "rfb/h264.h"
#include "rfb/rfb_server.h"
#include "rfb/tight.h"

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

/* Bands that changed in the last frame have their tiles hashed without a
 * line pass first, and their line hashes are then stale: whatever path a
 * band takes, each frame finds exactly the tiles that changed. */
static void
test_hot_bands(void **state)
{
	struct rfb_tilediff *td = rfb_tilediff_new(32, 32);
	struct rfb_rect r[MAXR];
	struct img im;
	/* Per frame: the pixel to flip (-1: none) and the tile it is in. */
	static const struct { int x, y; } flips[] = {
		{ 40, 40 },	/* every band was hot: hashed straight */
		{ -1, -1 },	/* band 1 hot, bands 0 and 2 stale */
		{ 40, 40 },	/* back as the stale line hashes had it: still a change */
		{ 70, 33 },
		{ 5, 2 },	/* band 0, lines fresh again */
		{ 6, 3 },	/* band 0 hot: the same tile again */
		{ 99, 69 },	/* band 2, the last tile's corner */
		{ -1, -1 },
		{ -1, -1 },
		{ 0, 64 },
	};
	int n;

	(void)state;
	assert_non_null(td);
	img_init(&im, CAP_FMT_XRGB32, 100, 70, 0);
	assert_true(rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR) > 0);
	for (size_t k = 0; k < sizeof(flips) / sizeof(flips[0]); k++) {
		int x = flips[k].x, y = flips[k].y;

		if (x >= 0)
			im.buf[(size_t)y * im.f.stride + (size_t)x * 4 + 1] ^= 0x11;
		n = rfb_tilediff_run(td, &im.f, im.fb, im.fb_stride, true, r, MAXR);
		if (x < 0) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, 1);
		assert_int_equal(rfb_tilediff_changed_tiles(td), 1);
		assert_int_equal(r[0].x, x / 32 * 32);
		assert_int_equal(r[0].y, y / 32 * 32);
		for (int j = 0; j < 70; j++)
			assert_memory_equal(im.fb + (size_t)j * im.fb_stride,
					    im.buf + (size_t)j * im.f.stride, 400);
	}
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


/* ---- Tight ---- */

static void
test_compact_len(void **state)
{
	static const struct {
		size_t n;
		int len;
		uint8_t b[3];
	} cases[] = {
		{ 0, 1, { 0 } },
		{ 1, 1, { 1 } },
		{ 127, 1, { 0x7f } },
		{ 128, 2, { 0x80, 0x01 } },
		{ 10000, 2, { 0x90, 0x4e } },
		{ 16383, 2, { 0xff, 0x7f } },
		{ 16384, 3, { 0x80, 0x80, 0x01 } },
		{ 4194303, 3, { 0xff, 0xff, 0xff } },
	};
	uint8_t b[3];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(b, 0xaa, sizeof(b));
		assert_int_equal(rfb__tight_compact_len(b, cases[i].n), cases[i].len);
		assert_memory_equal(b, cases[i].b, (size_t)cases[i].len);
	}
	assert_int_equal(rfb__tight_compact_len(b, 4194304), -1);
}

static void
test_rect_header(void **state)
{
	uint8_t h[12];
	static const uint8_t want[12] = { 0x07, 0x80, 0x00, 0x01, 0x01, 0x00, 0x04, 0x38,
					  0xff, 0xff, 0xff, 0x20 };

	(void)state;
	rfb__rect_header(h, 1920, 1, 256, 1080, RFB__ENC_LAST_RECT);
	assert_memory_equal(h, want, sizeof(h));
}

/* A viewer's side of Tight, as TightVNC's decoder works: four zlib streams
 * kept between rectangles, reset on request; pixels written as XRGB32. */
struct tdec {
	z_stream z[4];
	bool active[4];
	tjhandle tj;
	uint8_t *fb;		/* w×h XRGB32 */
	int w, h;
	int *hits;		/* how many rectangles covered each pixel */
	bool *lossy;		/* covered by a JPEG rectangle */
	int jpeg_rects, fill_rects, palette_rects;
};

static size_t
take_len(const uint8_t *p, size_t *at)
{
	size_t n = 0;

	for (int sh = 0; sh <= 14; sh += 7) {
		uint8_t b = p[(*at)++];

		n |= (size_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			break;
	}
	return n;
}

static void
tdec_put(struct tdec *d, int x, int y, const uint8_t *rgb)
{
	uint8_t *q = d->fb + ((size_t)y * d->w + x) * 4;

	q[0] = rgb[2], q[1] = rgb[1], q[2] = rgb[0], q[3] = 0;
}

/* Decodes one FramebufferUpdate; returns the bytes it took. */
static size_t
tdec_update(struct tdec *d, const uint8_t *m, size_t len)
{
	size_t at = 4;
	int nrects;

	assert_true(len >= 4);
	assert_int_equal(m[0], 0);
	nrects = m[2] << 8 | m[3];
	for (int r = 0; r < nrects; r++) {
		int x = m[at] << 8 | m[at + 1], y = m[at + 2] << 8 | m[at + 3];
		int w = m[at + 4] << 8 | m[at + 5], h = m[at + 6] << 8 | m[at + 7];
		uint32_t enc = (uint32_t)m[at + 8] << 24 | (uint32_t)m[at + 9] << 16 |
			       (uint32_t)m[at + 10] << 8 | m[at + 11];
		uint8_t cc;

		at += 12;
		assert_int_equal(enc, RFB__ENC_TIGHT);
		assert_true(w > 0 && h > 0 && x + w <= d->w && y + h <= d->h);
		assert_true(w <= RFB__TIGHT_MAX_W);
		for (int j = y; j < y + h; j++)
			for (int i = x; i < x + w; i++)
				d->hits[j * d->w + i]++;
		cc = m[at++];
		for (int i = 0; i < 4; i++)
			if (cc & (1 << i) && d->active[i]) {
				inflateEnd(&d->z[i]);
				d->active[i] = false;
			}
		if (cc >> 4 == 8) {
			for (int j = y; j < y + h; j++)
				for (int i = x; i < x + w; i++)
					tdec_put(d, i, j, m + at);
			at += 3;
			d->fill_rects++;
		} else if (cc >> 4 == 9) {
			size_t n = take_len(m, &at);
			int jw, jh, ss, cs;

			assert_int_equal(tjDecompressHeader3(d->tj, m + at, (unsigned long)n, &jw, &jh, &ss, &cs), 0);
			assert_int_equal(jw, w);
			assert_int_equal(jh, h);
			assert_int_equal(tjDecompress2(d->tj, m + at, (unsigned long)n,
						       d->fb + ((size_t)y * d->w + x) * 4, w, d->w * 4, h,
						       TJPF_BGRX, 0), 0);
			for (int j = y; j < y + h; j++)
				for (int i = x; i < x + w; i++)
					d->lossy[j * d->w + i] = true;
			at += n;
			d->jpeg_rects++;
		} else {
			int stream = cc >> 4 & 3, ncol;
			uint8_t pal[256][3], *pix;
			size_t rowb, n;

			assert_true(cc & 0x40);	/* our encoder always filters */
			assert_int_equal(m[at++], 1);	/* palette */
			ncol = m[at++] + 1;
			assert_true(ncol >= 2 && ncol <= RFB__TIGHT_MAX_COLOURS);
			assert_true(w * h <= RFB__TIGHT_MAX_AREA);
			memcpy(pal, m + at, (size_t)ncol * 3);
			at += (size_t)ncol * 3;
			rowb = ncol == 2 ? (size_t)(w + 7) / 8 : (size_t)w;
			n = rowb * (size_t)h;
			pix = malloc(n);
			assert_non_null(pix);
			if (n < 12) {
				memcpy(pix, m + at, n);
				at += n;
			} else {
				size_t zn = take_len(m, &at);

				if (!d->active[stream]) {
					assert_int_equal(inflateInit(&d->z[stream]), Z_OK);
					d->active[stream] = true;
				}
				d->z[stream].next_in = (uint8_t *)(m + at);
				d->z[stream].avail_in = (uInt)zn;
				d->z[stream].next_out = pix;
				d->z[stream].avail_out = (uInt)n;
				assert_int_equal(inflate(&d->z[stream], Z_SYNC_FLUSH), Z_OK);
				assert_int_equal(d->z[stream].avail_out, 0);
				at += zn;
			}
			for (int j = 0; j < h; j++)
				for (int i = 0; i < w; i++) {
					int k = ncol == 2 ? pix[j * rowb + i / 8] >> (7 - i % 8) & 1
							  : pix[j * rowb + i];

					assert_true(k < ncol);
					tdec_put(d, x + i, y + j, pal[k]);
				}
			free(pix);
			d->palette_rects++;
		}
		assert_true(at <= len);
	}
	return at;
}

static void
tdec_init(struct tdec *d, int w, int h)
{
	memset(d, 0, sizeof(*d));
	d->w = w, d->h = h;
	d->fb = calloc((size_t)w * h, 4);
	d->hits = calloc((size_t)w * h, sizeof(int));
	d->lossy = calloc((size_t)w * h, sizeof(bool));
	d->tj = tjInitDecompress();
	assert_true(d->fb && d->hits && d->lossy && d->tj);
}

static void
tdec_free(struct tdec *d)
{
	for (int i = 0; i < 4; i++)
		if (d->active[i])
			inflateEnd(&d->z[i]);
	tjDestroy(d->tj);
	free(d->fb), free(d->hits), free(d->lossy);
}

/* A desktop: a flat background, a two-colour text panel, a panel of a few
 * colours and a photo-like area of grain (w ≥ 700, h ≥ 300). */
static uint8_t *
desktop(int w, int h, unsigned seed)
{
	uint8_t *p = malloc((size_t)w * h * 4);
	uint32_t r = 2463534242u ^ seed;

	assert_non_null(p);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *q = p + ((size_t)y * w + x) * 4;

			r ^= r << 13, r ^= r >> 17, r ^= r << 5;
			q[3] = 0xff;	/* the X byte is not part of the colour */
			if (x >= 100 && x < 400 && y >= 40 && y < 200) {	/* text */
				bool ink = ((x * 7 + y * 3) % 11) < 3;

				q[0] = ink ? 0xff : 0x20, q[1] = ink ? 0xff : 0x10, q[2] = ink ? 0xff : 0x80;
			} else if (x >= 420 && x < 700 && y >= 40 && y < 120) {	/* 5 colours */
				int c = (x / 13 + y / 7) % 5;

				q[0] = (uint8_t)(c * 50), q[1] = (uint8_t)(255 - c * 40), q[2] = 7;
			} else if (y >= 220 && y < 300) {	/* photo */
				q[0] = (uint8_t)(x + (r & 15)), q[1] = (uint8_t)(y * 2 + (r >> 4 & 15));
				q[2] = (uint8_t)((x ^ y) + (r >> 8 & 15));
			} else {					/* background */
				q[0] = 0xa0, q[1] = 0x40, q[2] = 0x10;
			}
		}
	return p;
}

/* Room for a FramebufferUpdate header, filled in once the count is known. */
static void
start_msg(struct rfb__buf *b)
{
	b->len = 0;
	assert_int_equal(rfb__buf_reserve(b, 4), 0);
	b->len = 4;
}

/* Every pixel covered once; lossless areas exact, JPEG ones close. */
static void
check_decoded(const struct tdec *d, const uint8_t *img, int x0, int y0, int w, int h,
	      int max_mean_err)
{
	long err = 0, lossy = 0;

	for (int y = 0; y < d->h; y++)
		for (int x = 0; x < d->w; x++) {
			size_t i = (size_t)y * d->w + x;
			bool in = x >= x0 && x < x0 + w && y >= y0 && y < y0 + h;

			if (d->hits[i] != (in ? 1 : 0))
				fail_msg("pixel %d,%d covered %d times", x, y, d->hits[i]);
			if (!in)
				continue;
			for (int c = 0; c < 3; c++) {
				int dv = abs((int)d->fb[i * 4 + c] - (int)img[i * 4 + c]);

				if (!d->lossy[i] && dv != 0)
					fail_msg("lossless pixel %d,%d channel %d: %d, want %d", x, y, c,
						 d->fb[i * 4 + c], img[i * 4 + c]);
				err += dv;
			}
			lossy += d->lossy[i];
		}
	if (lossy > 0 && err / (lossy * 3) > max_mean_err)
		fail_msg("JPEG areas: mean error %ld, more than %d", err / (lossy * 3), max_mean_err);
}

static void
test_tight_encode_decodes(void **state)
{
	const int w = 800, h = 330;
	uint8_t *img = desktop(w, h, 1);
	struct rfb__tight *t = rfb__tight_new();
	struct rfb__buf b = { 0 };
	static const struct rfb__tight_opts o = { .jpeg_quality = 92, .subsamp = TJSAMP_444 };
	static const struct rfb_rect cases[] = {
		{ 0, 0, 800, 330 }, { 0, 0, 1, 1 }, { 99, 39, 203, 163 }, { 3, 210, 797, 100 },
		{ 450, 50, 7, 3 }, { 0, 290, 800, 40 },
	};

	(void)state;
	assert_non_null(t);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct rfb_rect *r = &cases[c];
		struct tdec d;
		int n;

		start_msg(&b);
		n = rfb__tight_encode(t, img, w * 4, r->x, r->y, r->w, r->h, &o, &b);
		assert_true(n > 0);
		b.p[0] = 0, b.p[1] = 0, b.p[2] = (uint8_t)(n >> 8), b.p[3] = (uint8_t)n;
		tdec_init(&d, w, h);
		assert_int_equal(tdec_update(&d, b.p, b.len), b.len);
		check_decoded(&d, img, r->x, r->y, r->w, r->h, 4);
		if (c == 0) {
			/* Each kind of content took its path. */
			assert_true(d.fill_rects > 0);
			assert_true(d.palette_rects > 0);
			assert_true(d.jpeg_rects > 0);
		}
		tdec_free(&d);
	}
	rfb__buf_free(&b);
	rfb__tight_free(t);
	free(img);
}

/* Band heights, and a rectangle split at band boundaries encodes to the
 * same bytes as whole (rfb/update.c spreads bands over threads). */
static void
test_tight_bands(void **state)
{
	const int w = 800, h = 330;
	uint8_t *img = desktop(w, h, 4);
	struct rfb__tight *t = rfb__tight_new();
	struct rfb__buf a = { 0 }, b = { 0 };
	static const struct rfb__tight_opts o = { .jpeg_quality = 92, .subsamp = TJSAMP_444 };
	static const struct rfb_rect cases[] = { { 96, 0, 32, 330 }, { 0, 3, 800, 300 }, { 390, 10, 100, 320 } };
	int na, nb;

	(void)state;
	assert_int_equal(rfb__tight_band_h(1920), 64);
	assert_int_equal(rfb__tight_band_h(512), 64);
	assert_int_equal(rfb__tight_band_h(256), 128);
	assert_int_equal(rfb__tight_band_h(100), 320);
	assert_int_equal(rfb__tight_band_h(32), 512);
	assert_int_equal(rfb__tight_band_h(1), 512);
	assert_non_null(t);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct rfb_rect *r = &cases[c];
		int bh = rfb__tight_band_h(r->w);

		start_msg(&a);
		start_msg(&b);
		na = rfb__tight_encode(t, img, w * 4, r->x, r->y, r->w, r->h, &o, &a);
		nb = 0;
		for (int y = r->y; y < r->y + r->h; y += bh)
			nb += rfb__tight_encode(t, img, w * 4, r->x, y, r->w,
						r->y + r->h - y < bh ? r->y + r->h - y : bh, &o, &b);
		assert_true(na > 0);
		assert_int_equal(na, nb);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.p, b.p, a.len);
	}
	rfb__buf_free(&a), rfb__buf_free(&b);
	rfb__tight_free(t);
	free(img);
}

/* The bytes do not depend on what was encoded before: one viewer's update
 * decodes right for another whose zlib streams saw something else. */
static void
test_tight_bytes_are_shareable(void **state)
{
	const int w = 800, h = 330;
	uint8_t *a = desktop(w, h, 1), *bimg = desktop(w, h, 2);
	struct rfb__tight *t1 = rfb__tight_new(), *t2 = rfb__tight_new();
	struct rfb__buf x = { 0 }, y = { 0 };
	static const struct rfb__tight_opts o = { .jpeg_quality = 80, .subsamp = TJSAMP_420 };
	struct tdec d;
	int n;

	(void)state;
	assert_true(t1 && t2);
	/* t1 encodes another picture first; t2 starts fresh. */
	start_msg(&x);
	assert_true(rfb__tight_encode(t1, bimg, w * 4, 0, 0, w, h, &o, &x) > 0);
	start_msg(&x);
	start_msg(&y);
	n = rfb__tight_encode(t1, a, w * 4, 0, 0, w, h, &o, &x);
	assert_int_equal(rfb__tight_encode(t2, a, w * 4, 0, 0, w, h, &o, &y), n);
	assert_int_equal(x.len, y.len);
	assert_memory_equal(x.p + 4, y.p + 4, x.len - 4);
	/* A viewer that decoded another update first decodes this one too. */
	tdec_init(&d, w, h);
	x.p[0] = 0, x.p[1] = 0, x.p[2] = (uint8_t)(n >> 8), x.p[3] = (uint8_t)n;
	{
		struct rfb__buf pre = { 0 };
		int m;

		start_msg(&pre);
		m = rfb__tight_encode(t2, bimg, w * 4, 0, 0, w, h, &o, &pre);
		pre.p[0] = 0, pre.p[1] = 0, pre.p[2] = (uint8_t)(m >> 8), pre.p[3] = (uint8_t)m;
		tdec_update(&d, pre.p, pre.len);
		memset(d.hits, 0, (size_t)w * h * sizeof(int));
		memset(d.lossy, 0, (size_t)w * h);
		rfb__buf_free(&pre);
	}
	assert_int_equal(tdec_update(&d, x.p, x.len), x.len);
	/* Quality 80 with 4:2:0 on hard-edged colour grain: chroma blurs. */
	check_decoded(&d, a, 0, 0, w, h, 12);
	tdec_free(&d);
	rfb__buf_free(&x), rfb__buf_free(&y);
	rfb__tight_free(t1), rfb__tight_free(t2);
	free(a), free(bimg);
}

/* rfb__upd_get: the same request gets the same bytes without encoding
 * again, another request its own, and after a forget a fresh encoding. */
static void
test_shared_updates(void **state)
{
	const int w = 1024, h = 400;
	uint8_t *img = desktop(w, h, 3);
	struct rfb__upd *u = rfb__upd_new(3);
	static const struct rfb__tight_opts q8 = { .jpeg_quality = 92, .subsamp = TJSAMP_444 };
	static const struct rfb__tight_opts q6 = { .jpeg_quality = 79, .subsamp = TJSAMP_422 };
	const struct rfb_rect full = { 0, 0, w, h };
	const struct rfb_rect two[2] = { { 0, 0, 64, 32 }, { 128, 224, 512, 70 } };
	const uint8_t *m1, *m2, *m3;
	size_t l1, l2, l3, raw;
	struct tdec d;

	(void)state;
	assert_non_null(u);
	assert_int_equal(rfb__upd_get(u, img, w * 4, &full, 1, &q8, false, &m1, &l1, &raw), 0);
	assert_int_equal(raw, (size_t)w * h * 4);
	tdec_init(&d, w, h);
	assert_int_equal(tdec_update(&d, m1, l1), l1);
	check_decoded(&d, img, 0, 0, w, h, 4);
	tdec_free(&d);
	assert_int_equal(rfb__upd_get(u, img, w * 4, &full, 1, &q8, false, &m2, &l2, &raw), 0);
	assert_ptr_equal(m1, m2);
	assert_int_equal(l1, l2);
	/* Other settings, other rectangles: encoded on their own. */
	assert_int_equal(rfb__upd_get(u, img, w * 4, &full, 1, &q6, false, &m3, &l3, &raw), 0);
	assert_ptr_not_equal(m3, m1);
	assert_int_equal(rfb__upd_get(u, img, w * 4, two, 2, &q8, false, &m3, &l3, &raw), 0);
	tdec_init(&d, w, h);
	assert_int_equal(tdec_update(&d, m3, l3), l3);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			bool in = (x < 64 && y < 32) || (x >= 128 && x < 640 && y >= 224 && y < 294);

			assert_int_equal(d.hits[y * w + x], in);
		}
	tdec_free(&d);
	/* A changed picture after forget: the new bytes show it. */
	memset(img, 0x33, (size_t)w * 4 * 10);
	rfb__upd_forget(u);
	assert_int_equal(rfb__upd_get(u, img, w * 4, &full, 1, &q8, false, &m2, &l2, &raw), 0);
	tdec_init(&d, w, h);
	assert_int_equal(tdec_update(&d, m2, l2), l2);
	check_decoded(&d, img, 0, 0, w, h, 4);
	tdec_free(&d);
	rfb__upd_free(u);
	free(img);
}

struct pool_count {
	atomic_int hits[1000];
	atomic_int threads_seen[8];
};

static void
count_job(void *ctx, int job, int thread)
{
	struct pool_count *c = ctx;

	atomic_fetch_add(&c->hits[job], 1);
	atomic_fetch_add(&c->threads_seen[thread], 1);
}

static void
test_pool_runs_every_job_once(void **state)
{
	(void)state;
	for (int threads = 1; threads <= 4; threads++) {
		struct rfb__pool *p = rfb__pool_new(threads);
		static struct pool_count c;

		assert_non_null(p);
		assert_int_equal(rfb__pool_threads(p), threads);
		for (int round = 0; round < 50; round++) {
			int n = round * 20 % 1000;

			memset(&c, 0, sizeof(c));
			rfb__pool_run(p, n, count_job, &c);
			for (int j = 0; j < 1000; j++)
				assert_int_equal(atomic_load(&c.hits[j]), j < n);
			for (int t = threads; t < 8; t++)
				assert_int_equal(atomic_load(&c.threads_seen[t]), 0);
		}
		rfb__pool_free(p);
	}
}

/* ---- the server end to end, with the decoder above as the viewer ---- */

static int in_key(void *c, int v, uint32_t k, bool d) { (void)c, (void)v, (void)k, (void)d; return 0; }
static int in_xt(void *c, int v, uint32_t x, uint32_t k, bool d) { (void)c, (void)v, (void)x, (void)k, (void)d; return 0; }
static int in_ptr(void *c, int v, int x, int y, int w, int h, uint32_t b) { (void)c, (void)v, (void)x, (void)y, (void)w, (void)h, (void)b; return 0; }

static uint64_t
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
pump(struct rfb_server *s, int ms)
{
	struct pollfd pfd[16];
	int n = rfb_pollfds(s, pfd, 16);

	poll(pfd, (nfds_t)n, ms);
	rfb_process(s);
}

/* Reads exactly n bytes from a viewer socket, running the server meanwhile. */
static void
vread(struct rfb_server *s, int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	uint64_t end = ms_now() + 5000;

	while (n > 0) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);

		if (r > 0) {
			p += r, n -= (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			fail_msg("viewer: recv: %s", r == 0 ? "closed" : strerror(errno));
		if (ms_now() > end)
			fail_msg("viewer: %zu bytes missing after 5 s", n);
		pump(s, 2);
	}
}

/* Reads an update: waits up to 10 s for its first byte, then takes what
 * arrives until the socket stays quiet for 150 ms (the server writes a
 * whole update with one write into an 8 MiB socket buffer). */
static size_t
vread_all(struct rfb_server *s, int fd, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	uint64_t quiet = 0, end = ms_now() + 10000;

	while (len == 0 ? ms_now() < end : ms_now() < quiet) {
		ssize_t r = recv(fd, buf + len, cap - len, MSG_DONTWAIT);

		if (r > 0) {
			len += (size_t)r;
			quiet = ms_now() + 150;
			assert_true(len < cap);
			continue;
		}
		pump(s, 2);
	}
	return len;
}

static void
vsend(int fd, const void *buf, size_t n)
{
	assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
vrequest(int fd, bool incremental, int w, int h)
{
	uint8_t m[10] = { 3, incremental, 0, 0, 0, 0, (uint8_t)(w >> 8), (uint8_t)w,
			  (uint8_t)(h >> 8), (uint8_t)h };

	vsend(fd, m, sizeof(m));
}

/* Connects and sets up a viewer of Tight, JPEG quality level 8, in a
 * 32-bit format with red in the low byte (noVNC's). */
static int
viewer_connect(struct rfb_server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)rfb_port(s)) };
	static const uint8_t setpf[20] = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255,
					   0, 8, 16, 0, 0, 0 };
	static const uint8_t setenc[16] = { 2, 0, 0, 3, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xe8,
					    0xff, 0xff, 0xff, 0x01 };
	uint8_t buf[64];
	uint32_t name;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	vread(s, fd, buf, 12);
	assert_memory_equal(buf, "RFB 003.008\n", 12);
	vsend(fd, "RFB 003.008\n", 12);
	vread(s, fd, buf, 1);
	assert_true(buf[0] > 0 && buf[0] < 16);
	vread(s, fd, buf + 1, buf[0]);
	assert_non_null(memchr(buf + 1, 1, buf[0]));
	vsend(fd, "\x01", 1);
	vread(s, fd, buf, 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	vsend(fd, "\x01", 1);
	vread(s, fd, buf, 24);
	name = (uint32_t)buf[20] << 24 | (uint32_t)buf[21] << 16 | (uint32_t)buf[22] << 8 | buf[23];
	assert_true(name < sizeof(buf));
	vread(s, fd, buf, name);
	vsend(fd, setpf, sizeof(setpf));
	vsend(fd, setenc, sizeof(setenc));
	return fd;
}

/* Decoded picture equals img: exactly where it was sent losslessly. */
static void
check_picture(const struct tdec *d, const uint8_t *img)
{
	for (size_t i = 0; i < (size_t)d->w * d->h; i++)
		for (int c = 0; c < 3; c++) {
			int dv = abs((int)d->fb[i * 4 + c] - (int)img[i * 4 + c]);

			if (dv > (d->lossy[i] ? 40 : 0))
				fail_msg("pixel %zu channel %d: %d, want %d (%s)", i, c, d->fb[i * 4 + c],
					 img[i * 4 + c], d->lossy[i] ? "JPEG" : "lossless");
		}
}

static void
test_server_shared_tight(void **state)
{
	/* Big enough for rfb_frame to diff in bands on the encoder threads. */
	const int w = 1024, h = 600;
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr };
	struct rfb_options o = { .listen = "127.0.0.1:0", .width = w, .height = h,
				 .encoder_threads = 3 };
	uint8_t *img = desktop(w, h, 5), *other = desktop(w, h, 6);
	size_t cap = (size_t)w * h * 8, l1, l2;
	uint8_t *m1 = calloc(1, cap), *m2 = calloc(1, cap);
	struct cap_frame f = { .fmt = CAP_FMT_XRGB32, .width = w, .height = h, .stride = w * 4,
			       .size = (size_t)w * h * 4, .data = img, .seq = 1 };
	struct rfb_server *s;
	struct tdec d1, d2;
	int err, v1, v2;

	(void)state;
	assert_true(m1 && m2);
	assert_non_null(s = rfb_new(&o, &in, &err));
	assert_true(rfb_frame(s, &f) > 0);
	v1 = viewer_connect(s);
	vrequest(v1, false, w, h);
	tdec_init(&d1, w, h);
	l1 = vread_all(s, v1, m1, cap);
	assert_int_equal(tdec_update(&d1, m1, l1), l1);
	check_picture(&d1, img);
	assert_true(d1.palette_rects > 0 && d1.jpeg_rects > 0 && d1.fill_rects > 0);

	/* A second viewer, then both ask for what changes next. */
	v2 = viewer_connect(s);
	vrequest(v2, false, w, h);
	tdec_init(&d2, w, h);
	l2 = vread_all(s, v2, m2, cap);
	assert_int_equal(tdec_update(&d2, m2, l2), l2);
	vrequest(v1, true, w, h);
	vrequest(v2, true, w, h);
	pump(s, 20);
	for (int round = 0; round < 3; round++) {
		/* A band and a corner change: colours flipped, and the
		 * photo's grain redrawn. */
		for (int y = 0; y < h; y++) {
			uint8_t *row = img + (size_t)y * w * 4, *src = other + (size_t)y * w * 4;

			if ((y >= 100 + round * 40 && y < 130 + round * 40) || y < 20)
				for (int x = 64 * round; x < 64 * round + 300; x++)
					row[4 * x] ^= 0x5a, row[4 * x + 2] ^= 0xa5;
			if (y >= 250 + round * 10 && y < 260 + round * 10)
				memcpy(row + 500 * 4, src + 500 * 4, 200 * 4);
		}
		f.seq++;
		assert_true(rfb_frame(s, &f) > 0);
		l1 = vread_all(s, v1, m1, cap);
		l2 = vread_all(s, v2, m2, cap);
		assert_true(l1 > 4);
		/* Same region, same settings: the same bytes. */
		assert_int_equal(l1, l2);
		assert_memory_equal(m1, m2, l1);
		memset(d1.hits, 0, (size_t)w * h * sizeof(int));
		memset(d2.hits, 0, (size_t)w * h * sizeof(int));
		assert_int_equal(tdec_update(&d1, m1, l1), l1);
		assert_int_equal(tdec_update(&d2, m2, l2), l2);
		check_picture(&d1, img);
		check_picture(&d2, img);
		vrequest(v1, true, w, h);
		vrequest(v2, true, w, h);
	}
	close(v1);
	close(v2);
	tdec_free(&d1);
	tdec_free(&d2);
	rfb_free(s);
	free(img), free(other), free(m1), free(m2);
}

/* A stable XRGB32 frame is shown in place; frames in other buffers, not
 * stable or of another size take over and the pictures stay right. */
static void
test_server_stable_frames(void **state)
{
	const int w = 320, h = 200;
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr };
	struct rfb_options o = { .listen = "127.0.0.1:0", .width = w, .height = h,
				 .encoder_threads = 2 };
	uint8_t *a = desktop(w, h, 7), *b = desktop(w, h, 8), *c = malloc((size_t)w * h * 4);
	uint8_t *small = desktop(160, 96, 9);
	size_t cap = (size_t)w * h * 8, len;
	uint8_t *m = calloc(1, cap);
	struct cap_frame f = { .fmt = CAP_FMT_XRGB32, .width = w, .height = h, .stride = w * 4,
			       .size = (size_t)w * h * 4, .data = a, .seq = 1, .stable = true };
	struct rfb_server *s;
	struct tdec d;
	const uint8_t *fb;
	int err, v, stride, fw, fh;

	(void)state;
	assert_true(c && m);
	assert_non_null(s = rfb_new(&o, &in, &err));
	assert_int_equal(rfb_frame(s, &f), (w / 32) * ((h + 31) / 32));
	fb = rfb_framebuffer(s, &stride);
	assert_ptr_equal(fb, a);
	assert_int_equal(stride, w * 4);
	v = viewer_connect(s);
	vrequest(v, false, w, h);
	tdec_init(&d, w, h);
	len = vread_all(s, v, m, cap);
	assert_int_equal(tdec_update(&d, m, len), len);
	check_picture(&d, a);

	/* Drawn into between frames, as a source does in cap_grab. */
	a[(size_t)50 * w * 4 + 70 * 4] ^= 0xff;
	f.seq++;
	assert_int_equal(rfb_frame(s, &f), 1);
	assert_ptr_equal(rfb_framebuffer(s, &stride), a);
	vrequest(v, true, w, h);
	len = vread_all(s, v, m, cap);
	assert_int_equal(tdec_update(&d, m, len), len);
	check_picture(&d, a);

	/* Not stable: copied into a framebuffer of the server's own. */
	memcpy(b, a, (size_t)w * h * 4);
	b[(size_t)150 * w * 4 + 300 * 4 + 2] ^= 0x80;
	f.data = b;
	f.stable = false;
	f.seq++;
	assert_true(rfb_frame(s, &f) > 0);
	fb = rfb_framebuffer(s, &stride);
	assert_true(fb != a && fb != b);
	assert_memory_equal(fb, b, (size_t)w * h * 4);
	vrequest(v, true, w, h);
	len = vread_all(s, v, m, cap);
	assert_int_equal(tdec_update(&d, m, len), len);
	check_picture(&d, b);
	memset(b, 0, (size_t)w * h * 4);	/* the server must not need it any more */

	/* Stable again, in a third buffer: only the tile that differs from
	 * what is shown is sent. */
	memcpy(c, fb, (size_t)w * h * 4);
	c[(size_t)10 * w * 4 + 10 * 4] ^= 0x40;
	f.data = c;
	f.stable = true;
	f.seq++;
	assert_int_equal(rfb_frame(s, &f), 1);
	assert_ptr_equal(rfb_framebuffer(s, &stride), c);
	vrequest(v, true, w, h);
	len = vread_all(s, v, m, cap);
	assert_int_equal(tdec_update(&d, m, len), len);
	check_picture(&d, c);

	/* A stable frame with padded lines is copied. */
	{
		uint8_t *pad = calloc((size_t)h, (size_t)w * 4 + 64);
		struct cap_frame pf = f;

		assert_non_null(pad);
		for (int y = 0; y < h; y++)
			memcpy(pad + (size_t)y * (w * 4 + 64), c + (size_t)y * w * 4, (size_t)w * 4);
		pf.data = pad;
		pf.stride = w * 4 + 64;
		pf.size = (size_t)h * (w * 4 + 64);
		assert_true(rfb_frame(s, &pf) >= 0);
		fb = rfb_framebuffer(s, &stride);
		assert_true(fb != pad && fb != c);
		assert_memory_equal(fb, c, (size_t)w * h * 4);
		free(pad);
	}

	/* Another size, stable: shown in place at once. */
	f = (struct cap_frame){ .fmt = CAP_FMT_XRGB32, .width = 160, .height = 96, .stride = 640,
				.size = 640 * 96, .data = small, .seq = f.seq + 1, .stable = true };
	assert_true(rfb_frame(s, &f) > 0);
	rfb_size(s, &fw, &fh);
	assert_int_equal(fw, 160);
	assert_int_equal(fh, 96);
	assert_ptr_equal(rfb_framebuffer(s, &stride), small);
	assert_int_equal(stride, 640);
	pump(s, 20);
	close(v);
	tdec_free(&d);
	rfb_free(s);
	free(a), free(b), free(c), free(small), free(m);
}

/* rfb_frame diffs a big frame in bands on the encoder threads: the same
 * framebuffer and changed-tile counts as one thread. */
static void
test_parallel_diff_matches(void **state)
{
	const int w = 1280, h = 720;
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr };
	struct rfb_options o1 = { .listen = "127.0.0.1:0", .width = w, .height = h, .encoder_threads = 1 };
	struct rfb_options o3 = { .listen = "127.0.0.1:0", .width = w, .height = h, .encoder_threads = 3 };
	struct rfb_server *s1, *s3;
	struct img im;
	int err;

	(void)state;
	assert_non_null(s1 = rfb_new(&o1, &in, &err));
	assert_non_null(s3 = rfb_new(&o3, &in, &err));
	img_init(&im, CAP_FMT_YUYV, w, h, 0);
	for (int round = 0; round < 6; round++) {
		const uint8_t *f1, *f3;
		int st1, st3, n1, n3;

		/* Round 0 everything, then a few scattered tiles, then nothing. */
		if (round > 0 && round < 5)
			for (int k = 0; k < 40; k++) {
				int x = (k * 397 + round * 61) % (w - 8), y = (k * 211 + round * 37) % h;

				im.buf[(size_t)y * im.f.stride + (size_t)x * 2] ^= 0x40;
			}
		n1 = rfb_frame(s1, &im.f);
		n3 = rfb_frame(s3, &im.f);
		assert_int_equal(n1, n3);
		if (round == 0)
			assert_int_equal(n1, (w / 32) * ((h + 31) / 32));
		else if (round == 5)
			assert_int_equal(n1, 0);
		else
			assert_true(n1 > 0);
		f1 = rfb_framebuffer(s1, &st1);
		f3 = rfb_framebuffer(s3, &st3);
		assert_int_equal(st1, st3);
		assert_memory_equal(f1, f3, (size_t)st1 * h);
	}
	img_free(&im);
	rfb_free(s1);
	rfb_free(s3);
}

/* rfb/'s edge: the RFB mask and QEMU's LED byte are its own; what crosses
 * to the rest of webkvm is common/input.h's bits. */
static void
test_input_bits(void **state)
{
	static const struct {
		uint32_t rfb, wk;
	} b[] = {
		{ 0x001, WK_BTN_LEFT }, { 0x002, WK_BTN_MIDDLE }, { 0x004, WK_BTN_RIGHT },
		{ 0x008, WK_WHEEL_UP }, { 0x010, WK_WHEEL_DOWN }, { 0x020, WK_WHEEL_LEFT },
		{ 0x040, WK_WHEEL_RIGHT }, { 0x080, WK_BTN_BACK }, { 0x100, WK_BTN_FORWARD },
		{ 0x185, WK_BTN_LEFT | WK_BTN_RIGHT | WK_BTN_BACK | WK_BTN_FORWARD },
		{ 0x000, 0 },
		{ 0xfe00, 0 },		/* bits RFB does not define: nothing */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		assert_int_equal(rfb_buttons_to_wk(b[i].rfb), b[i].wk);
	/* QEMU LED state: bit0 scroll, bit1 num, bit2 caps. */
	assert_int_equal(rfb_leds_to_qemu(WK_LED_SCROLL), 1);
	assert_int_equal(rfb_leds_to_qemu(WK_LED_NUM), 2);
	assert_int_equal(rfb_leds_to_qemu(WK_LED_CAPS), 4);
	assert_int_equal(rfb_leds_to_qemu(WK_LED_CAPS | WK_LED_NUM | WK_LED_SCROLL), 7);
	assert_int_equal(rfb_leds_to_qemu(0), 0);
}

/* ---- H.264 encoder (rfb/h264.c) ---- */

/* NAL unit types in an Annex-B stream, in order (at most max). */
static int
nal_types(const uint8_t *p, size_t len, int *types, int max)
{
	int n = 0;

	for (size_t i = 0; i + 3 < len && n < max; i++)
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
			types[n++] = p[i + 3] & 0x1f;
			i += 3;
		}
	return n;
}

static bool
has_nal(const int *types, int n, int type)
{
	for (int i = 0; i < n; i++)
		if (types[i] == type)
			return true;
	return false;
}

static void
test_h264_encoder(void **state)
{
	enum { W = 320, H = 240 };
	struct rfb_h264_params p = { .width = W, .height = H, .fps = 30, .kbps = 2000, .threads = 1 };
	struct rfb_h264_frame f;
	struct rfb_h264 *e;
	uint8_t *fb = malloc(W * H * 4);
	int types[64], n, err;
	size_t idr_len;

	(void)state;
	assert_non_null(fb);
	for (int i = 0; i < W * H * 4; i++)
		fb[i] = (uint8_t)(i * 7 + i / (W * 4) * 13);
	/* Odd sizes and out-of-range settings are refused, with a reason. */
	p.width = W + 1;
	assert_null(rfb_h264_new(&p, &err));
	assert_int_equal(err, RFB_H264_EINVAL);
	p.width = W;
	p.kbps = RFB_H264_MAX_KBPS + 1;
	assert_null(rfb_h264_new(&p, &err));
	assert_int_equal(err, RFB_H264_EINVAL);
	p.kbps = 2000;
	e = rfb_h264_new(&p, &err);
	assert_non_null(e);
	assert_non_null(strstr(rfb_h264_describe(e), "x264"));

	/* The first frame asked for as an IDR: SPS, PPS, then the IDR slice. */
	rfb_h264_load(e, fb, W * 4);
	assert_int_equal(rfb_h264_encode(e, true, &f), 0);
	assert_true(f.idr);
	n = nal_types(f.data, f.len, types, 64);
	assert_true(n >= 3);
	assert_int_equal(types[0], 7);
	assert_true(has_nal(types, n, 8));
	assert_true(has_nal(types, n, 5));
	idr_len = f.len;

	/* The same picture again: a P-frame of skipped blocks, far smaller,
	 * no IDR. */
	rfb_h264_load(e, fb, W * 4);
	assert_int_equal(rfb_h264_encode(e, false, &f), 0);
	assert_false(f.idr);
	n = nal_types(f.data, f.len, types, 64);
	assert_false(has_nal(types, n, 5));
	assert_true(has_nal(types, n, 1));
	assert_true(f.len * 20 < idr_len);

	/* A change without asking: still no IDR (keyint is infinite). */
	memset(fb, 0xff, W * 4 * 16);
	for (int i = 0; i < 40; i++) {
		rfb_h264_load(e, fb, W * 4);
		assert_int_equal(rfb_h264_encode(e, false, &f), 0);
		assert_false(f.idr);
	}
	/* Asked for: an IDR with its SPS again. */
	rfb_h264_load(e, fb, W * 4);
	assert_int_equal(rfb_h264_encode(e, true, &f), 0);
	assert_true(f.idr);
	n = nal_types(f.data, f.len, types, 64);
	assert_int_equal(types[0], 7);
	assert_true(has_nal(types, n, 5));
	rfb_h264_free(e);

	/* 4:4:4 for viewers that decode it: High 4:4:4 Predictive in the
	 * SPS (profile_idc 244, right after the NAL header). */
	p.chroma444 = true;
	e = rfb_h264_new(&p, &err);
	assert_non_null(e);
	assert_non_null(strstr(rfb_h264_describe(e), "4:4:4"));
	rfb_h264_load(e, fb, W * 4);
	assert_int_equal(rfb_h264_encode(e, true, &f), 0);
	assert_true(f.idr);
	assert_true(f.len > 5 && f.data[0] == 0 && f.data[1] == 0);
	for (size_t i = 0; i + 4 < f.len; i++)
		if (f.data[i] == 0 && f.data[i + 1] == 0 && f.data[i + 2] == 1) {
			assert_int_equal(f.data[i + 3] & 0x1f, 7);
			assert_int_equal(f.data[i + 4], 244);
			break;
		}
	rfb_h264_free(e);
	free(fb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_frame_is_whole),
		cmocka_unit_test(test_hot_bands),
		cmocka_unit_test(test_corners_xrgb),
		cmocka_unit_test(test_corners_yuyv),
		cmocka_unit_test(test_corners_rgb),
		cmocka_unit_test(test_converts_changed_only),
		cmocka_unit_test(test_merge_and_resize),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_compact_len),
		cmocka_unit_test(test_rect_header),
		cmocka_unit_test(test_tight_encode_decodes),
		cmocka_unit_test(test_tight_bytes_are_shareable),
		cmocka_unit_test(test_tight_bands),
		cmocka_unit_test(test_shared_updates),
		cmocka_unit_test(test_pool_runs_every_job_once),
		cmocka_unit_test(test_server_shared_tight),
		cmocka_unit_test(test_server_stable_frames),
		cmocka_unit_test(test_parallel_diff_matches),
		cmocka_unit_test(test_input_bits),
		cmocka_unit_test(test_h264_encoder),
	};

	return cmocka_run_group_tests_name("rfb", tests, NULL, NULL);
}
