/* capture/'s parsers, chosen by the first byte of the input:
 *   0 EDID blob                       (cap__edid_check)
 *   1 PPM file in memory              (cap__ppm_parse, pixels touched)
 *   2 MJPEG frame                     (cap_jpeg_size + cap_jpeg_decode)
 *   3 raw frames file: byte 1 format, bytes 2-3 size (1..16 each), rest
 *     the file; opened through cap_open from a memfd path, frames grabbed
 *     and converted
 *   4 a folder holding one image: byte 1 picks .ppm or .jpg, rest the file
 * JPEGs above 2048×2048 are not decoded: the harness would only measure
 * memset speed. */
#include <limits.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz_common.h"
#include "capture/capture.h"
#include "capture/internal.h"
#include "capture/v4l2_policy.h"

#define JPEG_MAX_DIM 2048

static struct cap_jpeg *jpeg;
static int raw_fd;
static char raw_path[64];
static char dir[PATH_MAX];

static void
rm_dir(void)
{
	char p[PATH_MAX + 16];

	snprintf(p, sizeof(p), "%s/a.ppm", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/a.jpg", dir);
	unlink(p);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char tmpl[] = "/tmp/webkvm-fuzz-cap.XXXXXX";

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if ((jpeg = cap_jpeg_new()) == NULL)
		abort();
	raw_fd = fuzz_memfd("frames.raw", raw_path, sizeof(raw_path));
	if (mkdtemp(tmpl) == NULL)
		abort();
	snprintf(dir, sizeof(dir), "%s", tmpl);
	atexit(rm_dir);
	return 0;
}

/* Reads every pixel byte the parser vouched for, so ASan checks them. */
static unsigned
touch(const uint8_t *p, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p[i];
	return sum;
}

static void
check_frame(const struct cap_frame *f)
{
	uint8_t *dst;

	FUZZ_CHECK(f->width >= 1 && f->height >= 1);
	if (f->fmt == CAP_FMT_MJPEG) {
		int w, h;

		if (cap_jpeg_size(jpeg, f->data, f->size, &w, &h) == 0 &&
		    w <= JPEG_MAX_DIM && h <= JPEG_MAX_DIM) {
			FUZZ_CHECK(w == f->width && h == f->height);
			dst = malloc((size_t)w * (size_t)h * 4);
			(void)cap_jpeg_decode(jpeg, f->data, f->size, dst, w * 4, w, h);
			free(dst);
		}
		return;
	}
	FUZZ_CHECK(f->size >= (size_t)f->stride * (size_t)f->height);
	dst = malloc((size_t)f->width * (size_t)f->height * 4);
	FUZZ_CHECK(cap_convert_rect(f->fmt, f->data, f->stride, dst, f->width * 4,
				    f->width, f->height) == 0);
	free(dst);
}

static void
run_source(const struct cap_options *o)
{
	struct cap_source *src;
	int err = 0;

	if ((src = cap_open(o, &err)) == NULL) {
		FUZZ_CHECK(err < 0);
		return;
	}
	/* The first frame is due at once; the next one only 1/240 s later,
	 * which would make the harness sleep: one grab, then one that must
	 * find nothing new. */
	for (int i = 0; i < 2; i++) {
		struct cap_frame f;
		int rc = cap_grab(src, &f);

		if (rc == 0)
			check_frame(&f);
		FUZZ_CHECK(rc <= 0 && cap_wait_ms(src) >= 0);
	}
	cap_close(src);
}

static void
jpeg_frame(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1), *dst;
	int w, h, rc;

	memcpy(buf, data, size);
	if (cap_jpeg_size(jpeg, buf, size, &w, &h) == 0) {
		FUZZ_CHECK(w > 0 && h > 0);
		if (w <= JPEG_MAX_DIM && h <= JPEG_MAX_DIM) {
			dst = malloc((size_t)w * (size_t)h * 4);
			rc = cap_jpeg_decode(jpeg, buf, size, dst, w * 4, w, h);
			FUZZ_CHECK(rc == 1 || rc == 0 || rc == CAP_EFORMAT);
			/* The same bytes again: "unchanged", nothing written. */
			if (rc == 1)
				FUZZ_CHECK(cap_jpeg_decode(jpeg, buf, size, dst, w * 4, w, h) == 0);
			free(dst);
		}
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	int w, h;

	if (size < 1)
		return 0;
	data++;
	size--;
	switch (data[-1] % 5) {
	case 0: {
		uint8_t *e = malloc(size ? size : 1);

		memcpy(e, data, size);
		why[0] = '\0';
		if (cap__edid_check(e, size, why, sizeof(why)) < 0)
			FUZZ_CHECK(why[0] != '\0');
		else
			FUZZ_CHECK(size >= 128 && size <= 512 && size % 128 == 0);
		free(e);
		break;
	}
	case 1: {
		uint8_t *b = malloc(size ? size : 1);
		size_t off;

		memcpy(b, data, size);
		if (cap__ppm_parse(b, size, &w, &h, &off, why, sizeof(why)) == 0) {
			FUZZ_CHECK(w >= 1 && h >= 1 && w <= CAP__MAX_DIM && h <= CAP__MAX_DIM);
			FUZZ_CHECK(off <= size && (size - off) / 3 / (size_t)w >= (size_t)h);
			(void)touch(b + off, (size_t)w * (size_t)h * 3);
		}
		free(b);
		break;
	}
	case 2:
		jpeg_frame(data, size);
		break;
	case 3: {
		static const enum cap_pixfmt fmts[] = {
			CAP_FMT_YUYV, CAP_FMT_UYVY, CAP_FMT_RGB24, CAP_FMT_BGR24,
			CAP_FMT_RGB565, CAP_FMT_XRGB32, CAP_FMT_MJPEG, CAP_FMT_NONE,
		};
		struct cap_options o = { .kind = CAP_SRC_FILE, .fps = 240, .path = raw_path };

		if (size < 3)
			break;
		o.file_fmt = fmts[data[0] % 8];
		o.width = 1 + data[1] % 16;
		o.height = 1 + data[2] % 16;
		fuzz_memfd_set(raw_fd, data + 3, size - 3);
		run_source(&o);
		break;
	}
	default: {
		struct cap_options o = { .kind = CAP_SRC_FILE, .fps = 240, .path = dir };
		char p[PATH_MAX + 8];
		FILE *f;

		if (size < 1)
			break;
		rm_dir();
		if (mkdir(dir, 0700) < 0)
			abort();
		snprintf(p, sizeof(p), "%s/%s", dir, data[0] & 1 ? "a.jpg" : "a.ppm");
		if ((f = fopen(p, "w")) == NULL)
			abort();
		if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
			abort();
		if (fclose(f) != 0)
			abort();
		run_source(&o);
		break;
	}
	}
	return 0;
}
