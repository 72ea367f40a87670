/* Packed pixels → XRGB32 with libyuv.
 *
 * libyuv names formats by their 32-bit word on a little-endian machine, so
 * its "ARGB" is bytes B,G,R,A (our XRGB32), its "RAW" is bytes R,G,B (our
 * RGB24) and its "RGB24" is bytes B,G,R (our BGR24).  YUV uses BT.601
 * limited range, which is what HDMI bridges send for SD and what most
 * dongles send at any size. */
#include <stdint.h>

#include <libyuv/convert_argb.h>

#include "capture/capture.h"

int
cap_convert_rect(enum cap_pixfmt fmt, const uint8_t *src, int src_stride,
		 uint8_t *dst, int dst_stride, int w, int h)
{
	int bpp = cap_fmt_bpp(fmt);
	int64_t src_row, rc;

	if (bpp == 0 || src == NULL || dst == NULL || w < 0 || h < 0)
		return CAP_EINVAL;
	if (w == 0 || h == 0)
		return 0;
	if (fmt == CAP_FMT_YUYV || fmt == CAP_FMT_UYVY) {
		/* A 4:2:2 rectangle starts on a pixel pair: src and every line
		 * start are 4-byte aligned exactly when x is even (frame buffers
		 * are aligned and a 4:2:2 line is whole pairs).  An odd width
		 * reads the pair of its last pixel. */
		if (((uintptr_t)src & 3) != 0 || (src_stride & 3) != 0)
			return CAP_EINVAL;
		src_row = ((int64_t)w + 1) / 2 * 4;
	} else {
		src_row = (int64_t)w * bpp;
	}
	if (h > 1 && (src_stride < src_row || dst_stride < (int64_t)w * 4))
		return CAP_EINVAL;
	if (h == 1 && (src_stride < 0 || dst_stride < 0))
		return CAP_EINVAL;

	switch (fmt) {
	case CAP_FMT_YUYV:
		rc = YUY2ToARGB(src, src_stride, dst, dst_stride, w, h);
		break;
	case CAP_FMT_UYVY:
		rc = UYVYToARGB(src, src_stride, dst, dst_stride, w, h);
		break;
	case CAP_FMT_RGB24:
		rc = RAWToARGB(src, src_stride, dst, dst_stride, w, h);
		break;
	case CAP_FMT_BGR24:
		rc = RGB24ToARGB(src, src_stride, dst, dst_stride, w, h);
		break;
	case CAP_FMT_RGB565:
		rc = RGB565ToARGB(src, src_stride, dst, dst_stride, w, h);
		break;
	case CAP_FMT_XRGB32:
		rc = ARGBCopy(src, src_stride, dst, dst_stride, w, h);
		break;
	default:
		return CAP_EINVAL;
	}
	return rc == 0 ? 0 : CAP_EINVAL;
}
