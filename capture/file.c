/* File replay: a raw file of back-to-back frames, or a folder of PPM and
 * JPEG images, looped at a fixed rate.  Everything is read at open, so
 * replay never touches the disk and never fails. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "capture/internal.h"

/* All frames of one source together. */
#define FILE_MAX_BYTES ((size_t)512 << 20)

struct file_img {
	enum cap_pixfmt fmt;
	int width, height, stride;
	size_t size;
	const uint8_t *data;	/* into file_buf */
	uint8_t *file_buf;	/* owned */
};

struct cap__file {
	struct cap_source base;
	struct cap__pace pace;
	int fps;
	/* raw file */
	uint8_t *raw;		/* owned */
	size_t n_raw;
	/* Where each raw frame starts: a frame equal to the one before shares
	 * its buffer, so a still stretch of a replay reaches the daemon as a
	 * real still capture does (the same buffer again, which its idle skip
	 * may pass over); owned, n_raw. */
	const uint8_t **raw_at;
	size_t frame_size;
	enum cap_pixfmt fmt;
	int width, height, stride;
	/* folder */
	struct file_img *imgs;	/* owned, n_imgs */
	size_t n_imgs;
	size_t next;		/* index of the next frame */
};

static int
file_fd(struct cap_source *src)
{
	(void)src;
	return -1;
}

static int
file_wait_ms(struct cap_source *src)
{
	struct cap__file *f = (struct cap__file *)src;

	return cap__pace_wait_ms(&f->pace, wk_now_us());
}

static int
file_grab(struct cap_source *src, struct cap_frame *out)
{
	struct cap__file *f = (struct cap__file *)src;
	uint64_t now = wk_now_us();

	if (!cap__pace_take(&f->pace, now))
		return CAP_EAGAIN;
	if (f->raw != NULL) {
		out->fmt = f->fmt;
		out->width = f->width;
		out->height = f->height;
		out->stride = f->stride;
		out->size = f->frame_size;
		out->data = f->raw_at[f->next];
		f->next = (f->next + 1) % f->n_raw;
	} else {
		const struct file_img *im = &f->imgs[f->next];

		out->fmt = im->fmt;
		out->width = im->width;
		out->height = im->height;
		out->stride = im->stride;
		out->size = im->size;
		out->data = im->data;
		f->next = (f->next + 1) % f->n_imgs;
	}
	out->ts_us = now;
	/* Every frame was read at open and is kept until close. */
	out->stable = true;
	return 0;
}

static void
file_close(struct cap_source *src)
{
	struct cap__file *f = (struct cap__file *)src;

	for (size_t i = 0; i < f->n_imgs; i++)
		free(f->imgs[i].file_buf);
	free(f->imgs);
	free(f->raw_at);
	free(f->raw);
	free(f);
}

static const struct cap__ops file_ops = {
	.fd = file_fd,
	.wait_ms = file_wait_ms,
	.grab = file_grab,
	.close = file_close,
};

/* ---- PPM ---- */

static bool
ppm_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Reads one header number, skipping whitespace and comments before it. */
static int
ppm_number(const uint8_t *buf, size_t len, size_t *pos, long *val)
{
	size_t i = *pos;
	long v = 0;
	size_t digits = 0;

	for (;;) {
		while (i < len && ppm_space(buf[i]))
			i++;
		if (i < len && buf[i] == '#') {
			while (i < len && buf[i] != '\n' && buf[i] != '\r')
				i++;
			continue;
		}
		break;
	}
	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		if (v > 1000000)	/* far above any size or maxval we take */
			return -1;
		v = v * 10 + (buf[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0)
		return -1;
	*pos = i;
	*val = v;
	return 0;
}

int
cap__ppm_parse(const uint8_t *buf, size_t len, int *w, int *h, size_t *offset,
	       char *why, size_t why_len)
{
	size_t pos = 2;
	long width, height, maxval;
	size_t need;

	if (len < 2 || buf[0] != 'P' || buf[1] != '6') {
		snprintf(why, why_len, "not a binary PPM (no P6 magic)");
		return CAP_EFORMAT;
	}
	if (ppm_number(buf, len, &pos, &width) < 0 ||
	    ppm_number(buf, len, &pos, &height) < 0 ||
	    ppm_number(buf, len, &pos, &maxval) < 0) {
		snprintf(why, why_len, "bad or truncated PPM header");
		return CAP_EFORMAT;
	}
	if (width < 1 || width > CAP__MAX_DIM || height < 1 || height > CAP__MAX_DIM) {
		snprintf(why, why_len, "PPM size %ldx%ld out of range 1..%d",
			 width, height, CAP__MAX_DIM);
		return CAP_EFORMAT;
	}
	if (maxval != 255) {
		snprintf(why, why_len, "PPM maxval %ld not supported (only 255)", maxval);
		return CAP_EFORMAT;
	}
	/* Exactly one whitespace byte separates the header from the pixels. */
	if (pos >= len || !ppm_space(buf[pos])) {
		snprintf(why, why_len, "bad or truncated PPM header");
		return CAP_EFORMAT;
	}
	pos++;
	need = (size_t)width * (size_t)height * 3;
	if (len - pos < need) {
		snprintf(why, why_len, "PPM %ldx%ld truncated: %zu of %zu pixel bytes",
			 width, height, len - pos, need);
		return CAP_EFORMAT;
	}
	*w = (int)width;
	*h = (int)height;
	*offset = pos;
	return 0;
}

/* ---- folder ---- */

static bool
has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && strcasecmp(name + n - s, suffix) == 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The image file names in `dir`, sorted. */
static int
list_images(const char *dir, char ***namesp, size_t *np)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if ((d = opendir(dir)) == NULL) {
		cap__log(WK_LOG_ERROR, "%s: opendir: %s", dir, strerror(errno));
		return CAP_EIO;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (de->d_name[0] == '.')
			continue;
		if (!has_suffix(de->d_name, ".ppm") && !has_suffix(de->d_name, ".jpg") &&
		    !has_suffix(de->d_name, ".jpeg"))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof(*names));

			if (nn == NULL)
				goto nomem;
			names = nn;
			cap = ncap;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto nomem;
		n++;
	}
	if (errno != 0) {
		cap__log(WK_LOG_ERROR, "%s: readdir: %s", dir, strerror(errno));
		closedir(d);
		free_names(names, n);
		return CAP_EIO;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*namesp = names;
	*np = n;
	return 0;
nomem:
	cap__log(WK_LOG_ERROR, "%s: out of memory listing the folder", dir);
	closedir(d);
	free_names(names, n);
	return CAP_ENOMEM;
}

/* Loads one image into *im.  A bad file is reported and returns CAP_EFORMAT
 * (the caller skips it); CAP_ENOMEM is fatal. */
static int
load_image(struct cap_jpeg *jpeg, const char *path, size_t budget, struct file_img *im)
{
	char why[128];
	uint8_t *buf;
	size_t len, off;
	int rc, w, h;

	if ((rc = cap__read_file(path, budget, &buf, &len)) < 0)
		return rc == CAP_ENOMEM ? rc : CAP_EFORMAT;
	if (has_suffix(path, ".ppm")) {
		if (cap__ppm_parse(buf, len, &w, &h, &off, why, sizeof(why)) < 0) {
			cap__log(WK_LOG_ERROR, "%s: %s; skipped", path, why);
			free(buf);
			return CAP_EFORMAT;
		}
		im->fmt = CAP_FMT_RGB24;
		im->stride = w * 3;
		im->size = (size_t)im->stride * (size_t)h;
		im->data = buf + off;
	} else {
		if (cap_jpeg_size(jpeg, buf, len, &w, &h) < 0) {
			cap__log(WK_LOG_ERROR, "%s: not a readable JPEG (%s); skipped",
				 path, cap__jpeg_error(jpeg));
			free(buf);
			return CAP_EFORMAT;
		}
		if (w > CAP__MAX_DIM || h > CAP__MAX_DIM) {
			cap__log(WK_LOG_ERROR, "%s: JPEG size %dx%d above %d; skipped",
				 path, w, h, CAP__MAX_DIM);
			free(buf);
			return CAP_EFORMAT;
		}
		im->fmt = CAP_FMT_MJPEG;
		im->stride = 0;
		im->size = len;
		im->data = buf;
	}
	im->width = w;
	im->height = h;
	im->file_buf = buf;
	return 0;
}

static int
open_folder(struct cap__file *f, const char *dir)
{
	struct cap_jpeg *jpeg = NULL;
	char **names = NULL;
	size_t n = 0, used = 0, skipped = 0;
	int rc;

	if ((rc = list_images(dir, &names, &n)) < 0)
		return rc;
	if (n > 0 && (f->imgs = calloc(n, sizeof(*f->imgs))) == NULL) {
		rc = CAP_ENOMEM;
		goto out;
	}
	if ((jpeg = cap_jpeg_new()) == NULL) {
		rc = CAP_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct file_img *im = &f->imgs[f->n_imgs];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path)) {
			cap__log(WK_LOG_ERROR, "%s/%s: path too long; skipped", dir, names[i]);
			skipped++;
			continue;
		}
		rc = load_image(jpeg, path, FILE_MAX_BYTES - used, im);
		if (rc == CAP_ENOMEM)
			goto out;
		if (rc < 0) {
			skipped++;
			continue;
		}
		used += im->size;
		f->n_imgs++;
	}
	if (f->n_imgs == 0) {
		cap__log(WK_LOG_ERROR, "%s: no usable .ppm/.jpg images (%zu skipped)", dir, skipped);
		rc = CAP_EINVAL;
		goto out;
	}
	snprintf(f->base.desc, sizeof(f->base.desc), "file %s/ %zu images %d fps",
		 dir, f->n_imgs, f->fps);
	rc = 0;
out:
	cap_jpeg_free(jpeg);
	free_names(names, n);
	return rc;
}

/* ---- raw file ---- */

static int
open_raw(struct cap__file *f, const struct cap_options *opt, const struct stat *st)
{
	const char *path = opt->path;
	int bpp = cap_fmt_bpp(opt->file_fmt);
	size_t len;
	int rc;

	if (bpp == 0) {
		cap__log(WK_LOG_ERROR, "%s: a raw frame file needs a pixel format "
			 "(yuyv, uyvy, rgb24, bgr24, rgb565, xrgb32)", path);
		return CAP_EINVAL;
	}
	if (opt->width < 1 || opt->width > CAP__MAX_DIM ||
	    opt->height < 1 || opt->height > CAP__MAX_DIM) {
		cap__log(WK_LOG_ERROR, "%s: raw frame size %dx%d out of range 1..%d",
			 path, opt->width, opt->height, CAP__MAX_DIM);
		return CAP_EINVAL;
	}
	if ((opt->file_fmt == CAP_FMT_YUYV || opt->file_fmt == CAP_FMT_UYVY) && (opt->width & 1)) {
		cap__log(WK_LOG_ERROR, "%s: %s needs an even width, not %d",
			 path, cap_fmt_name(opt->file_fmt), opt->width);
		return CAP_EINVAL;
	}
	f->fmt = opt->file_fmt;
	f->width = opt->width;
	f->height = opt->height;
	f->stride = opt->width * bpp;
	f->frame_size = (size_t)f->stride * (size_t)f->height;
	/* Checked before reading so a wrong size fails without reading it all. */
	if (st->st_size <= 0 || (uint64_t)st->st_size % f->frame_size != 0) {
		cap__log(WK_LOG_ERROR, "%s: file size %lld is not a multiple of the frame size "
			 "%zu (%dx%d %s)", path, (long long)st->st_size, f->frame_size,
			 f->width, f->height, cap_fmt_name(f->fmt));
		return CAP_EINVAL;
	}
	if ((rc = cap__read_file(path, FILE_MAX_BYTES, &f->raw, &len)) < 0)
		return rc;
	if (len == 0 || len % f->frame_size != 0) {
		cap__log(WK_LOG_ERROR, "%s: file size %zu is not a multiple of the frame size "
			 "%zu (%dx%d %s)", path, len, f->frame_size,
			 f->width, f->height, cap_fmt_name(f->fmt));
		return CAP_EINVAL;
	}
	f->n_raw = len / f->frame_size;
	if ((f->raw_at = calloc(f->n_raw, sizeof(*f->raw_at))) == NULL)
		return CAP_ENOMEM;
	for (size_t i = 0; i < f->n_raw; i++) {
		const uint8_t *fr = f->raw + i * f->frame_size;

		f->raw_at[i] = i > 0 && memcmp(fr, f->raw_at[i - 1], f->frame_size) == 0
			       ? f->raw_at[i - 1] : fr;
	}
	snprintf(f->base.desc, sizeof(f->base.desc), "file %s %dx%d %s %zu frames %d fps",
		 path, f->width, f->height, cap_fmt_name(f->fmt), f->n_raw, f->fps);
	return 0;
}

int
cap__file_open(const struct cap_options *opt, struct cap_source **out)
{
	struct cap__file *f;
	struct stat st;
	int rc, fps;

	if (opt->path == NULL || opt->path[0] == '\0') {
		cap__log(WK_LOG_ERROR, "file source: no path given");
		return CAP_EINVAL;
	}
	if ((fps = cap__fps_or_default(opt->fps, opt->path)) < 0)
		return fps;
	if (stat(opt->path, &st) < 0) {
		cap__log(WK_LOG_ERROR, "%s: %s", opt->path, strerror(errno));
		return CAP_EIO;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CAP_ENOMEM;
	f->base.ops = &file_ops;
	f->base.state = CAP_STATE_OK;
	f->fps = fps;
	if (S_ISDIR(st.st_mode))
		rc = open_folder(f, opt->path);
	else
		rc = open_raw(f, opt, &st);
	if (rc < 0) {
		file_close(&f->base);
		return rc;
	}
	cap__pace_init(&f->pace, fps, wk_now_us());
	*out = &f->base;
	return 0;
}
