/* H.264 (RFB encoding 50) benchmarks, each against its reference in the
 * same run, on the same frames.  The H.264 viewer of the headline figures
 * is the one our page is where the browser decodes High 4:4:4 Predictive
 * (it sends pseudo-encoding RFB_PSEUDO_H264_CAPS + 3: 4:4:4 in slices); the viewer
 * that cannot (Constrained Baseline 4:2:0, what noVNC alone asks for) is
 * reported next to it under h264_420_*.
 *
 *   h264_bytes_motion_1080p  bytes/s to a 4:4:4 H.264 viewer (the daemon's
 *                        defaults: 8000 kbit/s cap, the encoder's CRF) of
 *                        10 s of full-motion 1080p30, through the real
 *                        server on a loopback port, against a Tight q8
 *                        viewer of the same server getting the same frames
 *   h264_psnr_motion_1080p   what each of those viewers showed, decoded
 *                        (libavcodec and a precise YUV to RGB, as a
 *                        browser's float conversion is, for H.264 —
 *                        libyuv's 6-bit one in DETAIL; TurboJPEG and zlib
 *                        for Tight), against the frame it was sent for: PSNR
 *                        over R, G, B, the mean over the frames
 *   h264_420_bytes_motion_1080p, h264_420_psnr_motion_1080p   the same for
 *                        a 4:2:0 viewer of the same server at the same time
 *   h264_bytes_at_tight_psnr  the first 5 s of the same motion through the
 *                        4:4:4 encoder alone at CRF 21, 17, 14, 11, 8 (cap
 *                        at its highest; down to the first that reaches
 *                        Tight's PSNR), decoded the same way: the bytes/s
 *                        4:4:4 H.264 needs for Tight q8's PSNR, interpolated
 *                        (no line when even CRF 8 stays below it: DETAIL
 *                        reached=0)
 *   h264_psnr_i420_ceiling, h264_psnr_i444_ceiling   those frames to I420
 *                        (I444) and back with libyuv, no coding: the PSNR
 *                        a 4:2:0 (4:4:4) stream of them shows at best,
 *                        measured so (DETAIL: the same through precise
 *                        conversions)
 *   h264_psnr_precise_load   those frames as the 4:4:4 viewer would see
 *                        them if rfb_h264_load converted RGB to YUV
 *                        precisely: the x264 tool with the server's
 *                        settings fed precise I444 (and, in DETAIL,
 *                        libyuv's I444 for comparison), against Tight q8
 *   h264_encode_1080p    rfb_h264_load + rfb_h264_encode of the same motion
 *                        (XRGB32 in, as the framebuffer holds it; 4:4:4 at
 *                        its default CRF), against the x264 command-line
 *                        tool with the same settings (--profile high444
 *                        --output-csp i444) and thread count fed the same
 *                        frames as BGRA; interleaved repetitions
 *   h264_encode_1080p_i444   rfb_h264_encode alone against x264 fed the
 *                        I444 our load made: the encoders without either
 *                        side's conversion
 *   h264_420_encode_1080p, h264_420_encode_1080p_i420   the same for the
 *                        4:2:0 encoder (Constrained Baseline, its CRF)
 *
 * The motion: bench/motion.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libyuv/convert_argb.h>
#include <libyuv/convert_from_argb.h>
#include <turbojpeg.h>
#include <zlib.h>

#include "bench/bench.h"
#include "bench/motion.h"
#include "capture/capture.h"
#include "common/log.h"
#include "rfb/h264.h"
#include "rfb/rfb_server.h"

#define ENC_TIGHT 7
#define ENC_LAST_RECT (-224)
#define ENC_QUALITY_8 (-32 + 8)
#define ENC_COMPRESS_1 (-256 + 1)
#define FPS 30
/* Mean PSNR counts an identical frame as this (it has no finite PSNR). */
#define PSNR_CAP 100.0

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bench_h264: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* Squared error over R, G, B of two XRGB32 frames of n pixels. */
static double
sse_xrgb(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n * 4; i += 4)
		for (int c = 0; c < 3; c++) {
			int e = (int)a[i + c] - (int)b[i + c];

			s += (uint64_t)(e * e);
		}
	return (double)s;
}

static double
psnr_of(double sse, size_t n)
{
	double p;

	if (sse <= 0)
		return PSNR_CAP;
	p = 10 * log10(255.0 * 255.0 * 3 * (double)n / sse);
	return p > PSNR_CAP ? PSNR_CAP : p;
}

/* ---- precise BT.601 limited-range conversions ----
 *
 * libyuv's conversions (ARGBToI444 in our load, I444ToARGBMatrix in the
 * decoders here, as in h264dec) keep 6 to 8 bits of their coefficients,
 * which costs a 4:4:4 picture more than the coding does at a low CRF; a
 * browser converting on its GPU works in floating point.  These, at 16
 * fractional bits, are for the DETAIL lines only: what the same streams
 * show through a precise conversion. */
struct precise {
	int32_t y[256], rv[256], gu[256], gv[256], bu[256];	/* inverse, ×65536 */
};

static void
precise_init(struct precise *t)
{
	for (int i = 0; i < 256; i++) {
		t->y[i] = (int32_t)lround(65536 * 255.0 / 219 * (i - 16));
		t->rv[i] = (int32_t)lround(65536 * 1.402 * 255 / 224 * (i - 128));
		t->bu[i] = (int32_t)lround(65536 * 1.772 * 255 / 224 * (i - 128));
		t->gu[i] = (int32_t)lround(-65536 * 0.114 * 1.772 / 0.587 * 255 / 224 * (i - 128));
		t->gv[i] = (int32_t)lround(-65536 * 0.299 * 1.402 / 0.587 * 255 / 224 * (i - 128));
	}
}

static uint8_t
precise_clamp(int32_t v)
{
	v = (v + 32768) >> 16;
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Planar 4:4:4 (cshift 0) or 4:2:0 (cshift 1) to XRGB32, w×h. */
static void
precise_to_xrgb(const struct precise *t, const uint8_t *y, int ys, const uint8_t *u, int us,
		const uint8_t *v, int vs, int cshift, uint8_t *out, int w, int h)
{
	for (int j = 0; j < h; j++) {
		const uint8_t *yr = y + (size_t)j * ys, *ur = u + (size_t)(j >> cshift) * us;
		const uint8_t *vr = v + (size_t)(j >> cshift) * vs;
		uint8_t *o = out + (size_t)j * w * 4;

		for (int i = 0; i < w; i++) {
			int32_t l = t->y[yr[i]];
			int cu = ur[i >> cshift], cv = vr[i >> cshift];

			o[4 * i] = precise_clamp(l + t->bu[cu]);
			o[4 * i + 1] = precise_clamp(l + t->gu[cu] + t->gv[cv]);
			o[4 * i + 2] = precise_clamp(l + t->rv[cv]);
			o[4 * i + 3] = 0;
		}
	}
}

/* XRGB32 to planar 4:4:4, w×h, stride w. */
static void
precise_from_xrgb(const uint8_t *in, uint8_t *y, uint8_t *u, uint8_t *v, int w, int h)
{
	for (size_t i = 0; i < (size_t)w * h; i++) {
		double b = in[4 * i], g = in[4 * i + 1], r = in[4 * i + 2];
		double l = 0.299 * r + 0.587 * g + 0.114 * b;
		long yy = lround(16 + l * 219 / 255), uu = lround(128 + (b - l) / 1.772 * 224 / 255);
		long vv = lround(128 + (r - l) / 1.402 * 224 / 255);

		y[i] = (uint8_t)(yy < 0 ? 0 : yy > 255 ? 255 : yy);
		u[i] = (uint8_t)(uu < 0 ? 0 : uu > 255 ? 255 : uu);
		v[i] = (uint8_t)(vv < 0 ? 0 : vv > 255 ? 255 : vv);
	}
}

/* ---- decoders: what a viewer shows ---- */

/* Tight as rfb/tight.c sends it (fill, palette or copy with zlib, JPEG)
 * into an XRGB32 picture. */
struct tight_dec {
	int w, h;
	uint8_t *fb;
	tjhandle tj;
	z_stream z[4];
	bool zon[4];
	uint8_t *tmp;
	size_t tmp_cap;
};

static size_t
tight_len(const uint8_t *p, size_t len, size_t *at)
{
	size_t n = 0;

	for (int sh = 0; sh <= 14; sh += 7) {
		uint8_t b;

		if (*at >= len)
			die("tight: truncated length");
		b = p[(*at)++];
		n |= (size_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			break;
	}
	return n;
}

static void
tight_put(struct tight_dec *d, int x, int y, const uint8_t *rgb)
{
	uint8_t *q = d->fb + ((size_t)y * d->w + x) * 4;

	q[0] = rgb[2], q[1] = rgb[1], q[2] = rgb[0], q[3] = 0;
}

/* One Tight rectangle's data at p[*at]; advances *at. */
static void
tight_rect(struct tight_dec *d, const uint8_t *p, size_t len, size_t *at, int x, int y, int w,
	   int h)
{
	uint8_t cc, filter = 0, pal[256][3];
	int comp, ncol = 0;
	size_t rowb, n;

	if (x + w > d->w || y + h > d->h)
		die("tight: rectangle outside the picture");
	if (*at >= len)
		die("tight: truncated rectangle");
	cc = p[(*at)++];
	for (int i = 0; i < 4; i++)
		if ((cc >> i & 1) && d->zon[i]) {
			inflateEnd(&d->z[i]);
			d->zon[i] = false;
		}
	comp = cc >> 4;
	if (comp == 8) {
		if (len - *at < 3)
			die("tight: truncated fill");
		for (int j = y; j < y + h; j++)
			for (int i = x; i < x + w; i++)
				tight_put(d, i, j, p + *at);
		*at += 3;
		return;
	}
	if (comp == 9) {
		n = tight_len(p, len, at);
		if (len - *at < n ||
		    tjDecompress2(d->tj, p + *at, (unsigned long)n, d->fb + ((size_t)y * d->w + x) * 4,
				  w, d->w * 4, h, TJPF_BGRX, 0) < 0)
			die("tight: JPEG rectangle does not decode: %s", tjGetErrorStr());
		*at += n;
		return;
	}
	if (comp > 7)
		die("tight: compression control 0x%02x", cc);
	if (comp & 4) {
		if (*at >= len)
			die("tight: truncated filter");
		filter = p[(*at)++];
	}
	if (filter == 1) {
		if (*at >= len)
			die("tight: truncated palette");
		ncol = p[(*at)++] + 1;
		if (len - *at < (size_t)ncol * 3)
			die("tight: truncated palette");
		memcpy(pal, p + *at, (size_t)ncol * 3);
		*at += (size_t)ncol * 3;
		rowb = ncol == 2 ? (size_t)(w + 7) / 8 : (size_t)w;
	} else if (filter == 0) {
		rowb = (size_t)w * 3;
	} else {
		die("tight: filter %d not decoded here", filter);
	}
	n = rowb * (size_t)h;
	if (n > d->tmp_cap) {
		free(d->tmp);
		d->tmp = xmalloc(n);
		d->tmp_cap = n;
	}
	if (n < 12) {
		if (len - *at < n)
			die("tight: truncated raw data");
		memcpy(d->tmp, p + *at, n);
		*at += n;
	} else {
		size_t zn = tight_len(p, len, at);
		int s = comp & 3;

		if (len - *at < zn)
			die("tight: truncated zlib data");
		if (!d->zon[s]) {
			memset(&d->z[s], 0, sizeof(d->z[s]));
			if (inflateInit(&d->z[s]) != Z_OK)
				die("tight: inflateInit failed");
			d->zon[s] = true;
		}
		d->z[s].next_in = (uint8_t *)(p + *at);
		d->z[s].avail_in = (uInt)zn;
		d->z[s].next_out = d->tmp;
		d->z[s].avail_out = (uInt)n;
		if (inflate(&d->z[s], Z_SYNC_FLUSH) != Z_OK || d->z[s].avail_out != 0)
			die("tight: zlib data does not inflate to the rectangle");
		*at += zn;
	}
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++) {
			const uint8_t *q = d->tmp + (size_t)j * rowb;
			int c;

			if (filter == 0) {
				tight_put(d, x + i, y + j, q + (size_t)i * 3);
				continue;
			}
			c = ncol == 2 ? q[i / 8] >> (7 - i % 8) & 1 : q[i];
			if (c >= ncol)
				die("tight: palette index out of range");
			tight_put(d, x + i, y + j, pal[c]);
		}
}

/* ---- H.264 through libavcodec ---- */

/* profile_idc (H.264 A.2) of the streams each viewer must get. */
#define PROFILE_BASELINE 66
#define PROFILE_HIGH444 244

struct h264_dec {
	const AVCodec *codec;
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
	int w, h;
	bool chroma444;		/* the stream must be High 4:4:4, else Baseline 4:2:0 */
	uint8_t *fb;		/* the last frame shown, XRGB32 */
	const struct precise *precise;	/* when set: pfb too */
	uint8_t *pfb;		/* the same through precise_to_xrgb() */
	int frames;
};

static void
h264_dec_reset(struct h264_dec *d)
{
	if (d->ctx != NULL)
		avcodec_free_context(&d->ctx);
	if ((d->ctx = avcodec_alloc_context3(d->codec)) == NULL)
		die("avcodec_alloc_context3 failed");
	d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	d->ctx->thread_count = 1;
	d->ctx->err_recognition = AV_EF_EXPLODE;
	if (avcodec_open2(d->ctx, d->codec, NULL) < 0)
		die("avcodec_open2 failed");
}

static void
h264_dec_init(struct h264_dec *d, int w, int h, bool chroma444)
{
	memset(d, 0, sizeof(*d));
	d->w = w, d->h = h;
	d->chroma444 = chroma444;
	d->fb = calloc((size_t)w * h, 4);
	d->codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (d->fb == NULL || d->codec == NULL || d->pkt == NULL || d->frame == NULL)
		die("no H.264 decoder (libavcodec)");
	av_log_set_level(AV_LOG_ERROR);
	h264_dec_reset(d);
}

/* Also convert each picture precisely, into d->pfb. */
static void
h264_dec_precise(struct h264_dec *d, const struct precise *t)
{
	d->precise = t;
	if ((d->pfb = calloc((size_t)d->w * d->h, 4)) == NULL)
		die("out of memory");
}

static void
h264_dec_free(struct h264_dec *d)
{
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d->fb), free(d->pfb);
}

/* profile_idc of every SPS in an Annex-B payload must be `want`: a figure
 * of the wrong profile would compare something other than it says. */
static void
check_profile(const uint8_t *p, size_t n, int want)
{
	for (size_t i = 0; i + 4 < n; i++)
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && (p[i + 3] & 0x1f) == 7 &&
		    p[i + 4] != want)
			die("H.264 SPS with profile_idc %d, not %d", p[i + 4], want);
}

/* One encoding-50 payload (the frame one encode made); the viewer shows
 * its last picture. */
static void
h264_dec_payload(struct h264_dec *d, const uint8_t *p, size_t n, uint32_t flags)
{
	int got = 0, rc;
	enum AVPixelFormat fmt = d->chroma444 ? AV_PIX_FMT_YUV444P : AV_PIX_FMT_YUV420P;

	if (flags & (RFB_H264_RESET | RFB_H264_RESET_ALL))
		h264_dec_reset(d);
	check_profile(p, n, d->chroma444 ? PROFILE_HIGH444 : PROFILE_BASELINE);
	d->pkt->data = (uint8_t *)p;
	d->pkt->size = (int)n;
	if (avcodec_send_packet(d->ctx, d->pkt) < 0)
		die("H.264 payload of %zu bytes does not decode", n);
	while ((rc = avcodec_receive_frame(d->ctx, d->frame)) == 0) {
		const AVFrame *f = d->frame;
		const struct YuvConstants *mat = f->colorspace == AVCOL_SPC_BT709 ? &kYuvH709Constants
										: &kYuvI601Constants;

		if (f->width != d->w || f->height != d->h || f->format != (int)fmt ||
		    f->color_range == AVCOL_RANGE_JPEG)
			die("H.264 frame %dx%d format %d range %d, not %dx%d %s limited range",
			    f->width, f->height, f->format, f->color_range, d->w, d->h,
			    d->chroma444 ? "4:4:4" : "4:2:0");
		if (d->chroma444)
			I444ToARGBMatrix(f->data[0], f->linesize[0], f->data[1], f->linesize[1],
					 f->data[2], f->linesize[2], d->fb, d->w * 4, mat, d->w, d->h);
		else
			I420ToARGBMatrix(f->data[0], f->linesize[0], f->data[1], f->linesize[1],
					 f->data[2], f->linesize[2], d->fb, d->w * 4, mat, d->w, d->h);
		if (d->precise != NULL) {
			if (f->colorspace == AVCOL_SPC_BT709)
				die("a BT.709 stream: precise_to_xrgb() is BT.601");
			precise_to_xrgb(d->precise, f->data[0], f->linesize[0], f->data[1],
					f->linesize[1], f->data[2], f->linesize[2],
					d->chroma444 ? 0 : 1, d->pfb, d->w, d->h);
		}
		got++;
		av_frame_unref(d->frame);
	}
	if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
		die("H.264 decoding failed");
	if (got == 0)
		die("an H.264 payload of %zu bytes gave no picture", n);
	d->frames += got;
}

/* ---- a viewer of the real server ---- */

/* The viewers of bench_bytes, by what their SetEncodings asks for. */
enum view { VIEW_TIGHT, VIEW_444, VIEW_420, VIEW_N };

struct viewer {
	pthread_t th;
	int fd;
	enum view kind;
	atomic_bool stop;
	pthread_mutex_t mu;
	/* Whole FramebufferUpdate messages read and not yet taken. */
	uint8_t *msgs;
	size_t len, cap;
	int updates;		/* under mu */
	uint64_t bytes;		/* under mu: all update bytes read */
	int w, h;
	/* The message being read (the reading thread's own). */
	uint8_t *cur;
	size_t cur_len, cur_cap;
};

static void
read_exact(struct viewer *v, void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = recv(v->fd, p, n, 0);

		if (r > 0) {
			p += r, n -= (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (atomic_load(&v->stop))
			pthread_exit(NULL);
		die("viewer: recv: %s", r == 0 ? "closed" : strerror(errno));
	}
}

/* Reads n bytes onto the message being read; returns where they are. */
static const uint8_t *
take(struct viewer *v, size_t n)
{
	if (v->cur_len + n > v->cur_cap) {
		size_t cap = v->cur_cap ? v->cur_cap : 1 << 20;

		while (cap < v->cur_len + n)
			cap *= 2;
		if ((v->cur = realloc(v->cur, cap)) == NULL)
			die("out of memory");
		v->cur_cap = cap;
	}
	read_exact(v, v->cur + v->cur_len, n);
	v->cur_len += n;
	return v->cur + v->cur_len - n;
}

static uint32_t
be_at(const uint8_t *p, int n)
{
	uint32_t x = 0;

	for (int i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

static size_t
take_compact(struct viewer *v)
{
	size_t n = 0;

	for (int sh = 0; sh <= 14; sh += 7) {
		uint8_t b = *take(v, 1);

		n |= (size_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			break;
	}
	return n;
}

static void
take_tight(struct viewer *v, int w, int h)
{
	uint8_t cc = *take(v, 1);
	int comp = cc >> 4, filter = 0, ncol;
	size_t rowb, n;

	if (comp == 8) {
		take(v, 3);
		return;
	}
	if (comp == 9) {
		take(v, take_compact(v));
		return;
	}
	if (comp > 7)
		die("viewer: bad Tight compression control");
	if (comp & 4)
		filter = *take(v, 1);
	if (filter == 1) {
		ncol = *take(v, 1) + 1;
		take(v, (size_t)ncol * 3);
		rowb = ncol <= 2 ? (size_t)(w + 7) / 8 : (size_t)w;
	} else if (filter == 0 || filter == 2) {
		rowb = (size_t)w * 3;
	} else {
		die("viewer: bad Tight filter");
	}
	n = rowb * (size_t)h;
	take(v, n < 12 ? n : take_compact(v));
}

static void
send_all(int fd, const void *buf, size_t n)
{
	if (send(fd, buf, n, MSG_NOSIGNAL) != (ssize_t)n)
		die("viewer: send: %s", strerror(errno));
}

static void *
viewer_main(void *arg)
{
	struct viewer *v = arg;
	int32_t tight[] = { ENC_TIGHT, ENC_QUALITY_8, ENC_COMPRESS_1 };
	/* Encoding 50 alone (and, for 4:4:4, the pseudo-encoding our page
	 * sends when its browser decodes High 4:4:4): a server that would not
	 * send it has nothing else to send this viewer but Raw, which is
	 * refused below. */
	/* What our page sends where the browser decodes 4:4:4. */
	int32_t h264_444[] = { RFB_ENCODING_H264,
			       RFB_PSEUDO_H264_CAPS + RFB_H264_CAP_444 + RFB_H264_CAP_SLICES };
	int32_t h264_420[] = { RFB_ENCODING_H264 };
	bool h264 = v->kind != VIEW_TIGHT;
	const int32_t *encs = v->kind == VIEW_444 ? h264_444 : v->kind == VIEW_420 ? h264_420 : tight;
	size_t nenc = v->kind == VIEW_444 ? 2 : v->kind == VIEW_420 ? 1 : 3;
	uint8_t buf[64], setenc[4 + 4 * 3] = { 2, 0, 0, (uint8_t)nenc };
	/* 32 bpp, depth 24, little endian, true colour, R<<16 G<<8 B */
	static const uint8_t setpf[20] = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255,
					   16, 8, 0, 0, 0, 0 };
	uint8_t req[10] = { 3, 0, 0, 0, 0, 0 };
	int n;

	read_exact(v, buf, 12);
	if (memcmp(buf, "RFB 003.008\n", 12) != 0)
		die("viewer: not an RFB 3.8 server");
	send_all(v->fd, "RFB 003.008\n", 12);
	read_exact(v, buf, 1);
	if ((n = buf[0]) == 0)
		die("viewer: server refused the connection");
	read_exact(v, buf, (size_t)n);
	if (memchr(buf, 1, (size_t)n) == NULL)
		die("viewer: security type None not offered");
	send_all(v->fd, "\x01", 1);
	read_exact(v, buf, 4);
	if (be_at(buf, 4) != 0)
		die("viewer: security failed");
	send_all(v->fd, "\x01", 1);
	read_exact(v, buf, 24);
	v->w = (int)be_at(buf, 2), v->h = (int)be_at(buf + 2, 2);
	n = (int)be_at(buf + 20, 4);
	while (n > 0) {
		int k = n < (int)sizeof(buf) ? n : (int)sizeof(buf);

		read_exact(v, buf, (size_t)k);
		n -= k;
	}
	send_all(v->fd, setpf, sizeof(setpf));
	for (size_t i = 0; i < nenc; i++) {
		uint32_t e = htonl((uint32_t)encs[i]);

		memcpy(setenc + 4 + 4 * i, &e, 4);
	}
	send_all(v->fd, setenc, 4 + 4 * nenc);
	req[6] = (uint8_t)(v->w >> 8), req[7] = (uint8_t)v->w;
	req[8] = (uint8_t)(v->h >> 8), req[9] = (uint8_t)v->h;
	send_all(v->fd, req, sizeof(req));
	req[1] = 1;	/* incremental from now on */
	for (;;) {
		const uint8_t *hd;
		int rects;

		v->cur_len = 0;
		hd = take(v, 4);
		if (hd[0] != 0)
			die("viewer: unexpected server message %d", hd[0]);
		rects = (int)be_at(hd + 2, 2);
		for (int i = 0; i < rects; i++) {
			const uint8_t *r = take(v, 12);
			int rw = (int)be_at(r + 4, 2), rh = (int)be_at(r + 6, 2);
			int32_t enc = (int32_t)be_at(r + 8, 4);

			if (enc == ENC_LAST_RECT)
				break;
			if (h264 && enc == RFB_ENCODING_H264) {
				const uint8_t *lf = take(v, 8);

				take(v, be_at(lf, 4));
			} else if (!h264 && enc == ENC_TIGHT) {
				take_tight(v, rw, rh);
			} else {
				die("viewer: rectangle in encoding %d, not the one asked for", enc);
			}
		}
		pthread_mutex_lock(&v->mu);
		if (v->len + v->cur_len > v->cap) {
			size_t cap = v->cap ? v->cap : 1 << 20;

			while (cap < v->len + v->cur_len)
				cap *= 2;
			if ((v->msgs = realloc(v->msgs, cap)) == NULL)
				die("out of memory");
			v->cap = cap;
		}
		memcpy(v->msgs + v->len, v->cur, v->cur_len);
		v->len += v->cur_len;
		v->bytes += v->cur_len;
		v->updates++;
		pthread_mutex_unlock(&v->mu);
		send_all(v->fd, req, sizeof(req));
	}
	return NULL;
}

static void
viewer_start(struct viewer *v, int port, enum view kind)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	memset(v, 0, sizeof(*v));
	v->kind = kind;
	pthread_mutex_init(&v->mu, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((v->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		die("socket: %s", strerror(errno));
	setsockopt(v->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(v->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the server: %s", strerror(errno));
	if (pthread_create(&v->th, NULL, viewer_main, v) != 0)
		die("pthread_create failed");
}

static void
viewer_stop(struct viewer *v)
{
	atomic_store(&v->stop, true);
	shutdown(v->fd, SHUT_RDWR);
	pthread_join(v->th, NULL);
	close(v->fd);
	pthread_mutex_destroy(&v->mu);
	free(v->msgs), free(v->cur);
}

static int
viewer_updates(struct viewer *v)
{
	int n;

	pthread_mutex_lock(&v->mu);
	n = v->updates;
	pthread_mutex_unlock(&v->mu);
	return n;
}

/* Decodes every message read since the last call into the viewer's
 * picture. */
static void
viewer_decode(struct viewer *v, struct tight_dec *td, struct h264_dec *hd)
{
	size_t at = 0;

	pthread_mutex_lock(&v->mu);
	while (at < v->len) {
		const uint8_t *m = v->msgs;
		int rects = (int)be_at(m + at + 2, 2);

		at += 4;
		for (int i = 0; i < rects; i++) {
			int x = (int)be_at(m + at, 2), y = (int)be_at(m + at + 2, 2);
			int w = (int)be_at(m + at + 4, 2), h = (int)be_at(m + at + 6, 2);
			int32_t enc = (int32_t)be_at(m + at + 8, 4);

			at += 12;
			if (enc == ENC_LAST_RECT)
				break;
			if ((enc == RFB_ENCODING_H264 && hd == NULL) ||
			    (enc != RFB_ENCODING_H264 && td == NULL))
				die("a rectangle in encoding %d for the other viewer", enc);
			if (enc == RFB_ENCODING_H264) {
				uint32_t n = be_at(m + at, 4), flags = be_at(m + at + 4, 4);

				if (x != 0 || y != 0 || w != hd->w || h != hd->h)
					die("H.264 rectangle %dx%d+%d+%d, not the whole %dx%d frame", w, h,
					    x, y, hd->w, hd->h);
				h264_dec_payload(hd, m + at + 8, n, flags);
				at += 8 + n;
			} else {
				tight_rect(td, m, v->len, &at, x, y, w, h);
			}
		}
	}
	v->len = 0;
	pthread_mutex_unlock(&v->mu);
}

/* ---- the server ---- */

static int in_key(void *c, int v, uint32_t k, bool d) { (void)c, (void)v, (void)k, (void)d; return 0; }
static int in_xt(void *c, int v, uint32_t x, uint32_t k, bool d) { (void)c, (void)v, (void)x, (void)k, (void)d; return 0; }
static int in_ptr(void *c, int v, int x, int y, int w, int h, uint32_t b) { (void)c, (void)v, (void)x, (void)y, (void)w, (void)h, (void)b; return 0; }
static int in_rel(void *c, int v) { (void)c, (void)v; return 0; }

static void
pump(struct rfb_server *s, int ms)
{
	struct pollfd pfd[16];
	int n = rfb_pollfds(s, pfd, 16);

	poll(pfd, (nfds_t)n, ms);
	rfb_process(s);
}

/* Runs the server until every viewer has `want` updates; false after
 * `ms` without. */
static bool
wait_updates(struct rfb_server *s, struct viewer *v, int nv, const int *want, int ms)
{
	uint64_t end = bench_now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		bool all = true;

		for (int i = 0; i < nv; i++)
			if (viewer_updates(&v[i]) < want[i])
				all = false;
		if (all)
			return true;
		if (bench_now_ns() > end)
			return false;
		pump(s, 1);
	}
}

/* Tight's figures over the first `frames` frames, for the CRF sweep
 * (which encodes only those). */
struct tight_ref {
	int frames;
	double bps, psnr;
};

/* h264_bytes_motion_1080p and h264_psnr_motion_1080p (and their h264_420_
 * twins): one server, a Tight q8 viewer, a 4:4:4 and a 4:2:0 H.264 viewer,
 * the frames handed over one by one, each once every viewer has read the
 * update of the one before (so every frame reaches all: a measure of the
 * encodings, not of who kept up). */
static void
bench_bytes(enum bench_mode m, struct motion *mo, struct tight_ref *tref)
{
	static const char *const label[VIEW_N] = { "tight", "h264_444", "h264_420" };
	int nframes = m == BENCH_SMOKE ? 6 : m == BENCH_QUICK ? 3 * FPS : 10 * FPS;
	int w = mo->w, h = mo->h;
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr, .release = in_rel };
	struct rfb_options o = { .listen = "127.0.0.1:0", .width = w, .height = h,
				 .desktop_name = "bench" };
	struct rfb_server *srv;
	struct viewer v[VIEW_N];
	struct tight_dec td = { .w = w, .h = h };
	struct h264_dec hd[VIEW_N];	/* [VIEW_444], [VIEW_420] */
	struct precise pt;
	uint8_t *frame = xmalloc((size_t)w * h * 4);
	double psnr_sum[VIEW_N] = { 0 }, sse_sum[VIEW_N] = { 0 }, psnr_min[VIEW_N];
	double precise_sum[VIEW_N] = { 0 };
	double bps[VIEW_N], psnr[VIEW_N], secs = (double)nframes / FPS;
	uint64_t bytes0[VIEW_N];
	int want[VIEW_N], skipped = 0, err;

	td.fb = calloc((size_t)w * h, 4);
	td.tj = tjInitDecompress();
	if (td.fb == NULL || td.tj == NULL)
		die("setup failed");
	precise_init(&pt);
	h264_dec_init(&hd[VIEW_444], w, h, true);
	h264_dec_init(&hd[VIEW_420], w, h, false);
	h264_dec_precise(&hd[VIEW_444], &pt);
	h264_dec_precise(&hd[VIEW_420], &pt);
	for (int i = 0; i < VIEW_N; i++)
		psnr_min[i] = PSNR_CAP;
	if ((srv = rfb_new(&o, &in, &err)) == NULL)
		die("rfb_new: %s", rfb_strerror(err));
	/* Frame 0 is the first update of each: the whole screen, an IDR. */
	motion_frame(mo, 0, frame);
	{
		struct cap_frame f = { .fmt = CAP_FMT_XRGB32, .width = w, .height = h, .stride = w * 4,
				       .size = (size_t)w * h * 4, .data = frame, .seq = 1, .ts_us = 1 };

		if (rfb_frame(srv, &f) < 0)
			die("rfb_frame failed");
	}
	for (int i = 0; i < VIEW_N; i++) {
		viewer_start(&v[i], rfb_port(srv), (enum view)i);
		want[i] = 1;
	}
	if (!wait_updates(srv, v, VIEW_N, want, 20000))
		die("the viewers did not get their first update in 20 s");
	for (int i = 0; i < VIEW_N; i++) {
		viewer_decode(&v[i], i == VIEW_TIGHT ? &td : NULL, i == VIEW_TIGHT ? NULL : &hd[i]);
		pthread_mutex_lock(&v[i].mu);
		bytes0[i] = v[i].bytes;
		pthread_mutex_unlock(&v[i].mu);
	}
	for (int k = 1; k <= nframes; k++) {
		struct cap_frame f = { .fmt = CAP_FMT_XRGB32, .width = w, .height = h, .stride = w * 4,
				       .size = (size_t)w * h * 4, .data = frame,
				       .seq = (uint64_t)k + 1,
				       .ts_us = 1 + (uint64_t)k * 1000000u / FPS };

		motion_frame(mo, k, frame);
		/* The viewers' requests first, so the update leaves at once. */
		for (int i = 0; i < 3; i++)
			pump(srv, 0);
		if (rfb_frame(srv, &f) <= 0)
			die("rfb_frame: frame %d seen as unchanged", k);
		for (int i = 0; i < VIEW_N; i++)
			want[i]++;
		if (!wait_updates(srv, v, VIEW_N, want, 10000)) {
			/* A frame the server chose not to send one of them:
			 * counted, and what that viewer still shows is
			 * compared with this frame all the same. */
			skipped++;
			for (int i = 0; i < VIEW_N; i++)
				want[i] = viewer_updates(&v[i]);
		}
		for (int i = 0; i < VIEW_N; i++) {
			const uint8_t *shown = i == VIEW_TIGHT ? td.fb : hd[i].fb;
			double e, p;

			viewer_decode(&v[i], i == VIEW_TIGHT ? &td : NULL, i == VIEW_TIGHT ? NULL : &hd[i]);
			e = sse_xrgb(shown, frame, (size_t)w * h);
			p = psnr_of(e, (size_t)w * h);
			sse_sum[i] += e;
			psnr_sum[i] += p;
			if (p < psnr_min[i])
				psnr_min[i] = p;
			if (i != VIEW_TIGHT)
				precise_sum[i] += psnr_of(sse_xrgb(hd[i].pfb, frame, (size_t)w * h),
							  (size_t)w * h);
		}
		if (k == tref->frames) {
			pthread_mutex_lock(&v[VIEW_TIGHT].mu);
			tref->bps = (double)(v[VIEW_TIGHT].bytes - bytes0[VIEW_TIGHT]) * FPS / k;
			pthread_mutex_unlock(&v[VIEW_TIGHT].mu);
			tref->psnr = psnr_sum[VIEW_TIGHT] / k;
		}
	}
	for (int i = 0; i < VIEW_N; i++) {
		pthread_mutex_lock(&v[i].mu);
		bps[i] = (double)(v[i].bytes - bytes0[i]) / secs;
		pthread_mutex_unlock(&v[i].mu);
		/* What a browser shows: it converts YUV to RGB in floating
		 * point (Chromium's compositor), i.e. precisely; libyuv's
		 * 6-bit conversion is in DETAIL (_libyuv_decode). */
		psnr[i] = (i == VIEW_TIGHT ? psnr_sum[i] : precise_sum[i]) / nframes;
	}
	bench_line("h264_bytes_motion_1080p", bps[VIEW_444], "B/s", "tight_q8", bps[VIEW_TIGHT],
		   bps[VIEW_444] / bps[VIEW_TIGHT]);
	bench_line("h264_psnr_motion_1080p", psnr[VIEW_444], "dB", "tight_q8_psnr", psnr[VIEW_TIGHT],
		   psnr[VIEW_444] / psnr[VIEW_TIGHT]);
	bench_line("h264_420_bytes_motion_1080p", bps[VIEW_420], "B/s", "tight_q8", bps[VIEW_TIGHT],
		   bps[VIEW_420] / bps[VIEW_TIGHT]);
	bench_line("h264_420_psnr_motion_1080p", psnr[VIEW_420], "dB", "tight_q8_psnr",
		   psnr[VIEW_TIGHT], psnr[VIEW_420] / psnr[VIEW_TIGHT]);
	printf("DETAIL name=h264_bytes_motion_1080p frames=%d secs=%.3f skipped=%d w=%d h=%d "
	       "crf_444=%d crf_420=%d kbps_cap=%d", nframes, secs, skipped, w, h,
	       RFB_H264_DEFAULT_CRF_444, RFB_H264_DEFAULT_CRF, RFB_H264_DEFAULT_KBPS);
	for (int i = 0; i < VIEW_N; i++)
		printf(" %s_bytes=%.0f %s_kbit_s=%.1f", label[i], bps[i] * secs, label[i],
		       bps[i] * 8 / 1000);
	printf("\nDETAIL name=h264_psnr_motion_1080p frames_decoded_444=%d frames_decoded_420=%d "
	       "h264_444_precise_mean=%.3f h264_420_precise_mean=%.3f", hd[VIEW_444].frames,
	       hd[VIEW_420].frames, precise_sum[VIEW_444] / nframes, precise_sum[VIEW_420] / nframes);
	for (int i = 0; i < VIEW_N; i++)
		printf(" %s_libyuv_decode_mean=%.3f %s_libyuv_decode_min=%.3f %s_libyuv_decode_global=%.3f",
		       label[i], psnr_sum[i] / nframes, label[i], psnr_min[i], label[i],
		       psnr_of(sse_sum[i] / nframes, (size_t)w * h));
	printf("\n");
	fflush(stdout);
	for (int i = 0; i < VIEW_N; i++)
		viewer_stop(&v[i]);
	rfb_free(srv);
	h264_dec_free(&hd[VIEW_444]);
	h264_dec_free(&hd[VIEW_420]);
	for (int i = 0; i < 4; i++)
		if (td.zon[i])
			inflateEnd(&td.z[i]);
	tjDestroy(td.tj);
	free(td.fb), free(td.tmp), free(frame);
}

/* h264_bytes_at_tight_psnr: the same motion through the 4:4:4 encoder
 * alone at lower CRFs (the cap at its highest, so that only the CRF
 * decides), each frame decoded and compared like the viewers' above: the
 * bytes H.264 needs to show these frames as well as Tight q8 did,
 * interpolated (log bytes, linear in PSNR) between the two CRFs either
 * side.  The sweep stops at the first CRF that gets there. */
static const int sweep_crf[] = { 21, 17, 14, 11, 8 };
#define SWEEP_N ((int)(sizeof(sweep_crf) / sizeof(sweep_crf[0])))

/* The mean PSNR of the first n frames converted as our load does (libyuv)
 * to 4:2:0 or 4:4:4 and back as the decoders here do (libyuv), no coding
 * between: no stream of that sampling shows them better, measured so.
 * For 4:4:4 also (ceil_precise[0]) back through precise_to_xrgb() and
 * ([1]) there and back precisely: what the conversions themselves cost. */
static double
sampling_ceiling(struct motion *mo, int n, bool chroma444, const struct precise *pt,
		 double ceil_precise[2])
{
	int w = mo->w, h = mo->h, cw = chroma444 ? w : w / 2, ch = chroma444 ? h : h / 2;
	size_t ysz = (size_t)w * h, csz = (size_t)cw * ch;
	uint8_t *frame = xmalloc(ysz * 4), *back = xmalloc(ysz * 4), *yuv = xmalloc(ysz + 2 * csz);
	uint8_t *u = yuv + ysz, *v = u + csz;
	double sum = 0, psum[2] = { 0, 0 };

	for (int k = 1; k <= n; k++) {
		motion_frame(mo, k, frame);
		if (chroma444) {
			ARGBToI444(frame, w * 4, yuv, w, u, cw, v, cw, w, h);
			I444ToARGBMatrix(yuv, w, u, cw, v, cw, back, w * 4, &kYuvI601Constants, w, h);
			sum += psnr_of(sse_xrgb(back, frame, ysz), ysz);
			precise_to_xrgb(pt, yuv, w, u, cw, v, cw, 0, back, w, h);
			psum[0] += psnr_of(sse_xrgb(back, frame, ysz), ysz);
			precise_from_xrgb(frame, yuv, u, v, w, h);
			precise_to_xrgb(pt, yuv, w, u, cw, v, cw, 0, back, w, h);
			psum[1] += psnr_of(sse_xrgb(back, frame, ysz), ysz);
		} else {
			ARGBToI420(frame, w * 4, yuv, w, u, cw, v, cw, w, h);
			I420ToARGBMatrix(yuv, w, u, cw, v, cw, back, w * 4, &kYuvI601Constants, w, h);
			sum += psnr_of(sse_xrgb(back, frame, ysz), ysz);
		}
	}
	if (ceil_precise != NULL)
		ceil_precise[0] = psum[0] / n, ceil_precise[1] = psum[1] / n;
	free(frame), free(back), free(yuv);
	return sum / n;
}

static void
bench_crf_sweep(struct motion *mo, const struct tight_ref *tref)
{
	int w = mo->w, h = mo->h, n = tref->frames, rc, hi = -1, done = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	uint8_t *frame = xmalloc((size_t)w * h * 4);
	double bps[SWEEP_N], psnr[SWEEP_N], est, ceil420, ceil444, ceil444p[2];
	struct precise pt;
	char pts[256], ppts[256];
	size_t at = 0, pat = 0;

	precise_init(&pt);
	for (int c = 0; c < SWEEP_N && hi < 0; c++) {
		struct rfb_h264_params par = { .width = w, .height = h, .fps = FPS,
					       .kbps = RFB_H264_MAX_KBPS, .crf = sweep_crf[c],
					       .chroma444 = true, .threads = threads };
		struct rfb_h264 *e = rfb_h264_new(&par, &rc);
		struct h264_dec hd;
		double bytes = 0, sum = 0, psum = 0;

		if (e == NULL)
			die("rfb_h264_new failed (%d)", rc);
		h264_dec_init(&hd, w, h, true);
		h264_dec_precise(&hd, &pt);
		for (int k = 1; k <= n; k++) {
			struct rfb_h264_frame fr;

			motion_frame(mo, k, frame);
			rfb_h264_load(e, frame, w * 4);
			if (rfb_h264_encode(e, k == 1, &fr) < 0 || fr.len == 0)
				die("rfb_h264_encode failed");
			h264_dec_payload(&hd, fr.data, fr.len, k == 1 ? RFB_H264_RESET : 0);
			bytes += (double)fr.len + 4 + 12 + 8;	/* as an update */
			sum += psnr_of(sse_xrgb(hd.fb, frame, (size_t)w * h), (size_t)w * h);
			psum += psnr_of(sse_xrgb(hd.pfb, frame, (size_t)w * h), (size_t)w * h);
		}
		bps[c] = bytes * FPS / n;
		psnr[c] = psum / n;	/* as a browser shows it (see bench_motion) */
		rfb_h264_free(e);
		h264_dec_free(&hd);
		at += (size_t)snprintf(pts + at, sizeof(pts) - at, "%s%d:%.0f:%.3f", c ? "," : "",
				       sweep_crf[c], bps[c], psnr[c]);
		pat += (size_t)snprintf(ppts + pat, sizeof(ppts) - pat, "%s%d:%.3f", c ? "," : "",
					sweep_crf[c], psum / n);
		done = c + 1;
		if (psnr[c] >= tref->psnr)
			hi = c;
	}
	ceil420 = sampling_ceiling(mo, n, false, &pt, NULL);
	ceil444 = sampling_ceiling(mo, n, true, &pt, ceil444p);
	if (hi == 0) {
		est = bps[0];
	} else if (hi > 0) {
		double t = (tref->psnr - psnr[hi - 1]) / (psnr[hi] - psnr[hi - 1]);

		est = exp(log(bps[hi - 1]) + t * (log(bps[hi]) - log(bps[hi - 1])));
	} else {
		est = 0;	/* not reached */
	}
	/* No figure when no CRF got there: the DETAIL line's points say how
	 * close each came. */
	if (hi >= 0)
		bench_line("h264_bytes_at_tight_psnr", est, "B/s", "tight_q8", tref->bps,
			   est / tref->bps);
	bench_line("h264_psnr_i444_ceiling", ceil444, "dB", "tight_q8_psnr", tref->psnr,
		   ceil444 / tref->psnr);
	bench_line("h264_psnr_i420_ceiling", ceil420, "dB", "tight_q8_psnr", tref->psnr,
		   ceil420 / tref->psnr);
	printf("DETAIL name=h264_bytes_at_tight_psnr frames=%d tight_psnr=%.3f tight_bps=%.0f "
	       "reached=%d crf_hi=%d crf_lo=%d i420_ceiling_psnr=%.3f i444_ceiling_psnr=%.3f "
	       "i444_ceiling_precise_decode=%.3f i444_ceiling_precise_both=%.3f chroma=444 "
	       "points=%s points_precise_decode=%s\n", n, tref->psnr, tref->bps, hi >= 0,
	       hi > 0 ? sweep_crf[hi - 1] : hi == 0 ? sweep_crf[0] : sweep_crf[done - 1],
	       hi >= 0 ? sweep_crf[hi] : sweep_crf[done - 1], ceil420, ceil444, ceil444p[0],
	       ceil444p[1], pts, ppts);
	fflush(stdout);
	free(frame);
}

/* ---- encode speed against the x264 command-line tool ---- */

/* The x264 command line that does what rfb_h264_new() sets up (see
 * rfb/h264.c): every setting it makes, spelt as x264's options; chroma444
 * is High 4:4:4 Predictive coding I444, else Constrained Baseline I420. */
static int
run_x264(const char *in, int in_fd, const char *csp, bool chroma444, const char *out, int w,
	 int h, int frames, int threads, int kbps, int crf, double *fps, char *err, size_t errlen)
{
	char res[32], th[16], rate[16], crfs[16], nf[16];
	const char *argv[] = {
		"x264", "--no-progress", "--preset", "ultrafast", "--tune", "zerolatency",
		"--profile", chroma444 ? "high444" : "baseline",
		"--output-csp", chroma444 ? "i444" : "i420",
		"--crf", crfs, "--vbv-maxrate", rate, "--vbv-bufsize", rate,
		"--keyint", "infinite", "--scenecut", "0", "--range", "tv", "--threads", th,
		"--sliced-threads", "--fps", "30", "--demuxer", "raw",
		"--input-csp", csp, "--input-res", res, "--frames", nf, "-o", out, in, NULL
	};
	int pfd[2], status;
	pid_t pid;
	char buf[8192];
	size_t len = 0;
	const char *p, *line;

	snprintf(res, sizeof(res), "%dx%d", w, h);
	snprintf(th, sizeof(th), "%d", threads);
	snprintf(rate, sizeof(rate), "%d", kbps);
	snprintf(crfs, sizeof(crfs), "%d", crf);
	snprintf(nf, sizeof(nf), "%d", frames);
	if (pipe(pfd) < 0)
		die("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* in "-": the frames come on in_fd */
		dup2(in_fd >= 0 ? in_fd : null, 0), dup2(null, 1), dup2(pfd[1], 2);
		close(pfd[0]), close(pfd[1]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec x264: %s\n", strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r = read(pfd[0], buf + len, sizeof(buf) - 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf) - 1) {
			/* Keep the tail: the summary line comes last. */
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	buf[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	snprintf(err, errlen, "%s", buf);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	/* "encoded 60 frames, 85.21 fps, 8012.34 kb/s": x264 times its own
	 * encoding loop (input read, conversion, encode, output), not its
	 * start-up. */
	line = NULL;
	for (p = buf; (p = strstr(p, "encoded ")) != NULL; p++)
		line = p;
	if (line == NULL)
		return -1;
	{
		int nfr;

		if (sscanf(line, "encoded %d frames, %lf fps", &nfr, fps) != 2 || nfr != frames)
			return -1;
	}
	return 0;
}

static void
write_file(const char *path, const void *p, size_t n, bool append)
{
	FILE *fp = fopen(path, append ? "ab" : "wb");

	if (fp == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0)
		die("%s: cannot write", path);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Decodes an Annex-B file of n pictures of the motion's frames 1..n;
 * returns the mean PSNR through libyuv's conversion (the viewers' measure
 * above) and, in *precise_psnr, through precise_to_xrgb(). */
static double
decode_file_psnr(struct motion *mo, const char *path, int n, const struct precise *pt,
		 double *precise_psnr)
{
	int w = mo->w, h = mo->h, got = 0;
	FILE *fp = fopen(path, "rb");
	uint8_t *frame = xmalloc((size_t)w * h * 4), *buf;
	AVCodecParserContext *pc = av_parser_init(AV_CODEC_ID_H264);
	struct h264_dec hd;
	double sum = 0, psum = 0;
	long len;
	size_t at = 0;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET))
		die("%s: cannot read", path);
	buf = xmalloc((size_t)len + AV_INPUT_BUFFER_PADDING_SIZE);
	memset(buf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	if (fread(buf, 1, (size_t)len, fp) != (size_t)len || pc == NULL)
		die("%s: cannot read", path);
	fclose(fp);
	h264_dec_init(&hd, w, h, true);
	h264_dec_precise(&hd, pt);
	/* One access unit at a time, as the parser splits them; calls with no
	 * data at the end flush what it holds. */
	for (;;) {
		bool flushing = at >= (size_t)len;
		uint8_t *au;
		int au_len, used;

		used = av_parser_parse2(pc, hd.ctx, &au, &au_len, flushing ? NULL : buf + at,
					flushing ? 0 : (int)((size_t)len - at), AV_NOPTS_VALUE,
					AV_NOPTS_VALUE, 0);
		if (used < 0)
			die("%s: does not parse", path);
		at += (size_t)used;
		if (au_len == 0) {
			if (flushing)
				break;
			continue;
		}
		h264_dec_payload(&hd, au, (size_t)au_len, 0);
		if (++got > n)
			die("%s: more than %d pictures", path, n);
		motion_frame(mo, got, frame);
		sum += psnr_of(sse_xrgb(hd.fb, frame, (size_t)w * h), (size_t)w * h);
		psum += psnr_of(sse_xrgb(hd.pfb, frame, (size_t)w * h), (size_t)w * h);
	}
	if (got != n)
		die("%s: %d pictures, not %d", path, got, n);
	av_parser_close(pc);
	h264_dec_free(&hd);
	free(buf), free(frame);
	*precise_psnr = psum / n;
	return sum / n;
}

/* h264_psnr_precise_load: the 4:4:4 viewer's stream as it would be if
 * rfb_h264_load converted RGB to YUV precisely instead of with libyuv's
 * ARGBToI444.  Both streams come from the x264 tool with the server's
 * settings (the 4:4:4 default CRF, its cap), fed through a pipe: the I444
 * ARGBToI444 makes (what our load gives libx264: the same bytes out, as
 * h264_encode_1080p_i444's DETAIL shows) and precise_from_xrgb()'s. */
static void
bench_precise_load(struct motion *mo, const struct tight_ref *tref)
{
	int w = mo->w, h = mo->h, n = tref->frames;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	size_t ysz = (size_t)w * h;
	uint8_t *frame = xmalloc(ysz * 4), *yuv = xmalloc(3 * ysz);
	char dir[] = "/tmp/webkvm-bench-h264-XXXXXX", out[128], err[8192];
	double psnr[2], ppsnr[2], bps[2];
	struct precise pt;

	precise_init(&pt);
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(out, sizeof(out), "%s/out.264", dir);
	for (int v = 0; v < 2; v++) {
		int pfd[2], status;
		double fps;
		pid_t feeder;

		if (pipe(pfd) < 0)
			die("pipe: %s", strerror(errno));
		if ((feeder = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (feeder == 0) {
			close(pfd[0]);
			for (int k = 1; k <= n; k++) {
				motion_frame(mo, k, frame);
				if (v == 0)
					ARGBToI444(frame, w * 4, yuv, w, yuv + ysz, w, yuv + 2 * ysz, w, w,
						   h);
				else
					precise_from_xrgb(frame, yuv, yuv + ysz, yuv + 2 * ysz, w, h);
				for (size_t off = 0; off < 3 * ysz;) {
					ssize_t r = write(pfd[1], yuv + off, 3 * ysz - off);

					if (r < 0 && errno == EINTR)
						continue;
					if (r <= 0)
						_exit(1);
					off += (size_t)r;
				}
			}
			_exit(0);
		}
		close(pfd[1]);
		if (run_x264("-", pfd[0], "i444", true, out, w, h, n, threads, RFB_H264_DEFAULT_KBPS,
			     RFB_H264_DEFAULT_CRF_444, &fps, err, sizeof(err)) < 0)
			die("x264 failed:\n%s", err);
		close(pfd[0]);
		if (waitpid(feeder, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("the frame feeder of x264 failed");
		bps[v] = (double)file_size(out) * FPS / n;
		psnr[v] = decode_file_psnr(mo, out, n, &pt, &ppsnr[v]);
		unlink(out);
	}
	rmdir(dir);
	bench_line("h264_psnr_precise_load", psnr[1], "dB", "tight_q8_psnr", tref->psnr,
		   psnr[1] / tref->psnr);
	printf("DETAIL name=h264_psnr_precise_load frames=%d crf=%d kbps_cap=%d tight_psnr=%.3f "
	       "tight_bps=%.0f libyuv_load_psnr=%.3f libyuv_load_precise_decode=%.3f "
	       "libyuv_load_bps=%.0f precise_load_psnr=%.3f precise_load_precise_decode=%.3f "
	       "precise_load_bps=%.0f\n", n, RFB_H264_DEFAULT_CRF_444, RFB_H264_DEFAULT_KBPS,
	       tref->psnr, tref->bps, psnr[0], ppsnr[0], bps[0], psnr[1], ppsnr[1], bps[1]);
	fflush(stdout);
	free(frame), free(yuv);
}

/* For each sampling (4:4:4, 4:2:0): ours, x264 on BGRA, x264 on the YUV
 * our load made; one pass of each per repetition, the order rotating. */
enum { ENC_OURS, ENC_X264_BGRA, ENC_X264_YUV, ENC_N };
enum { S_444, S_420, S_N };

struct enc_times {
	double *t[ENC_N];	/* s per frame, per repetition */
	double *enc_only;	/* ours without the load */
	double ours_bytes, x264_bytes[ENC_N];
};

static void
bench_encode(enum bench_mode m, struct motion *mo)
{
	static const char *const yuv_csp[S_N] = { "i444", "i420" };
	int w = mo->w, h = mo->h;
	int nframes = m == BENCH_SMOKE ? 4 : 2 * FPS, reps = bench_reps(m, 3, 5);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;	/* rfb/h264.c's default */
	size_t fsz = (size_t)w * h * 4, ysz = (size_t)w * h;
	size_t ysize[S_N] = { 3 * ysz, ysz + 2 * (size_t)(w / 2) * (h / 2) };
	uint8_t *frames = xmalloc(fsz * (size_t)nframes), *yuv = xmalloc(3 * ysz);
	char dir[] = "/tmp/webkvm-bench-h264-XXXXXX", bgra[128], yuvf[S_N][128], out[128];
	char err[8192];
	struct enc_times et[S_N];
	double *pr = calloc((size_t)reps, sizeof(double)), *pr2 = calloc((size_t)reps, sizeof(double));

	if (pr == NULL || pr2 == NULL)
		die("out of memory");
	for (int s = 0; s < S_N; s++) {
		memset(&et[s], 0, sizeof(et[s]));
		for (int k = 0; k < ENC_N; k++)
			if ((et[s].t[k] = calloc((size_t)reps, sizeof(double))) == NULL)
				die("out of memory");
		if ((et[s].enc_only = calloc((size_t)reps, sizeof(double))) == NULL)
			die("out of memory");
	}
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(bgra, sizeof(bgra), "%s/frames.bgra", dir);
	snprintf(yuvf[S_444], sizeof(yuvf[S_444]), "%s/frames.i444", dir);
	snprintf(yuvf[S_420], sizeof(yuvf[S_420]), "%s/frames.i420", dir);
	snprintf(out, sizeof(out), "%s/out.264", dir);
	/* The same frames in memory for ours and in files for x264: BGRA is
	 * XRGB32's bytes (B, G, R, X; x264 ignores the fourth), the I444 and
	 * I420 are what our load makes of them (libyuv's ARGBToI444,
	 * ARGBToI420). */
	for (int k = 0; k < nframes; k++) {
		uint8_t *f = frames + fsz * (size_t)k;

		motion_frame(mo, k + 1, f);
		write_file(bgra, f, fsz, k > 0);
		ARGBToI444(f, w * 4, yuv, w, yuv + ysz, w, yuv + 2 * ysz, w, w, h);
		write_file(yuvf[S_444], yuv, ysize[S_444], k > 0);
		ARGBToI420(f, w * 4, yuv, w, yuv + ysz, w / 2, yuv + ysz + ysz / 4, w / 2, w, h);
		write_file(yuvf[S_420], yuv, ysize[S_420], k > 0);
	}
	for (int r = 0; r < reps; r++) {
		for (int j = 0; j < S_N * ENC_N; j++) {
			int jj = (j + r) % (S_N * ENC_N), s = jj / ENC_N, k = jj % ENC_N, rc;
			bool c444 = s == S_444;
			double fps;

			if (k == ENC_OURS) {
				struct rfb_h264_params par = {
					.width = w, .height = h, .fps = FPS, .kbps = RFB_H264_DEFAULT_KBPS,
					.crf = 0, .chroma444 = c444, .threads = threads
				};
				struct rfb_h264 *e;
				struct rfb_h264_frame fr;
				uint64_t t0, t1, enc = 0;
				size_t bytes = 0;

				if ((e = rfb_h264_new(&par, &rc)) == NULL)
					die("rfb_h264_new failed (%d)", rc);
				t0 = bench_now_ns();
				for (int i = 0; i < nframes; i++) {
					uint64_t a;

					rfb_h264_load(e, frames + fsz * (size_t)i, w * 4);
					a = bench_now_ns();
					if (rfb_h264_encode(e, i == 0, &fr) < 0)
						die("rfb_h264_encode failed");
					enc += bench_now_ns() - a;
					bytes += fr.len;
				}
				t1 = bench_now_ns();
				rfb_h264_free(e);
				et[s].t[k][r] = (double)(t1 - t0) / 1e9 / nframes;
				et[s].enc_only[r] = (double)enc / 1e9 / nframes;
				et[s].ours_bytes = (double)bytes;
				continue;
			}
			if (run_x264(k == ENC_X264_BGRA ? bgra : yuvf[s], -1,
				     k == ENC_X264_BGRA ? "bgra" : yuv_csp[s], c444, out, w, h, nframes,
				     threads, RFB_H264_DEFAULT_KBPS,
				     c444 ? RFB_H264_DEFAULT_CRF_444 : RFB_H264_DEFAULT_CRF, &fps, err,
				     sizeof(err)) < 0)
				die("x264 failed:\n%s", err);
			et[s].t[k][r] = 1 / fps;
			et[s].x264_bytes[k] = (double)file_size(out);
		}
	}
	unlink(bgra), unlink(yuvf[S_444]), unlink(yuvf[S_420]), unlink(out), rmdir(dir);
	for (int s = 0; s < S_N; s++) {
		static const char *const name[S_N][2] = {
			{ "h264_encode_1080p", "h264_encode_1080p_i444" },
			{ "h264_420_encode_1080p", "h264_420_encode_1080p_i420" },
		};
		static const char *const refname[S_N][2] = {
			{ "x264_cli_bgra_i444", "x264_cli_i444" },
			{ "x264_cli_bgra_i420", "x264_cli_i420" },
		};
		struct enc_times *e = &et[s];
		double ours, ref, eo, ref2;

		for (int r = 0; r < reps; r++) {
			pr[r] = e->t[ENC_X264_BGRA][r] / e->t[ENC_OURS][r];
			pr2[r] = e->t[ENC_X264_YUV][r] / e->enc_only[r];
		}
		ours = bench_median(e->t[ENC_OURS], reps);
		ref = bench_median(e->t[ENC_X264_BGRA], reps);
		ref2 = bench_median(e->t[ENC_X264_YUV], reps);
		eo = bench_median(e->enc_only, reps);
		bench_line(name[s][0], 1 / ours, "fps", refname[s][0], 1 / ref, bench_median(pr, reps));
		bench_line(name[s][1], 1 / eo, "fps", refname[s][1], 1 / ref2, bench_median(pr2, reps));
		printf("DETAIL name=%s chroma=%s crf=%d ours_ms=%.3f load_ms=%.3f encode_ms=%.3f "
		       "x264_bgra_ms=%.3f x264_yuv_ms=%.3f threads=%d frames=%d reps=%d "
		       "ours_bytes=%.0f x264_bgra_bytes=%.0f x264_yuv_bytes=%.0f\n",
		       name[s][0], s == S_444 ? "444" : "420",
		       s == S_444 ? RFB_H264_DEFAULT_CRF_444 : RFB_H264_DEFAULT_CRF, ours * 1e3,
		       (ours - eo) * 1e3, eo * 1e3, ref * 1e3, ref2 * 1e3, threads, nframes, reps,
		       e->ours_bytes, e->x264_bytes[ENC_X264_BGRA], e->x264_bytes[ENC_X264_YUV]);
		fflush(stdout);
		for (int k = 0; k < ENC_N; k++)
			free(e->t[k]);
		free(e->enc_only);
	}
	free(pr), free(pr2), free(frames), free(yuv);
}

int
main(int argc, char **argv)
{
	enum bench_mode m = bench_mode(argc, argv);
	int w = m == BENCH_SMOKE ? 320 : 1920, h = m == BENCH_SMOKE ? 200 : 1080;
	const char *frame = "bench/desktop-1080p.yuyv.gz";
	struct motion mo;
	struct tight_ref tref;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--frame") == 0 && i + 1 < argc)
			frame = argv[++i];
	wk_log_set_level(WK_LOG_WARN);
	if (motion_init(&mo, frame, w, h) < 0)
		exit(1);
	tref.frames = m == BENCH_SMOKE ? 3 : m == BENCH_QUICK ? 2 * FPS : 5 * FPS;
	bench_bytes(m, &mo, &tref);
	bench_crf_sweep(&mo, &tref);
	bench_precise_load(&mo, &tref);
	bench_encode(m, &mo);
	motion_free(&mo);
	return 0;
}
