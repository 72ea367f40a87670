/* h264dec — decodes the encoding-50 (Open H.264) payloads a test viewer
 * recorded, with Debian's libavcodec, the way noVNC's decoder takes them:
 * one decoder context for the rectangle, thrown away and made anew when a
 * payload's flags say reset (1: this rectangle, 2: all), the last frame of
 * each payload is what the viewer shows.
 *
 *   h264dec [--ref FILE WxH] [--out FILE] RECORDS
 *
 * RECORDS holds the payloads as they came on the wire, one after the other:
 * u32 big-endian length, u32 big-endian flags, `length` bytes of Annex-B.
 * --ref compares the last frame shown with FILE, W×H pixels of XRGB32
 * (bytes B,G,R,X: what a Raw viewer of 32 bpp little-endian holds), over
 * R, G and B.  --out writes that last frame in the same layout.
 *
 * Prints one line per payload and a summary:
 *
 *   payload I flags F bytes N aus A frames K size WxH errors E
 *   total payloads P frames F errors E size WxH
 *   psnr X                              (with --ref; "inf" when identical)
 *
 * Errors are decode failures libavcodec reports, frames it marks corrupt,
 * and pictures it cannot convert; they are counted, not fatal, so a test
 * sees where they began.  Exit status 2 on bad usage or unreadable input,
 * 1 when a --ref comparison was impossible (no frame, other size), else 0.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <libyuv/convert_argb.h>

/* Far above any 4K payload the server could send: a longer one means the
 * records are misread. */
#define MAX_PAYLOAD (64u << 20)

struct dec {
	const AVCodec *codec;
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *frame;
	AVFrame *last;		/* the last frame decoded (a reference) */
	bool have_last;
	int errors;
};

static int
dec_open(struct dec *d)
{
	if (d->ctx != NULL)
		avcodec_free_context(&d->ctx);
	if ((d->ctx = avcodec_alloc_context3(d->codec)) == NULL)
		return -1;
	/* Frames out as soon as they are decoded (no reordering: the stream
	 * is Constrained Baseline), on this thread, and a stream error is an
	 * error rather than something concealed. */
	d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	d->ctx->thread_count = 1;
	d->ctx->err_recognition = AV_EF_EXPLODE;
	if (avcodec_open2(d->ctx, d->codec, NULL) < 0) {
		avcodec_free_context(&d->ctx);
		return -1;
	}
	return 0;
}

/* Sends one access unit; returns the frames it gave. */
static int
dec_au(struct dec *d, const uint8_t *p, size_t n)
{
	int frames = 0, rc;

	d->pkt->data = (uint8_t *)p;
	d->pkt->size = (int)n;
	if (avcodec_send_packet(d->ctx, d->pkt) < 0) {
		d->errors++;
		return 0;
	}
	for (;;) {
		rc = avcodec_receive_frame(d->ctx, d->frame);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			break;
		if (rc < 0) {
			d->errors++;
			break;
		}
		if ((d->frame->flags & AV_FRAME_FLAG_CORRUPT) || d->frame->decode_error_flags)
			d->errors++;
		av_frame_unref(d->last);
		av_frame_move_ref(d->last, d->frame);
		d->have_last = true;
		frames++;
	}
	return frames;
}

/* Start of the NAL unit after the start code at p[i] (00 00 01 or
 * 00 00 00 01), or 0 when there is none from i on. */
static size_t
next_nal(const uint8_t *p, size_t n, size_t i)
{
	for (; i + 3 <= n; i++)
		if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1)
			return i + 3;
	return 0;
}

/* Whether the NAL unit at p (header byte first) begins a new access unit
 * once a picture's slice has been seen in the current one (H.264 7.4.1.2.3:
 * AUD, SPS, PPS, SEI and the reserved 14..18 come first in an access unit;
 * a slice whose first_mb_in_slice is 0 starts a new picture). */
static bool
starts_au(const uint8_t *p, size_t n)
{
	int type = p[0] & 0x1f;

	if (type == 6 || type == 7 || type == 8 || type == 9 || (type >= 14 && type <= 18))
		return true;
	/* first_mb_in_slice is ue(v): a leading 1 bit codes 0. */
	return (type == 1 || type == 5) && n >= 2 && (p[1] & 0x80);
}

/* Splits one payload into access units and decodes them; returns frames
 * and sets *aus. */
static int
dec_payload(struct dec *d, const uint8_t *p, size_t n, int *aus)
{
	size_t au = 0, i, start;
	bool vcl = false;
	int frames = 0;

	*aus = 0;
	if ((start = next_nal(p, n, 0)) == 0) {
		d->errors++;	/* not Annex-B */
		return 0;
	}
	au = start - 3;
	if (au > 0 && p[au - 1] == 0)
		au--;
	for (i = start; i != 0; i = next_nal(p, n, i)) {
		size_t nal_end = next_nal(p, n, i), hdr = i - 3;
		int type = p[i] & 0x1f;

		if (hdr > 0 && p[hdr - 1] == 0)
			hdr--;
		if (vcl && starts_au(p + i, (nal_end ? nal_end - 3 : n) - i)) {
			frames += dec_au(d, p + au, hdr - au);
			(*aus)++;
			au = hdr;
			vcl = false;
		}
		if (type == 1 || type == 5)
			vcl = true;
	}
	frames += dec_au(d, p + au, n - au);
	(*aus)++;
	return frames;
}

/* The last frame as XRGB32 (B,G,R,X), by the matrix and range the stream
 * signals (BT.601 limited range when it says nothing, as libavcodec's and
 * libyuv's defaults have it). */
static int
to_xrgb(const AVFrame *f, uint8_t *out)
{
	const struct YuvConstants *m;
	bool full = f->color_range == AVCOL_RANGE_JPEG || f->format == AV_PIX_FMT_YUVJ420P;

	if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P)
		return -1;
	if (f->colorspace == AVCOL_SPC_BT709)
		m = full ? &kYuvF709Constants : &kYuvH709Constants;
	else if (f->colorspace == AVCOL_SPC_BT2020_NCL)
		m = &kYuv2020Constants;
	else
		m = full ? &kYuvJPEGConstants : &kYuvI601Constants;
	return I420ToARGBMatrix(f->data[0], f->linesize[0], f->data[1], f->linesize[1],
				f->data[2], f->linesize[2], out, f->width * 4, m, f->width, f->height);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (fp == NULL) {
		fprintf(stderr, "h264dec: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t r;

		if (n == cap) {
			uint8_t *p = realloc(buf, cap ? cap * 2 : 1 << 20);

			if (p == NULL) {
				fprintf(stderr, "h264dec: %s: out of memory\n", path);
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = p;
			cap = cap ? cap * 2 : 1 << 20;
		}
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(fp)) {
		fprintf(stderr, "h264dec: %s: read error\n", path);
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
usage(void)
{
	fprintf(stderr, "usage: h264dec [--ref FILE WxH] [--out FILE] RECORDS\n");
	return 2;
}

int
main(int argc, char **argv)
{
	const char *ref_path = NULL, *out_path = NULL, *in_path = NULL;
	int ref_w = 0, ref_h = 0, payloads = 0, frames = 0, status = 0;
	struct dec d = { 0 };
	uint8_t *in, *ref = NULL, *px = NULL;
	size_t len, at = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ref") == 0 && i + 2 < argc) {
			char *end;
			long w, h;

			ref_path = argv[++i];
			w = strtol(argv[++i], &end, 10);
			if (*end != 'x')
				return usage();
			h = strtol(end + 1, &end, 10);
			if (*end != '\0' || w < 2 || w > 8192 || h < 2 || h > 8192)
				return usage();
			ref_w = (int)w, ref_h = (int)h;
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out_path = argv[++i];
		} else if (argv[i][0] != '-' && in_path == NULL) {
			in_path = argv[i];
		} else {
			return usage();
		}
	}
	if (in_path == NULL)
		return usage();
	av_log_set_level(AV_LOG_ERROR);
	if ((in = read_file(in_path, &len)) == NULL)
		return 2;
	if (ref_path != NULL) {
		size_t rlen;

		if ((ref = read_file(ref_path, &rlen)) == NULL)
			return 2;
		if (rlen != (size_t)ref_w * ref_h * 4) {
			fprintf(stderr, "h264dec: %s: %zu bytes, not %dx%d XRGB32\n", ref_path, rlen,
				ref_w, ref_h);
			return 2;
		}
	}
	d.codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	d.pkt = av_packet_alloc();
	d.frame = av_frame_alloc();
	d.last = av_frame_alloc();
	if (d.codec == NULL || d.pkt == NULL || d.frame == NULL || d.last == NULL ||
	    dec_open(&d) < 0) {
		fprintf(stderr, "h264dec: libavcodec has no usable H.264 decoder\n");
		return 2;
	}
	while (at < len) {
		uint32_t n, flags;
		int k, aus, e0 = d.errors;

		if (len - at < 8 || (n = be32(in + at)) > MAX_PAYLOAD || len - at - 8 < n) {
			fprintf(stderr, "h264dec: %s: truncated record at byte %zu\n", in_path, at);
			return 2;
		}
		flags = be32(in + at + 4);
		if (flags & 3) {
			if (dec_open(&d) < 0) {
				fprintf(stderr, "h264dec: cannot open a new decoder\n");
				return 2;
			}
		}
		k = dec_payload(&d, in + at + 8, n, &aus);
		printf("payload %d flags %u bytes %u aus %d frames %d size %dx%d errors %d\n", payloads,
		       flags, n, aus, k, d.have_last ? d.last->width : 0,
		       d.have_last ? d.last->height : 0, d.errors - e0);
		frames += k;
		payloads++;
		at += 8 + n;
	}
	if (d.have_last) {
		if ((px = malloc((size_t)d.last->width * d.last->height * 4)) == NULL) {
			fprintf(stderr, "h264dec: out of memory\n");
			return 2;
		}
		if (to_xrgb(d.last, px) != 0) {
			fprintf(stderr, "h264dec: last frame in pixel format %d, not 4:2:0 8-bit\n",
				d.last->format);
			d.errors++;
			free(px);
			px = NULL;
		}
	}
	printf("total payloads %d frames %d errors %d size %dx%d\n", payloads, frames, d.errors,
	       d.have_last ? d.last->width : 0, d.have_last ? d.last->height : 0);
	if (out_path != NULL && px != NULL) {
		FILE *fp = fopen(out_path, "wb");
		size_t sz = (size_t)d.last->width * d.last->height * 4;

		if (fp == NULL || fwrite(px, 1, sz, fp) != sz || fclose(fp) != 0) {
			fprintf(stderr, "h264dec: %s: cannot write\n", out_path);
			status = 2;
		}
	}
	if (ref != NULL) {
		if (px == NULL || d.last->width != ref_w || d.last->height != ref_h) {
			fprintf(stderr, "h264dec: no frame of %dx%d to compare with %s\n", ref_w, ref_h,
				ref_path);
			status = status ? status : 1;
		} else {
			double sse = 0;

			for (size_t i = 0; i < (size_t)ref_w * ref_h * 4; i += 4)
				for (int c = 0; c < 3; c++) {
					double e = (double)px[i + c] - ref[i + c];

					sse += e * e;
				}
			if (sse == 0)
				printf("psnr inf\n");
			else
				printf("psnr %.3f\n", 10 * log10(255.0 * 255.0 * 3 * ref_w * ref_h / sse));
		}
	}
	fflush(stdout);
	free(in), free(ref), free(px);
	av_frame_free(&d.frame);
	av_frame_free(&d.last);
	av_packet_free(&d.pkt);
	avcodec_free_context(&d.ctx);
	return status;
}
