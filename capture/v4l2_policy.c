/* The V4L2 source's decisions; see v4l2_policy.h.  No I/O here. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "capture/internal.h"
#include "capture/v4l2_policy.h"

static const struct {
	uint32_t fourcc;
	enum cap_pixfmt fmt;
} fourccs[] = {
	/* The first entry of a format is the one we ask the driver for. */
	{ V4L2_PIX_FMT_YUYV, CAP_FMT_YUYV },
	{ V4L2_PIX_FMT_UYVY, CAP_FMT_UYVY },
	{ V4L2_PIX_FMT_RGB24, CAP_FMT_RGB24 },
	{ V4L2_PIX_FMT_BGR24, CAP_FMT_BGR24 },
	{ V4L2_PIX_FMT_RGB565, CAP_FMT_RGB565 },
	{ V4L2_PIX_FMT_XBGR32, CAP_FMT_XRGB32 },
	{ V4L2_PIX_FMT_BGR32, CAP_FMT_XRGB32 },	/* deprecated, same bytes */
	{ V4L2_PIX_FMT_MJPEG, CAP_FMT_MJPEG },
	{ V4L2_PIX_FMT_JPEG, CAP_FMT_MJPEG },
};

int
cap__v4l2_frame_timeout_ms(int fps_milli, bool first_frame)
{
	int ms = first_frame ? CAP__V4L2_FIRST_FRAME_TIMEOUT_MS : CAP__V4L2_FRAME_TIMEOUT_MS;

	if (fps_milli > 0 && 3000000 / fps_milli > ms)
		ms = 3000000 / fps_milli;
	return ms;
}

enum cap_pixfmt
cap__v4l2_fmt_from_fourcc(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(fourccs) / sizeof(fourccs[0]); i++)
		if (fourccs[i].fourcc == fourcc)
			return fourccs[i].fmt;
	return CAP_FMT_NONE;
}

uint32_t
cap__v4l2_fourcc_from_fmt(enum cap_pixfmt fmt)
{
	for (size_t i = 0; i < sizeof(fourccs) / sizeof(fourccs[0]); i++)
		if (fourccs[i].fmt == fmt)
			return fourccs[i].fourcc;
	return 0;
}

bool
cap__v4l2_is_uvc(const char *driver)
{
	return driver != NULL && strcmp(driver, "uvcvideo") == 0;
}

/* USB dongles squeeze 1080p60 through USB 2.0 only as MJPEG; their raw
 * modes are a few frames per second.  CSI bridges (tc358743 and kin) send
 * UYVY natively, at half the bytes of RGB. */
static const enum cap_pixfmt uvc_order[] = {
	CAP_FMT_MJPEG, CAP_FMT_YUYV, CAP_FMT_UYVY, CAP_FMT_RGB24, CAP_FMT_BGR24,
	CAP_FMT_RGB565, CAP_FMT_XRGB32, CAP_FMT_NONE,
};
static const enum cap_pixfmt other_order[] = {
	CAP_FMT_UYVY, CAP_FMT_YUYV, CAP_FMT_RGB24, CAP_FMT_BGR24, CAP_FMT_RGB565,
	CAP_FMT_XRGB32, CAP_FMT_MJPEG, CAP_FMT_NONE,
};

const enum cap_pixfmt *
cap__v4l2_default_formats(const char *driver)
{
	return cap__v4l2_is_uvc(driver) ? uvc_order : other_order;
}

static bool
offered(enum cap_pixfmt fmt, const enum cap_pixfmt *avail, size_t n_avail)
{
	for (size_t i = 0; i < n_avail; i++)
		if (avail[i] == fmt)
			return true;
	return false;
}

int
cap__v4l2_choose_format(const enum cap_pixfmt *wanted, size_t n_wanted,
			const char *driver,
			const enum cap_pixfmt *avail, size_t n_avail,
			enum cap_pixfmt *out)
{
	const enum cap_pixfmt *order = wanted;
	size_t n = n_wanted;

	if (wanted == NULL || n_wanted == 0 || wanted[0] == CAP_FMT_NONE) {
		order = cap__v4l2_default_formats(driver);
		n = SIZE_MAX;
	}
	/* A user's list is honoured strictly: no silent fallback to a format
	 * they did not ask for. */
	for (size_t i = 0; i < n && order[i] != CAP_FMT_NONE; i++) {
		if (offered(order[i], avail, n_avail)) {
			*out = order[i];
			return 0;
		}
	}
	return CAP_EFORMAT;
}

int
cap__v4l2_dv_mode(const struct v4l2_dv_timings *t, struct cap__v4l2_mode *m)
{
	struct v4l2_bt_timings bt;
	uint64_t htot, vtot, pclk;

	if (t->type != V4L2_DV_BT_656_1120)
		return CAP_ENOSIGNAL;
	memcpy(&bt, &t->bt, sizeof(bt));	/* packed: no member pointers */
	if (bt.interlaced)
		return CAP_ENOSIGNAL;
	if (bt.width == 0 || bt.height == 0 || bt.width > CAP__MAX_DIM || bt.height > CAP__MAX_DIM)
		return CAP_ENOSIGNAL;
	htot = (uint64_t)bt.width + bt.hfrontporch + bt.hsync + bt.hbackporch;
	vtot = (uint64_t)bt.height + bt.vfrontporch + bt.vsync + bt.vbackporch;
	pclk = bt.pixelclock;
	/* As the kernel's v4l2_calc_timeperframe(): 59.94 vs 60 Hz. */
	if ((bt.flags & V4L2_DV_FL_CAN_DETECT_REDUCED_FPS) && (bt.flags & V4L2_DV_FL_REDUCED_FPS))
		pclk = pclk * 1000 / 1001;
	m->width = (int)bt.width;
	m->height = (int)bt.height;
	m->fps_milli = 0;
	if (pclk > 0 && pclk < UINT64_MAX / 1000) {
		uint64_t fps = (pclk * 1000 + htot * vtot / 2) / (htot * vtot);

		m->fps_milli = fps > 1000000 ? 0 : (int)fps;
	}
	return 0;
}

enum cap_state
cap__v4l2_errno_state(int err)
{
	switch (err) {
	case ENOLINK:	/* no cable or no signal */
	case ENOLCK:	/* signal not stable / no lock */
	case ERANGE:	/* timings out of the receiver's range */
		return CAP_STATE_NO_SIGNAL;
	case ENODEV:	/* unplugged, driver unbound */
	case ENXIO:
	case ENOENT:	/* node not (yet) there */
	case ENOTDIR:
		return CAP_STATE_NO_DEVICE;
	default:
		return CAP_STATE_ERROR;
	}
}

int
cap__v4l2_errno_code(int err)
{
	switch (cap__v4l2_errno_state(err)) {
	case CAP_STATE_NO_SIGNAL:	return CAP_ENOSIGNAL;
	case CAP_STATE_NO_DEVICE:	return CAP_ENODEV;
	default:			return CAP_EIO;
	}
}

struct cap__v4l2_step
cap__v4l2_transition(enum cap__v4l2_phase phase, enum cap_state state,
		     enum cap__v4l2_event ev, int err)
{
	struct cap__v4l2_step s = { phase, state, -1 };

	switch (ev) {
	case CAP__V4L2_EV_OPENED:
		/* The device is there; until a frame arrives there is no
		 * (stable) input. */
		s.phase = CAP__V4L2_IDLE;
		s.state = CAP_STATE_NO_SIGNAL;
		s.retry_ms = 0;
		break;
	case CAP__V4L2_EV_STARTED:
		s.phase = CAP__V4L2_STREAMING;
		break;
	case CAP__V4L2_EV_FRAME:
		s.phase = CAP__V4L2_STREAMING;
		s.state = CAP_STATE_OK;
		break;
	case CAP__V4L2_EV_TIMEOUT:
		if (phase == CAP__V4L2_CLOSED)
			break;
		s.phase = CAP__V4L2_IDLE;
		s.state = CAP_STATE_NO_SIGNAL;
		s.retry_ms = 0;
		break;
	case CAP__V4L2_EV_SOURCE_CHANGE:
		if (phase == CAP__V4L2_CLOSED)
			break;
		s.phase = CAP__V4L2_IDLE;
		s.retry_ms = 0;
		break;
	case CAP__V4L2_EV_FAILED:
		s.state = cap__v4l2_errno_state(err);
		s.retry_ms = CAP__V4L2_RETRY_MS;
		if (s.state == CAP_STATE_NO_SIGNAL && phase != CAP__V4L2_CLOSED)
			s.phase = CAP__V4L2_IDLE;
		else
			s.phase = CAP__V4L2_CLOSED;
		break;
	}
	return s;
}

int
cap__edid_check(const uint8_t *edid, size_t len, char *why, size_t why_len)
{
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	size_t blocks = len / 128;

	if (edid == NULL || len == 0 || len % 128 != 0 || blocks > 4) {
		snprintf(why, why_len, "EDID is %zu bytes; expected 128, 256, 384 or 512", len);
		return CAP_EINVAL;
	}
	if (memcmp(edid, header, sizeof(header)) != 0) {
		snprintf(why, why_len, "EDID base block lacks the 00 FF FF FF FF FF FF 00 header");
		return CAP_EINVAL;
	}
	for (size_t b = 0; b < blocks; b++) {
		uint8_t sum = 0;

		for (size_t i = 0; i < 128; i++)
			sum = (uint8_t)(sum + edid[b * 128 + i]);
		if (sum != 0) {
			snprintf(why, why_len, "EDID block %zu checksum is wrong (sum %u, not 0 mod 256)",
				 b, sum);
			return CAP_EINVAL;
		}
	}
	if (edid[126] != blocks - 1) {
		snprintf(why, why_len, "EDID says %u extension block(s) but the file has %zu",
			 edid[126], blocks - 1);
		return CAP_EINVAL;
	}
	return 0;
}
