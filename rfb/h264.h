/* rfb/ — the H.264 encoder behind RFB encoding 50.
 *
 * One encoder makes one Annex-B stream of XRGB32 frames of one size:
 * Constrained Baseline 4:2:0 (or, for a viewer that decodes it, High 4:4:4
 * Predictive), no B-frames, no lookahead (each frame's bytes come
 * out of the call that took it), SPS/PPS before every IDR, an IDR only when
 * asked for (a new viewer, one that missed frames, a resize).  Rate: a
 * quality target (CRF) capped by a VBV of `kbps`, so a frame never bursts
 * far past the link's share.
 *
 * The work is split in two so that a caller can keep the framebuffer on one
 * thread and encode on another: rfb_h264_load() copies the frame in (as
 * 4:2:0), rfb_h264_encode() encodes what was loaded.  Neither may run while
 * the other does on the same encoder.
 *
 * Backends: libx264 today.  A hardware encoder (V4L2 M2M, e.g. the Pi's
 * bcm2835-codec) would be a second `struct rfb__h264_backend` in h264.c,
 * chosen in rfb_h264_new(); it is not here because no kernel we can test on
 * has one.
 */
#ifndef WEBKVM_RFB_H264_H
#define WEBKVM_RFB_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFB encoding number ("Open H.264", rfbproto) and the flags word of its
 * rectangles. */
#define RFB_ENCODING_H264	50
#define RFB_H264_RESET		1u	/* reset this rectangle's decoder */
#define RFB_H264_RESET_ALL	2u	/* reset every decoder */

/* webkvm's own pseudo-encodings: a viewer's caps, sent by our page.
 * BASE + n, n = 1..255: bitrate cap n * 100 kbit/s; n = 1..60: fps cap;
 * CAPS + bits (1..3): what the viewer's decoder takes beyond Constrained
 * Baseline in one slice per picture (what noVNC 1.7.0's parser needs: it
 * ends a picture at its first slice). */
#define RFB_PSEUDO_H264_KBPS	0x574B1000
#define RFB_PSEUDO_H264_FPS	0x574B2000
#define RFB_PSEUDO_H264_CAPS	0x574B3000
#define RFB_H264_CAP_444	1u	/* High 4:4:4 Predictive (checked by decoding a frame) */
#define RFB_H264_CAP_SLICES	2u	/* pictures in several slices (one per encoder thread) */

#define RFB_H264_MIN_KBPS	100
#define RFB_H264_MAX_KBPS	25500

struct rfb_h264_params {
	int width, height;	/* both even */
	int fps;		/* expected frame rate, for rate control; 1..240 */
	int kbps;		/* VBV cap, RFB_H264_MIN_KBPS..RFB_H264_MAX_KBPS */
	int crf;		/* quality target, 0 = default (x264's scale, lower is better) */
	bool chroma444;		/* High 4:4:4 Predictive, full-resolution colour;
				 * else Constrained Baseline, 4:2:0 */
	int threads;		/* encoder threads, each with a slice of every picture;
				 * 0 = one per CPU up to 4 */
};

/* What one encode produced. */
struct rfb_h264_frame {
	const uint8_t *data;	/* Annex-B, valid until the next encode or free */
	size_t len;		/* 0: the encoder had nothing to say (never with an IDR) */
	bool idr;
	double crf;		/* the frame's effective CRF: above the target, the cap squeezed it */
};

enum {
	RFB_H264_EINVAL = -1,	/* odd size, out-of-range parameter */
	RFB_H264_ENOMEM = -2,
	RFB_H264_EENC = -3,	/* the encoder failed */
};

struct rfb_h264;

/* The defaults rfb_h264_new() fills in, for callers that report them:
 * 4:2:0 cannot hold coloured text sharply whatever the bitrate (its PSNR
 * on a desktop tops out near 41 dB), so it gets the usual CRF; 4:4:4 gets
 * a finer one, which its colour can show. */
#define RFB_H264_DEFAULT_CRF	21
#define RFB_H264_DEFAULT_CRF_444	17
#define RFB_H264_DEFAULT_KBPS	8000

struct rfb_h264 *rfb_h264_new(const struct rfb_h264_params *p, int *err);
void rfb_h264_free(struct rfb_h264 *e);
/* What the encoder runs on ("x264 ...", with its settings), for the log. */
const char *rfb_h264_describe(const struct rfb_h264 *e);
/* Copies an XRGB32 frame of the encoder's size in (stride in bytes). */
void rfb_h264_load(struct rfb_h264 *e, const uint8_t *xrgb, int stride);
/* Encodes the loaded frame; an IDR (with SPS/PPS) when idr is set. */
int rfb_h264_encode(struct rfb_h264 *e, bool idr, struct rfb_h264_frame *out);
/* The CRF rfb_h264_encode() aims for: a frame whose effective CRF is well
 * above it was squeezed by the bitrate cap. */
int rfb_h264_target_crf(const struct rfb_h264 *e);
/* Encodes the next frame(s) at quantiser qp (a quality refresh of a still
 * picture), or back to the rate control with qp <= 0. */
void rfb_h264_force_qp(struct rfb_h264 *e, int qp);

#endif
