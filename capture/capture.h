/* capture/ — frame sources.
 *
 * A frame source yields frames of the target's screen.  The source owns the
 * frame's pixels: they stay valid until the next cap_grab() or cap_close()
 * on the same source.  Nothing here knows about RFB, HID or sockets.
 *
 * Thread: a source is used by one thread at a time.
 */
#ifndef WEBKVM_CAPTURE_H
#define WEBKVM_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cap_pixfmt {
	CAP_FMT_NONE = 0,
	CAP_FMT_YUYV,	/* packed 4:2:2, Y0 U Y1 V */
	CAP_FMT_UYVY,	/* packed 4:2:2, U Y0 V Y1 */
	CAP_FMT_RGB24,	/* bytes R, G, B */
	CAP_FMT_BGR24,	/* bytes B, G, R */
	CAP_FMT_RGB565,	/* little-endian 16-bit, R in the top 5 bits */
	CAP_FMT_XRGB32,	/* bytes B, G, R, X: the RFB framebuffer format */
	CAP_FMT_MJPEG,	/* one JPEG image per frame, `size` bytes */
};

/* Bytes per pixel of a packed format; 0 for MJPEG and NONE. */
int cap_fmt_bpp(enum cap_pixfmt fmt);
const char *cap_fmt_name(enum cap_pixfmt fmt);
/* Parses "yuyv", "uyvy", "rgb24", "bgr24", "rgb565", "xrgb32", "mjpeg"
 * (case-insensitive).  Returns CAP_FMT_NONE when unknown. */
enum cap_pixfmt cap_fmt_parse(const char *name);
/* Parses a comma-separated list of those names (blanks around each one
 * allowed) into out, at most max - 1 of them and CAP_FMT_NONE after the
 * last.  Returns how many, or -1 with why in msg (out then undefined). */
int cap_fmt_parse_list(const char *list, enum cap_pixfmt *out, int max, char *msg, size_t msglen);

struct cap_frame {
	enum cap_pixfmt fmt;
	int width;
	int height;
	int stride;		/* bytes per line; 0 for MJPEG */
	size_t size;		/* bytes in data */
	const uint8_t *data;	/* owned by the source */
	uint64_t ts_us;		/* CLOCK_MONOTONIC microseconds */
	uint64_t seq;		/* increases by one per delivered frame */
	/* The source writes data only inside cap_grab(), on its own thread,
	 * and keeps the buffer until cap_close() or until a cap_grab() returns
	 * a frame with another data pointer.  So a consumer may keep reading
	 * data after the next cap_grab() (it then holds that frame's pixels)
	 * instead of copying it.  False for buffers something else writes:
	 * V4L2 mmap buffers are refilled by the driver once re-queued. */
	bool stable;
};

/* Signal state as seen by the source. */
enum cap_state {
	CAP_STATE_OK = 0,	/* frames flow */
	CAP_STATE_NO_SIGNAL,	/* device is there, no (stable) input */
	CAP_STATE_NO_DEVICE,	/* device missing or vanished; retried */
	CAP_STATE_ERROR,	/* other device error; retried */
};
const char *cap_state_name(enum cap_state st);

/* Error codes (negative returns). */
enum {
	CAP_OK = 0,
	CAP_EINVAL = -1,	/* bad option or argument */
	CAP_ENOMEM = -2,
	CAP_EIO = -3,		/* file or device read error */
	CAP_ENODEV = -4,	/* device missing / vanished */
	CAP_ENOSIGNAL = -5,	/* no signal / no sync / out of range */
	CAP_EFORMAT = -6,	/* no usable pixel format, bad frame data */
	CAP_EAGAIN = -7,	/* no new frame yet */
};
const char *cap_strerror(int err);

enum cap_kind {
	CAP_SRC_CALLBACK,	/* frames rendered by a callback (board/sim) */
	CAP_SRC_PATTERN,	/* moving test pattern */
	CAP_SRC_FILE,		/* raw frames file or folder of PPM/JPEG */
	CAP_SRC_V4L2,		/* real capture device */
};

/* Renders one frame for CAP_SRC_CALLBACK.  Returns 0 and fills *out (the
 * pixels stay owned by the callback's owner, valid until the next call), or
 * a negative CAP_E* code (CAP_ENOSIGNAL for a powered-off target). */
typedef int (*cap_render_fn)(void *ctx, uint64_t now_us, struct cap_frame *out);

struct cap_options {
	enum cap_kind kind;
	int width, height;	/* pattern size; raw file frame size; v4l2 wish (0 = device's) */
	int fps;		/* pattern/file/callback rate; v4l2 wish (0 = device's) */
	const char *path;	/* file: raw file or folder; v4l2: device node */
	enum cap_pixfmt file_fmt;	/* raw file pixel format */
	/* v4l2: formats in order of preference; CAP_FMT_NONE-terminated.  Empty
	 * (first NONE) means the default order for the device's kind. */
	enum cap_pixfmt formats[8];
	const char *edid_path;	/* v4l2: EDID file loaded with VIDIOC_S_EDID */
	int n_buffers;		/* v4l2: mmap buffers, >= 3 (0 = 4) */
	cap_render_fn render;	/* callback source */
	void *render_ctx;
	/* callback: render writes its pixels only inside the call and keeps
	 * the buffer until its owner frees it or a call returns another
	 * buffer; the frames are then marked stable. */
	bool render_stable;
};

struct cap_source;

/* Opens a source.  For v4l2, a missing device is not an error: the source
 * starts in CAP_STATE_NO_DEVICE and retries every second.  Returns NULL and
 * sets *err on bad options.  The caller frees with cap_close(). */
struct cap_source *cap_open(const struct cap_options *opt, int *err);
void cap_close(struct cap_source *src);

/* A file descriptor to poll for POLLIN before calling cap_grab(), or -1 when
 * the source is paced by time only (use cap_wait_ms()). */
int cap_fd(struct cap_source *src);

/* Milliseconds until the source wants cap_grab() called again (frame due,
 * retry due); 0 when now. */
int cap_wait_ms(struct cap_source *src);

/* Non-blocking.  Returns 0 with a new frame in *out, CAP_EAGAIN when none is
 * due, or another negative code when the source is not delivering (see
 * cap_state()).  The frame's data stays valid until the next cap_grab(). */
int cap_grab(struct cap_source *src, struct cap_frame *out);

enum cap_state cap_state(const struct cap_source *src);
/* Human-readable description of the source ("v4l2 /dev/video0 1920x1080 UYVY"). */
const char *cap_describe(const struct cap_source *src);

/* ---- pixel conversion (capture/convert.c) ---- */

/* Converts a w×h rectangle of packed pixels in format `fmt` to XRGB32.
 * For the 4:2:2 formats x must be even (w may be odd: the last pixel is
 * converted from its pair).  Returns 0 or CAP_EINVAL. */
int cap_convert_rect(enum cap_pixfmt fmt, const uint8_t *src, int src_stride,
		     uint8_t *dst, int dst_stride, int w, int h);

/* ---- MJPEG (capture/jpeg.c) ---- */

struct cap_jpeg;
struct cap_jpeg *cap_jpeg_new(void);
void cap_jpeg_free(struct cap_jpeg *j);
/* Reads the size of a JPEG image without decoding.  0 or CAP_EFORMAT. */
int cap_jpeg_size(struct cap_jpeg *j, const uint8_t *buf, size_t len, int *w, int *h);
/* Decodes into XRGB32 at dst (dst_stride bytes per line, image size must
 * match w×h from cap_jpeg_size).  Returns 1 when decoded, 0 when the JPEG is
 * byte-identical to the previous one given (nothing written), or CAP_EFORMAT. */
int cap_jpeg_decode(struct cap_jpeg *j, const uint8_t *buf, size_t len,
		    uint8_t *dst, int dst_stride, int w, int h);

#endif
