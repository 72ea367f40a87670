/* The V4L2 capture source: mmap streaming from a real device.
 *
 * Everything happens inside cap_grab() (and once in cap_open()): opening,
 * probing the signal, starting and restarting the stream, so the caller's
 * frame stays valid until its next cap_grab() as the header promises.  The
 * decisions live in v4l2_policy.c; this file only talks to the driver and
 * applies cap__v4l2_transition() to what it hears.
 *
 * The fd is offered for polling only while streaming: vb2 answers poll()
 * with POLLERR on a queue that is not streaming, and a POLLIN poll on a
 * queue without buffers would even start read() emulation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/internal.h"
#include "capture/v4l2_policy.h"
#include "capture/v4l2_sys.h"

#define V4L2_MAX_BUFS 32
#define V4L2_MAX_FMTS 64
#define V4L2_MAX_INPUTS 32
#define EDID_FILE_MAX 4096
/* ioctl retries, as ustreamer's xioctl(): EINTR is always retried (bounded
 * only to be safe), EAGAIN/ETIMEDOUT a few times except where EAGAIN is
 * the answer ("no frame yet"). */
#define XIOCTL_EINTR_TRIES 32
#define XIOCTL_BUSY_TRIES 4

/* open(2) and ioctl(2) are variadic: wrapped, not cast. */
static int
sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int
sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static const struct cap__v4l2_sys real_sys = {
	.open = sys_open,
	.close = close,
	.ioctl = sys_ioctl,
	.mmap = mmap,
	.munmap = munmap,
	.now_us = wk_now_us,
};
static const struct cap__v4l2_sys *sys = &real_sys;

void
cap__v4l2_set_sys(const struct cap__v4l2_sys *s)
{
	sys = s != NULL ? s : &real_sys;
}

struct mbuf {
	uint8_t *start;
	size_t length;
};

struct cap__v4l2 {
	struct cap_source base;

	/* options, copied at open */
	char *path;
	enum cap_pixfmt wanted[8];
	int want_w, want_h, want_fps;
	unsigned n_buffers;
	uint8_t *edid;		/* validated, or NULL */
	size_t edid_len;

	/* live state */
	enum cap__v4l2_phase phase;
	bool retry;		/* an open/probe is pending ... */
	uint64_t retry_at_us;	/* ... at this time */
	int fd;
	uint32_t buf_type;
	bool mplane, has_dv, events;
	uint32_t input;
	char driver[17], card[33];

	enum cap_pixfmt fmt;
	int width, height, stride;
	size_t min_bytes;	/* a raw frame shorter than this is broken */
	int fps_milli;

	struct mbuf bufs[V4L2_MAX_BUFS];
	unsigned n_bufs;
	bool bufs_requested;	/* REQBUFS done: release with count 0 */
	bool streaming;		/* STREAMON done */
	int held;		/* buffer lent to the caller, or -1 */
	uint64_t stream_start_us, last_frame_us;
	bool got_frame;

	/* A device failing the same way every second says so once, until it
	 * streams again; facts about it (opened, EDID loaded) once per
	 * stream too, apart, so that only problems make a recovery line. */
	struct wk_log_once problems, facts;
	int logged_w, logged_h;	/* the mode last logged as "capturing" */
	enum cap_pixfmt logged_fmt;
};

static int
xioctl(int fd, unsigned long req, void *arg)
{
	int eintr = 0, busy = 0;

	for (;;) {
		if (sys->ioctl(fd, req, arg) != -1)
			return 0;
		if (errno == EINTR && eintr++ < XIOCTL_EINTR_TRIES)
			continue;
		if ((errno == EAGAIN || errno == ETIMEDOUT) && req != VIDIOC_DQBUF &&
		    req != VIDIOC_DQEVENT && busy++ < XIOCTL_BUSY_TRIES)
			continue;
		return -errno;
	}
}

static void note(struct cap__v4l2 *v, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
note(struct cap__v4l2 *v, int level, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wk_log_once(level <= WK_LOG_WARN ? &v->problems : &v->facts, "cap", level, "%s: %s",
		    v->path, msg);
}

static void
set_desc(struct cap__v4l2 *v)
{
	if (v->phase == CAP__V4L2_STREAMING && v->base.state == CAP_STATE_OK)
		snprintf(v->base.desc, sizeof(v->base.desc), "v4l2 %s %dx%d %s %d.%02d fps",
			 v->path, v->width, v->height, cap_fmt_name(v->fmt),
			 v->fps_milli / 1000, v->fps_milli % 1000 / 10);
	else
		snprintf(v->base.desc, sizeof(v->base.desc), "v4l2 %s (%s)",
			 v->path, cap_state_name(v->base.state));
}

/* ---- buffers and stream ---- */

static void
stream_stop(struct cap__v4l2 *v)
{
	int r;

	if (v->streaming) {
		uint32_t type = v->buf_type;

		if ((r = xioctl(v->fd, VIDIOC_STREAMOFF, &type)) < 0)
			cap__log(WK_LOG_DEBUG, "%s: VIDIOC_STREAMOFF: %s", v->path, strerror(-r));
		v->streaming = false;
	}
	for (unsigned i = 0; i < v->n_bufs; i++)
		if (sys->munmap(v->bufs[i].start, v->bufs[i].length) < 0)
			cap__log(WK_LOG_WARN, "%s: munmap: %s", v->path, strerror(errno));
	v->n_bufs = 0;
	if (v->bufs_requested) {
		struct v4l2_requestbuffers rb = {
			.count = 0, .type = v->buf_type, .memory = V4L2_MEMORY_MMAP,
		};

		if ((r = xioctl(v->fd, VIDIOC_REQBUFS, &rb)) < 0)
			cap__log(WK_LOG_DEBUG, "%s: VIDIOC_REQBUFS 0: %s", v->path, strerror(-r));
		v->bufs_requested = false;
	}
	v->held = -1;
}

static void
dev_close(struct cap__v4l2 *v)
{
	if (v->fd < 0)
		return;
	stream_stop(v);
	sys->close(v->fd);
	v->fd = -1;
}

/* b made ready for QBUF, QUERYBUF or DQBUF of buffer index: our queue's
 * type, MMAP, and on a multi-planar device planes with n_planes in use. */
static void
buf_init(const struct cap__v4l2 *v, struct v4l2_buffer *b, struct v4l2_plane planes[VIDEO_MAX_PLANES],
	 unsigned index, unsigned n_planes)
{
	memset(b, 0, sizeof(*b));
	b->type = v->buf_type;
	b->memory = V4L2_MEMORY_MMAP;
	b->index = index;
	if (v->mplane) {
		memset(planes, 0, sizeof(*planes) * VIDEO_MAX_PLANES);
		b->m.planes = planes;
		b->length = n_planes;
	}
}

static int
queue_buf(struct cap__v4l2 *v, unsigned index)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer b;

	buf_init(v, &b, planes, index, 1);
	return xioctl(v->fd, VIDIOC_QBUF, &b);
}

static int
map_buffers(struct cap__v4l2 *v)
{
	struct v4l2_requestbuffers rb = {
		.count = v->n_buffers, .type = v->buf_type, .memory = V4L2_MEMORY_MMAP,
	};
	int r;

	if ((r = xioctl(v->fd, VIDIOC_REQBUFS, &rb)) < 0) {
		note(v, WK_LOG_WARN, "VIDIOC_REQBUFS %u: %s", v->n_buffers, strerror(-r));
		return r;
	}
	v->bufs_requested = true;
	/* The driver may grant more (its minimum) or fewer (memory). */
	if (rb.count < 2 || rb.count > V4L2_MAX_BUFS) {
		note(v, WK_LOG_WARN, "VIDIOC_REQBUFS: driver granted %u buffers, need 2..%d",
		     rb.count, V4L2_MAX_BUFS);
		return -ENOMEM;
	}
	if (rb.count < v->n_buffers)
		note(v, WK_LOG_INFO, "driver granted %u of %u buffers", rb.count, v->n_buffers);
	for (unsigned i = 0; i < rb.count; i++) {
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		struct v4l2_buffer b;
		size_t length;
		off_t offset;
		void *p;

		buf_init(v, &b, planes, i, VIDEO_MAX_PLANES);
		if ((r = xioctl(v->fd, VIDIOC_QUERYBUF, &b)) < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_QUERYBUF %u: %s", i, strerror(-r));
			return r;
		}
		length = v->mplane ? planes[0].length : b.length;
		offset = v->mplane ? (off_t)planes[0].m.mem_offset : (off_t)b.m.offset;
		if (length == 0) {
			note(v, WK_LOG_WARN, "VIDIOC_QUERYBUF %u: driver gave an empty buffer", i);
			return -EINVAL;
		}
		p = sys->mmap(NULL, length, PROT_READ, MAP_SHARED, v->fd, offset);
		if (p == MAP_FAILED) {
			r = -errno;
			note(v, WK_LOG_WARN, "mmap buffer %u (%zu bytes): %s", i, length, strerror(-r));
			return r;
		}
		v->bufs[i].start = p;
		v->bufs[i].length = length;
		v->n_bufs = i + 1;
		if (v->fmt != CAP_FMT_MJPEG && length < v->min_bytes) {
			note(v, WK_LOG_WARN, "buffer %u holds %zu bytes, a frame needs %zu",
			     i, length, v->min_bytes);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < v->n_bufs; i++) {
		if ((r = queue_buf(v, i)) < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_QBUF %u: %s", i, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* ---- format negotiation ---- */

static const char *
fourcc_str(uint32_t f, char s[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0xff);

		s[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	s[4] = '\0';
	return s;
}

/* Picks the pixel format and the fourcc that carries it on this device. */
static int
choose_format(struct cap__v4l2 *v, uint32_t *fourcc)
{
	enum cap_pixfmt avail[V4L2_MAX_FMTS];
	uint32_t avail_cc[V4L2_MAX_FMTS];
	size_t n = 0;
	char offered[V4L2_MAX_FMTS * 5 + 1] = "";
	enum cap_pixfmt fmt;
	int r;

	for (uint32_t i = 0; i < V4L2_MAX_FMTS; i++) {
		struct v4l2_fmtdesc d = { .index = i, .type = v->buf_type };
		char cc[5];

		if ((r = xioctl(v->fd, VIDIOC_ENUM_FMT, &d)) == -EINVAL)
			break;
		if (r < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_ENUM_FMT: %s", strerror(-r));
			return r;
		}
		if (strlen(offered) + 6 < sizeof(offered)) {
			strcat(offered, offered[0] ? " " : "");
			strcat(offered, fourcc_str(d.pixelformat, cc));
		}
		if (cap__v4l2_fmt_from_fourcc(d.pixelformat) == CAP_FMT_NONE)
			continue;
		avail[n] = cap__v4l2_fmt_from_fourcc(d.pixelformat);
		avail_cc[n] = d.pixelformat;
		n++;
	}
	if (cap__v4l2_choose_format(v->wanted, 8, v->driver, avail, n, &fmt) < 0) {
		char asked[8 * 8 + 1] = "";

		for (size_t i = 0; i < 8 && v->wanted[i] != CAP_FMT_NONE; i++) {
			strcat(asked, i ? " " : "");
			strcat(asked, cap_fmt_name(v->wanted[i]));
		}
		note(v, WK_LOG_ERROR, "no usable pixel format: device offers [%s], %s%s%s",
		     offered, asked[0] ? "asked for [" : "none of ours", asked,
		     asked[0] ? "]" : "");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (avail[i] == fmt) {
			*fourcc = avail_cc[i];
			break;
		}
	}
	v->fmt = fmt;
	return 0;
}

static const char *
no_signal_text(int err)
{
	switch (err) {
	case ENOLINK:	return "no signal or no cable";
	case ENOLCK:	return "signal not stable";
	case ERANGE:	return "signal out of range";
	default:	return strerror(err);
	}
}

/* Sets the receiver to the incoming signal's timings; *w, *h get its size. */
static int
apply_dv_timings(struct cap__v4l2 *v, int *w, int *h)
{
	struct v4l2_dv_timings t;
	struct cap__v4l2_mode mode;
	int r;

	memset(&t, 0, sizeof(t));
	if ((r = xioctl(v->fd, VIDIOC_QUERY_DV_TIMINGS, &t)) < 0) {
		if (cap__v4l2_errno_state(-r) == CAP_STATE_NO_SIGNAL)
			note(v, WK_LOG_INFO, "%s (VIDIOC_QUERY_DV_TIMINGS: %s)",
			     no_signal_text(-r), strerror(-r));
		else
			note(v, WK_LOG_WARN, "VIDIOC_QUERY_DV_TIMINGS: %s", strerror(-r));
		return r;
	}
	if (cap__v4l2_dv_mode(&t, &mode) < 0) {
		note(v, WK_LOG_INFO, "signal %ux%u%s cannot be captured (interlaced or out of range)",
		     t.bt.width, t.bt.height, t.bt.interlaced ? "i" : "p");
		return -ERANGE;
	}
	if ((r = xioctl(v->fd, VIDIOC_S_DV_TIMINGS, &t)) < 0) {
		note(v, WK_LOG_WARN, "VIDIOC_S_DV_TIMINGS %dx%d: %s", mode.width, mode.height,
		     strerror(-r));
		return r;
	}
	*w = mode.width;
	*h = mode.height;
	v->fps_milli = mode.fps_milli;
	return 0;
}

static void
apply_fps(struct cap__v4l2 *v)
{
	struct v4l2_streamparm p;
	int r;

	if (v->want_fps > 0) {
		memset(&p, 0, sizeof(p));
		p.type = v->buf_type;
		p.parm.capture.timeperframe.numerator = 1;
		p.parm.capture.timeperframe.denominator = (uint32_t)v->want_fps;
		if ((r = xioctl(v->fd, VIDIOC_S_PARM, &p)) < 0)
			note(v, WK_LOG_WARN, "VIDIOC_S_PARM %d fps: %s; using the device's rate",
			     v->want_fps, strerror(-r));
	}
	memset(&p, 0, sizeof(p));
	p.type = v->buf_type;
	v->fps_milli = 0;
	if (xioctl(v->fd, VIDIOC_G_PARM, &p) == 0 &&
	    (p.parm.capture.capability & V4L2_CAP_TIMEPERFRAME) &&
	    p.parm.capture.timeperframe.numerator > 0) {
		uint64_t f = (uint64_t)p.parm.capture.timeperframe.denominator * 1000 /
			     p.parm.capture.timeperframe.numerator;

		v->fps_milli = f > 1000000 ? 0 : (int)f;
	}
}

/* S_FMT and reading back what the driver made of it. */
static int
set_format(struct cap__v4l2 *v, uint32_t fourcc, int w, int h)
{
	struct v4l2_format f;
	uint32_t got_cc, field, bpl, sizeimage;
	enum cap_pixfmt got;
	size_t row;
	int r;
	char cc[5];

	memset(&f, 0, sizeof(f));
	f.type = v->buf_type;
	if (w == 0 || h == 0) {
		/* No size wished and no timings: keep the device's current one. */
		if ((r = xioctl(v->fd, VIDIOC_G_FMT, &f)) < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_G_FMT: %s", strerror(-r));
			return r;
		}
		w = v->mplane ? (int)f.fmt.pix_mp.width : (int)f.fmt.pix.width;
		h = v->mplane ? (int)f.fmt.pix_mp.height : (int)f.fmt.pix.height;
		memset(&f, 0, sizeof(f));
		f.type = v->buf_type;
	}
	if (v->mplane) {
		f.fmt.pix_mp.width = (uint32_t)w;
		f.fmt.pix_mp.height = (uint32_t)h;
		f.fmt.pix_mp.pixelformat = fourcc;
		f.fmt.pix_mp.field = V4L2_FIELD_ANY;
		f.fmt.pix_mp.num_planes = 1;
	} else {
		f.fmt.pix.width = (uint32_t)w;
		f.fmt.pix.height = (uint32_t)h;
		f.fmt.pix.pixelformat = fourcc;
		f.fmt.pix.field = V4L2_FIELD_ANY;
	}
	if ((r = xioctl(v->fd, VIDIOC_S_FMT, &f)) < 0) {
		note(v, WK_LOG_WARN, "VIDIOC_S_FMT %dx%d %s: %s", w, h, fourcc_str(fourcc, cc),
		     strerror(-r));
		return r;
	}
	if (v->mplane) {
		if (f.fmt.pix_mp.num_planes != 1) {
			note(v, WK_LOG_ERROR, "format %s needs %u planes; only 1 is supported",
			     fourcc_str(f.fmt.pix_mp.pixelformat, cc), f.fmt.pix_mp.num_planes);
			return -EINVAL;
		}
		got_cc = f.fmt.pix_mp.pixelformat;
		w = (int)f.fmt.pix_mp.width;
		h = (int)f.fmt.pix_mp.height;
		field = f.fmt.pix_mp.field;
		bpl = f.fmt.pix_mp.plane_fmt[0].bytesperline;
		sizeimage = f.fmt.pix_mp.plane_fmt[0].sizeimage;
	} else {
		got_cc = f.fmt.pix.pixelformat;
		w = (int)f.fmt.pix.width;
		h = (int)f.fmt.pix.height;
		field = f.fmt.pix.field;
		bpl = f.fmt.pix.bytesperline;
		sizeimage = f.fmt.pix.sizeimage;
	}
	if ((got = cap__v4l2_fmt_from_fourcc(got_cc)) == CAP_FMT_NONE) {
		note(v, WK_LOG_ERROR, "driver chose format %s, which we cannot use",
		     fourcc_str(got_cc, cc));
		return -EINVAL;
	}
	if (got != v->fmt)
		note(v, WK_LOG_INFO, "driver chose %s instead of %s", cap_fmt_name(got),
		     cap_fmt_name(v->fmt));
	if (w < 1 || h < 1 || w > CAP__MAX_DIM || h > CAP__MAX_DIM) {
		note(v, WK_LOG_ERROR, "driver set a frame size of %dx%d", w, h);
		return -EINVAL;
	}
	if (field != V4L2_FIELD_NONE && field != V4L2_FIELD_ANY) {
		note(v, WK_LOG_ERROR, "driver delivers interlaced fields (%u); not supported", field);
		return -EINVAL;
	}
	v->fmt = got;
	v->width = w;
	v->height = h;
	if (got == CAP_FMT_MJPEG) {
		v->stride = 0;
		v->min_bytes = 0;
		return 0;
	}
	if (got == CAP_FMT_YUYV || got == CAP_FMT_UYVY)
		row = ((size_t)w + 1) / 2 * 4;
	else
		row = (size_t)w * (size_t)cap_fmt_bpp(got);
	if (bpl == 0)
		bpl = (uint32_t)row;
	if (bpl < row || bpl > INT32_MAX / 4) {
		note(v, WK_LOG_ERROR, "driver set %u bytes per line for %d pixels of %s",
		     bpl, w, cap_fmt_name(got));
		return -EINVAL;
	}
	v->stride = (int)bpl;
	v->min_bytes = (size_t)bpl * (size_t)(h - 1) + row;
	if (sizeimage != 0 && sizeimage < v->min_bytes) {
		note(v, WK_LOG_ERROR, "driver's frame size %u is less than %zu bytes",
		     sizeimage, v->min_bytes);
		return -EINVAL;
	}
	return 0;
}

/* 1 when the source changed, 0 when not, -errno on failure. */
static int
drain_events(struct cap__v4l2 *v)
{
	bool changed = false;

	if (!v->events)
		return 0;
	for (int i = 0; i < 16; i++) {
		struct v4l2_event ev;
		int r;

		memset(&ev, 0, sizeof(ev));
		if ((r = xioctl(v->fd, VIDIOC_DQEVENT, &ev)) == -ENOENT)
			break;
		if (r < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_DQEVENT: %s", strerror(-r));
			return r;
		}
		if (ev.type == V4L2_EVENT_SOURCE_CHANGE &&
		    (ev.u.src_change.changes & V4L2_EVENT_SRC_CH_RESOLUTION))
			changed = true;
	}
	return changed;
}

/* Probe the signal, negotiate, map buffers, STREAMON.  0 or -errno (logged);
 * on failure whatever was set up is released. */
static int
stream_start(struct cap__v4l2 *v)
{
	uint32_t fourcc = 0;
	int w = v->want_w, h = v->want_h;
	int r;

	/* Changes announced before this probe are in what it finds; left
	 * queued they would restart the new stream for nothing. */
	if ((r = drain_events(v)) < 0)
		return r;
	if ((r = choose_format(v, &fourcc)) < 0)
		return r;
	if (v->has_dv && (r = apply_dv_timings(v, &w, &h)) < 0)
		return r;
	if ((r = set_format(v, fourcc, w, h)) < 0)
		return r;
	if (!v->has_dv)
		apply_fps(v);
	if ((r = map_buffers(v)) < 0)
		goto fail;
	{
		uint32_t type = v->buf_type;

		if ((r = xioctl(v->fd, VIDIOC_STREAMON, &type)) < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_STREAMON: %s", strerror(-r));
			goto fail;
		}
	}
	v->streaming = true;
	v->held = -1;
	v->got_frame = false;
	v->stream_start_us = sys->now_us();
	cap__log(WK_LOG_DEBUG, "%s: streaming %dx%d %s, %u buffers", v->path, v->width,
		 v->height, cap_fmt_name(v->fmt), v->n_bufs);
	return 0;
fail:
	stream_stop(v);
	return r;
}

/* ---- opening ---- */

/* A KVM captures HDMI: when the current input has no DV timings but another
 * has, switch to it (vivid's HDMI input is not its first). */
static void
select_input(struct cap__v4l2 *v)
{
	struct v4l2_input in;
	int cur = 0;
	int r;

	v->has_dv = false;
	v->input = 0;
	if (xioctl(v->fd, VIDIOC_G_INPUT, &cur) == 0)
		v->input = (uint32_t)cur;
	memset(&in, 0, sizeof(in));
	in.index = v->input;
	if (xioctl(v->fd, VIDIOC_ENUMINPUT, &in) == 0) {
		if (in.capabilities & V4L2_IN_CAP_DV_TIMINGS) {
			v->has_dv = true;
			return;
		}
		for (uint32_t i = 0; i < V4L2_MAX_INPUTS; i++) {
			memset(&in, 0, sizeof(in));
			in.index = i;
			if (xioctl(v->fd, VIDIOC_ENUMINPUT, &in) < 0)
				break;
			if (!(in.capabilities & V4L2_IN_CAP_DV_TIMINGS))
				continue;
			int idx = (int)i;

			if ((r = xioctl(v->fd, VIDIOC_S_INPUT, &idx)) < 0) {
				note(v, WK_LOG_WARN, "VIDIOC_S_INPUT %u: %s", i, strerror(-r));
				return;
			}
			in.name[sizeof(in.name) - 1] = '\0';
			note(v, WK_LOG_INFO, "using input %u (%s), which has DV timings",
			     i, (const char *)in.name);
			v->input = i;
			v->has_dv = true;
			return;
		}
		return;
	}
	/* No input ioctls: ask for timings directly. */
	{
		struct v4l2_dv_timings t;

		memset(&t, 0, sizeof(t));
		r = xioctl(v->fd, VIDIOC_QUERY_DV_TIMINGS, &t);
		v->has_dv = r == 0 || cap__v4l2_errno_state(-r) == CAP_STATE_NO_SIGNAL;
	}
}

static void
load_edid(struct cap__v4l2 *v)
{
	struct v4l2_edid e;
	int r;

	memset(&e, 0, sizeof(e));
	e.pad = v->input;	/* on a video node, pad is the input */
	e.start_block = 0;
	e.blocks = (uint32_t)(v->edid_len / 128);
	e.edid = v->edid;
	if ((r = xioctl(v->fd, VIDIOC_S_EDID, &e)) == 0) {
		note(v, WK_LOG_INFO, "EDID loaded (%zu blocks)", v->edid_len / 128);
		return;
	}
	if (r == -E2BIG)
		note(v, WK_LOG_WARN, "VIDIOC_S_EDID: device takes at most %u blocks, EDID has %zu",
		     e.blocks, v->edid_len / 128);
	else if (r == -ENOTTY || r == -EINVAL)
		note(v, WK_LOG_WARN, "device does not accept an EDID (VIDIOC_S_EDID: %s)",
		     strerror(-r));
	else
		note(v, WK_LOG_WARN, "VIDIOC_S_EDID: %s", strerror(-r));
}

static void
copy_name(char *dst, size_t n, const uint8_t *src, size_t src_len)
{
	size_t len = strnlen((const char *)src, src_len < n - 1 ? src_len : n - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

static int
dev_open(struct cap__v4l2 *v)
{
	struct v4l2_capability cap;
	struct v4l2_event_subscription sub;
	uint32_t caps;
	int r;

	if ((v->fd = sys->open(v->path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		r = -errno;
		note(v, WK_LOG_WARN, "open: %s", strerror(-r));
		return r;
	}
	memset(&cap, 0, sizeof(cap));
	if ((r = xioctl(v->fd, VIDIOC_QUERYCAP, &cap)) < 0) {
		note(v, WK_LOG_ERROR, "VIDIOC_QUERYCAP: %s (not a V4L2 device?)", strerror(-r));
		goto fail;
	}
	caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
	copy_name(v->driver, sizeof(v->driver), cap.driver, sizeof(cap.driver));
	copy_name(v->card, sizeof(v->card), cap.card, sizeof(cap.card));
	if (caps & V4L2_CAP_VIDEO_CAPTURE) {
		v->mplane = false;
		v->buf_type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	} else if (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) {
		v->mplane = true;
		v->buf_type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	} else {
		note(v, WK_LOG_ERROR, "%s (%s) is not a video capture device", v->card, v->driver);
		r = -EINVAL;
		goto fail;
	}
	if (!(caps & V4L2_CAP_STREAMING)) {
		note(v, WK_LOG_ERROR, "%s (%s) cannot stream (no V4L2_CAP_STREAMING)",
		     v->card, v->driver);
		r = -EINVAL;
		goto fail;
	}
	select_input(v);

	memset(&sub, 0, sizeof(sub));
	sub.type = V4L2_EVENT_SOURCE_CHANGE;
	sub.id = v->input;	/* source-change events carry the input index */
	r = xioctl(v->fd, VIDIOC_SUBSCRIBE_EVENT, &sub);
	v->events = r == 0;
	if (r < 0)
		cap__log(WK_LOG_DEBUG, "%s: no source-change events (%s); relying on timeouts",
			 v->path, strerror(-r));
	if (v->edid != NULL)
		load_edid(v);
	note(v, WK_LOG_INFO, "opened %s (%s)%s%s", v->card, v->driver,
	     v->mplane ? ", multi-planar API" : "", v->has_dv ? ", DV timings" : "");
	return 0;
fail:
	sys->close(v->fd);
	v->fd = -1;
	return r;
}

/* ---- the state machine, applied ---- */

static void
apply(struct cap__v4l2 *v, enum cap__v4l2_event ev, int err)
{
	struct cap__v4l2_step s = cap__v4l2_transition(v->phase, v->base.state, ev, err);
	enum cap_state old_state = v->base.state;
	enum cap__v4l2_phase old_phase = v->phase;

	if (s.phase == CAP__V4L2_CLOSED)
		dev_close(v);
	else if (s.phase == CAP__V4L2_IDLE)
		stream_stop(v);
	v->phase = s.phase;
	v->base.state = s.state;
	v->retry = s.retry_ms >= 0;
	if (v->retry)
		v->retry_at_us = sys->now_us() + (uint64_t)s.retry_ms * 1000;
	if (s.state == CAP_STATE_OK && (old_state != CAP_STATE_OK || v->width != v->logged_w ||
					v->height != v->logged_h || v->fmt != v->logged_fmt)) {
		/* Problems and facts from now on are news again. */
		wk_log_recovered(&v->problems, "cap", "%s: the device works again", v->path);
		v->facts = (struct wk_log_once){ 0 };
		cap__log(WK_LOG_INFO, "%s: capturing %dx%d %s at %d.%02d fps", v->path,
			 v->width, v->height, cap_fmt_name(v->fmt),
			 v->fps_milli / 1000, v->fps_milli % 1000 / 10);
		v->logged_w = v->width;
		v->logged_h = v->height;
		v->logged_fmt = v->fmt;
	}
	if (s.state != old_state || s.phase != old_phase)
		set_desc(v);
}

/* Runs the open or the probe that is due: at most open + start per call. */
static void
run_pending(struct cap__v4l2 *v)
{
	int r;

	for (int i = 0; i < 2; i++) {
		if (!v->retry || sys->now_us() < v->retry_at_us)
			return;
		v->retry = false;
		if (v->phase == CAP__V4L2_CLOSED) {
			if ((r = dev_open(v)) < 0)
				apply(v, CAP__V4L2_EV_FAILED, -r);
			else
				apply(v, CAP__V4L2_EV_OPENED, 0);
		} else if (v->phase == CAP__V4L2_IDLE) {
			if ((r = stream_start(v)) < 0)
				apply(v, CAP__V4L2_EV_FAILED, -r);
			else
				apply(v, CAP__V4L2_EV_STARTED, 0);
		}
	}
}

/* Why a dequeued buffer cannot be shown, or NULL when it can. */
static const char *
bad_buffer(const struct cap__v4l2 *v, const struct v4l2_buffer *b, size_t used, size_t off)
{
	if (b->flags & V4L2_BUF_FLAG_ERROR)
		return "driver flagged the frame as corrupt";
	if (used == 0)
		return "empty frame";
	if (used > v->bufs[b->index].length || off > used)
		return "driver reported more bytes than the buffer holds";
	if (v->fmt != CAP_FMT_MJPEG && used - off < v->min_bytes)
		return "short frame";
	return NULL;
}

static uint64_t
buffer_ts(const struct v4l2_buffer *b, uint64_t now)
{
	uint64_t ts;

	if ((b->flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) != V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC ||
	    b->timestamp.tv_sec < 0 || b->timestamp.tv_usec < 0)
		return now;
	ts = (uint64_t)b->timestamp.tv_sec * 1000000u + (uint64_t)b->timestamp.tv_usec;
	return ts == 0 || ts > now ? now : ts;
}

/* Dequeues every filled buffer, keeps the newest good one (the others go
 * straight back), so a slow consumer sees the present, not a backlog.
 * 1 with *frame filled, 0 when none, -errno on failure. */
static int
dequeue_newest(struct cap__v4l2 *v, struct cap_frame *frame)
{
	int newest = -1;
	int r;

	for (unsigned i = 0; i < 2 * v->n_bufs; i++) {
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		struct v4l2_buffer b;
		size_t used, off;
		const char *why;

		buf_init(v, &b, planes, 0, VIDEO_MAX_PLANES);
		if ((r = xioctl(v->fd, VIDIOC_DQBUF, &b)) == -EAGAIN)
			break;
		if (r < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_DQBUF: %s", strerror(-r));
			goto fail;
		}
		if (b.index >= v->n_bufs) {
			note(v, WK_LOG_ERROR, "VIDIOC_DQBUF: driver returned buffer %u of %u",
			     b.index, v->n_bufs);
			r = -EIO;
			goto fail;
		}
		used = v->mplane ? planes[0].bytesused : b.bytesused;
		off = v->mplane ? planes[0].data_offset : 0;
		if ((why = bad_buffer(v, &b, used, off)) != NULL) {
			note(v, WK_LOG_WARN, "skipping frames: %s", why);
			if ((r = queue_buf(v, b.index)) < 0) {
				note(v, WK_LOG_WARN, "VIDIOC_QBUF: %s", strerror(-r));
				goto fail;
			}
			continue;
		}
		if (newest >= 0 && (r = queue_buf(v, (unsigned)newest)) < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_QBUF: %s", strerror(-r));
			goto fail;
		}
		newest = (int)b.index;
		frame->fmt = v->fmt;
		frame->width = v->width;
		frame->height = v->height;
		frame->stride = v->stride;
		frame->size = used - off;
		frame->data = v->bufs[b.index].start + off;
		frame->ts_us = buffer_ts(&b, sys->now_us());
	}
	if (newest < 0)
		return 0;
	v->held = newest;
	return 1;
fail:
	/* The stream is about to be torn down; a dequeued buffer needs no
	 * requeue for that. */
	return r;
}

static int
v4l2_grab(struct cap_source *src, struct cap_frame *out)
{
	struct cap__v4l2 *v = (struct cap__v4l2 *)src;
	uint64_t now, since, limit;
	int r;

	run_pending(v);
	if (v->phase != CAP__V4L2_STREAMING)
		return cap__state_code(v->base.state);

	if ((r = drain_events(v)) < 0) {
		apply(v, CAP__V4L2_EV_FAILED, -r);
		return cap__state_code(v->base.state);
	}
	if (r > 0) {
		note(v, WK_LOG_INFO, "source changed; restarting the stream");
		apply(v, CAP__V4L2_EV_SOURCE_CHANGE, 0);
		run_pending(v);
		if (v->phase != CAP__V4L2_STREAMING)
			return cap__state_code(v->base.state);
	}

	if (v->held >= 0) {
		r = queue_buf(v, (unsigned)v->held);
		v->held = -1;
		if (r < 0) {
			note(v, WK_LOG_WARN, "VIDIOC_QBUF: %s", strerror(-r));
			apply(v, CAP__V4L2_EV_FAILED, -r);
			return cap__state_code(v->base.state);
		}
	}
	if ((r = dequeue_newest(v, out)) < 0) {
		apply(v, CAP__V4L2_EV_FAILED, -r);
		return cap__state_code(v->base.state);
	}
	now = sys->now_us();
	if (r > 0) {
		v->got_frame = true;
		v->last_frame_us = now;
		apply(v, CAP__V4L2_EV_FRAME, 0);
		return 0;
	}
	since = v->got_frame ? v->last_frame_us : v->stream_start_us;
	limit = (uint64_t)cap__v4l2_frame_timeout_ms(v->fps_milli, !v->got_frame) * 1000;
	if (now - since >= limit) {
		note(v, WK_LOG_INFO, "no frame for %llu ms; restarting the stream",
		     (unsigned long long)(limit / 1000));
		apply(v, CAP__V4L2_EV_TIMEOUT, 0);
		run_pending(v);
		return CAP_ENOSIGNAL;
	}
	return cap__state_code(v->base.state);
}

static int
v4l2_fd(struct cap_source *src)
{
	struct cap__v4l2 *v = (struct cap__v4l2 *)src;

	return v->phase == CAP__V4L2_STREAMING ? v->fd : -1;
}

static int
ms_until(uint64_t t, uint64_t now)
{
	return t <= now ? 0 : (int)((t - now + 999) / 1000);
}

static int
v4l2_wait_ms(struct cap_source *src)
{
	struct cap__v4l2 *v = (struct cap__v4l2 *)src;
	uint64_t now = sys->now_us();

	if (v->phase == CAP__V4L2_STREAMING) {
		/* Frames wake the caller through the fd; this is the deadline
		 * for noticing that they stopped. */
		uint64_t since = v->got_frame ? v->last_frame_us : v->stream_start_us;
		uint64_t limit = (uint64_t)cap__v4l2_frame_timeout_ms(v->fps_milli,
								      !v->got_frame) * 1000;

		return ms_until(since + limit, now);
	}
	if (v->retry)
		return ms_until(v->retry_at_us, now);
	return CAP__V4L2_RETRY_MS;
}

static void
v4l2_close(struct cap_source *src)
{
	struct cap__v4l2 *v = (struct cap__v4l2 *)src;

	dev_close(v);
	free(v->edid);
	free(v->path);
	free(v);
}

static const struct cap__ops v4l2_ops = {
	.fd = v4l2_fd,
	.wait_ms = v4l2_wait_ms,
	.grab = v4l2_grab,
	.close = v4l2_close,
};

static int
read_edid(struct cap__v4l2 *v, const char *path)
{
	char why[128];
	int rc;

	if ((rc = cap__read_file(path, EDID_FILE_MAX, &v->edid, &v->edid_len)) < 0)
		return rc == CAP_ENOMEM ? rc : CAP_EINVAL;
	if (cap__edid_check(v->edid, v->edid_len, why, sizeof(why)) < 0) {
		cap__log(WK_LOG_ERROR, "%s: %s", path, why);
		return CAP_EINVAL;
	}
	return 0;
}

static int
check_options(const struct cap_options *opt, const char *path)
{
	if ((opt->width == 0) != (opt->height == 0) || opt->width < 0 || opt->height < 0 ||
	    opt->width > CAP__MAX_DIM || opt->height > CAP__MAX_DIM) {
		cap__log(WK_LOG_ERROR, "%s: size %dx%d: give both, each 1..%d, or neither",
			 path, opt->width, opt->height, CAP__MAX_DIM);
		return CAP_EINVAL;
	}
	if (opt->fps < 0 || opt->fps > CAP__MAX_FPS) {
		cap__log(WK_LOG_ERROR, "%s: fps %d out of range 1..%d", path, opt->fps,
			 CAP__MAX_FPS);
		return CAP_EINVAL;
	}
	if (opt->n_buffers != 0 && (opt->n_buffers < 3 || opt->n_buffers > V4L2_MAX_BUFS)) {
		cap__log(WK_LOG_ERROR, "%s: %d buffers out of range 3..%d", path,
			 opt->n_buffers, V4L2_MAX_BUFS);
		return CAP_EINVAL;
	}
	for (size_t i = 0; i < 8 && opt->formats[i] != CAP_FMT_NONE; i++) {
		if (cap_fmt_bpp(opt->formats[i]) == 0 && opt->formats[i] != CAP_FMT_MJPEG) {
			cap__log(WK_LOG_ERROR, "%s: unknown pixel format %d in the list",
				 path, (int)opt->formats[i]);
			return CAP_EINVAL;
		}
	}
	return 0;
}

int
cap__v4l2_open(const struct cap_options *opt, struct cap_source **out)
{
	const char *path = opt->path ? opt->path : "/dev/video0";
	struct cap__v4l2 *v;
	int rc;

	if ((rc = check_options(opt, path)) < 0)
		return rc;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return CAP_ENOMEM;
	v->fd = -1;
	v->held = -1;
	if ((v->path = strdup(path)) == NULL) {
		free(v);
		return CAP_ENOMEM;
	}
	memcpy(v->wanted, opt->formats, sizeof(v->wanted));
	v->want_w = opt->width;
	v->want_h = opt->height;
	v->want_fps = opt->fps;
	v->n_buffers = opt->n_buffers ? (unsigned)opt->n_buffers : 4;
	if (opt->edid_path != NULL && (rc = read_edid(v, opt->edid_path)) < 0) {
		v4l2_close(&v->base);
		return rc;
	}
	v->base.ops = &v4l2_ops;
	v->base.state = CAP_STATE_NO_DEVICE;
	v->phase = CAP__V4L2_CLOSED;
	v->retry = true;
	v->retry_at_us = sys->now_us();
	set_desc(v);
	/* Try at once, so a present device streams from the first cap_grab(). */
	run_pending(v);
	*out = &v->base;
	return 0;
}
