/* The target's "graphics card": a V4L2 output device fed with mmap
 * buffers.  On vivid the capture side shows what was queued here, as long
 * as both sides have the same DV timings and pixel format; vivid keeps the
 * last queued buffer on its output (it never dequeues the only one), so
 * the target may render at its own pace. */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libyuv.h>

#include "board/sim/target/target.h"

#define VOUT_BUFS 3

struct vout {
	char out_path[128];
	char cap_path[128];
	int fd;
	enum cap_pixfmt fmt;
	int w, h, stride;
	size_t sizeimage;
	unsigned n_bufs;
	struct {
		void *p;
		size_t len;
		bool queued;
	} buf[VOUT_BUFS];
	bool streaming;
};

static int
xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static uint32_t
fourcc_of(enum cap_pixfmt fmt)
{
	switch (fmt) {
	case CAP_FMT_YUYV: return V4L2_PIX_FMT_YUYV;
	case CAP_FMT_UYVY: return V4L2_PIX_FMT_UYVY;
	case CAP_FMT_RGB24: return V4L2_PIX_FMT_RGB24;
	case CAP_FMT_BGR24: return V4L2_PIX_FMT_BGR24;
	case CAP_FMT_RGB565: return V4L2_PIX_FMT_RGB565;
	case CAP_FMT_XRGB32: return V4L2_PIX_FMT_XBGR32;
	default: return 0;
	}
}

int
vctl_set(const char *path, uint32_t id, int32_t value)
{
	struct v4l2_control c = { .id = id, .value = value };
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = xioctl(fd, VIDIOC_S_CTRL, &c);
	close(fd);
	return r;
}

int
vctl_get(const char *path, uint32_t id, int32_t *value)
{
	struct v4l2_control c = { .id = id };
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = xioctl(fd, VIDIOC_G_CTRL, &c);
	close(fd);
	if (r == 0)
		*value = c.value;
	return r;
}

/* vivid's controls live on its capture node; a plain output device has
 * none of them, which is fine. */
static const char *
ctl_node(const struct vout *v)
{
	return v->cap_path[0] ? v->cap_path : v->out_path;
}

static void
set_ctl(const struct vout *v, uint32_t id, int32_t value, const char *what)
{
	int r = vctl_set(ctl_node(v), id, value);

	if (r < 0)
		target_log(WK_LOG_WARN, "%s: %s = %d: %s", ctl_node(v), what, value, strerror(-r));
}

struct vout *
vout_open(const char *out_path, const char *cap_path, enum cap_pixfmt fmt, bool quiet)
{
	struct vout *v = calloc(1, sizeof(*v));
	struct v4l2_capability cap;
	int r;

	if (v == NULL)
		return NULL;
	if (fourcc_of(fmt) == 0) {
		target_log(WK_LOG_WARN, "%s: pixel format %s cannot be output", out_path, cap_fmt_name(fmt));
		free(v);
		return NULL;
	}
	snprintf(v->out_path, sizeof(v->out_path), "%s", out_path);
	snprintf(v->cap_path, sizeof(v->cap_path), "%s", cap_path ? cap_path : "");
	v->fmt = fmt;
	if ((v->fd = open(out_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (!quiet)
			target_log(WK_LOG_WARN, "%s: open: %s (retrying every second)", out_path, strerror(errno));
		free(v);
		return NULL;
	}
	if ((r = xioctl(v->fd, VIDIOC_QUERYCAP, &cap)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_QUERYCAP: %s", out_path, strerror(-r));
		goto fail;
	}
	if (!(cap.device_caps & V4L2_CAP_VIDEO_OUTPUT) || !(cap.device_caps & V4L2_CAP_STREAMING)) {
		target_log(WK_LOG_WARN, "%s: not a streaming video output (%s)", out_path, cap.card);
		goto fail;
	}
	/* Loop the output into the capture, byte for byte and without the
	 * driver's own text painted over it. */
	set_ctl(v, VIVID_CID_LOOP_VIDEO, 1, "Loop Video");
	set_ctl(v, VIVID_CID_OSD_TEXT_MODE, VIVID_OSD_NONE, "OSD Text Mode");
	return v;
fail:
	close(v->fd);
	free(v);
	return NULL;
}

static void
release_bufs(struct vout *v)
{
	struct v4l2_requestbuffers rb = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP };
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT, r;

	if (v->streaming && (r = xioctl(v->fd, VIDIOC_STREAMOFF, &type)) < 0 && r != -ENODEV)
		target_log(WK_LOG_WARN, "%s: VIDIOC_STREAMOFF: %s", v->out_path, strerror(-r));
	v->streaming = false;
	for (unsigned i = 0; i < v->n_bufs; i++)
		if (v->buf[i].p != NULL)
			munmap(v->buf[i].p, v->buf[i].len);
	memset(v->buf, 0, sizeof(v->buf));
	if (v->n_bufs > 0 && (r = xioctl(v->fd, VIDIOC_REQBUFS, &rb)) < 0 && r != -ENODEV)
		target_log(WK_LOG_WARN, "%s: VIDIOC_REQBUFS 0: %s", v->out_path, strerror(-r));
	v->n_bufs = 0;
}

void
vout_close(struct vout *v)
{
	if (v == NULL)
		return;
	release_bufs(v);
	close(v->fd);
	free(v);
}

int
vout_fd(const struct vout *v)
{
	return v->fd;
}

void
vout_size(const struct vout *v, int *w, int *h)
{
	*w = v->w;
	*h = v->h;
}

static double
timings_fps(const struct v4l2_bt_timings *bt)
{
	double tw = (double)V4L2_DV_BT_FRAME_WIDTH(bt), th = (double)V4L2_DV_BT_FRAME_HEIGHT(bt);

	return tw > 0 && th > 0 ? (double)bt->pixelclock / (tw * th) : 0;
}

/* The device's progressive timings of w×h closest to 60 Hz. */
static int
find_timings(struct vout *v, int w, int h, struct v4l2_dv_timings *out)
{
	double best = 1e9;
	int found = -ENOENT;

	for (unsigned i = 0; i < 256; i++) {
		struct v4l2_enum_dv_timings e = { .index = i };
		const struct v4l2_bt_timings *bt = &e.timings.bt;

		if (xioctl(v->fd, VIDIOC_ENUM_DV_TIMINGS, &e) < 0)
			break;
		if ((int)bt->width != w || (int)bt->height != h || bt->interlaced)
			continue;
		double d = timings_fps(bt) - 60.0;

		if (d < 0)
			d = -d;
		if (d < best) {
			best = d;
			*out = e.timings;
			found = 0;
		}
	}
	return found;
}

/* vivid's capture side takes its timings from the "DV Timings" control
 * in "Selected DV Timings" signal mode: pick the menu entry "WxHpN" with N
 * the rate of the output's timings. */
static void
select_capture_timings(struct vout *v, const struct v4l2_dv_timings *t)
{
	char want[32];
	int fd, fps = (int)(timings_fps(&t->bt) + 0.5);

	if (!v->cap_path[0])
		return;
	snprintf(want, sizeof(want), "%ux%up%d", t->bt.width, t->bt.height, fps);
	if ((fd = open(v->cap_path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		target_log(WK_LOG_WARN, "%s: open: %s", v->cap_path, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < 256; i++) {
		struct v4l2_querymenu m = { .id = VIVID_CID_DV_TIMINGS, .index = i };

		if (xioctl(fd, VIDIOC_QUERYMENU, &m) < 0)
			continue;
		if (strcmp((const char *)m.name, want) == 0) {
			struct v4l2_control c = { .id = VIVID_CID_DV_TIMINGS, .value = (int)i };
			int r = xioctl(fd, VIDIOC_S_CTRL, &c);

			if (r < 0)
				target_log(WK_LOG_WARN, "%s: DV Timings = %s: %s", v->cap_path, want, strerror(-r));
			close(fd);
			return;
		}
	}
	target_log(WK_LOG_WARN, "%s: no DV Timings menu entry %s", v->cap_path, want);
	close(fd);
}

int
vout_configure(struct vout *v, int w, int h)
{
	struct v4l2_dv_timings t = { 0 };
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	struct v4l2_requestbuffers rb = {
		.count = VOUT_BUFS, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP,
	};
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT, r;

	release_bufs(v);
	v->w = v->h = 0;
	if ((r = find_timings(v, w, h, &t)) < 0) {
		target_log(WK_LOG_WARN, "%s: no DV timings for %dx%d", v->out_path, w, h);
		return r;
	}
	if ((r = xioctl(v->fd, VIDIOC_S_DV_TIMINGS, &t)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_S_DV_TIMINGS %dx%d: %s", v->out_path, w, h, strerror(-r));
		return r;
	}
	f.fmt.pix.width = (unsigned)w;
	f.fmt.pix.height = (unsigned)h;
	f.fmt.pix.pixelformat = fourcc_of(v->fmt);
	f.fmt.pix.field = V4L2_FIELD_NONE;
	if ((r = xioctl(v->fd, VIDIOC_S_FMT, &f)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_S_FMT %dx%d %s: %s", v->out_path, w, h, cap_fmt_name(v->fmt), strerror(-r));
		return r;
	}
	if ((int)f.fmt.pix.width != w || (int)f.fmt.pix.height != h ||
	    f.fmt.pix.pixelformat != fourcc_of(v->fmt) ||
	    f.fmt.pix.bytesperline < (unsigned)(w * cap_fmt_bpp(v->fmt))) {
		target_log(WK_LOG_WARN, "%s: driver made %ux%u fourcc 0x%08x stride %u of %dx%d %s", v->out_path,
			   f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.pixelformat,
			   f.fmt.pix.bytesperline, w, h, cap_fmt_name(v->fmt));
		return -EINVAL;
	}
	v->stride = (int)f.fmt.pix.bytesperline;
	v->sizeimage = f.fmt.pix.sizeimage;
	if ((r = xioctl(v->fd, VIDIOC_REQBUFS, &rb)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_REQBUFS %d: %s", v->out_path, VOUT_BUFS, strerror(-r));
		return r;
	}
	if (rb.count < 2 || rb.count > VOUT_BUFS) {
		target_log(WK_LOG_INFO, "%s: driver granted %u buffers", v->out_path, rb.count);
		v->n_bufs = rb.count;
		release_bufs(v);
		return -EINVAL;
	}
	v->n_bufs = rb.count;
	for (unsigned i = 0; i < v->n_bufs; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP };
		void *p;

		if ((r = xioctl(v->fd, VIDIOC_QUERYBUF, &b)) < 0) {
			target_log(WK_LOG_WARN, "%s: VIDIOC_QUERYBUF %u: %s", v->out_path, i, strerror(-r));
			release_bufs(v);
			return r;
		}
		if (b.length < v->sizeimage) {
			target_log(WK_LOG_WARN, "%s: buffer %u has %u bytes, image needs %zu", v->out_path, i, b.length, v->sizeimage);
			release_bufs(v);
			return -EINVAL;
		}
		p = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, b.m.offset);
		if (p == MAP_FAILED) {
			r = -errno;
			target_log(WK_LOG_WARN, "%s: mmap buffer %u: %s", v->out_path, i, strerror(-r));
			release_bufs(v);
			return r;
		}
		v->buf[i].p = p;
		v->buf[i].len = b.length;
	}
	/* The capture side must see the same timings before it can loop. */
	set_ctl(v, VIVID_CID_SIGNAL_MODE, VIVID_SIGNAL_SELECTED, "Signal Mode");
	select_capture_timings(v, &t);
	if ((r = xioctl(v->fd, VIDIOC_STREAMON, &type)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_STREAMON: %s", v->out_path, strerror(-r));
		release_bufs(v);
		return r;
	}
	v->streaming = true;
	v->w = w;
	v->h = h;
	target_log(WK_LOG_INFO, "%s: output %dx%d %s, %.2f Hz", v->out_path, w, h, cap_fmt_name(v->fmt),
		   timings_fps(&t.bt));
	return 0;
}

/* Index of a buffer we may fill, dequeuing a done one if needed; -EAGAIN
 * when all are with the driver. */
static int
free_buf(struct vout *v)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP };
	int r;

	for (unsigned i = 0; i < v->n_bufs; i++)
		if (!v->buf[i].queued)
			return (int)i;
	if ((r = xioctl(v->fd, VIDIOC_DQBUF, &b)) < 0) {
		if (r != -EAGAIN)
			target_log(WK_LOG_WARN, "%s: VIDIOC_DQBUF: %s", v->out_path, strerror(-r));
		return r;
	}
	if (b.index >= v->n_bufs) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_DQBUF gave buffer %u of %u", v->out_path, b.index, v->n_bufs);
		return -EIO;
	}
	v->buf[b.index].queued = false;
	return (int)b.index;
}

int
vout_ready(struct vout *v)
{
	int r;

	if (v->n_bufs == 0)
		return 0;
	r = free_buf(v);
	return r >= 0 ? 1 : r == -EAGAIN ? 0 : r;
}

static int
convert(const struct vout *v, const struct cap_frame *f, uint8_t *dst)
{
	const uint8_t *s = f->data;
	int ss = f->stride, ds = v->stride, w = f->width, h = f->height;

	switch (v->fmt) {
	case CAP_FMT_YUYV: return ARGBToYUY2(s, ss, dst, ds, w, h);
	case CAP_FMT_UYVY: return ARGBToUYVY(s, ss, dst, ds, w, h);
	case CAP_FMT_RGB24: return ARGBToRAW(s, ss, dst, ds, w, h);	/* bytes R,G,B */
	case CAP_FMT_BGR24: return ARGBToRGB24(s, ss, dst, ds, w, h);	/* bytes B,G,R */
	case CAP_FMT_RGB565: return ARGBToRGB565(s, ss, dst, ds, w, h);
	case CAP_FMT_XRGB32: return ARGBCopy(s, ss, dst, ds, w, h);
	default: return -1;
	}
}

int
vout_put(struct vout *v, const struct cap_frame *f)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT, .memory = V4L2_MEMORY_MMAP };
	int i, r;

	if (f->fmt != CAP_FMT_XRGB32 || f->width != v->w || f->height != v->h)
		return -EINVAL;
	if ((i = free_buf(v)) < 0)
		return i == -EAGAIN ? 0 : i;
	if (convert(v, f, v->buf[i].p) != 0) {
		target_log(WK_LOG_WARN, "%s: conversion to %s failed", v->out_path, cap_fmt_name(v->fmt));
		return -EINVAL;
	}
	b.index = (unsigned)i;
	b.bytesused = (unsigned)v->sizeimage;
	b.field = V4L2_FIELD_NONE;
	if ((r = xioctl(v->fd, VIDIOC_QBUF, &b)) < 0) {
		target_log(WK_LOG_WARN, "%s: VIDIOC_QBUF: %s", v->out_path, strerror(-r));
		return r;
	}
	v->buf[i].queued = true;
	return 1;
}
