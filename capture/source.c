/* Frame source dispatch, the callback source, and the small helpers every
 * source kind shares (formats, error text, pacing). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/internal.h"
#include "common/conf.h"

/* ---- formats, names, codes ---- */

static const struct {
	enum cap_pixfmt fmt;
	const char *name;	/* as printed */
	const char *key;	/* as parsed */
	int bpp;
} fmt_table[] = {
	{ CAP_FMT_YUYV, "YUYV", "yuyv", 2 },
	{ CAP_FMT_UYVY, "UYVY", "uyvy", 2 },
	{ CAP_FMT_RGB24, "RGB24", "rgb24", 3 },
	{ CAP_FMT_BGR24, "BGR24", "bgr24", 3 },
	{ CAP_FMT_RGB565, "RGB565", "rgb565", 2 },
	{ CAP_FMT_XRGB32, "XRGB32", "xrgb32", 4 },
	{ CAP_FMT_MJPEG, "MJPEG", "mjpeg", 0 },
};

int
cap_fmt_bpp(enum cap_pixfmt fmt)
{
	for (size_t i = 0; i < sizeof(fmt_table) / sizeof(fmt_table[0]); i++)
		if (fmt_table[i].fmt == fmt)
			return fmt_table[i].bpp;
	return 0;
}

const char *
cap_fmt_name(enum cap_pixfmt fmt)
{
	for (size_t i = 0; i < sizeof(fmt_table) / sizeof(fmt_table[0]); i++)
		if (fmt_table[i].fmt == fmt)
			return fmt_table[i].name;
	return "NONE";
}

enum cap_pixfmt
cap_fmt_parse(const char *name)
{
	if (name == NULL)
		return CAP_FMT_NONE;
	for (size_t i = 0; i < sizeof(fmt_table) / sizeof(fmt_table[0]); i++)
		if (strcasecmp(name, fmt_table[i].key) == 0)
			return fmt_table[i].fmt;
	return CAP_FMT_NONE;
}

int
cap_fmt_parse_list(const char *list, enum cap_pixfmt *out, int max, char *msg, size_t msglen)
{
	char buf[128], *save = NULL, *tok;
	size_t len = strlen(list);
	int n = 0;

	if (len >= sizeof(buf)) {
		snprintf(msg, msglen, "list too long");
		return -1;
	}
	memcpy(buf, list, len + 1);
	memset(out, 0, sizeof(*out) * (size_t)max);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		const char *name = wk_trim(tok);
		enum cap_pixfmt f = cap_fmt_parse(name);

		if (f == CAP_FMT_NONE) {
			snprintf(msg, msglen, "unknown pixel format \"%.32s\" (yuyv, uyvy, rgb24, bgr24, rgb565, xrgb32, mjpeg)",
				 name);
			return -1;
		}
		if (n >= max - 1) {
			snprintf(msg, msglen, "more than %d formats", max - 1);
			return -1;
		}
		out[n++] = f;
	}
	return n;
}

const char *
cap_state_name(enum cap_state st)
{
	switch (st) {
	case CAP_STATE_OK:		return "ok";
	case CAP_STATE_NO_SIGNAL:	return "no signal";
	case CAP_STATE_NO_DEVICE:	return "no device";
	case CAP_STATE_ERROR:		return "error";
	}
	return "unknown";
}

const char *
cap_strerror(int err)
{
	switch (err) {
	case CAP_OK:		return "success";
	case CAP_EINVAL:	return "invalid argument or option";
	case CAP_ENOMEM:	return "out of memory";
	case CAP_EIO:		return "read error";
	case CAP_ENODEV:	return "no device";
	case CAP_ENOSIGNAL:	return "no signal";
	case CAP_EFORMAT:	return "unusable pixel format or bad frame data";
	case CAP_EAGAIN:	return "no new frame yet";
	}
	return "unknown capture error";
}

int
cap__state_code(enum cap_state st)
{
	switch (st) {
	case CAP_STATE_OK:		return CAP_EAGAIN;
	case CAP_STATE_NO_SIGNAL:	return CAP_ENOSIGNAL;
	case CAP_STATE_NO_DEVICE:	return CAP_ENODEV;
	case CAP_STATE_ERROR:		return CAP_EIO;
	}
	return CAP_EIO;
}

/* ---- pacing ---- */

void
cap__pace_init(struct cap__pace *p, int fps, uint64_t now_us)
{
	p->period_us = 1000000u / (unsigned)fps;
	p->next_us = now_us;
}

bool
cap__pace_take(struct cap__pace *p, uint64_t now_us)
{
	if (now_us < p->next_us)
		return false;
	p->next_us += p->period_us;
	if (p->next_us <= now_us)
		p->next_us = now_us + p->period_us;
	return true;
}

int
cap__pace_wait_ms(const struct cap__pace *p, uint64_t now_us)
{
	if (now_us >= p->next_us)
		return 0;
	return (int)((p->next_us - now_us + 999) / 1000);
}

int
cap__fps_or_default(int fps, const char *what)
{
	if (fps == 0)
		return CAP__DEFAULT_FPS;
	if (fps < 0 || fps > CAP__MAX_FPS) {
		cap__log(WK_LOG_ERROR, "%s: fps %d out of range 1..%d", what, fps, CAP__MAX_FPS);
		return CAP_EINVAL;
	}
	return fps;
}

/* ---- files ---- */

int
cap__read_file(const char *path, size_t max, uint8_t **bufp, size_t *lenp)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len, got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cap__log(WK_LOG_ERROR, "%s: open: %s", path, strerror(errno));
		return CAP_EIO;
	}
	if (fstat(fd, &st) < 0) {
		cap__log(WK_LOG_ERROR, "%s: stat: %s", path, strerror(errno));
		rc = CAP_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cap__log(WK_LOG_ERROR, "%s: not a regular file", path);
		rc = CAP_EINVAL;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		cap__log(WK_LOG_ERROR, "%s: %lld bytes, more than the %zu allowed",
			 path, (long long)st.st_size, max);
		rc = CAP_EINVAL;
		goto out;
	}
	len = (size_t)st.st_size;
	if ((buf = malloc(len ? len : 1)) == NULL) {
		cap__log(WK_LOG_ERROR, "%s: out of memory for %zu bytes", path, len);
		rc = CAP_ENOMEM;
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cap__log(WK_LOG_ERROR, "%s: read: %s", path, strerror(errno));
			rc = CAP_EIO;
			goto out;
		}
		if (n == 0) {
			cap__log(WK_LOG_ERROR, "%s: file shrank while reading: got %zu of %zu bytes",
				 path, got, len);
			rc = CAP_EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* ---- dispatch ---- */

struct cap_source *
cap_open(const struct cap_options *opt, int *err)
{
	struct cap_source *src = NULL;
	int rc;

	if (opt == NULL) {
		rc = CAP_EINVAL;
		goto out;
	}
	switch (opt->kind) {
	case CAP_SRC_CALLBACK:	rc = cap__callback_open(opt, &src); break;
	case CAP_SRC_PATTERN:	rc = cap__pattern_open(opt, &src); break;
	case CAP_SRC_FILE:	rc = cap__file_open(opt, &src); break;
	case CAP_SRC_V4L2:	rc = cap__v4l2_open(opt, &src); break;
	default:
		cap__log(WK_LOG_ERROR, "unknown source kind %d", (int)opt->kind);
		rc = CAP_EINVAL;
		break;
	}
out:
	if (err != NULL)
		*err = rc;
	return rc == 0 ? src : NULL;
}

void
cap_close(struct cap_source *src)
{
	if (src != NULL)
		src->ops->close(src);
}

int
cap_fd(struct cap_source *src)
{
	return src->ops->fd(src);
}

int
cap_wait_ms(struct cap_source *src)
{
	return src->ops->wait_ms(src);
}

int
cap_grab(struct cap_source *src, struct cap_frame *out)
{
	int rc;

	if (src == NULL || out == NULL)
		return CAP_EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = src->ops->grab(src, out)) != 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->seq = src->seq++;
	if (out->ts_us == 0)
		out->ts_us = wk_now_us();
	return 0;
}

enum cap_state
cap_state(const struct cap_source *src)
{
	return src->state;
}

const char *
cap_describe(const struct cap_source *src)
{
	return src->desc;
}

/* ---- callback source ---- */

struct cap__cb {
	struct cap_source base;
	struct cap__pace pace;
	cap_render_fn render;
	void *ctx;
	int fps;
	int last_err;		/* last failure logged, 0 after a good frame */
	enum cap_pixfmt fmt;	/* of the last frame, for the description */
	int width, height;
	bool stable;		/* cap_options.render_stable */
};

/* A frame from someone else's renderer is checked like device data. */
static bool
frame_ok(const struct cap_frame *f)
{
	int bpp = cap_fmt_bpp(f->fmt);
	size_t row;

	if (f->data == NULL)
		return false;
	if (f->fmt == CAP_FMT_MJPEG)
		return f->size > 0;
	if (bpp == 0 || f->width <= 0 || f->height <= 0 ||
	    f->width > CAP__MAX_DIM || f->height > CAP__MAX_DIM)
		return false;
	if (f->fmt == CAP_FMT_YUYV || f->fmt == CAP_FMT_UYVY)
		row = ((size_t)f->width + 1) / 2 * 4;
	else
		row = (size_t)f->width * (size_t)bpp;
	if (f->stride < 0 || (size_t)f->stride < row)
		return false;
	return f->size >= (size_t)f->stride * (size_t)(f->height - 1) + row;
}

static int
cb_fd(struct cap_source *src)
{
	(void)src;
	return -1;
}

static int
cb_wait_ms(struct cap_source *src)
{
	struct cap__cb *cb = (struct cap__cb *)src;

	return cap__pace_wait_ms(&cb->pace, wk_now_us());
}

static void
cb_describe(struct cap__cb *cb)
{
	if (cb->width > 0)
		snprintf(cb->base.desc, sizeof(cb->base.desc), "callback %dx%d %s %d fps",
			 cb->width, cb->height, cap_fmt_name(cb->fmt), cb->fps);
	else
		snprintf(cb->base.desc, sizeof(cb->base.desc), "callback %d fps", cb->fps);
}

static int
cb_grab(struct cap_source *src, struct cap_frame *out)
{
	struct cap__cb *cb = (struct cap__cb *)src;
	uint64_t now = wk_now_us();
	int rc;

	if (!cap__pace_take(&cb->pace, now))
		return CAP_EAGAIN;
	rc = cb->render(cb->ctx, now, out);
	if (rc == CAP_EAGAIN)
		return rc;
	if (rc == 0 && !frame_ok(out))
		rc = CAP_EFORMAT;
	if (rc != 0) {
		if (rc > 0 || rc < CAP_EAGAIN)
			rc = CAP_EIO;	/* not one of ours: keep the contract */
		if (rc != cb->last_err) {
			cap__log(rc == CAP_ENOSIGNAL ? WK_LOG_INFO : WK_LOG_WARN,
				 "callback source: %s", cap_strerror(rc));
			cb->last_err = rc;
		}
		cb->base.state = rc == CAP_ENOSIGNAL ? CAP_STATE_NO_SIGNAL : CAP_STATE_ERROR;
		return rc;
	}
	if (cb->last_err != 0) {
		cap__log(WK_LOG_INFO, "callback source: frames again");
		cb->last_err = 0;
	}
	cb->base.state = CAP_STATE_OK;
	if (out->fmt != cb->fmt || out->width != cb->width || out->height != cb->height) {
		cb->fmt = out->fmt;
		cb->width = out->width;
		cb->height = out->height;
		cb_describe(cb);
	}
	out->ts_us = now;
	out->stable = cb->stable;
	return 0;
}

static void
cb_close(struct cap_source *src)
{
	free(src);
}

static const struct cap__ops cb_ops = {
	.fd = cb_fd,
	.wait_ms = cb_wait_ms,
	.grab = cb_grab,
	.close = cb_close,
};

int
cap__callback_open(const struct cap_options *opt, struct cap_source **out)
{
	struct cap__cb *cb;
	int fps;

	if (opt->render == NULL) {
		cap__log(WK_LOG_ERROR, "callback source: no render function");
		return CAP_EINVAL;
	}
	if ((fps = cap__fps_or_default(opt->fps, "callback source")) < 0)
		return fps;
	if ((cb = calloc(1, sizeof(*cb))) == NULL)
		return CAP_ENOMEM;
	cb->base.ops = &cb_ops;
	cb->base.state = CAP_STATE_OK;
	cb->render = opt->render;
	cb->ctx = opt->render_ctx;
	cb->stable = opt->render_stable;
	cb->fps = fps;
	cap__pace_init(&cb->pace, fps, wk_now_us());
	cb_describe(cb);
	*out = &cb->base;
	return 0;
}
