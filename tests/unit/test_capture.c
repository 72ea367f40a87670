/* Unit tests for capture/: formats, conversion against reference formulas,
 * JPEG decode and skip, the file/pattern/callback sources, and the V4L2
 * source's decisions (format choice, DV timings, errno mapping, state
 * machine, EDID) plus its behaviour with no device at all. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <turbojpeg.h>

#include "capture/capture.h"
#include "capture/internal.h"
#include "capture/v4l2_policy.h"
#include "capture/v4l2_sys.h"

/* ---- helpers ---- */

static char logbuf[16384];
static size_t loglen;
static int log_lines;

static void
log_hook(int level, const char *line)
{
	size_t n = strlen(line);

	/* Debug lines are formatted (and checked by the sanitizers) but not
	 * counted: the tests count what a user sees. */
	if (level <= WK_LOG_INFO)
		log_lines++;
	if (loglen + n + 2 < sizeof(logbuf)) {
		memcpy(logbuf + loglen, line, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

static void
log_reset(void)
{
	loglen = 0;
	logbuf[0] = '\0';
	log_lines = 0;
}

static int
setup_log(void **state)
{
	(void)state;
	wk_log_set_sink(log_hook);
	wk_log_set_level(WK_LOG_DEBUG);
	log_reset();
	return 0;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Grabs the next frame of a time-paced source, waiting as it asks. */
static int
grab_next(struct cap_source *src, struct cap_frame *f)
{
	for (int i = 0; i < 200; i++) {
		int rc = cap_grab(src, f);

		if (rc != CAP_EAGAIN)
			return rc;
		sleep_ms(cap_wait_ms(src) > 0 ? cap_wait_ms(src) : 1);
	}
	return CAP_EAGAIN;
}

static uint32_t rng_state = 12345;

static uint8_t
rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (uint8_t)(rng_state >> 16);
}

static char tmpdir[64];

static int
setup_tmp(void **state)
{
	setup_log(state);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_capture.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* ---- formats ---- */

static void
test_formats(void **state)
{
	static const struct {
		const char *in;
		enum cap_pixfmt fmt;
		int bpp;
	} cases[] = {
		{ "yuyv", CAP_FMT_YUYV, 2 }, { "UYVY", CAP_FMT_UYVY, 2 },
		{ "rgb24", CAP_FMT_RGB24, 3 }, { "Bgr24", CAP_FMT_BGR24, 3 },
		{ "rgb565", CAP_FMT_RGB565, 2 }, { "XRGB32", CAP_FMT_XRGB32, 4 },
		{ "mjpeg", CAP_FMT_MJPEG, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum cap_pixfmt f = cap_fmt_parse(cases[i].in);

		assert_int_equal(f, cases[i].fmt);
		assert_int_equal(cap_fmt_bpp(f), cases[i].bpp);
		/* the name parses back */
		assert_int_equal(cap_fmt_parse(cap_fmt_name(f)), f);
	}
	assert_string_equal(cap_fmt_name(CAP_FMT_YUYV), "YUYV");
	assert_string_equal(cap_fmt_name(CAP_FMT_MJPEG), "MJPEG");
	assert_int_equal(cap_fmt_parse("nv12"), CAP_FMT_NONE);
	assert_int_equal(cap_fmt_parse(""), CAP_FMT_NONE);
	assert_int_equal(cap_fmt_parse("yuyv2"), CAP_FMT_NONE);
	assert_int_equal(cap_fmt_parse(NULL), CAP_FMT_NONE);
	assert_int_equal(cap_fmt_bpp(CAP_FMT_NONE), 0);

	{
		enum cap_pixfmt l[4] = { CAP_FMT_RGB24, CAP_FMT_RGB24, CAP_FMT_RGB24, CAP_FMT_RGB24 };
		char msg[160], big[200];

		assert_int_equal(cap_fmt_parse_list(" mjpeg ,UYVY", l, 4, msg, sizeof(msg)), 2);
		assert_int_equal(l[0], CAP_FMT_MJPEG);
		assert_int_equal(l[1], CAP_FMT_UYVY);
		assert_int_equal(l[2], CAP_FMT_NONE);
		assert_int_equal(l[3], CAP_FMT_NONE);
		assert_int_equal(cap_fmt_parse_list(",,", l, 4, msg, sizeof(msg)), 0);
		assert_int_equal(l[0], CAP_FMT_NONE);
		assert_int_equal(cap_fmt_parse_list("yuyv, h264", l, 4, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "unknown pixel format \"h264\""));
		assert_int_equal(cap_fmt_parse_list("yuyv,uyvy,rgb24,bgr24", l, 4, msg, sizeof(msg)), -1);
		assert_string_equal(msg, "more than 3 formats");
		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(cap_fmt_parse_list(big, l, 4, msg, sizeof(msg)), -1);
		assert_string_equal(msg, "list too long");
	}

	assert_string_equal(cap_state_name(CAP_STATE_NO_SIGNAL), "no signal");
	assert_string_equal(cap_state_name(CAP_STATE_NO_DEVICE), "no device");
	for (int e = CAP_EAGAIN; e <= CAP_OK; e++)
		for (int e2 = e + 1; e2 <= CAP_OK; e2++)
			assert_string_not_equal(cap_strerror(e), cap_strerror(e2));
}

/* ---- conversion ---- */

static int
clamp255(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* BT.601 limited range, the textbook integer form. */
static void
ref_yuv(int y, int u, int v, int rgb[3])
{
	int c = y - 16, d = u - 128, e = v - 128;

	rgb[0] = clamp255((298 * c + 409 * e + 128) >> 8);
	rgb[1] = clamp255((298 * c - 100 * d - 208 * e + 128) >> 8);
	rgb[2] = clamp255((298 * c + 516 * d + 128) >> 8);
}

/* The reference R, G, B of pixel (x, y) of a packed image. */
static void
ref_pixel(enum cap_pixfmt fmt, const uint8_t *img, int stride, int x, int y, int rgb[3])
{
	const uint8_t *row = img + (size_t)y * (size_t)stride;
	const uint8_t *p;
	uint16_t w;

	switch (fmt) {
	case CAP_FMT_YUYV:
		p = row + (x / 2) * 4;
		ref_yuv(p[(x & 1) ? 2 : 0], p[1], p[3], rgb);
		return;
	case CAP_FMT_UYVY:
		p = row + (x / 2) * 4;
		ref_yuv(p[(x & 1) ? 3 : 1], p[0], p[2], rgb);
		return;
	case CAP_FMT_RGB24:
		p = row + x * 3;
		rgb[0] = p[0], rgb[1] = p[1], rgb[2] = p[2];
		return;
	case CAP_FMT_BGR24:
		p = row + x * 3;
		rgb[0] = p[2], rgb[1] = p[1], rgb[2] = p[0];
		return;
	case CAP_FMT_RGB565:
		p = row + x * 2;
		w = (uint16_t)(p[0] | p[1] << 8);
		rgb[0] = ((w >> 11) & 0x1f) << 3 | ((w >> 11) & 0x1f) >> 2;
		rgb[1] = ((w >> 5) & 0x3f) << 2 | ((w >> 5) & 0x3f) >> 4;
		rgb[2] = (w & 0x1f) << 3 | (w & 0x1f) >> 2;
		return;
	case CAP_FMT_XRGB32:
		p = row + x * 4;
		rgb[0] = p[2], rgb[1] = p[1], rgb[2] = p[0];
		return;
	default:
		fail_msg("no reference for %s", cap_fmt_name(fmt));
	}
}

static int
src_row_bytes(enum cap_pixfmt fmt, int w)
{
	if (fmt == CAP_FMT_YUYV || fmt == CAP_FMT_UYVY)
		return (w + 1) / 2 * 4;
	return w * cap_fmt_bpp(fmt);
}

/* Converts the (rx, ry, rw, rh) part of a random w×h image with padded
 * strides, and compares every pixel with the reference; bytes outside the
 * rectangle in dst must stay untouched. */
static void
check_convert(enum cap_pixfmt fmt, int w, int h, int rx, int ry, int rw, int rh, int tol)
{
	int sstride = src_row_bytes(fmt, w) + 12;	/* stride ≠ width, multiple of 4 */
	int dstride = w * 4 + 20;
	uint8_t *src = malloc((size_t)sstride * h);
	uint8_t *dst = malloc((size_t)dstride * h);
	int bpp = cap_fmt_bpp(fmt);
	int worst = 0;

	assert_non_null(src);
	assert_non_null(dst);
	for (int i = 0; i < sstride * h; i++)
		src[i] = rnd();
	memset(dst, 0xa5, (size_t)dstride * h);

	assert_int_equal(cap_convert_rect(fmt, src + (size_t)ry * sstride + (size_t)rx * bpp,
					  sstride, dst + (size_t)ry * dstride + (size_t)rx * 4,
					  dstride, rw, rh), 0);
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			const uint8_t *d = dst + (size_t)y * dstride + (size_t)x * 4;
			int rgb[3];

			if (x < rx || x >= rx + rw || y < ry || y >= ry + rh) {
				if (d[0] != 0xa5 || d[1] != 0xa5 || d[2] != 0xa5 || d[3] != 0xa5)
					fail_msg("%s: pixel %d,%d outside the rect was written",
						 cap_fmt_name(fmt), x, y);
				continue;
			}
			ref_pixel(fmt, src, sstride, x, y, rgb);
			for (int c = 0; c < 3; c++) {
				int diff = abs(rgb[c] - d[2 - c]);

				if (diff > worst)
					worst = diff;
				if (diff > tol)
					fail_msg("%s %dx%d: pixel %d,%d channel %d is %d, expected %d",
						 cap_fmt_name(fmt), w, h, x, y, c, d[2 - c], rgb[c]);
			}
			if (fmt != CAP_FMT_XRGB32 && d[3] != 0xff)
				fail_msg("%s: X byte %d at %d,%d", cap_fmt_name(fmt), d[3], x, y);
		}
		/* the padding after each line stays untouched */
		for (int i = w * 4; i < dstride; i++)
			assert_int_equal(dst[(size_t)y * dstride + i], 0xa5);
	}
	free(src);
	free(dst);
}

static void
test_convert_formats(void **state)
{
	static const struct {
		enum cap_pixfmt fmt;
		int tol;
	} fmts[] = {
		{ CAP_FMT_YUYV, 2 }, { CAP_FMT_UYVY, 2 }, { CAP_FMT_RGB24, 0 },
		{ CAP_FMT_BGR24, 0 }, { CAP_FMT_RGB565, 0 }, { CAP_FMT_XRGB32, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		/* whole frames: even, odd width, odd height, wide enough for SIMD */
		check_convert(fmts[i].fmt, 64, 16, 0, 0, 64, 16, fmts[i].tol);
		check_convert(fmts[i].fmt, 37, 11, 0, 0, 37, 11, fmts[i].tol);
		check_convert(fmts[i].fmt, 133, 7, 0, 0, 133, 7, fmts[i].tol);
		check_convert(fmts[i].fmt, 1, 1, 0, 0, 1, 1, fmts[i].tol);
		/* a tile inside a frame, at an even x, odd size */
		check_convert(fmts[i].fmt, 100, 40, 32, 5, 33, 17, fmts[i].tol);
	}
}

static void
test_convert_bad_args(void **state)
{
	uint8_t src[64 * 4] __attribute__((aligned(4)));
	uint8_t dst[64 * 4];

	(void)state;
	memset(src, 0x80, sizeof(src));
	/* odd x in 4:2:2: the pointer is not on a pixel pair */
	assert_int_equal(cap_convert_rect(CAP_FMT_YUYV, src + 2, 64, dst, 64, 4, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_UYVY, src + 2, 64, dst, 64, 4, 2), CAP_EINVAL);
	/* an even x is fine */
	assert_int_equal(cap_convert_rect(CAP_FMT_YUYV, src + 4, 64, dst, 64, 4, 2), 0);
	/* odd x is fine for formats without pairs */
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB565, src + 2, 64, dst, 64, 4, 2), 0);
	/* strides too small, negative sizes, formats that are not packed */
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB24, src, 8, dst, 64, 4, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB24, src, 64, dst, 8, 4, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB24, src, 64, dst, 64, -1, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_MJPEG, src, 64, dst, 64, 4, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_NONE, src, 64, dst, 64, 4, 2), CAP_EINVAL);
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB24, NULL, 64, dst, 64, 4, 2), CAP_EINVAL);
	/* nothing to do is not an error */
	assert_int_equal(cap_convert_rect(CAP_FMT_RGB24, src, 64, dst, 64, 0, 2), 0);
}

/* ---- JPEG ---- */

/* A smooth test picture (JPEG keeps those close) in XRGB32. */
static void
make_picture(uint8_t *img, int w, int h, int phase)
{
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			uint8_t *p = img + ((size_t)y * w + x) * 4;

			p[0] = (uint8_t)(x * 255 / (w - 1));
			p[1] = (uint8_t)(y * 255 / (h - 1));
			p[2] = (uint8_t)((x + y + phase) * 2);
			p[3] = 0;
		}
	}
}

/* Only the old TurboJPEG API with a buffer of our own: libvncserver exports
 * a bundled old copy of these names, and the test links it too (see
 * capture/jpeg.c). */
static uint8_t *
encode(const uint8_t *img, int w, int h, unsigned long *len)
{
	tjhandle tj = tjInitCompress();
	unsigned char *out = malloc(tjBufSize(w, h, TJSAMP_444));

	assert_non_null(tj);
	assert_non_null(out);
	*len = tjBufSize(w, h, TJSAMP_444);
	if (tjCompress2(tj, img, w, w * 4, h, TJPF_BGRX, &out, len, TJSAMP_444, 95,
			TJFLAG_NOREALLOC) < 0)
		fail_msg("tjCompress2: %s", tjGetErrorStr());
	tjDestroy(tj);
	return out;
}

static void
test_jpeg(void **state)
{
	enum { W = 64, H = 48 };
	static uint8_t img[W * H * 4], img2[W * H * 4], out[W * H * 4 + 64];
	struct cap_jpeg *j = cap_jpeg_new();
	unsigned long len, len2;
	uint8_t *jpg, *jpg2, *copy, *bad;
	int w = 0, h = 0, worst = 0, lines;

	(void)state;
	assert_non_null(j);
	make_picture(img, W, H, 0);
	make_picture(img2, W, H, 60);
	jpg = encode(img, W, H, &len);
	jpg2 = encode(img2, W, H, &len2);

	assert_int_equal(cap_jpeg_size(j, jpg, len, &w, &h), 0);
	assert_int_equal(w, W);
	assert_int_equal(h, H);

	/* decoded close to the original, X = 0xff */
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 4, W, H), 1);
	for (int i = 0; i < W * H * 4; i++) {
		if (i % 4 == 3) {
			assert_int_equal(out[i], 0xff);
			continue;
		}
		if (abs(out[i] - img[i]) > worst)
			worst = abs(out[i] - img[i]);
	}
	if (worst > 10)
		fail_msg("JPEG round trip off by %d", worst);

	/* byte-identical (even from another buffer): skipped, nothing written */
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, jpg, len);
	memset(out, 0x11, sizeof(out));
	assert_int_equal(cap_jpeg_decode(j, copy, len, out, W * 4, W, H), 0);
	assert_int_equal(out[0], 0x11);
	assert_int_equal(out[W * H * 4 - 1], 0x11);

	/* a different picture is decoded; then the first one again too */
	assert_int_equal(cap_jpeg_decode(j, jpg2, len2, out, W * 4, W, H), 1);
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 4, W, H), 1);
	assert_int_equal(out[0] == 0x11, 0);

	/* size that does not match */
	assert_int_equal(cap_jpeg_decode(j, jpg2, len2, out, W * 4, W - 2, H), CAP_EFORMAT);
	assert_int_equal(cap_jpeg_decode(j, jpg2, len2, out, W * 4, W, H - 1), CAP_EFORMAT);

	/* corrupt header: tables overwritten, or no SOI at all */
	bad = malloc(len);
	assert_non_null(bad);
	memcpy(bad, jpg, len);
	memset(bad + 2, 0x5a, 40);
	assert_int_equal(cap_jpeg_decode(j, bad, len, out, W * 4, W, H), CAP_EFORMAT);
	assert_non_null(strstr(logbuf, "jpeg:"));
	/* the same bad frame again is not news; a good one is, once */
	lines = log_lines;
	assert_int_equal(cap_jpeg_decode(j, bad, len, out, W * 4, W, H), CAP_EFORMAT);
	assert_int_equal(log_lines, lines);
	assert_int_equal(cap_jpeg_decode(j, jpg2, len2, out, W * 4, W, H), 1);
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 4, W, H), 1);
	assert_int_equal(log_lines, lines + 1);
	assert_non_null(strstr(logbuf, "jpeg: frames decode again"));
	memcpy(bad, jpg, len);
	bad[0] = 0;
	assert_int_equal(cap_jpeg_decode(j, bad, len, out, W * 4, W, H), CAP_EFORMAT);
	assert_int_equal(cap_jpeg_size(j, bad, len, &w, &h), CAP_EFORMAT);

	/* truncated in the middle of the entropy-coded data */
	assert_int_equal(cap_jpeg_decode(j, jpg, len / 2, out, W * 4, W, H), CAP_EFORMAT);
	/* after failures the good one is decoded again, not skipped */
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 4, W, H), 1);
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 4, W, H), 0);

	/* garbage of every kind never crashes */
	for (int round = 0; round < 50; round++) {
		memcpy(bad, jpg, len);
		for (int k = 0; k < 8; k++)
			bad[rnd() % len] = rnd();
		int rc = cap_jpeg_decode(j, bad, len, out, W * 4, W, H);

		assert_true(rc == 1 || rc == 0 || rc == CAP_EFORMAT);
	}
	assert_int_equal(cap_jpeg_decode(j, NULL, 0, out, W * 4, W, H), CAP_EFORMAT);
	assert_int_equal(cap_jpeg_decode(j, jpg, len, out, W * 2, W, H), CAP_EINVAL);

	free(bad);
	free(copy);
	free(jpg);
	free(jpg2);
	cap_jpeg_free(j);
}

/* ---- file source ---- */

/* Equal consecutive frames of a raw file come in one buffer (a still
 * stretch of a replay is still to the daemon); others in their own. */
static void
test_file_raw_still_frames_share(void **state)
{
	enum { W = 4, H = 2, FS = W * H * 3 };
	uint8_t frames[4 * FS];
	struct cap_options opt = { .kind = CAP_SRC_FILE };
	const uint8_t *at[4];
	struct cap_source *src;
	struct cap_frame f;
	char path[256];
	int err;

	(void)state;
	/* A A B A */
	memset(frames, 0x11, sizeof(frames));
	memset(frames + 2 * FS, 0x22, FS);
	write_file("still.rgb", frames, sizeof(frames));
	snprintf(path, sizeof(path), "%s/still.rgb", tmpdir);
	opt.path = path;
	opt.file_fmt = CAP_FMT_RGB24;
	opt.width = W;
	opt.height = H;
	opt.fps = 200;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(grab_next(src, &f), 0);
		assert_memory_equal(f.data, frames + i * FS, FS);
		at[i] = f.data;
	}
	assert_ptr_equal(at[0], at[1]);
	assert_ptr_not_equal(at[1], at[2]);
	assert_ptr_not_equal(at[2], at[3]);
	assert_ptr_not_equal(at[3], at[1]);	/* only the frame before is compared */
	cap_close(src);
}

static void
test_file_raw(void **state)
{
	enum { W = 4, H = 3, FS = W * H * 3 };
	uint8_t frames[2 * FS];
	struct cap_options opt = { .kind = CAP_SRC_FILE };
	struct cap_source *src;
	struct cap_frame f;
	char path[256];
	int err;

	(void)state;
	for (int i = 0; i < 2 * FS; i++)
		frames[i] = (uint8_t)(i * 7 + 1);
	write_file("two.rgb", frames, sizeof(frames));
	snprintf(path, sizeof(path), "%s/two.rgb", tmpdir);
	opt.path = path;
	opt.file_fmt = CAP_FMT_RGB24;
	opt.width = W;
	opt.height = H;
	opt.fps = 200;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(err, 0);
	assert_int_equal(cap_fd(src), -1);
	assert_int_equal(cap_state(src), CAP_STATE_OK);
	assert_non_null(strstr(cap_describe(src), "2 frames"));

	for (int i = 0; i < 5; i++) {
		assert_int_equal(grab_next(src, &f), 0);
		assert_int_equal(f.seq, (uint64_t)i);
		assert_int_equal(f.fmt, CAP_FMT_RGB24);
		assert_int_equal(f.width, W);
		assert_int_equal(f.height, H);
		assert_int_equal(f.stride, W * 3);
		assert_int_equal(f.size, FS);
		assert_true(f.ts_us > 0);
		assert_memory_equal(f.data, frames + (i % 2) * FS, FS);
		/* read at open, kept until close */
		assert_true(f.stable);
		/* the next frame is not due yet */
		assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
		assert_true(cap_wait_ms(src) <= 5);
	}
	cap_close(src);

	/* a size that is not a multiple of the frame: named in the message */
	write_file("odd.rgb", frames, sizeof(frames) - 1);
	snprintf(path, sizeof(path), "%s/odd.rgb", tmpdir);
	log_reset();
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	assert_non_null(strstr(logbuf, path));
	assert_non_null(strstr(logbuf, "file size 71 is not a multiple of the frame size 36"));

	/* an empty file, a missing file, no format, odd width for YUYV */
	write_file("empty.rgb", frames, 0);
	snprintf(path, sizeof(path), "%s/empty.rgb", tmpdir);
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	snprintf(path, sizeof(path), "%s/missing.rgb", tmpdir);
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EIO);
	snprintf(path, sizeof(path), "%s/two.rgb", tmpdir);
	opt.file_fmt = CAP_FMT_NONE;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	opt.file_fmt = CAP_FMT_YUYV;
	opt.width = 3;
	opt.height = 4;
	log_reset();
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	assert_non_null(strstr(logbuf, "even width"));
	opt.file_fmt = CAP_FMT_RGB24;
	opt.width = W;
	opt.height = H;
	opt.fps = -1;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
}

static void
test_ppm_parse(void **state)
{
	static const char ok[] = "P6\n# made by hand\n2 1 # width height\n255\n\x01\x02\x03\x04\x05\x06";
	static const char bigs[] = "P6 100000 100000 255\n";
	static const char maxv[] = "P6 1 1 65535\n\x01\x02\x03\x04\x05\x06";
	static const char shortp[] = "P6 2 2 255\n\x01\x02\x03";
	static const char nohdr[] = "P6 2";
	int w, h;
	size_t off;
	char why[128];

	(void)state;
	assert_int_equal(cap__ppm_parse((const uint8_t *)ok, sizeof(ok) - 1, &w, &h, &off,
					why, sizeof(why)), 0);
	assert_int_equal(w, 2);
	assert_int_equal(h, 1);
	assert_int_equal(ok[off], 1);
	assert_int_equal(cap__ppm_parse((const uint8_t *)bigs, sizeof(bigs) - 1, &w, &h, &off,
					why, sizeof(why)), CAP_EFORMAT);
	assert_non_null(strstr(why, "out of range"));
	assert_int_equal(cap__ppm_parse((const uint8_t *)maxv, sizeof(maxv) - 1, &w, &h, &off,
					why, sizeof(why)), CAP_EFORMAT);
	assert_non_null(strstr(why, "maxval"));
	assert_int_equal(cap__ppm_parse((const uint8_t *)shortp, sizeof(shortp) - 1, &w, &h, &off,
					why, sizeof(why)), CAP_EFORMAT);
	assert_non_null(strstr(why, "truncated"));
	assert_int_equal(cap__ppm_parse((const uint8_t *)nohdr, sizeof(nohdr) - 1, &w, &h, &off,
					why, sizeof(why)), CAP_EFORMAT);
	assert_int_equal(cap__ppm_parse((const uint8_t *)"P3 1 1 255\n1 2 3", 16, &w, &h, &off,
					why, sizeof(why)), CAP_EFORMAT);
	assert_non_null(strstr(why, "magic"));
}

static void
test_file_folder(void **state)
{
	static const char good_hdr[] = "P6\n3 2\n255\n";
	uint8_t good[sizeof(good_hdr) - 1 + 18];
	static const char trunc[] = "P6\n3 2\n255\n\x01\x02\x03\x04\x05";
	static const char magic[] = "P3\n1 1\n255\n1 2 3\n";
	uint8_t img[16 * 8 * 4];
	unsigned long jlen;
	uint8_t *jpg;
	struct cap_options opt = { .kind = CAP_SRC_FILE, .fps = 200 };
	struct cap_source *src;
	struct cap_frame f;
	char dir[128];
	int err;

	(void)state;
	memcpy(good, good_hdr, sizeof(good_hdr) - 1);
	for (int i = 0; i < 18; i++)
		good[sizeof(good_hdr) - 1 + i] = (uint8_t)(i + 10);
	make_picture(img, 16, 8, 0);
	jpg = encode(img, 16, 8, &jlen);

	snprintf(dir, sizeof(dir), "%s/frames", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file("frames/a.ppm", good, sizeof(good));
	write_file("frames/b.ppm", trunc, sizeof(trunc) - 1);
	write_file("frames/c.JPG", jpg, jlen);
	write_file("frames/d.ppm", magic, sizeof(magic) - 1);
	write_file("frames/notes.txt", "hello", 5);

	opt.path = dir;
	log_reset();
	src = cap_open(&opt, &err);
	assert_non_null(src);
	/* the bad files are named, and skipped */
	assert_non_null(strstr(logbuf, "b.ppm"));
	assert_non_null(strstr(logbuf, "d.ppm"));
	assert_null(strstr(logbuf, "a.ppm"));
	assert_null(strstr(logbuf, "notes.txt"));
	assert_non_null(strstr(cap_describe(src), "2 images"));

	for (int round = 0; round < 2; round++) {
		assert_int_equal(grab_next(src, &f), 0);
		assert_int_equal(f.fmt, CAP_FMT_RGB24);
		assert_int_equal(f.width, 3);
		assert_int_equal(f.height, 2);
		assert_int_equal(f.stride, 9);
		assert_int_equal(f.size, 18);
		assert_memory_equal(f.data, good + sizeof(good_hdr) - 1, 18);
		assert_int_equal(f.seq, (uint64_t)round * 2);

		assert_int_equal(grab_next(src, &f), 0);
		assert_int_equal(f.fmt, CAP_FMT_MJPEG);
		assert_int_equal(f.width, 16);
		assert_int_equal(f.height, 8);
		assert_int_equal(f.size, jlen);
		assert_memory_equal(f.data, jpg, jlen);
		assert_int_equal(f.seq, (uint64_t)round * 2 + 1);
	}
	cap_close(src);

	/* a folder of only bad images fails with a message */
	snprintf(dir, sizeof(dir), "%s/bad", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file("bad/x.ppm", trunc, sizeof(trunc) - 1);
	write_file("bad/y.jpg", "not a jpeg", 10);
	opt.path = dir;
	log_reset();
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	assert_non_null(strstr(logbuf, "no usable"));
	assert_non_null(strstr(logbuf, "y.jpg"));
	free(jpg);
}

/* ---- pattern source ---- */

static void
test_pattern(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_PATTERN, .width = 160, .height = 90, .fps = 100 };
	struct cap_source *src;
	struct cap_frame f;
	uint8_t *first;
	int err;

	(void)state;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_string_equal(cap_describe(src), "pattern 160x90 XRGB32 100 fps");
	assert_int_equal(grab_next(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_XRGB32);
	assert_int_equal(f.width, 160);
	assert_int_equal(f.height, 90);
	assert_int_equal(f.stride, 640);
	assert_int_equal(f.size, 640 * 90);
	/* drawn into one buffer, only in cap_grab: consumers may use it in place */
	assert_true(f.stable);
	first = malloc(f.size);
	assert_non_null(first);
	memcpy(first, f.data, f.size);
	/* the left bar is white, the right bar black (the box starts top-left) */
	assert_int_equal(first[(size_t)20 * 640 + 12 * 4 + 2], 255);
	assert_int_equal(first[(size_t)20 * 640 + 12 * 4 + 0], 255);
	assert_int_equal(first[(size_t)20 * 640 + 159 * 4 + 2], 0);
	for (int i = 0; i < 3; i++) {
		const uint8_t *buf = f.data;

		assert_int_equal(grab_next(src, &f), 0);
		assert_true(f.stable);
		assert_ptr_equal(f.data, buf);
		assert_int_equal(f.seq, (uint64_t)i + 1);
		assert_int_equal(f.size, 640 * 90);
		assert_memory_not_equal(f.data, first, f.size);
		memcpy(first, f.data, f.size);
	}
	free(first);
	cap_close(src);

	/* YUYV without hardware */
	opt.file_fmt = CAP_FMT_YUYV;
	opt.width = 1280;
	opt.height = 720;
	opt.fps = 0;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(grab_next(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_YUYV);
	assert_int_equal(f.stride, 2560);
	assert_int_equal(f.size, 2560 * 720);
	/* the white bar: Y = 235, U = V = 128 */
	assert_int_equal(f.data[100 * 2560 + 20], 235);
	assert_int_equal(f.data[100 * 2560 + 21], 128);
	assert_int_equal(cap_wait_ms(src) <= 34, 1);
	cap_close(src);

	opt.width = 161;	/* YUYV needs an even width */
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	opt.file_fmt = CAP_FMT_XRGB32;
	opt.width = 100000;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
}

/* ---- callback source ---- */

struct render_ctx {
	int mode;		/* 0 frame, 1 no signal, 2 bad frame */
	int calls;
	uint8_t px[8 * 8 * 4];
};

static int
render(void *ctx, uint64_t now_us, struct cap_frame *out)
{
	struct render_ctx *r = ctx;

	assert_true(now_us > 0);
	r->calls++;
	if (r->mode == 1)
		return CAP_ENOSIGNAL;
	out->fmt = CAP_FMT_XRGB32;
	out->width = 8;
	out->height = 8;
	out->stride = r->mode == 2 ? 8 : 32;
	out->size = sizeof(r->px);
	out->data = r->px;
	return 0;
}

static void
test_callback(void **state)
{
	struct render_ctx ctx = { 0 };
	struct cap_options opt = {
		.kind = CAP_SRC_CALLBACK, .fps = 50, .render = render, .render_ctx = &ctx,
	};
	struct cap_source *src;
	struct cap_frame f;
	uint64_t t0, t1, last_seq = 0;
	int err, frames = 0;

	(void)state;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(cap_fd(src), -1);

	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.seq, 0);
	assert_ptr_equal(f.data, ctx.px);
	assert_true(f.ts_us > 0);
	/* the renderer did not promise to leave its pixels alone */
	assert_false(f.stable);
	/* paced: not again before 20 ms */
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(ctx.calls, 1);
	assert_true(cap_wait_ms(src) > 0 && cap_wait_ms(src) <= 20);

	/* about 50 fps over 300 ms */
	t0 = wk_now_us();
	do {
		int rc = cap_grab(src, &f);

		if (rc == 0) {
			frames++;
			last_seq = f.seq;
		} else
			sleep_ms(cap_wait_ms(src) > 0 ? cap_wait_ms(src) : 1);
		t1 = wk_now_us();
	} while (t1 - t0 < 300000);
	if (frames < 12 || frames > 17)
		fail_msg("%d frames in 300 ms at 50 fps", frames);
	assert_int_equal(last_seq, (uint64_t)frames);

	/* a powered-off target: no signal, and back */
	ctx.mode = 1;
	assert_int_equal(grab_next(src, &f), CAP_ENOSIGNAL);
	assert_int_equal(cap_state(src), CAP_STATE_NO_SIGNAL);
	assert_int_equal(grab_next(src, &f), CAP_ENOSIGNAL);
	ctx.mode = 0;
	assert_int_equal(grab_next(src, &f), 0);
	assert_int_equal(cap_state(src), CAP_STATE_OK);
	assert_int_equal(f.seq, (uint64_t)frames + 1);	/* no-signal frames are not numbered */
	assert_non_null(strstr(cap_describe(src), "8x8 XRGB32"));

	/* a renderer handing over a broken frame */
	ctx.mode = 2;
	assert_int_equal(grab_next(src, &f), CAP_EFORMAT);
	assert_int_equal(cap_state(src), CAP_STATE_ERROR);
	assert_false(f.stable);
	cap_close(src);

	/* one that did: its frames are stable, failures are not frames */
	opt.render_stable = true;
	ctx.mode = 0;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(grab_next(src, &f), 0);
	assert_true(f.stable);
	assert_ptr_equal(f.data, ctx.px);
	ctx.mode = 1;
	assert_int_equal(grab_next(src, &f), CAP_ENOSIGNAL);
	assert_false(f.stable);
	assert_null(f.data);
	cap_close(src);
	opt.render_stable = false;

	opt.render = NULL;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
}

/* ---- V4L2 policy ---- */

static void
test_v4l2_fourcc(void **state)
{
	(void)state;
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_YUYV), CAP_FMT_YUYV);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_UYVY), CAP_FMT_UYVY);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_RGB24), CAP_FMT_RGB24);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_BGR24), CAP_FMT_BGR24);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_RGB565), CAP_FMT_RGB565);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_XBGR32), CAP_FMT_XRGB32);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_BGR32), CAP_FMT_XRGB32);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_MJPEG), CAP_FMT_MJPEG);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_JPEG), CAP_FMT_MJPEG);
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_NV12), CAP_FMT_NONE);
	/* RGB565X is big-endian: not ours */
	assert_int_equal(cap__v4l2_fmt_from_fourcc(V4L2_PIX_FMT_RGB565X), CAP_FMT_NONE);
	assert_int_equal(cap__v4l2_fourcc_from_fmt(CAP_FMT_MJPEG), V4L2_PIX_FMT_MJPEG);
	assert_int_equal(cap__v4l2_fourcc_from_fmt(CAP_FMT_XRGB32), V4L2_PIX_FMT_XBGR32);
	assert_int_equal(cap__v4l2_fourcc_from_fmt(CAP_FMT_NONE), 0);
}

static void
test_v4l2_choose_format(void **state)
{
	const enum cap_pixfmt all[] = { CAP_FMT_YUYV, CAP_FMT_UYVY, CAP_FMT_RGB24, CAP_FMT_MJPEG };
	const enum cap_pixfmt csi[] = { CAP_FMT_RGB24, CAP_FMT_UYVY };
	const enum cap_pixfmt yuyv_rgb[] = { CAP_FMT_RGB24, CAP_FMT_YUYV };
	const enum cap_pixfmt none[] = { CAP_FMT_NONE };
	const enum cap_pixfmt user[8] = { CAP_FMT_RGB24, CAP_FMT_UYVY };
	const enum cap_pixfmt user_bgr[8] = { CAP_FMT_BGR24 };
	const enum cap_pixfmt full[8] = {
		CAP_FMT_BGR24, CAP_FMT_BGR24, CAP_FMT_BGR24, CAP_FMT_BGR24,
		CAP_FMT_BGR24, CAP_FMT_BGR24, CAP_FMT_BGR24, CAP_FMT_UYVY,
	};
	enum cap_pixfmt out = CAP_FMT_NONE;

	(void)state;
	/* the user's order wins */
	assert_int_equal(cap__v4l2_choose_format(user, 8, "uvcvideo", all, 4, &out), 0);
	assert_int_equal(out, CAP_FMT_RGB24);
	/* a user's list is strict: no fallback */
	assert_int_equal(cap__v4l2_choose_format(user_bgr, 8, "uvcvideo", all, 4, &out),
			 CAP_EFORMAT);
	/* all 8 slots used (no terminator): the 8th is still read, not a 9th */
	assert_int_equal(cap__v4l2_choose_format(full, 8, "unicam", all, 4, &out), 0);
	assert_int_equal(out, CAP_FMT_UYVY);
	/* defaults: USB dongle → MJPEG, CSI bridge → UYVY, else YUYV before RGB */
	assert_int_equal(cap__v4l2_choose_format(none, 8, "uvcvideo", all, 4, &out), 0);
	assert_int_equal(out, CAP_FMT_MJPEG);
	assert_int_equal(cap__v4l2_choose_format(NULL, 0, "uvcvideo", all, 4, &out), 0);
	assert_int_equal(out, CAP_FMT_MJPEG);
	assert_int_equal(cap__v4l2_choose_format(none, 8, "unicam", all, 4, &out), 0);
	assert_int_equal(out, CAP_FMT_UYVY);
	assert_int_equal(cap__v4l2_choose_format(none, 8, "unicam", csi, 2, &out), 0);
	assert_int_equal(out, CAP_FMT_UYVY);
	assert_int_equal(cap__v4l2_choose_format(none, 8, "vivid", yuyv_rgb, 2, &out), 0);
	assert_int_equal(out, CAP_FMT_YUYV);
	assert_int_equal(cap__v4l2_choose_format(none, 8, "vivid", csi, 1, &out), 0);
	assert_int_equal(out, CAP_FMT_RGB24);
	/* nothing usable */
	assert_int_equal(cap__v4l2_choose_format(none, 8, "vivid", none, 0, &out), CAP_EFORMAT);
	assert_int_equal(cap__v4l2_default_formats("uvcvideo")[0], CAP_FMT_MJPEG);
	assert_int_equal(cap__v4l2_default_formats("tc358743")[0], CAP_FMT_UYVY);
	assert_true(cap__v4l2_is_uvc("uvcvideo"));
	assert_false(cap__v4l2_is_uvc("vivid"));
	assert_false(cap__v4l2_is_uvc(NULL));
}

static struct v4l2_dv_timings
bt_timings(uint32_t w, uint32_t h, uint64_t pclk, uint32_t hfp, uint32_t hs, uint32_t hbp,
	   uint32_t vfp, uint32_t vs, uint32_t vbp)
{
	struct v4l2_dv_timings t;

	memset(&t, 0, sizeof(t));
	t.type = V4L2_DV_BT_656_1120;
	t.bt.width = w;
	t.bt.height = h;
	t.bt.pixelclock = pclk;
	t.bt.hfrontporch = hfp;
	t.bt.hsync = hs;
	t.bt.hbackporch = hbp;
	t.bt.vfrontporch = vfp;
	t.bt.vsync = vs;
	t.bt.vbackporch = vbp;
	return t;
}

static void
test_v4l2_dv_mode(void **state)
{
	/* CEA-861 1080p60: totals 2200×1125 */
	struct v4l2_dv_timings t = bt_timings(1920, 1080, 148500000, 88, 44, 148, 4, 5, 36);
	struct cap__v4l2_mode m;

	(void)state;
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), 0);
	assert_int_equal(m.width, 1920);
	assert_int_equal(m.height, 1080);
	assert_int_equal(m.fps_milli, 60000);

	/* 720p50: totals 1980×750 */
	t = bt_timings(1280, 720, 74250000, 440, 40, 220, 5, 5, 20);
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), 0);
	assert_int_equal(m.width, 1280);
	assert_int_equal(m.height, 720);
	assert_int_equal(m.fps_milli, 50000);

	/* 1080p59.94 */
	t = bt_timings(1920, 1080, 148500000, 88, 44, 148, 4, 5, 36);
	t.bt.flags = V4L2_DV_FL_CAN_DETECT_REDUCED_FPS | V4L2_DV_FL_REDUCED_FPS;
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), 0);
	assert_int_equal(m.fps_milli, 59940);

	/* VGA 640x480@60 (25.175 MHz, 800×525): 59.94 */
	t = bt_timings(640, 480, 25175000, 16, 96, 48, 10, 2, 33);
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), 0);
	assert_int_equal(m.fps_milli, 59940);

	/* no pixel clock: size known, rate unknown */
	t = bt_timings(1024, 768, 0, 24, 136, 160, 3, 6, 29);
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), 0);
	assert_int_equal(m.width, 1024);
	assert_int_equal(m.fps_milli, 0);

	/* not capturable */
	t = bt_timings(1920, 1080, 74250000, 88, 44, 148, 2, 5, 15);
	t.bt.interlaced = 1;
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), CAP_ENOSIGNAL);
	t = bt_timings(0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), CAP_ENOSIGNAL);
	t = bt_timings(16384, 1080, 148500000, 88, 44, 148, 4, 5, 36);
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), CAP_ENOSIGNAL);
	t = bt_timings(1920, 1080, 148500000, 88, 44, 148, 4, 5, 36);
	t.type = 1;
	assert_int_equal(cap__v4l2_dv_mode(&t, &m), CAP_ENOSIGNAL);
}

static void
test_v4l2_errno(void **state)
{
	(void)state;
	assert_int_equal(cap__v4l2_errno_state(ENOLINK), CAP_STATE_NO_SIGNAL);
	assert_int_equal(cap__v4l2_errno_state(ENOLCK), CAP_STATE_NO_SIGNAL);
	assert_int_equal(cap__v4l2_errno_state(ERANGE), CAP_STATE_NO_SIGNAL);
	assert_int_equal(cap__v4l2_errno_state(ENODEV), CAP_STATE_NO_DEVICE);
	assert_int_equal(cap__v4l2_errno_state(ENOENT), CAP_STATE_NO_DEVICE);
	assert_int_equal(cap__v4l2_errno_state(ENXIO), CAP_STATE_NO_DEVICE);
	assert_int_equal(cap__v4l2_errno_state(EIO), CAP_STATE_ERROR);
	assert_int_equal(cap__v4l2_errno_state(EBUSY), CAP_STATE_ERROR);
	assert_int_equal(cap__v4l2_errno_state(EACCES), CAP_STATE_ERROR);
	assert_int_equal(cap__v4l2_errno_code(ENOLINK), CAP_ENOSIGNAL);
	assert_int_equal(cap__v4l2_errno_code(ERANGE), CAP_ENOSIGNAL);
	assert_int_equal(cap__v4l2_errno_code(ENODEV), CAP_ENODEV);
	assert_int_equal(cap__v4l2_errno_code(EINVAL), CAP_EIO);
}

static void
test_v4l2_transitions(void **state)
{
	struct cap__v4l2_step s;

	(void)state;
	/* first open: device there, no frame yet */
	s = cap__v4l2_transition(CAP__V4L2_CLOSED, CAP_STATE_NO_DEVICE, CAP__V4L2_EV_OPENED, 0);
	assert_int_equal(s.phase, CAP__V4L2_IDLE);
	assert_int_equal(s.state, CAP_STATE_NO_SIGNAL);
	assert_int_equal(s.retry_ms, 0);
	/* open fails: reopen in a second */
	s = cap__v4l2_transition(CAP__V4L2_CLOSED, CAP_STATE_NO_DEVICE, CAP__V4L2_EV_FAILED, ENOENT);
	assert_int_equal(s.phase, CAP__V4L2_CLOSED);
	assert_int_equal(s.state, CAP_STATE_NO_DEVICE);
	assert_int_equal(s.retry_ms, 1000);
	s = cap__v4l2_transition(CAP__V4L2_CLOSED, CAP_STATE_NO_DEVICE, CAP__V4L2_EV_FAILED, EACCES);
	assert_int_equal(s.phase, CAP__V4L2_CLOSED);
	assert_int_equal(s.state, CAP_STATE_ERROR);
	assert_int_equal(s.retry_ms, 1000);
	/* no signal: keep the device, probe again in a second */
	s = cap__v4l2_transition(CAP__V4L2_IDLE, CAP_STATE_NO_SIGNAL, CAP__V4L2_EV_FAILED, ENOLINK);
	assert_int_equal(s.phase, CAP__V4L2_IDLE);
	assert_int_equal(s.state, CAP_STATE_NO_SIGNAL);
	assert_int_equal(s.retry_ms, 1000);
	s = cap__v4l2_transition(CAP__V4L2_IDLE, CAP_STATE_OK, CAP__V4L2_EV_FAILED, ENOLCK);
	assert_int_equal(s.phase, CAP__V4L2_IDLE);
	assert_int_equal(s.state, CAP_STATE_NO_SIGNAL);
	/* stream started, then frames */
	s = cap__v4l2_transition(CAP__V4L2_IDLE, CAP_STATE_NO_SIGNAL, CAP__V4L2_EV_STARTED, 0);
	assert_int_equal(s.phase, CAP__V4L2_STREAMING);
	assert_int_equal(s.state, CAP_STATE_NO_SIGNAL);
	assert_int_equal(s.retry_ms, -1);
	s = cap__v4l2_transition(CAP__V4L2_STREAMING, CAP_STATE_NO_SIGNAL, CAP__V4L2_EV_FRAME, 0);
	assert_int_equal(s.phase, CAP__V4L2_STREAMING);
	assert_int_equal(s.state, CAP_STATE_OK);
	/* frames stop: no signal, restart now */
	s = cap__v4l2_transition(CAP__V4L2_STREAMING, CAP_STATE_OK, CAP__V4L2_EV_TIMEOUT, 0);
	assert_int_equal(s.phase, CAP__V4L2_IDLE);
	assert_int_equal(s.state, CAP_STATE_NO_SIGNAL);
	assert_int_equal(s.retry_ms, 0);
	/* new resolution: restart now, state unchanged */
	s = cap__v4l2_transition(CAP__V4L2_STREAMING, CAP_STATE_OK, CAP__V4L2_EV_SOURCE_CHANGE, 0);
	assert_int_equal(s.phase, CAP__V4L2_IDLE);
	assert_int_equal(s.state, CAP_STATE_OK);
	assert_int_equal(s.retry_ms, 0);
	s = cap__v4l2_transition(CAP__V4L2_CLOSED, CAP_STATE_NO_DEVICE, CAP__V4L2_EV_SOURCE_CHANGE, 0);
	assert_int_equal(s.phase, CAP__V4L2_CLOSED);
	assert_int_equal(s.state, CAP_STATE_NO_DEVICE);
	/* unplugged while streaming: close, reopen every second */
	s = cap__v4l2_transition(CAP__V4L2_STREAMING, CAP_STATE_OK, CAP__V4L2_EV_FAILED, ENODEV);
	assert_int_equal(s.phase, CAP__V4L2_CLOSED);
	assert_int_equal(s.state, CAP_STATE_NO_DEVICE);
	assert_int_equal(s.retry_ms, 1000);
	/* any other error: close and reopen in a second */
	s = cap__v4l2_transition(CAP__V4L2_STREAMING, CAP_STATE_OK, CAP__V4L2_EV_FAILED, EIO);
	assert_int_equal(s.phase, CAP__V4L2_CLOSED);
	assert_int_equal(s.state, CAP_STATE_ERROR);
	assert_int_equal(s.retry_ms, 1000);
}

/* A plausible 2-block EDID with correct checksums. */
static void
make_edid(uint8_t e[256])
{
	static const uint8_t hdr[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t sum;

	memset(e, 0, 256);
	memcpy(e, hdr, 8);
	e[8] = 0x5c; e[9] = 0xb3;	/* manufacturer "WKV"-ish */
	e[18] = 1; e[19] = 3;		/* EDID 1.3 */
	for (int i = 54; i < 126; i++)
		e[i] = (uint8_t)(i * 3);
	e[126] = 1;			/* one extension */
	sum = 0;
	for (int i = 0; i < 127; i++)
		sum = (uint8_t)(sum + e[i]);
	e[127] = (uint8_t)(256 - sum);
	e[128] = 0x02; e[129] = 0x03; e[130] = 0x04;	/* CTA-861 block */
	sum = 0;
	for (int i = 128; i < 255; i++)
		sum = (uint8_t)(sum + e[i]);
	e[255] = (uint8_t)(256 - sum);
}

static void
test_edid(void **state)
{
	uint8_t e[256], one[128], five[640];
	char why[128];

	(void)state;
	make_edid(e);
	assert_int_equal(cap__edid_check(e, 256, why, sizeof(why)), 0);

	e[3] = 0xfe;
	assert_int_equal(cap__edid_check(e, 256, why, sizeof(why)), CAP_EINVAL);
	assert_non_null(strstr(why, "header"));
	make_edid(e);
	e[200] ^= 0x40;
	assert_int_equal(cap__edid_check(e, 256, why, sizeof(why)), CAP_EINVAL);
	assert_non_null(strstr(why, "block 1 checksum"));
	make_edid(e);
	e[60] ^= 0x01;
	assert_int_equal(cap__edid_check(e, 256, why, sizeof(why)), CAP_EINVAL);
	assert_non_null(strstr(why, "block 0 checksum"));
	make_edid(e);
	assert_int_equal(cap__edid_check(e, 200, why, sizeof(why)), CAP_EINVAL);
	assert_non_null(strstr(why, "200 bytes"));
	assert_int_equal(cap__edid_check(e, 0, why, sizeof(why)), CAP_EINVAL);
	memset(five, 0, sizeof(five));
	memcpy(five, e, 256);
	assert_int_equal(cap__edid_check(five, 640, why, sizeof(why)), CAP_EINVAL);
	/* the base block says one extension, the file has none */
	memcpy(one, e, 128);
	assert_int_equal(cap__edid_check(one, 128, why, sizeof(why)), CAP_EINVAL);
	assert_non_null(strstr(why, "extension"));
}

static void
test_v4l2_frame_timeout(void **state)
{
	(void)state;
	assert_int_equal(cap__v4l2_frame_timeout_ms(60000, false), CAP__V4L2_FRAME_TIMEOUT_MS);
	assert_int_equal(cap__v4l2_frame_timeout_ms(60000, true), CAP__V4L2_FIRST_FRAME_TIMEOUT_MS);
	assert_int_equal(cap__v4l2_frame_timeout_ms(0, false), CAP__V4L2_FRAME_TIMEOUT_MS);
	/* 1 fps: three periods */
	assert_int_equal(cap__v4l2_frame_timeout_ms(1000, false), 3000);
	assert_int_equal(cap__v4l2_frame_timeout_ms(500, true), 6000);
}

/* ---- V4L2 source without a device ---- */

static void
test_v4l2_no_device(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_V4L2, .path = "/dev/video99" };
	struct cap_source *src;
	struct cap_frame f;
	int err = 1, lines;

	(void)state;
	log_reset();
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(err, 0);
	assert_int_equal(cap_state(src), CAP_STATE_NO_DEVICE);
	assert_int_equal(cap_fd(src), -1);
	assert_true(cap_wait_ms(src) > 0 && cap_wait_ms(src) <= 1000);
	assert_int_equal(cap_grab(src, &f), CAP_ENODEV);
	assert_non_null(strstr(logbuf, "/dev/video99: open: No such file or directory"));
	assert_non_null(strstr(cap_describe(src), "/dev/video99"));
	lines = log_lines;
	cap_close(src);

	/* a retry that fails the same way is not logged again */
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(log_lines, lines + 1);	/* a new source logs once */
	lines = log_lines;
	sleep_ms(cap_wait_ms(src) + 5);
	assert_int_equal(cap_grab(src, &f), CAP_ENODEV);
	assert_int_equal(log_lines, lines);
	assert_true(cap_wait_ms(src) > 900);
	cap_close(src);

	/* a node that is not a V4L2 device: an error state, retried, not fatal */
	opt.path = "/dev/null";
	log_reset();
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(cap_state(src), CAP_STATE_ERROR);
	assert_non_null(strstr(logbuf, "/dev/null: VIDIOC_QUERYCAP"));
	assert_int_equal(cap_grab(src, &f), CAP_EIO);
	cap_close(src);
}

static void
test_v4l2_bad_options(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_V4L2, .path = "/dev/video99" };
	uint8_t e[256];
	char path[256];
	int err;

	(void)state;
	opt.n_buffers = 2;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	opt.n_buffers = 0;
	opt.width = 1920;	/* height missing */
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	opt.width = 0;
	opt.formats[0] = (enum cap_pixfmt)42;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	opt.formats[0] = CAP_FMT_UYVY;

	/* EDID: missing file, bad EDID, good EDID */
	snprintf(path, sizeof(path), "%s/missing.bin", tmpdir);
	opt.edid_path = path;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	make_edid(e);
	e[255] ^= 1;
	write_file("bad.edid", e, sizeof(e));
	snprintf(path, sizeof(path), "%s/bad.edid", tmpdir);
	log_reset();
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	assert_non_null(strstr(logbuf, "bad.edid: EDID block 1 checksum"));
	make_edid(e);
	write_file("good.edid", e, sizeof(e));
	snprintf(path, sizeof(path), "%s/good.edid", tmpdir);
	struct cap_source *src = cap_open(&opt, &err);
	assert_non_null(src);
	cap_close(src);

	opt.kind = (enum cap_kind)77;
	assert_null(cap_open(&opt, &err));
	assert_int_equal(err, CAP_EINVAL);
	assert_null(cap_open(NULL, &err));
	assert_int_equal(err, CAP_EINVAL);
}


/* ---- V4L2 source on a fake driver ----
 *
 * A small vivid-like driver behind the source's system calls: inputs, DV
 * timings, formats, mmap buffers, a done queue the test fills, source-change
 * events, unplugging, and a clock the test moves. */

#define FAKE_FD 777
#define FAKE_MAX_BUFS 8
#define FAKE_DEV "/dev/fake0"

static struct fake {
	bool present;			/* node exists / device answers */
	int open_count, mapped;
	const char *driver;
	bool uvc;			/* no DV, no events, no EDID */
	bool mplane;			/* the multi-planar API */
	int n_inputs, input;
	bool input_dv[2];
	uint32_t fmts[4];
	int n_fmts;
	bool signal;
	uint32_t tw, th;		/* the incoming signal */
	uint32_t dv_w, dv_h;		/* what S_DV_TIMINGS set */
	int s_dv_calls;
	uint32_t fw, fh, fcc, bpl, sizeimage;
	unsigned n_bufs;
	uint8_t *mem[FAKE_MAX_BUFS];
	bool queued[FAKE_MAX_BUFS];
	int done[FAKE_MAX_BUFS], n_done;
	uint32_t used[FAKE_MAX_BUFS], flags[FAKE_MAX_BUFS];
	bool streaming, event_pending;
	uint32_t sub_id;
	unsigned edid_blocks;
	uint64_t now;
} fk;

static int
fake_err(int e)
{
	errno = e;
	return -1;
}

static int
fake_open(const char *path, int flags)
{
	(void)flags;
	if (strcmp(path, FAKE_DEV) != 0 || !fk.present)
		return fake_err(ENOENT);
	fk.open_count++;
	return FAKE_FD;
}

static void
fake_free_bufs(void)
{
	for (unsigned i = 0; i < fk.n_bufs; i++)
		free(fk.mem[i]);
	fk.n_bufs = 0;
}

static int
fake_close(int fd)
{
	assert_int_equal(fd, FAKE_FD);
	/* like vb2: the last close releases the queue, even one the ioctls
	 * could not release because the device was gone */
	if (--fk.open_count == 0) {
		fake_free_bufs();
		fk.streaming = false;
		fk.n_done = 0;
	}
	return 0;
}

static void *
fake_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	unsigned i = (unsigned)(off / 4096);

	(void)addr, (void)prot, (void)flags;
	assert_int_equal(fd, FAKE_FD);
	if (i >= fk.n_bufs || len != fk.sizeimage) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	fk.mapped++;
	return fk.mem[i];
}

static int
fake_munmap(void *addr, size_t len)
{
	(void)addr, (void)len;
	fk.mapped--;
	return 0;
}

static uint64_t
fake_now(void)
{
	return fk.now;
}

static void
fake_set_format(uint32_t cc, uint32_t w, uint32_t h)
{
	bool offered = false;

	for (int i = 0; i < fk.n_fmts; i++)
		offered |= fk.fmts[i] == cc;
	fk.fcc = offered ? cc : fk.fmts[0];
	fk.fw = w;
	fk.fh = h;
	switch (fk.fcc) {
	case V4L2_PIX_FMT_MJPEG:	fk.bpl = 0; fk.sizeimage = w * h; break;
	case V4L2_PIX_FMT_RGB24:	fk.bpl = w * 3; fk.sizeimage = fk.bpl * h; break;
	default:			fk.bpl = w * 2; fk.sizeimage = fk.bpl * h; break;
	}
}


static int
fake_ioctl(int fd, unsigned long req, void *arg)
{
	assert_int_equal(fd, FAKE_FD);
	if (!fk.present)
		return fake_err(ENODEV);
	switch (req) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *c = arg;

		snprintf((char *)c->driver, sizeof(c->driver), "%s", fk.driver);
		snprintf((char *)c->card, sizeof(c->card), "Fake capture");
		c->device_caps = (fk.mplane ? V4L2_CAP_VIDEO_CAPTURE_MPLANE : V4L2_CAP_VIDEO_CAPTURE) |
				 V4L2_CAP_STREAMING;
		c->capabilities = c->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_G_INPUT:
		*(int *)arg = fk.input;
		return 0;
	case VIDIOC_S_INPUT:
		if (*(int *)arg < 0 || *(int *)arg >= fk.n_inputs)
			return fake_err(EINVAL);
		fk.input = *(int *)arg;
		return 0;
	case VIDIOC_ENUMINPUT: {
		struct v4l2_input *in = arg;

		if (in->index >= (uint32_t)fk.n_inputs)
			return fake_err(EINVAL);
		snprintf((char *)in->name, sizeof(in->name), "input %u", in->index);
		in->capabilities = fk.input_dv[in->index] ? V4L2_IN_CAP_DV_TIMINGS : 0;
		return 0;
	}
	case VIDIOC_SUBSCRIBE_EVENT:
		if (fk.uvc)
			return fake_err(EINVAL);
		fk.sub_id = ((struct v4l2_event_subscription *)arg)->id;
		return 0;
	case VIDIOC_DQEVENT: {
		struct v4l2_event *ev = arg;

		if (!fk.event_pending)
			return fake_err(ENOENT);
		fk.event_pending = false;
		ev->type = V4L2_EVENT_SOURCE_CHANGE;
		ev->id = fk.sub_id;
		ev->u.src_change.changes = V4L2_EVENT_SRC_CH_RESOLUTION;
		return 0;
	}
	case VIDIOC_S_EDID:
		if (fk.uvc)
			return fake_err(ENOTTY);
		fk.edid_blocks = ((struct v4l2_edid *)arg)->blocks;
		return 0;
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *d = arg;

		if (d->index >= (uint32_t)fk.n_fmts)
			return fake_err(EINVAL);
		d->pixelformat = fk.fmts[d->index];
		return 0;
	}
	case VIDIOC_QUERY_DV_TIMINGS: {
		struct v4l2_dv_timings *t = arg;

		if (fk.uvc)
			return fake_err(ENOTTY);
		if (!fk.signal)
			return fake_err(ENOLINK);
		memset(t, 0, sizeof(*t));
		t->type = V4L2_DV_BT_656_1120;
		t->bt.width = fk.tw;
		t->bt.height = fk.th;
		t->bt.hfrontporch = 88;
		t->bt.hsync = 44;
		t->bt.hbackporch = 148;
		t->bt.vfrontporch = 4;
		t->bt.vsync = 5;
		t->bt.vbackporch = 36;
		t->bt.pixelclock = (uint64_t)(fk.tw + 280) * (fk.th + 45) * 60;
		return 0;
	}
	case VIDIOC_S_DV_TIMINGS: {
		struct v4l2_dv_timings *t = arg;

		if (fk.n_bufs > 0)
			return fake_err(EBUSY);
		fk.dv_w = t->bt.width;
		fk.dv_h = t->bt.height;
		fk.s_dv_calls++;
		return 0;
	}
	case VIDIOC_G_FMT:
	case VIDIOC_S_FMT: {
		struct v4l2_format *f = arg;

		if (fk.mplane) {
			struct v4l2_pix_format_mplane *mp = &f->fmt.pix_mp;

			assert_int_equal(f->type, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE);
			if (req == VIDIOC_S_FMT) {
				if (fk.n_bufs > 0)
					return fake_err(EBUSY);
				fake_set_format(mp->pixelformat, fk.dv_w, fk.dv_h);
			}
			mp->width = fk.fw;
			mp->height = fk.fh;
			mp->pixelformat = fk.fcc;
			mp->num_planes = 1;
			mp->plane_fmt[0].bytesperline = fk.bpl;
			mp->plane_fmt[0].sizeimage = fk.sizeimage;
			mp->field = V4L2_FIELD_NONE;
			return 0;
		}
		assert_int_equal(f->type, V4L2_BUF_TYPE_VIDEO_CAPTURE);
		if (req == VIDIOC_S_FMT) {
			if (fk.n_bufs > 0)
				return fake_err(EBUSY);
			/* a DV receiver's size is the timings' */
			if (fk.uvc)
				fake_set_format(f->fmt.pix.pixelformat, f->fmt.pix.width,
						f->fmt.pix.height);
			else
				fake_set_format(f->fmt.pix.pixelformat, fk.dv_w, fk.dv_h);
		}
		f->fmt.pix.width = fk.fw;
		f->fmt.pix.height = fk.fh;
		f->fmt.pix.pixelformat = fk.fcc;
		f->fmt.pix.bytesperline = fk.bpl;
		f->fmt.pix.sizeimage = fk.sizeimage;
		f->fmt.pix.field = V4L2_FIELD_NONE;
		return 0;
	}
	case VIDIOC_S_PARM:
	case VIDIOC_G_PARM:
		return fk.uvc ? 0 : fake_err(ENOTTY);
	case VIDIOC_REQBUFS: {
		struct v4l2_requestbuffers *rb = arg;

		assert_int_equal(rb->memory, V4L2_MEMORY_MMAP);
		if (fk.streaming || fk.mapped > 0)
			return fake_err(EBUSY);
		fake_free_bufs();
		if (rb->count > FAKE_MAX_BUFS)
			rb->count = FAKE_MAX_BUFS;
		for (unsigned i = 0; i < rb->count; i++) {
			fk.mem[i] = calloc(1, fk.sizeimage);
			fk.queued[i] = false;
		}
		fk.n_bufs = rb->count;
		fk.n_done = 0;
		return 0;
	}
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *b = arg;

		if (b->index >= fk.n_bufs)
			return fake_err(EINVAL);
		if (fk.mplane) {
			assert_non_null(b->m.planes);
			assert_true(b->length >= 1);
			b->length = 1;
			b->m.planes[0].length = fk.sizeimage;
			b->m.planes[0].m.mem_offset = b->index * 4096;
			return 0;
		}
		b->length = fk.sizeimage;
		b->m.offset = b->index * 4096;
		return 0;
	}
	case VIDIOC_QBUF: {
		struct v4l2_buffer *b = arg;

		if (b->index >= fk.n_bufs || fk.queued[b->index])
			return fake_err(EINVAL);
		if (fk.mplane && (b->m.planes == NULL || b->length != 1))
			return fake_err(EINVAL);
		for (int i = 0; i < fk.n_done; i++)
			if (fk.done[i] == (int)b->index)
				return fake_err(EINVAL);
		fk.queued[b->index] = true;
		return 0;
	}
	case VIDIOC_DQBUF: {
		struct v4l2_buffer *b = arg;
		int i;

		if (!fk.streaming)
			return fake_err(EINVAL);
		if (fk.n_done == 0)
			return fake_err(EAGAIN);
		i = fk.done[0];
		memmove(fk.done, fk.done + 1, sizeof(fk.done[0]) * (size_t)--fk.n_done);
		b->index = (uint32_t)i;
		if (fk.mplane) {
			assert_non_null(b->m.planes);
			b->m.planes[0].bytesused = fk.used[i];
			b->m.planes[0].data_offset = 0;
		} else {
			b->bytesused = fk.used[i];
		}
		b->flags = fk.flags[i] | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
		b->timestamp.tv_sec = (time_t)(fk.now / 1000000);
		b->timestamp.tv_usec = (suseconds_t)(fk.now % 1000000);
		return 0;
	}
	case VIDIOC_STREAMON:
		fk.streaming = true;
		return 0;
	case VIDIOC_STREAMOFF:
		fk.streaming = false;
		fk.n_done = 0;
		memset(fk.queued, 0, sizeof(fk.queued));
		return 0;
	default:
		return fake_err(ENOTTY);
	}
}

static const struct cap__v4l2_sys fake_sys = {
	.open = fake_open,
	.close = fake_close,
	.ioctl = fake_ioctl,
	.mmap = fake_mmap,
	.munmap = fake_munmap,
	.now_us = fake_now,
};

/* The driver fills the lowest queued buffer; bytesused 0 means a full frame
 * (use fake_fill_used for an empty one). */
static int
fake_fill_used(uint8_t marker, uint32_t flags, uint32_t used)
{
	for (unsigned i = 0; i < fk.n_bufs; i++) {
		if (!fk.queued[i])
			continue;
		memset(fk.mem[i], marker, fk.sizeimage < 64 ? fk.sizeimage : 64);
		fk.queued[i] = false;
		fk.used[i] = used;
		fk.flags[i] = flags;
		fk.done[fk.n_done++] = (int)i;
		return (int)i;
	}
	fail_msg("fake driver: no queued buffer to fill");
	return -1;
}

static int
fake_fill(uint8_t marker)
{
	return fake_fill_used(marker, 0, fk.sizeimage);
}

static int
fake_queued(void)
{
	int n = 0;

	for (unsigned i = 0; i < fk.n_bufs; i++)
		n += fk.queued[i];
	return n;
}

static void
fake_hdmi(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.present = true;
	fk.driver = "vivid";
	fk.n_inputs = 2;
	fk.input_dv[1] = true;	/* input 0 is a webcam, input 1 HDMI */
	fk.fmts[0] = V4L2_PIX_FMT_YUYV;
	fk.fmts[1] = V4L2_PIX_FMT_UYVY;
	fk.fmts[2] = V4L2_PIX_FMT_RGB24;
	fk.n_fmts = 3;
	fk.signal = true;
	fk.tw = 1280;
	fk.th = 720;
	fk.now = 1000000000;
}

static int
setup_fake(void **state)
{
	if (setup_tmp(state) < 0)
		return -1;
	cap__v4l2_set_sys(&fake_sys);
	fake_hdmi();
	return 0;
}

static int
teardown_fake(void **state)
{
	cap__v4l2_set_sys(NULL);
	fake_free_bufs();
	return teardown_tmp(state);
}

static void
advance_ms(int ms)
{
	fk.now += (uint64_t)ms * 1000;
}

static void
test_v4l2_fake_hdmi(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_V4L2, .path = FAKE_DEV };
	struct cap_source *src;
	struct cap_frame f;
	uint8_t e[256];
	char path[256];
	int err, lines;

	(void)state;
	make_edid(e);
	write_file("edid.bin", e, sizeof(e));
	snprintf(path, sizeof(path), "%s/edid.bin", tmpdir);
	opt.edid_path = path;

	src = cap_open(&opt, &err);
	assert_non_null(src);
	/* switched to the HDMI input, loaded the EDID there, streaming UYVY */
	assert_int_equal(fk.input, 1);
	assert_int_equal(fk.sub_id, 1);
	assert_int_equal(fk.edid_blocks, 2);
	assert_int_equal(fk.s_dv_calls, 1);
	assert_true(fk.streaming);
	assert_int_equal(fk.fcc, V4L2_PIX_FMT_UYVY);
	assert_int_equal(fk.fw, 1280);
	assert_int_equal(fk.n_bufs, 4);
	assert_int_equal(fake_queued(), 4);
	assert_int_equal(cap_fd(src), FAKE_FD);
	/* open, but no frame yet */
	assert_int_equal(cap_state(src), CAP_STATE_NO_SIGNAL);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_int_equal(cap_wait_ms(src), CAP__V4L2_FIRST_FRAME_TIMEOUT_MS);

	/* a frame */
	fake_fill(0x11);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_UYVY);
	assert_int_equal(f.width, 1280);
	assert_int_equal(f.height, 720);
	assert_int_equal(f.stride, 2560);
	assert_int_equal(f.size, 2560 * 720);
	assert_int_equal(f.data[0], 0x11);
	assert_int_equal(f.ts_us, fk.now);
	assert_int_equal(f.seq, 0);
	assert_int_equal(cap_state(src), CAP_STATE_OK);
	assert_string_equal(cap_describe(src), "v4l2 " FAKE_DEV " 1280x720 UYVY 60.00 fps");
	assert_non_null(strstr(logbuf, "capturing 1280x720 UYVY"));
	assert_int_equal(fake_queued(), 3);	/* one lent to us */

	/* nothing new: the lent buffer goes back */
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(fake_queued(), 4);

	/* a backlog: only the newest is shown, the rest go straight back */
	fake_fill(0x21);
	fake_fill(0x22);
	fake_fill(0x23);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.data[0], 0x23);
	assert_int_equal(f.seq, 1);
	assert_int_equal(fake_queued(), 3);

	/* broken buffers are skipped, logged once */
	log_reset();
	fake_fill_used(0x31, V4L2_BUF_FLAG_ERROR, fk.sizeimage);
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	fake_fill_used(0x32, V4L2_BUF_FLAG_ERROR, fk.sizeimage);
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(log_lines, 1);
	assert_non_null(strstr(logbuf, "corrupt"));
	fake_fill_used(0x33, 0, 100);	/* short */
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(fake_queued(), 4);
	fake_fill(0x34);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.data[0], 0x34);

	/* the source switches to 1080p: the stream restarts at the new size */
	fk.tw = 1920;
	fk.th = 1080;
	fk.event_pending = true;
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(fk.s_dv_calls, 2);
	assert_int_equal(fk.fw, 1920);
	assert_true(fk.streaming);
	fake_fill(0x41);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.width, 1920);
	assert_int_equal(f.height, 1080);
	assert_int_equal(f.stride, 3840);
	assert_int_equal(f.data[0], 0x41);
	assert_non_null(strstr(cap_describe(src), "1920x1080"));
	assert_non_null(strstr(logbuf, "capturing 1920x1080 UYVY"));

	/* frames stop with the signal still there: restart at once */
	advance_ms(CAP__V4L2_FRAME_TIMEOUT_MS + 10);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_int_equal(cap_state(src), CAP_STATE_NO_SIGNAL);
	assert_true(fk.streaming);
	assert_int_equal(fk.s_dv_calls, 3);

	/* the cable is pulled: no frames, timings say no link */
	fk.signal = false;
	log_reset();
	advance_ms(CAP__V4L2_FIRST_FRAME_TIMEOUT_MS + 10);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_false(fk.streaming);
	assert_int_equal(fk.mapped, 0);
	assert_int_equal(fk.n_bufs, 0);
	assert_int_equal(cap_fd(src), -1);
	assert_int_equal(cap_wait_ms(src), CAP__V4L2_RETRY_MS);
	assert_non_null(strstr(logbuf, "no signal or no cable"));
	assert_non_null(strstr(cap_describe(src), "no signal"));
	lines = log_lines;
	for (int i = 0; i < 3; i++) {
		advance_ms(CAP__V4L2_RETRY_MS);
		assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	}
	assert_int_equal(log_lines, lines);	/* probed thrice, logged once */

	/* plugged back */
	fk.signal = true;
	advance_ms(CAP__V4L2_RETRY_MS - 1);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);	/* not due yet */
	assert_false(fk.streaming);
	advance_ms(1);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_true(fk.streaming);
	fake_fill(0x51);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(cap_state(src), CAP_STATE_OK);

	/* unplugged: everything closed, reopened every second, logged once */
	fk.present = false;
	log_reset();
	assert_int_equal(cap_grab(src, &f), CAP_ENODEV);
	assert_int_equal(cap_state(src), CAP_STATE_NO_DEVICE);
	assert_int_equal(fk.open_count, 0);
	assert_int_equal(fk.mapped, 0);
	assert_int_equal(cap_fd(src), -1);
	assert_int_equal(cap_wait_ms(src), CAP__V4L2_RETRY_MS);
	for (int i = 0; i < 3; i++) {
		advance_ms(CAP__V4L2_RETRY_MS);
		assert_int_equal(cap_grab(src, &f), CAP_ENODEV);
	}
	assert_int_equal(log_lines, 2);	/* the ioctl that failed, the first reopen */
	assert_non_null(strstr(logbuf, "No such device"));
	assert_non_null(strstr(logbuf, "open: No such file or directory"));
	fk.present = true;
	advance_ms(CAP__V4L2_RETRY_MS);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_int_equal(fk.open_count, 1);
	assert_true(fk.streaming);
	fake_fill(0x61);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.data[0], 0x61);
	assert_int_equal(cap_state(src), CAP_STATE_OK);
	assert_non_null(strstr(logbuf, "capturing"));
	/* The recovery is said once, and the same failure is news again. */
	assert_non_null(strstr(logbuf, FAKE_DEV ": the device works again"));
	assert_null(strstr(strstr(logbuf, "works again") + 1, "works again"));

	cap_close(src);
	assert_int_equal(fk.open_count, 0);
	assert_int_equal(fk.mapped, 0);
	assert_false(fk.streaming);
}

static void
test_v4l2_fake_mplane(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_V4L2, .path = FAKE_DEV, .n_buffers = 3 };
	struct cap_source *src;
	struct cap_frame f;
	int err;

	(void)state;
	fk.mplane = true;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_true(fk.streaming);
	assert_int_equal(fk.n_bufs, 3);
	assert_int_equal(fake_queued(), 3);
	fake_fill(0x81);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_UYVY);
	assert_int_equal(f.width, 1280);
	assert_int_equal(f.stride, 2560);
	assert_int_equal(f.data[0], 0x81);
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(fake_queued(), 3);
	fake_fill_used(0x82, 0, 10);	/* short: skipped */
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	assert_int_equal(fake_queued(), 3);
	cap_close(src);
	assert_int_equal(fk.open_count, 0);
	assert_int_equal(fk.mapped, 0);
}

static void
test_v4l2_fake_formats(void **state)
{
	struct cap_options opt = { .kind = CAP_SRC_V4L2, .path = FAKE_DEV };
	struct cap_source *src;
	struct cap_frame f;
	int err;

	(void)state;
	/* the user's order */
	opt.formats[0] = CAP_FMT_BGR24;
	opt.formats[1] = CAP_FMT_RGB24;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(fk.fcc, V4L2_PIX_FMT_RGB24);
	fake_fill(0x71);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_RGB24);
	assert_int_equal(f.stride, 1280 * 3);
	cap_close(src);

	/* nothing the user allows: an error state, retried, clearly logged */
	opt.formats[0] = CAP_FMT_BGR24;
	opt.formats[1] = CAP_FMT_NONE;
	log_reset();
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(cap_state(src), CAP_STATE_ERROR);
	assert_non_null(strstr(logbuf, "no usable pixel format: device offers [YUYV UYVY RGB3], "
				       "asked for [BGR24]"));
	assert_int_equal(fk.open_count, 0);
	assert_int_equal(cap_grab(src, &f), CAP_EIO);
	cap_close(src);

	/* a USB dongle: MJPEG by default, size as asked, no DV, no EDID */
	fake_hdmi();
	fk.driver = "uvcvideo";
	fk.uvc = true;
	fk.n_inputs = 1;
	fk.input_dv[1] = false;
	fk.fmts[0] = V4L2_PIX_FMT_YUYV;
	fk.fmts[1] = V4L2_PIX_FMT_MJPEG;
	fk.n_fmts = 2;
	fake_set_format(V4L2_PIX_FMT_YUYV, 640, 480);
	memset(opt.formats, 0, sizeof(opt.formats));
	opt.width = 1920;
	opt.height = 1080;
	src = cap_open(&opt, &err);
	assert_non_null(src);
	assert_int_equal(fk.fcc, V4L2_PIX_FMT_MJPEG);
	assert_int_equal(fk.fw, 1920);
	assert_int_equal(fk.s_dv_calls, 0);
	fake_fill_used(0xff, 0, 1234);
	assert_int_equal(cap_grab(src, &f), 0);
	assert_int_equal(f.fmt, CAP_FMT_MJPEG);
	assert_int_equal(f.size, 1234);
	assert_int_equal(f.stride, 0);
	assert_int_equal(f.width, 1920);
	/* an empty MJPEG buffer is skipped */
	fake_fill_used(0xff, 0, 0);
	assert_int_equal(cap_grab(src, &f), CAP_EAGAIN);
	/* no source-change events: a stall is noticed by the timeout */
	advance_ms(CAP__V4L2_FRAME_TIMEOUT_MS);
	assert_int_equal(cap_grab(src, &f), CAP_ENOSIGNAL);
	assert_true(fk.streaming);
	cap_close(src);
	assert_int_equal(fk.open_count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_formats, setup_log),
		cmocka_unit_test_setup(test_convert_formats, setup_log),
		cmocka_unit_test_setup(test_convert_bad_args, setup_log),
		cmocka_unit_test_setup(test_jpeg, setup_log),
		cmocka_unit_test_setup_teardown(test_file_raw, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_file_raw_still_frames_share, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup(test_ppm_parse, setup_log),
		cmocka_unit_test_setup_teardown(test_file_folder, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup(test_pattern, setup_log),
		cmocka_unit_test_setup(test_callback, setup_log),
		cmocka_unit_test_setup(test_v4l2_fourcc, setup_log),
		cmocka_unit_test_setup(test_v4l2_choose_format, setup_log),
		cmocka_unit_test_setup(test_v4l2_dv_mode, setup_log),
		cmocka_unit_test_setup(test_v4l2_errno, setup_log),
		cmocka_unit_test_setup(test_v4l2_transitions, setup_log),
		cmocka_unit_test_setup(test_edid, setup_log),
		cmocka_unit_test_setup(test_v4l2_no_device, setup_log),
		cmocka_unit_test_setup_teardown(test_v4l2_bad_options, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_v4l2_fake_hdmi, setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_v4l2_fake_formats, setup_fake, teardown_fake),
		cmocka_unit_test_setup_teardown(test_v4l2_fake_mplane, setup_fake, teardown_fake),
		cmocka_unit_test_setup(test_v4l2_frame_timeout, setup_log),
	};

	return cmocka_run_group_tests_name("capture", tests, NULL, NULL);
}
