/* H.264 (RFB encoding 50) benchmarks, each against its reference in the
 * same run, on the same frames:
 *
 *   h264_bytes_motion_1080p  bytes/s to an H.264 viewer (the daemon's
 *                        defaults: 8000 kbit/s cap, the encoder's CRF) of
 *                        10 s of full-motion 1080p30, through the real
 *                        server on a loopback port, against a Tight q8
 *                        viewer of the same server getting the same frames
 *   h264_psnr_motion_1080p   what each of those viewers showed, decoded
 *                        (libavcodec for H.264; TurboJPEG and zlib for
 *                        Tight), against the frame it was sent for: PSNR
 *                        over R, G, B, the mean over the frames
 *   h264_bytes_at_tight_psnr  the first 5 s of the same motion through the
 *                        encoder alone at CRF 21, 14 and 8 (cap at its
 *                        highest), decoded the same way: the bytes/s H.264
 *                        needs for Tight q8's PSNR, interpolated (no line
 *                        when even CRF 8 stays below it: DETAIL reached=0)
 *   h264_psnr_i420_ceiling   those frames to I420 and back, no coding: the
 *                        PSNR a 4:2:0 stream of them cannot exceed
 *   h264_encode_1080p    rfb_h264_load + rfb_h264_encode of the same motion
 *                        (XRGB32 in, as the framebuffer holds it), against
 *                        the x264 command-line tool with the same settings
 *                        and thread count fed the same frames as BGRA;
 *                        interleaved repetitions
 *   h264_encode_1080p_i420   rfb_h264_encode alone against x264 fed the
 *                        I420 our load made: the encoders without either
 *                        side's conversion
 *
 * The motion (motion_frame): the committed desktop (bench/desktop-1080p.
 * yuyv.gz: a terminal of text, a window with a photo-like picture), its
 * terminal scrolling up SCROLL_PX lines a frame and its picture window
 * gliding over the root, bouncing; every frame is a function of its index
 * alone, so both sides of every figure get the same bytes.
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

/* ---- the motion ---- */

#define DESK_W 1920
#define DESK_H 1080
/* Where bench/make-desktop-frame.sh put the terminal and the picture
 * window in the committed frame. */
#define TERM_X 8
#define TERM_Y 8
#define TERM_W 716
#define TERM_H 964
#define PIC_X 930
#define PIC_Y 160
#define PIC_W 960
#define PIC_H 720
/* The picture glides over the root right of the terminal. */
#define PIC_X_MIN 736
#define SCROLL_PX 6
#define PIC_DX 5
#define PIC_DY 3

struct motion {
	int w, h;		/* frames handed out: the middle w×h of 1080p */
	uint8_t *desk;		/* the desktop, XRGB32 1920×1080 */
	uint8_t *base;		/* the desktop without its picture window */
	uint8_t *full;		/* one 1080p frame */
};

static void
motion_init(struct motion *m, const char *path, int w, int h)
{
	size_t ysize = (size_t)DESK_W * DESK_H * 2;
	uint8_t *yuyv = xmalloc(ysize);
	gzFile z = gzopen(path, "rb");
	const uint8_t *root;

	if (z == NULL)
		die("%s: cannot open (run from the top of the tree)", path);
	if (gzread(z, yuyv, (unsigned)ysize) != (int)ysize || gzread(z, yuyv, 1) != 0)
		die("%s: not one %dx%d YUYV frame", path, DESK_W, DESK_H);
	gzclose(z);
	m->w = w, m->h = h;
	m->desk = xmalloc((size_t)DESK_W * DESK_H * 4);
	m->base = xmalloc((size_t)DESK_W * DESK_H * 4);
	m->full = xmalloc((size_t)DESK_W * DESK_H * 4);
	YUY2ToARGB(yuyv, DESK_W * 2, m->desk, DESK_W * 4, DESK_W, DESK_H);
	free(yuyv);
	memcpy(m->base, m->desk, (size_t)DESK_W * DESK_H * 4);
	/* The root's colour, from the top right corner. */
	root = m->desk + ((size_t)4 * DESK_W + DESK_W - 4) * 4;
	for (int y = PIC_Y; y < PIC_Y + PIC_H; y++)
		for (int x = PIC_X; x < PIC_X + PIC_W; x++)
			memcpy(m->base + ((size_t)y * DESK_W + x) * 4, root, 4);
}

static void
motion_free(struct motion *m)
{
	free(m->desk), free(m->base), free(m->full);
}

/* k * speed folded into 0..range and back. */
static int
bounce(int k, int speed, int range)
{
	int t = (int)((long)k * speed % (2L * range));

	return t <= range ? t : 2 * range - t;
}

/* Frame k into out (XRGB32, m->w × m->h, stride m->w * 4). */
static void
motion_frame(struct motion *m, int k, uint8_t *out)
{
	const size_t row = (size_t)DESK_W * 4;
	int off = (int)((long)k * SCROLL_PX % TERM_H);
	int px = PIC_X_MIN + bounce(k, PIC_DX, DESK_W - PIC_W - PIC_X_MIN);
	int py = bounce(k, PIC_DY, DESK_H - PIC_H);
	int x0 = (DESK_W - m->w) / 2, y0 = (DESK_H - m->h) / 2;

	memcpy(m->full, m->base, row * DESK_H);
	for (int y = 0; y < TERM_H; y++)
		memcpy(m->full + (size_t)(TERM_Y + y) * row + TERM_X * 4,
		       m->desk + (size_t)(TERM_Y + (y + off) % TERM_H) * row + TERM_X * 4,
		       (size_t)TERM_W * 4);
	for (int y = 0; y < PIC_H; y++)
		memcpy(m->full + (size_t)(py + y) * row + (size_t)px * 4,
		       m->desk + (size_t)(PIC_Y + y) * row + PIC_X * 4, (size_t)PIC_W * 4);
	for (int y = 0; y < m->h; y++)
		memcpy(out + (size_t)y * m->w * 4, m->full + (size_t)(y0 + y) * row + (size_t)x0 * 4,
		       (size_t)m->w * 4);
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

struct h264_dec {
	const AVCodec *codec;
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
	int w, h;
	uint8_t *fb;		/* the last frame shown, XRGB32 */
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
h264_dec_init(struct h264_dec *d, int w, int h)
{
	memset(d, 0, sizeof(*d));
	d->w = w, d->h = h;
	d->fb = calloc((size_t)w * h, 4);
	d->codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (d->fb == NULL || d->codec == NULL || d->pkt == NULL || d->frame == NULL)
		die("no H.264 decoder (libavcodec)");
	av_log_set_level(AV_LOG_ERROR);
	h264_dec_reset(d);
}

static void
h264_dec_free(struct h264_dec *d)
{
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->frame);
	free(d->fb);
}

/* One encoding-50 payload (the frame one encode made); the viewer shows
 * its last picture. */
static void
h264_dec_payload(struct h264_dec *d, const uint8_t *p, size_t n, uint32_t flags)
{
	int got = 0, rc;

	if (flags & (RFB_H264_RESET | RFB_H264_RESET_ALL))
		h264_dec_reset(d);
	d->pkt->data = (uint8_t *)p;
	d->pkt->size = (int)n;
	if (avcodec_send_packet(d->ctx, d->pkt) < 0)
		die("H.264 payload of %zu bytes does not decode", n);
	while ((rc = avcodec_receive_frame(d->ctx, d->frame)) == 0) {
		const AVFrame *f = d->frame;
		const struct YuvConstants *mat = f->colorspace == AVCOL_SPC_BT709 ? &kYuvH709Constants
										: &kYuvI601Constants;

		if (f->width != d->w || f->height != d->h ||
		    (f->format != AV_PIX_FMT_YUV420P) || f->color_range == AVCOL_RANGE_JPEG)
			die("H.264 frame %dx%d format %d range %d, not %dx%d 4:2:0 limited range",
			    f->width, f->height, f->format, f->color_range, d->w, d->h);
		I420ToARGBMatrix(f->data[0], f->linesize[0], f->data[1], f->linesize[1], f->data[2],
				 f->linesize[2], d->fb, d->w * 4, mat, d->w, d->h);
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

struct viewer {
	pthread_t th;
	int fd;
	bool h264;
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
	/* Encoding 50 alone: a server that would not send it has nothing
	 * else to send this viewer but Raw, which is refused below. */
	int32_t h264[] = { RFB_ENCODING_H264 };
	const int32_t *encs = v->h264 ? h264 : tight;
	size_t nenc = v->h264 ? 1 : 3;
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
			if (v->h264 && enc == RFB_ENCODING_H264) {
				const uint8_t *lf = take(v, 8);

				take(v, be_at(lf, 4));
			} else if (!v->h264 && enc == ENC_TIGHT) {
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
viewer_start(struct viewer *v, int port, bool h264)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	memset(v, 0, sizeof(*v));
	v->h264 = h264;
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

/* h264_bytes_motion_1080p and h264_psnr_motion_1080p: one server, a Tight
 * q8 viewer and an H.264 viewer, the frames handed over one by one, each
 * once both viewers have read the update of the one before (so every frame
 * reaches both: a measure of the encodings, not of who kept up). */
/* Tight's figures over the first `sweep_frames` frames, for the CRF sweep
 * (which encodes only those). */
struct tight_ref {
	int frames;
	double bps, psnr;
};

static void
bench_bytes(enum bench_mode m, struct motion *mo, struct tight_ref *tref)
{
	int nframes = m == BENCH_SMOKE ? 6 : m == BENCH_QUICK ? 3 * FPS : 10 * FPS;
	int w = mo->w, h = mo->h;
	struct rfb_input in = { .key_sym = in_key, .key_xt = in_xt, .pointer = in_ptr, .release = in_rel };
	struct rfb_options o = { .listen = "127.0.0.1:0", .width = w, .height = h,
				 .desktop_name = "bench" };
	struct rfb_server *srv;
	struct viewer v[2];	/* 0: Tight, 1: H.264 */
	struct tight_dec td = { .w = w, .h = h };
	struct h264_dec hd;
	uint8_t *frame = xmalloc((size_t)w * h * 4);
	double psnr_sum[2] = { 0, 0 }, sse_sum[2] = { 0, 0 }, psnr_min[2] = { PSNR_CAP, PSNR_CAP };
	uint64_t bytes0[2];
	int want[2], skipped = 0, err;

	td.fb = calloc((size_t)w * h, 4);
	td.tj = tjInitDecompress();
	if (td.fb == NULL || td.tj == NULL)
		die("setup failed");
	h264_dec_init(&hd, w, h);
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
	viewer_start(&v[0], rfb_port(srv), false);
	viewer_start(&v[1], rfb_port(srv), true);
	want[0] = want[1] = 1;
	if (!wait_updates(srv, v, 2, want, 20000))
		die("the viewers did not get their first update in 20 s");
	viewer_decode(&v[0], &td, NULL);
	viewer_decode(&v[1], NULL, &hd);
	for (int i = 0; i < 2; i++) {
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
		want[0]++, want[1]++;
		if (!wait_updates(srv, v, 2, want, 10000)) {
			/* A frame the server chose not to send one of them:
			 * counted, and what that viewer still shows is
			 * compared with this frame all the same. */
			skipped++;
			want[0] = viewer_updates(&v[0]);
			want[1] = viewer_updates(&v[1]);
		}
		viewer_decode(&v[0], &td, NULL);
		viewer_decode(&v[1], NULL, &hd);
		for (int i = 0; i < 2; i++) {
			double e = sse_xrgb(i == 0 ? td.fb : hd.fb, frame, (size_t)w * h);
			double p = psnr_of(e, (size_t)w * h);

			sse_sum[i] += e;
			psnr_sum[i] += p;
			if (p < psnr_min[i])
				psnr_min[i] = p;
		}
		if (k == tref->frames) {
			pthread_mutex_lock(&v[0].mu);
			tref->bps = (double)(v[0].bytes - bytes0[0]) * FPS / k;
			pthread_mutex_unlock(&v[0].mu);
			tref->psnr = psnr_sum[0] / k;
		}
	}
	{
		double secs = (double)nframes / FPS, bps[2], psnr[2];

		for (int i = 0; i < 2; i++) {
			pthread_mutex_lock(&v[i].mu);
			bps[i] = (double)(v[i].bytes - bytes0[i]) / secs;
			pthread_mutex_unlock(&v[i].mu);
			psnr[i] = psnr_sum[i] / nframes;
		}
		bench_line("h264_bytes_motion_1080p", bps[1], "B/s", "tight_q8", bps[0], bps[1] / bps[0]);
		bench_line("h264_psnr_motion_1080p", psnr[1], "dB", "tight_q8_psnr", psnr[0],
			   psnr[1] / psnr[0]);
		printf("DETAIL name=h264_bytes_motion_1080p frames=%d secs=%.3f h264_bytes=%.0f "
		       "tight_bytes=%.0f h264_kbit_s=%.1f tight_kbit_s=%.1f skipped=%d w=%d h=%d\n",
		       nframes, secs, bps[1] * secs, bps[0] * secs, bps[1] * 8 / 1000, bps[0] * 8 / 1000,
		       skipped, w, h);
		printf("DETAIL name=h264_psnr_motion_1080p h264_mean=%.3f tight_mean=%.3f h264_min=%.3f "
		       "tight_min=%.3f h264_global=%.3f tight_global=%.3f h264_frames_decoded=%d\n",
		       psnr[1], psnr[0], psnr_min[1], psnr_min[0],
		       psnr_of(sse_sum[1] / nframes, (size_t)w * h),
		       psnr_of(sse_sum[0] / nframes, (size_t)w * h), hd.frames);
		fflush(stdout);
	}
	viewer_stop(&v[0]);
	viewer_stop(&v[1]);
	rfb_free(srv);
	h264_dec_free(&hd);
	for (int i = 0; i < 4; i++)
		if (td.zon[i])
			inflateEnd(&td.z[i]);
	tjDestroy(td.tj);
	free(td.fb), free(td.tmp), free(frame);
}

/* h264_bytes_at_tight_psnr: the same motion through the encoder alone at
 * lower CRFs (the cap at its highest, so that only the CRF decides), each
 * frame decoded and compared like the viewers' above: the bytes H.264
 * needs to show these frames as well as Tight q8 did, interpolated
 * (log bytes, linear in PSNR) between the two CRFs either side. */
static const int sweep_crf[] = { 21, 14, 8 };
#define SWEEP_N ((int)(sizeof(sweep_crf) / sizeof(sweep_crf[0])))

static void
bench_crf_sweep(struct motion *mo, const struct tight_ref *tref)
{
	int w = mo->w, h = mo->h, n = tref->frames, rc, hi = -1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	uint8_t *frame = xmalloc((size_t)w * h * 4);
	double bps[SWEEP_N], psnr[SWEEP_N], est, ceil_sum = 0;
	size_t ysz = (size_t)w * h, csz = (size_t)(w / 2) * (h / 2);
	uint8_t *i420 = xmalloc(ysz + 2 * csz), *back = xmalloc((size_t)w * h * 4);
	char pts[256];
	size_t at = 0;

	for (int c = 0; c < SWEEP_N; c++) {
		struct rfb_h264_params par = { .width = w, .height = h, .fps = FPS,
					       .kbps = RFB_H264_MAX_KBPS, .crf = sweep_crf[c],
					       .threads = threads };
		struct rfb_h264 *e = rfb_h264_new(&par, &rc);
		struct h264_dec hd;
		double bytes = 0, sum = 0;

		if (e == NULL)
			die("rfb_h264_new failed (%d)", rc);
		h264_dec_init(&hd, w, h);
		for (int k = 1; k <= n; k++) {
			struct rfb_h264_frame fr;

			motion_frame(mo, k, frame);
			rfb_h264_load(e, frame, w * 4);
			if (rfb_h264_encode(e, k == 1, &fr) < 0 || fr.len == 0)
				die("rfb_h264_encode failed");
			h264_dec_payload(&hd, fr.data, fr.len, k == 1 ? RFB_H264_RESET : 0);
			bytes += (double)fr.len + 4 + 12 + 8;	/* as an update */
			sum += psnr_of(sse_xrgb(hd.fb, frame, (size_t)w * h), (size_t)w * h);
		}
		bps[c] = bytes * FPS / n;
		psnr[c] = sum / n;
		rfb_h264_free(e);
		h264_dec_free(&hd);
		at += (size_t)snprintf(pts + at, sizeof(pts) - at, "%s%d:%.0f:%.3f", c ? "," : "",
				       sweep_crf[c], bps[c], psnr[c]);
	}
	/* What 4:2:0 itself costs these frames: the conversion into the
	 * encoder's I420 and back as the viewer's decoder does it, no coding
	 * in between.  No CRF gets above it. */
	for (int k = 1; k <= n; k++) {
		motion_frame(mo, k, frame);
		ARGBToI420(frame, w * 4, i420, w, i420 + ysz, w / 2, i420 + ysz + csz, w / 2, w, h);
		I420ToARGBMatrix(i420, w, i420 + ysz, w / 2, i420 + ysz + csz, w / 2, back, w * 4,
				 &kYuvI601Constants, w, h);
		ceil_sum += psnr_of(sse_xrgb(back, frame, (size_t)w * h), (size_t)w * h);
	}
	free(i420), free(back);
	/* The first CRF (from the highest down) that reaches Tight's PSNR. */
	for (int c = 0; c < SWEEP_N && hi < 0; c++)
		if (psnr[c] >= tref->psnr)
			hi = c;
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
	bench_line("h264_psnr_i420_ceiling", ceil_sum / n, "dB", "tight_q8_psnr", tref->psnr,
		   ceil_sum / n / tref->psnr);
	printf("DETAIL name=h264_bytes_at_tight_psnr frames=%d tight_psnr=%.3f reached=%d "
	       "crf_hi=%d crf_lo=%d i420_ceiling_psnr=%.3f points=%s\n", n, tref->psnr, hi >= 0,
	       hi > 0 ? sweep_crf[hi - 1] : hi == 0 ? sweep_crf[0] : sweep_crf[SWEEP_N - 1],
	       hi >= 0 ? sweep_crf[hi] : sweep_crf[SWEEP_N - 1], ceil_sum / n, pts);
	fflush(stdout);
	free(frame);
}

/* ---- encode speed against the x264 command-line tool ---- */

/* The x264 command line that does what rfb_h264_new() sets up (see
 * rfb/h264.c): every setting it makes, spelt as x264's options. */
static int
run_x264(const char *in, const char *csp, const char *out, int w, int h, int frames,
	 int threads, int kbps, int crf, double *fps, char *err, size_t errlen)
{
	char res[32], th[16], rate[16], crfs[16], nf[16];
	const char *argv[] = {
		"x264", "--no-progress", "--preset", "ultrafast", "--tune", "zerolatency",
		"--profile", "baseline", "--crf", crfs, "--vbv-maxrate", rate, "--vbv-bufsize", rate,
		"--keyint", "infinite", "--scenecut", "0", "--range", "tv", "--threads", th, "--sliced-threads", "--fps", "30", "--demuxer", "raw",
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

		dup2(null, 0), dup2(null, 1), dup2(pfd[1], 2);
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

/* ours, x264 on BGRA, x264 on I420: one pass of each per repetition, the
 * order rotating. */
enum { ENC_OURS, ENC_X264_BGRA, ENC_X264_I420, ENC_N };

static void
bench_encode(enum bench_mode m, struct motion *mo)
{
	int w = mo->w, h = mo->h;
	int nframes = m == BENCH_SMOKE ? 4 : 2 * FPS, reps = bench_reps(m, 3, 5);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;	/* rfb/h264.c's default */
	size_t fsz = (size_t)w * h * 4, ysz = (size_t)w * h, csz = (size_t)(w / 2) * (h / 2);
	uint8_t *frames = xmalloc(fsz * (size_t)nframes);
	uint8_t *i420 = xmalloc(ysz + 2 * csz);
	char dir[] = "/tmp/webkvm-bench-h264-XXXXXX", bgra[128], yuv[128], out[128], err[8192];
	double *t[ENC_N], *enc_only = calloc((size_t)reps, sizeof(double));
	double *pr = calloc((size_t)reps, sizeof(double)), *pr2 = calloc((size_t)reps, sizeof(double));
	double ours_bytes = 0, x264_bytes[ENC_N] = { 0 };
	struct rfb_h264_params par = { .width = w, .height = h, .fps = FPS,
				       .kbps = RFB_H264_DEFAULT_KBPS, .crf = 0, .threads = threads };

	for (int k = 0; k < ENC_N; k++)
		if ((t[k] = calloc((size_t)reps, sizeof(double))) == NULL)
			die("out of memory");
	if (enc_only == NULL || pr == NULL || pr2 == NULL)
		die("out of memory");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(bgra, sizeof(bgra), "%s/frames.bgra", dir);
	snprintf(yuv, sizeof(yuv), "%s/frames.i420", dir);
	snprintf(out, sizeof(out), "%s/out.264", dir);
	/* The same frames in memory for ours and in files for x264: BGRA is
	 * XRGB32's bytes (B, G, R, X; x264 ignores the fourth), the I420 is
	 * what our load makes of them (libyuv's ARGBToI420). */
	for (int k = 0; k < nframes; k++) {
		uint8_t *f = frames + fsz * (size_t)k;

		motion_frame(mo, k + 1, f);
		write_file(bgra, f, fsz, k > 0);
		ARGBToI420(f, w * 4, i420, w, i420 + ysz, w / 2, i420 + ysz + csz, w / 2, w, h);
		write_file(yuv, i420, ysz + 2 * csz, k > 0);
	}
	for (int r = 0; r < reps; r++) {
		for (int j = 0; j < ENC_N; j++) {
			int k = (j + r) % ENC_N, rc;
			double fps;

			if (k == ENC_OURS) {
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
				t[k][r] = (double)(t1 - t0) / 1e9 / nframes;
				enc_only[r] = (double)enc / 1e9 / nframes;
				ours_bytes = (double)bytes;
				continue;
			}
			if (run_x264(k == ENC_X264_BGRA ? bgra : yuv, k == ENC_X264_BGRA ? "bgra" : "i420",
				     out, w, h, nframes, threads, RFB_H264_DEFAULT_KBPS,
				     RFB_H264_DEFAULT_CRF, &fps, err, sizeof(err)) < 0)
				die("x264 failed:\n%s", err);
			t[k][r] = 1 / fps;
			x264_bytes[k] = (double)file_size(out);
		}
	}
	unlink(bgra), unlink(yuv), unlink(out), rmdir(dir);
	{
		double ours, ref, eo, ref2;

		for (int r = 0; r < reps; r++) {
			pr[r] = t[ENC_X264_BGRA][r] / t[ENC_OURS][r];
			pr2[r] = t[ENC_X264_I420][r] / enc_only[r];
		}
		ours = bench_median(t[ENC_OURS], reps);
		ref = bench_median(t[ENC_X264_BGRA], reps);
		ref2 = bench_median(t[ENC_X264_I420], reps);
		eo = bench_median(enc_only, reps);
		bench_line("h264_encode_1080p", 1 / ours, "fps", "x264_cli_bgra", 1 / ref,
			   bench_median(pr, reps));
		bench_line("h264_encode_1080p_i420", 1 / eo, "fps", "x264_cli_i420", 1 / ref2,
			   bench_median(pr2, reps));
		printf("DETAIL name=h264_encode_1080p ours_ms=%.3f load_ms=%.3f encode_ms=%.3f "
		       "x264_bgra_ms=%.3f x264_i420_ms=%.3f threads=%d frames=%d reps=%d "
		       "ours_bytes=%.0f x264_bgra_bytes=%.0f x264_i420_bytes=%.0f\n",
		       ours * 1e3, (ours - eo) * 1e3, eo * 1e3, ref * 1e3, ref2 * 1e3, threads, nframes,
		       reps, ours_bytes, x264_bytes[ENC_X264_BGRA], x264_bytes[ENC_X264_I420]);
		fflush(stdout);
	}
	for (int k = 0; k < ENC_N; k++)
		free(t[k]);
	free(enc_only), free(pr), free(pr2), free(frames), free(i420);
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
	motion_init(&mo, frame, w, h);
	tref.frames = m == BENCH_SMOKE ? 3 : m == BENCH_QUICK ? 2 * FPS : 5 * FPS;
	bench_bytes(m, &mo, &tref);
	bench_crf_sweep(&mo, &tref);
	bench_encode(m, &mo);
	motion_free(&mo);
	return 0;
}
