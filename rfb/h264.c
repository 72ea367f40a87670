/* The H.264 encoder (rfb/h264.h) on libx264.
 *
 * Settings, and why:
 *  - preset "ultrafast", tune "zerolatency": no lookahead, no B-frames,
 *    sliced threads, so the bytes of a frame come out of the call that
 *    took it and one frame's latency is the time it takes to encode it.
 *    Each thread codes a slice of every picture: more than one only for
 *    viewers that take several slices a picture (noVNC 1.7.0 alone shows
 *    just the last slice of each; our page joins them).
 *  - profile "baseline" (Constrained Baseline): what every WebCodecs
 *    decoder takes (noVNC checks avc1.42401f); "high444" (High 4:4:4
 *    Predictive, still no B-frames) for viewers that say they decode it:
 *    4:2:0 halves colour resolution, and coloured text on a desktop then
 *    tops out near 41 dB PSNR at any bitrate, where 4:4:4 at CRF 17 gives
 *    about 48 dB for some 10% more bytes than 4:2:0 at CRF 21.
 *  - keyint infinite, no scenecut: IDRs only when a viewer needs one; a
 *    periodic IDR would cost every viewer bytes no one asked for.
 *  - CRF with a VBV cap of the link's share (buffer of one second): a
 *    still screen gets its quality; motion is squeezed to the cap.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libyuv.h>
#include <x264.h>

#include "rfb/h264.h"
#include "rfb/log.h"

struct rfb_h264 {
	x264_t *x;
	x264_param_t par;
	x264_picture_t pic;
	int width, height;
	bool chroma444;
	int force_qp;
	int64_t pts;
	char desc[160];
};

static void
x264_log(void *ctx, int level, const char *fmt, va_list ap)
{
	char buf[256];
	size_t n;

	(void)ctx;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	rfb__log(level <= X264_LOG_ERROR ? WK_LOG_WARN : WK_LOG_DEBUG, "x264: %s", buf);
}

struct rfb_h264 *
rfb_h264_new(const struct rfb_h264_params *p, int *err)
{
	struct rfb_h264 *e;
	int threads = p->threads;

	*err = RFB_H264_EINVAL;
	if (p->width < 16 || p->height < 16 || p->width > 8192 || p->height > 8192 ||
	    (p->width & 1) || (p->height & 1) || p->fps < 1 || p->fps > 240 ||
	    p->kbps < RFB_H264_MIN_KBPS || p->kbps > RFB_H264_MAX_KBPS || p->crf < 0 || p->crf > 51)
		return NULL;
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n < 1 ? 1 : n > 4 ? 4 : (int)n;
	}
	*err = RFB_H264_ENOMEM;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->width = p->width;
	e->height = p->height;
	*err = RFB_H264_EENC;
	if (x264_param_default_preset(&e->par, "ultrafast", "zerolatency") < 0)
		goto fail;
	e->par.i_width = p->width;
	e->par.i_height = p->height;
	e->par.i_csp = p->chroma444 ? X264_CSP_I444 : X264_CSP_I420;
	e->chroma444 = p->chroma444;
	e->par.i_threads = threads;
	e->par.b_sliced_threads = 1;
	e->par.i_fps_num = (uint32_t)p->fps;
	e->par.i_fps_den = 1;
	e->par.i_keyint_max = X264_KEYINT_MAX_INFINITE;
	e->par.i_scenecut_threshold = 0;
	e->par.b_intra_refresh = 0;
	e->par.b_repeat_headers = 1;
	e->par.b_annexb = 1;
	e->par.rc.i_rc_method = X264_RC_CRF;
	e->par.rc.f_rf_constant = (float)(p->crf ? p->crf : p->chroma444 ? RFB_H264_DEFAULT_CRF_444 :
					  RFB_H264_DEFAULT_CRF);
	e->par.rc.i_vbv_max_bitrate = p->kbps;
	e->par.rc.i_vbv_buffer_size = p->kbps;
	/* Say how the pixels became YUV: libyuv's ARGBToI420 is BT.601,
	 * limited range.  A decoder told nothing guesses; Chromium's
	 * WebCodecs guesses BT.709 and turns the sim's blue 0x0000aa into
	 * 0x000aa8 (the browser test's 35 dB bar failed at 33.0 dB; 42 dB
	 * with this).  Primaries and transfer: the screen's, sRGB's BT.709. */
	e->par.vui.b_fullrange = 0;
	e->par.vui.i_colmatrix = 6;	/* smpte170m: BT.601 */
	e->par.vui.i_colorprim = 1;	/* bt709 */
	e->par.vui.i_transfer = 1;	/* bt709 */
	e->par.pf_log = x264_log;
	e->par.i_log_level = X264_LOG_WARNING;
	if (x264_param_apply_profile(&e->par, p->chroma444 ? "high444" : "baseline") < 0)
		goto fail;
	if (x264_picture_alloc(&e->pic, e->par.i_csp, p->width, p->height) < 0) {
		*err = RFB_H264_ENOMEM;
		goto fail;
	}
	if ((e->x = x264_encoder_open(&e->par)) == NULL) {
		x264_picture_clean(&e->pic);
		goto fail;
	}
	snprintf(e->desc, sizeof(e->desc),
		 "x264 (core %d) %dx%d, %s, ultrafast/zerolatency, crf %.0f, "
		 "VBV %d kbit/s, %d slice thread(s)", X264_BUILD, p->width, p->height,
		 p->chroma444 ? "High 4:4:4 Predictive" : "Constrained Baseline",
		 e->par.rc.f_rf_constant, p->kbps, threads);
	*err = 0;
	return e;
fail:
	free(e);
	return NULL;
}

void
rfb_h264_free(struct rfb_h264 *e)
{
	if (e == NULL)
		return;
	x264_encoder_close(e->x);
	x264_picture_clean(&e->pic);
	free(e);
}

const char *
rfb_h264_describe(const struct rfb_h264 *e)
{
	return e->desc;
}

void
rfb_h264_load(struct rfb_h264 *e, const uint8_t *xrgb, int stride)
{
	/* XRGB32 in memory is B, G, R, X: libyuv's "ARGB". */
	if (e->chroma444)
		ARGBToI444(xrgb, stride, e->pic.img.plane[0], e->pic.img.i_stride[0],
			   e->pic.img.plane[1], e->pic.img.i_stride[1],
			   e->pic.img.plane[2], e->pic.img.i_stride[2], e->width, e->height);
	else
		ARGBToI420(xrgb, stride, e->pic.img.plane[0], e->pic.img.i_stride[0],
			   e->pic.img.plane[1], e->pic.img.i_stride[1],
			   e->pic.img.plane[2], e->pic.img.i_stride[2], e->width, e->height);
}

int
rfb_h264_target_crf(const struct rfb_h264 *e)
{
	return (int)(e->par.rc.f_rf_constant + 0.5f);
}

void
rfb_h264_force_qp(struct rfb_h264 *e, int qp)
{
	e->force_qp = qp > 0 && qp <= 51 ? qp : 0;
}

int
rfb_h264_encode(struct rfb_h264 *e, bool idr, struct rfb_h264_frame *out)
{
	x264_nal_t *nal;
	x264_picture_t pic_out;
	int nnal, n;

	e->pic.i_type = idr ? X264_TYPE_IDR : X264_TYPE_AUTO;
	e->pic.i_qpplus1 = e->force_qp ? e->force_qp + 1 : X264_QP_AUTO;
	e->pic.i_pts = e->pts++;
	n = x264_encoder_encode(e->x, &nal, &nnal, &e->pic, &pic_out);
	if (n < 0)
		return RFB_H264_EENC;
	/* With b_annexb the NALs of one frame lie back to back in one
	 * buffer, starting at the first. */
	out->data = n > 0 ? nal[0].p_payload : NULL;
	out->len = (size_t)n;
	out->idr = n > 0 && pic_out.b_keyframe;
	out->crf = n > 0 ? pic_out.prop.f_crf_avg : 0;
	if (idr && !out->idr)
		return RFB_H264_EENC;
	return 0;
}
