/* Pixel-path benchmarks, each against its reference in the same run:
 *
 *   diff_1080p_static[_xrgb]  tile diff of an unchanged frame   vs memcpy
 *   diff_1080p_static_xxh3    the same YUYV run                 vs one XXH3_64bits
 *                             pass over the whole frame (the read-once limit)
 *   diff_1080p_10pct[_xrgb]   10% of tiles changed + converted  vs memcpy
 *   convert_1080p_yuyv        cap_convert_rect, whole frame     vs libyuv YUY2ToARGB
 *   mjpeg_decode_1080p        cap_jpeg_size + cap_jpeg_decode   vs tjDecompress2
 *   sim_fps_720p, _1080p      sim_render with a key per frame   vs memcpy of a frame
 *
 * The frames are the virtual target's screen (text console), as a KVM
 * shows most of the time; YUYV frames are that screen converted as a
 * capture bridge would send it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libyuv/convert_argb.h>
#include <libyuv/convert_from_argb.h>
#include <turbojpeg.h>
#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* The same entry point rfb/tilediff.c hashes with (SSE2, AVX2 or AVX-512
 * picked at run time): the plain XXH3_64bits is built for SSE2 only and
 * would be a slower reference than our own hashing. */
#include <xxh_x86dispatch.h>
#define ref_xxh3(p, n) XXH3_64bits_dispatch((p), (n))
#else
#define ref_xxh3(p, n) XXH3_64bits((p), (n))
#endif

#include "bench/bench.h"
#include "board/sim/sim.h"
#include "capture/capture.h"
#include "hid/hid.h"
#include "rfb/rfb_server.h"

#define MAX_RECTS 256

typedef void (*bench_fn)(void *ctx, int i);

/* Runs fn[0] (ours) and its references fn[1..n-1] interleaved for `reps`
 * repetitions of about `slice_ns` each, the order rotating every
 * repetition so no side always runs right after another.  secs[k] gets the
 * median seconds per call of fn[k]; ratio[k] (k >= 1) the median over
 * repetitions of fn[k]'s time / ours taken within one repetition: the
 * calls of one repetition run a few milliseconds apart under the same load,
 * so that ratio holds better than the ratio of two medians when the
 * machine's load drifts. */
#define MAX_FNS 4

static void
measure_multi(const bench_fn *fn, int nfn, void *ctx, int reps, uint64_t slice_ns,
	      double *secs, double *ratio)
{
	double *t_of[MAX_FNS], *pr = calloc((size_t)reps, sizeof(double));
	int calls[MAX_FNS];
	uint64_t t;

	if (pr == NULL)
		goto oom;
	for (int k = 0; k < nfn; k++)
		if ((t_of[k] = calloc((size_t)reps, sizeof(double))) == NULL)
			goto oom;
	/* A first call of each warms caches and pages; the second sizes the
	 * inner loops to the slice. */
	for (int k = 0; k < nfn; k++)
		fn[k](ctx, 1);
	for (int k = 0; k < nfn; k++) {
		t = bench_now_ns();
		fn[k](ctx, 0);
		t = bench_now_ns() - t;
		calls[k] = slice_ns == 0 ? 1 : (int)(slice_ns / (t ? t : 1)) + 1;
	}
	for (int r = 0; r < reps; r++)
		for (int j = 0; j < nfn; j++) {
			/* Forward on even repetitions, backward on odd ones,
			 * starting one further each time. */
			int k = r % 2 == 0 ? (j + r / 2) % nfn : (nfn - 1 - j + r / 2) % nfn;

			t = bench_now_ns();
			for (int i = 0; i < calls[k]; i++)
				fn[k](ctx, i + 1);
			t_of[k][r] = (double)(bench_now_ns() - t) / 1e9 / calls[k];
		}
	for (int k = 1; k < nfn; k++) {
		for (int r = 0; r < reps; r++)
			pr[r] = t_of[k][r] / t_of[0][r];
		ratio[k] = bench_median(pr, reps);
	}
	ratio[0] = 1;
	for (int k = 0; k < nfn; k++) {
		secs[k] = bench_median(t_of[k], reps);
		free(t_of[k]);
	}
	free(pr);
	return;
oom:
	fprintf(stderr, "bench: out of memory\n");
	exit(1);
}

/* measure_multi of ours against one reference: returns the ratio. */
static double
measure_pair(bench_fn ours, bench_fn ref, void *ctx, int reps, uint64_t slice_ns,
	     double *ours_s, double *ref_s)
{
	bench_fn fn[2] = { ours, ref };
	double secs[2], ratio[2];

	measure_multi(fn, 2, ctx, reps, slice_ns, secs, ratio);
	*ours_s = secs[0];
	*ref_s = secs[1];
	return ratio[1];
}

static void *
xmalloc(size_t n)
{
	void *p = aligned_alloc(64, (n + 63) / 64 * 64);

	if (p == NULL) {
		fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

/* ---- the virtual target's screen ---- */

static void
sim_type(struct sim_target *s, const char *text)
{
	for (const char *p = text; *p; p++) {
		bool shift;
		uint8_t usage = hid_usage_from_keysym((uint8_t)*p, &shift);
		uint8_t rep[HID_KBD_REPORT_LEN] = { 0 };

		if (usage == 0)
			continue;
		rep[0] = shift ? 0x02 : 0;
		rep[2] = usage;
		sim_hid_input(s, HID_IFACE_KEYBOARD, rep, sizeof(rep));
		memset(rep, 0, sizeof(rep));
		sim_hid_input(s, HID_IFACE_KEYBOARD, rep, sizeof(rep));
	}
}

/* A copy of the sim's screen (XRGB32, stride w*4) after typing `text`. */
static uint8_t *
sim_screen(int w, int h, const char *text)
{
	struct sim_target *s = sim_new(w, h);
	struct cap_frame f;
	uint8_t *out;

	if (s == NULL)
		exit(1);
	sim_type(s, text);
	if (sim_render(s, 5000000, &f) < 0 || f.width != w || f.height != h) {
		fprintf(stderr, "bench: sim_render failed\n");
		exit(1);
	}
	out = xmalloc((size_t)w * h * 4);
	for (int y = 0; y < h; y++)
		memcpy(out + (size_t)y * w * 4, f.data + (size_t)y * f.stride, (size_t)w * 4);
	sim_free(s);
	return out;
}

/* ---- tile diff ---- */

struct diff_ctx {
	struct rfb_tilediff *td;
	struct cap_frame f[2];	/* same bytes (static) or 10% apart */
	uint8_t *fb, *dst;
	int fb_stride;
	uint64_t seq;
	uint64_t sink;
	struct rfb_rect rects[MAX_RECTS];
};

static void
diff_ours(void *ctx, int i)
{
	struct diff_ctx *c = ctx;
	struct cap_frame f;
	int rc;

	/* Alternate by our own count: the loop index restarts every slice. */
	(void)i;
	f = c->f[++c->seq & 1];
	f.seq = c->seq;
	if ((rc = rfb_tilediff_run(c->td, &f, c->fb, c->fb_stride, true, c->rects, MAX_RECTS)) < 0) {
		fprintf(stderr, "bench: rfb_tilediff_run: %s\n", cap_strerror(rc));
		exit(1);
	}
}

static void
diff_ref(void *ctx, int i)
{
	struct diff_ctx *c = ctx;

	memcpy(c->dst, c->f[i & 1].data, c->f[i & 1].size);
	bench_use(c->dst);
}

/* The read-once limit of telling a static frame from the last one: one
 * XXH3 pass over the whole frame.  memcpy also writes every byte, so it is
 * the easier reference. */
static void
diff_ref_xxh3(void *ctx, int i)
{
	struct diff_ctx *c = ctx;

	c->sink ^= ref_xxh3(c->f[i & 1].data, c->f[i & 1].size);
	bench_use(&c->sink);
}

/* Changes one byte in every tenth 32×32 tile of a packed frame. */
static void
touch_tenth(uint8_t *p, int w, int h, int bpp)
{
	int tx = (w + 31) / 32, ty = (h + 31) / 32;

	for (int t = 0; t < tx * ty; t += 10) {
		int x = (t % tx) * 32, y = (t / tx) * 32 + 5;

		if (y >= h)
			y = h - 1;
		p[(size_t)y * w * bpp + (size_t)x * bpp] ^= 0x55;
	}
}

/* xxh3_name: also compare with one XXH3 pass over the frame (NULL: only
 * memcpy). */
static void
bench_diff(enum bench_mode m, int w, int h, enum cap_pixfmt fmt, bool tenth,
	   const uint8_t *screen, const char *name, const char *xxh3_name)
{
	bench_fn fn[3] = { diff_ours, diff_ref, diff_ref_xxh3 };
	double secs[3], ratios[3];
	struct diff_ctx c = { 0 };
	int bpp = cap_fmt_bpp(fmt);
	size_t size = (size_t)w * h * bpp;
	uint8_t *a = xmalloc(size), *b = xmalloc(size);

	if (fmt == CAP_FMT_YUYV)
		ARGBToYUY2(screen, w * 4, a, w * 2, w, h);
	else
		memcpy(a, screen, size);
	/* Two buffers with the same bytes: a static screen grabbed twice. */
	memcpy(b, a, size);
	if (tenth)
		touch_tenth(b, w, h, bpp);
	for (int i = 0; i < 2; i++)
		c.f[i] = (struct cap_frame){ .fmt = fmt, .width = w, .height = h, .stride = w * bpp,
					     .size = size, .data = i ? b : a };
	c.td = rfb_tilediff_new(32, 32);
	c.fb_stride = w * 4;
	c.fb = xmalloc((size_t)w * h * 4);
	c.dst = xmalloc(size);
	if (c.td == NULL)
		exit(1);
	diff_ours(&c, 0);	/* the first run reports every tile */
	measure_multi(fn, xxh3_name != NULL ? 3 : 2, &c, bench_reps(m, 15, 61),
		      m == BENCH_SMOKE ? 0 : m == BENCH_QUICK ? 10000000 : 15000000, secs, ratios);
	if (tenth && rfb_tilediff_changed_tiles(c.td) == 0) {
		fprintf(stderr, "bench: %s: no tile seen changed\n", name);
		exit(1);
	}
	bench_line(name, size / secs[0] / 1e9, "GB/s", "memcpy", size / secs[1] / 1e9, ratios[1]);
	if (xxh3_name != NULL)
		bench_line(xxh3_name, size / secs[0] / 1e9, "GB/s", "XXH3_64bits_whole_frame",
			   size / secs[2] / 1e9, ratios[2]);
	rfb_tilediff_free(c.td);
	free(a), free(b), free(c.fb), free(c.dst);
}

/* ---- conversion ---- */

struct conv_ctx {
	const uint8_t *src;
	uint8_t *dst;
	int w, h;
};

static void
conv_ours(void *ctx, int i)
{
	struct conv_ctx *c = ctx;

	(void)i;
	if (cap_convert_rect(CAP_FMT_YUYV, c->src, c->w * 2, c->dst, c->w * 4, c->w, c->h) < 0) {
		fprintf(stderr, "bench: cap_convert_rect failed\n");
		exit(1);
	}
	bench_use(c->dst);
}

static void
conv_ref(void *ctx, int i)
{
	struct conv_ctx *c = ctx;

	(void)i;
	YUY2ToARGB(c->src, c->w * 2, c->dst, c->w * 4, c->w, c->h);
	bench_use(c->dst);
}

static void
bench_convert(enum bench_mode m, int w, int h, const uint8_t *screen)
{
	struct conv_ctx c = { .w = w, .h = h };
	uint8_t *yuyv = xmalloc((size_t)w * h * 2);
	double ours, ref, ratio, px = (double)w * h;

	ARGBToYUY2(screen, w * 4, yuyv, w * 2, w, h);
	c.src = yuyv;
	c.dst = xmalloc((size_t)w * h * 4);
	ratio = measure_pair(conv_ours, conv_ref, &c, bench_reps(m, 15, 61),
		     m == BENCH_SMOKE ? 0 : m == BENCH_QUICK ? 10000000 : 15000000, &ours, &ref);
	bench_line("convert_1080p_yuyv", px / ours / 1e6, "Mpx/s", "libyuv_YUY2ToARGB",
		   px / ref / 1e6, ratio);
	free(yuyv);
	free(c.dst);
}

/* ---- MJPEG ---- */

struct jpeg_ctx {
	struct cap_jpeg *ours;
	tjhandle tj;
	unsigned char *jpg[2];
	unsigned long len[2];
	uint8_t *dst;
	int w, h;
	unsigned n;
};

static void
jpeg_ours(void *ctx, int i)
{
	struct jpeg_ctx *c = ctx;
	int w, h, rc;

	i = (int)(++c->n & 1);
	/* Alternate two images: an identical JPEG would be skipped. */
	if (cap_jpeg_size(c->ours, c->jpg[i & 1], c->len[i & 1], &w, &h) < 0 ||
	    (rc = cap_jpeg_decode(c->ours, c->jpg[i & 1], c->len[i & 1], c->dst, w * 4, w, h)) < 0) {
		fprintf(stderr, "bench: cap_jpeg_decode failed\n");
		exit(1);
	}
	if (rc == 0) {
		fprintf(stderr, "bench: cap_jpeg_decode skipped a different image\n");
		exit(1);
	}
}

static void
jpeg_ref(void *ctx, int i)
{
	struct jpeg_ctx *c = ctx;

	if (tjDecompress2(c->tj, c->jpg[i & 1], c->len[i & 1], c->dst, c->w, c->w * 4, c->h,
			  TJPF_BGRX, 0) < 0) {
		fprintf(stderr, "bench: tjDecompress2: %s\n", tjGetErrorStr());
		exit(1);
	}
}

static void
bench_mjpeg(enum bench_mode m, int w, int h, const uint8_t *screen0, const uint8_t *screen1)
{
	struct jpeg_ctx c = { .w = w, .h = h };
	tjhandle comp = tjInitCompress();
	const uint8_t *scr[2] = { screen0, screen1 };
	double ours, ref, ratio;

	c.ours = cap_jpeg_new();
	c.tj = tjInitDecompress();
	if (comp == NULL || c.tj == NULL || c.ours == NULL) {
		fprintf(stderr, "bench: turbojpeg init failed\n");
		exit(1);
	}
	/* What a USB capture dongle sends: 4:2:2 at about quality 85. */
	for (int i = 0; i < 2; i++)
		if (tjCompress2(comp, scr[i], w, w * 4, h, TJPF_BGRX, &c.jpg[i], &c.len[i],
				TJSAMP_422, 85, 0) < 0) {
			fprintf(stderr, "bench: tjCompress2: %s\n", tjGetErrorStr());
			exit(1);
		}
	c.dst = xmalloc((size_t)w * h * 4);
	ratio = measure_pair(jpeg_ours, jpeg_ref, &c, bench_reps(m, 15, 61),
		     m == BENCH_SMOKE ? 0 : m == BENCH_QUICK ? 15000000 : 20000000, &ours, &ref);
	bench_line("mjpeg_decode_1080p", 1 / ours, "fps", "tjDecompress2", 1 / ref, ratio);
	cap_jpeg_free(c.ours);
	tjDestroy(c.tj);
	tjDestroy(comp);
	tjFree(c.jpg[0]);
	tjFree(c.jpg[1]);
	free(c.dst);
}

/* ---- the virtual target's frame rate ---- */

struct sim_ctx {
	struct sim_target *sim;
	uint64_t t_us;
	uint8_t *dst;
	size_t size;
	const uint8_t *src;
	int col;
};

static void
sim_ours(void *ctx, int i)
{
	struct sim_ctx *c = ctx;
	struct cap_frame f;

	(void)i;
	/* A line full of characters wraps: keep to one line per 60 keys. */
	if (++c->col == 60) {
		sim_type(c->sim, "\n");
		c->col = 0;
	}
	sim_type(c->sim, "x");
	c->t_us += 16667;
	if (sim_render(c->sim, c->t_us, &f) < 0) {
		fprintf(stderr, "bench: sim_render failed\n");
		exit(1);
	}
	bench_use(f.data);
}

static void
sim_ref(void *ctx, int i)
{
	struct sim_ctx *c = ctx;

	(void)i;
	memcpy(c->dst, c->src, c->size);
	bench_use(c->dst);
}

static void
bench_sim(enum bench_mode m, int w, int h, const char *name)
{
	struct sim_ctx c = { .t_us = 1000000 };
	double ours, ref, ratio;

	c.sim = sim_new(w, h);
	c.size = (size_t)w * h * 4;
	c.dst = xmalloc(c.size);
	c.src = sim_screen(w, h, "");
	if (c.sim == NULL)
		exit(1);
	ratio = measure_pair(sim_ours, sim_ref, &c, bench_reps(m, 9, 21),
		     m == BENCH_SMOKE ? 0 : m == BENCH_QUICK ? 15000000 : 30000000, &ours, &ref);
	bench_line(name, 1 / ours, "fps", "memcpy_frame", 1 / ref, ratio);
	sim_free(c.sim);
	free(c.dst);
	free((void *)c.src);
}

int
main(int argc, char **argv)
{
	enum bench_mode m = bench_mode(argc, argv);
	int w = m == BENCH_SMOKE ? 320 : 1920, h = m == BENCH_SMOKE ? 200 : 1080;
	uint8_t *s0 = sim_screen(w, h, "dir c:\nhello, world 0123456789\n");
	uint8_t *s1 = sim_screen(w, h, "dir d:\nHELLO, WORLD 9876543210\n");

	bench_diff(m, w, h, CAP_FMT_YUYV, false, s0, "diff_1080p_static", "diff_1080p_static_xxh3");
	bench_diff(m, w, h, CAP_FMT_XRGB32, false, s0, "diff_1080p_static_xrgb", NULL);
	bench_diff(m, w, h, CAP_FMT_YUYV, true, s0, "diff_1080p_10pct", NULL);
	bench_diff(m, w, h, CAP_FMT_XRGB32, true, s0, "diff_1080p_10pct_xrgb", NULL);
	bench_convert(m, w, h, s0);
	bench_mjpeg(m, w, h, s0, s1);
	bench_sim(m, m == BENCH_SMOKE ? 320 : 1280, m == BENCH_SMOKE ? 200 : 720, "sim_fps_720p");
	bench_sim(m, w, h, "sim_fps_1080p");
	free(s0);
	free(s1);
	return 0;
}
