/* The decisions of the V4L2 source, kept apart from its ioctls so they can
 * be unit-tested without a device.  Not a public header.
 *
 * All functions here are pure: no I/O, no logging, no global state.
 */
#ifndef WEBKVM_CAP_V4L2_POLICY_H
#define WEBKVM_CAP_V4L2_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/videodev2.h>

#include "capture/capture.h"

/* Reopen a vanished device / probe again for a signal this often. */
#define CAP__V4L2_RETRY_MS 1000
/* Streaming with no frame for this long means the signal is gone.  The
 * first frame after STREAMON gets longer: some dongles take a while. */
#define CAP__V4L2_FRAME_TIMEOUT_MS 1000
#define CAP__V4L2_FIRST_FRAME_TIMEOUT_MS 2000

/* How long streaming may go without a frame before it counts as signal
 * loss: the constants above, or three frame periods for a rate so slow
 * (fps_milli > 0 and below 3 fps) that they are longer. */
int cap__v4l2_frame_timeout_ms(int fps_milli, bool first_frame);

/* V4L2 fourcc ↔ our formats.  Unknown → CAP_FMT_NONE / 0.  Both MJPG and
 * JPEG map to CAP_FMT_MJPEG; both XR24 and BGR4 to CAP_FMT_XRGB32. */
enum cap_pixfmt cap__v4l2_fmt_from_fourcc(uint32_t fourcc);
uint32_t cap__v4l2_fourcc_from_fmt(enum cap_pixfmt fmt);

/* True for drivers that are USB video class dongles (MJPEG first). */
bool cap__v4l2_is_uvc(const char *driver);

/* The default preference for a driver: NONE-terminated, static. */
const enum cap_pixfmt *cap__v4l2_default_formats(const char *driver);

/* Picks the pixel format: the first of `wanted` (up to n_wanted entries,
 * stopping at CAP_FMT_NONE; none at all means the driver's default order)
 * that the device offers in `avail`.  0 and *out, or CAP_EFORMAT when the
 * device offers none of them. */
int cap__v4l2_choose_format(const enum cap_pixfmt *wanted, size_t n_wanted,
			    const char *driver,
			    const enum cap_pixfmt *avail, size_t n_avail,
			    enum cap_pixfmt *out);

/* What a detected DV timing means for capture. */
struct cap__v4l2_mode {
	int width, height;
	int fps_milli;		/* frames per second × 1000; 0 when unknown */
};

/* Frame size and rate from DV timings.  0, or CAP_ENOSIGNAL when the
 * timings cannot be captured (not BT.656/1120, interlaced, a size of zero or
 * above CAP__MAX_DIM), which the device reports as "out of range". */
int cap__v4l2_dv_mode(const struct v4l2_dv_timings *t, struct cap__v4l2_mode *m);

/* What an errno from open() or an ioctl means:
 *   ENOLINK, ENOLCK, ERANGE           → CAP_STATE_NO_SIGNAL / CAP_ENOSIGNAL
 *   ENODEV, ENXIO, ENOENT, ENOTDIR    → CAP_STATE_NO_DEVICE / CAP_ENODEV
 *   anything else                     → CAP_STATE_ERROR     / CAP_EIO */
enum cap_state cap__v4l2_errno_state(int err);
int cap__v4l2_errno_code(int err);

/* ---- state machine ---- */

enum cap__v4l2_phase {
	CAP__V4L2_CLOSED,	/* no fd; reopen when the retry is due */
	CAP__V4L2_IDLE,		/* open, not streaming; probe and start when due */
	CAP__V4L2_STREAMING,	/* buffers queued, STREAMON done */
};

enum cap__v4l2_event {
	CAP__V4L2_EV_OPENED,		/* open + QUERYCAP + setup succeeded */
	CAP__V4L2_EV_STARTED,		/* STREAMON succeeded */
	CAP__V4L2_EV_FRAME,		/* a good frame was dequeued */
	CAP__V4L2_EV_TIMEOUT,		/* streaming, no frame for the timeout */
	CAP__V4L2_EV_SOURCE_CHANGE,	/* V4L2_EVENT_SOURCE_CHANGE arrived */
	CAP__V4L2_EV_FAILED,		/* an open/ioctl failed with errno `err` */
};

struct cap__v4l2_step {
	enum cap__v4l2_phase phase;	/* go to this phase (closing/stopping as needed) */
	enum cap_state state;		/* report this state */
	int retry_ms;			/* next open/probe in this many ms; -1 = none pending */
};

/* The transition from (phase, state) on an event.  `err` is the errno for
 * CAP__V4L2_EV_FAILED and ignored otherwise.
 *   - an opened device is NO_SIGNAL until its first frame, which is OK;
 *   - a vanished device closes everything and is reopened every second;
 *   - no signal keeps the device open and probes again every second;
 *   - a frame timeout or a source change stops the stream and restarts it
 *     at once (new timings, new size);
 *   - any other failure closes the device and reopens it every second,
 *     which is the one recovery every driver supports. */
struct cap__v4l2_step cap__v4l2_transition(enum cap__v4l2_phase phase, enum cap_state state,
					   enum cap__v4l2_event ev, int err);

/* ---- EDID ---- */

/* Checks an EDID blob before VIDIOC_S_EDID: 1..4 blocks of 128 bytes, the
 * base block's 8-byte header, every block's checksum, and the base block's
 * extension count matching the blocks given.  0, or CAP_EINVAL with the
 * reason in `why`. */
int cap__edid_check(const uint8_t *edid, size_t len, char *why, size_t why_len);

#endif
