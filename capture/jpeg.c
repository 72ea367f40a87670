/* MJPEG frames: TurboJPEG straight into XRGB32, one reused handle.
 *
 * USB dongles send the same JPEG again and again while the screen is still;
 * such a frame is recognised (length, XXH3, then the bytes themselves) and
 * not decoded at all.  The byte compare makes a hash collision harmless. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>
#include <xxhash.h>

#include "capture/internal.h"

/* A 4K MJPEG frame is a few MiB; anything far above is not a frame. */
#define JPEG_MAX_BYTES ((size_t)64 << 20)
#define TURBOJPEG_SONAME "libturbojpeg.so.0"

/* libvncserver.so.1 exports its own bundled, older TurboJPEG under the same
 * names (tjInitDecompress, tjDecompress2, tjDestroy, ...) but not the newer
 * ones (tjDecompressHeader3, tjGetErrorStr2).  Whichever library comes first
 * in the link wins those names for the whole process, and a handle made by
 * one and used by the other crashes.  So every TurboJPEG function we call is
 * taken from libturbojpeg itself, whatever the link order. */
static struct {
	__typeof__(&tjInitDecompress) init_decompress;
	__typeof__(&tjDestroy) destroy;
	__typeof__(&tjDecompressHeader3) decompress_header3;
	__typeof__(&tjDecompress2) decompress2;
	__typeof__(&tjGetErrorStr2) get_error_str2;
	__typeof__(&tjGetErrorCode) get_error_code;
} tj;
static pthread_once_t tj_once = PTHREAD_ONCE_INIT;
static bool tj_bound;

static bool
tj_sym(void *lib, const char *name, void *fn_ptr)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		cap__log(WK_LOG_ERROR, "jpeg: %s: no %s: %s", TURBOJPEG_SONAME, name, dlerror());
		return false;
	}
	memcpy(fn_ptr, &p, sizeof(p));	/* POSIX: data and function pointers convert */
	return true;
}

static void
tj_bind(void)
{
	/* Kept open for the life of the process. */
	void *lib = dlopen(TURBOJPEG_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		cap__log(WK_LOG_ERROR, "jpeg: dlopen %s: %s", TURBOJPEG_SONAME, dlerror());
		return;
	}
	tj_bound = tj_sym(lib, "tjInitDecompress", &tj.init_decompress) &&
		   tj_sym(lib, "tjDestroy", &tj.destroy) &&
		   tj_sym(lib, "tjDecompressHeader3", &tj.decompress_header3) &&
		   tj_sym(lib, "tjDecompress2", &tj.decompress2) &&
		   tj_sym(lib, "tjGetErrorStr2", &tj.get_error_str2) &&
		   tj_sym(lib, "tjGetErrorCode", &tj.get_error_code);
}

struct cap_jpeg {
	tjhandle tj;
	/* the last JPEG decoded successfully, and where it went */
	uint8_t *prev;
	size_t prev_len, prev_cap;
	uint64_t prev_hash;
	bool prev_valid;
	const uint8_t *prev_dst;
	int prev_stride, prev_w, prev_h;
	struct wk_log_once bad;	/* a stream of bad frames says so once */
};

struct cap_jpeg *
cap_jpeg_new(void)
{
	struct cap_jpeg *j;

	pthread_once(&tj_once, tj_bind);
	if (!tj_bound)
		return NULL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	if ((j->tj = tj.init_decompress()) == NULL) {
		cap__log(WK_LOG_ERROR, "jpeg: tjInitDecompress: %s", tj.get_error_str2(NULL));
		free(j);
		return NULL;
	}
	return j;
}

void
cap_jpeg_free(struct cap_jpeg *j)
{
	if (j == NULL)
		return;
	tj.destroy(j->tj);
	free(j->prev);
	free(j);
}

/* A stream of bad frames logs its error once; a good frame says so and
 * re-arms it. */
static void
jpeg_fail(struct cap_jpeg *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
jpeg_fail(struct cap_jpeg *j, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wk_log_once(&j->bad, "cap", WK_LOG_WARN, "jpeg: %s", msg);
}

int
cap_jpeg_size(struct cap_jpeg *j, const uint8_t *buf, size_t len, int *w, int *h)
{
	int jw, jh, subsamp, colorspace;

	if (j == NULL || buf == NULL || len == 0 || len > JPEG_MAX_BYTES)
		return CAP_EFORMAT;
	if (tj.decompress_header3(j->tj, buf, (unsigned long)len, &jw, &jh, &subsamp,
				&colorspace) < 0)
		return CAP_EFORMAT;
	if (jw <= 0 || jh <= 0)
		return CAP_EFORMAT;
	*w = jw;
	*h = jh;
	return 0;
}

const char *
cap__jpeg_error(struct cap_jpeg *j)
{
	return tj.get_error_str2(j->tj);
}

static bool
same_as_prev(const struct cap_jpeg *j, const uint8_t *buf, size_t len, uint64_t hash,
	     const uint8_t *dst, int dst_stride, int w, int h)
{
	return j->prev_valid && len == j->prev_len && hash == j->prev_hash &&
	       dst == j->prev_dst && dst_stride == j->prev_stride &&
	       w == j->prev_w && h == j->prev_h && memcmp(buf, j->prev, len) == 0;
}

/* Keeps a copy of the JPEG just decoded.  The buffer only grows, so a steady
 * stream does not allocate. */
static void
remember(struct cap_jpeg *j, const uint8_t *buf, size_t len, uint64_t hash,
	 const uint8_t *dst, int dst_stride, int w, int h)
{
	if (len > j->prev_cap) {
		size_t ncap = len + len / 4;
		uint8_t *n = realloc(j->prev, ncap);

		if (n == NULL) {
			/* Not fatal: the next identical frame is decoded again. */
			j->prev_valid = false;
			return;
		}
		j->prev = n;
		j->prev_cap = ncap;
	}
	memcpy(j->prev, buf, len);
	j->prev_len = len;
	j->prev_hash = hash;
	j->prev_dst = dst;
	j->prev_stride = dst_stride;
	j->prev_w = w;
	j->prev_h = h;
	j->prev_valid = true;
}

int
cap_jpeg_decode(struct cap_jpeg *j, const uint8_t *buf, size_t len,
		uint8_t *dst, int dst_stride, int w, int h)
{
	int jw, jh, subsamp, colorspace;
	uint64_t hash;

	if (j == NULL || dst == NULL || w <= 0 || h <= 0 || w > CAP__MAX_DIM ||
	    h > CAP__MAX_DIM || dst_stride < w * 4)
		return CAP_EINVAL;
	if (buf == NULL || len == 0 || len > JPEG_MAX_BYTES) {
		jpeg_fail(j, "frame of %zu bytes is not a JPEG", len);
		j->prev_valid = false;
		return CAP_EFORMAT;
	}
	hash = XXH3_64bits(buf, len);
	if (same_as_prev(j, buf, len, hash, dst, dst_stride, w, h))
		return 0;
	/* Whatever happens below changes dst or fails: forget the old frame. */
	j->prev_valid = false;
	if (tj.decompress_header3(j->tj, buf, (unsigned long)len, &jw, &jh, &subsamp,
				&colorspace) < 0) {
		jpeg_fail(j, "bad header: %s", tj.get_error_str2(j->tj));
		return CAP_EFORMAT;
	}
	if (jw != w || jh != h) {
		jpeg_fail(j, "image is %dx%d, expected %dx%d", jw, jh, w, h);
		return CAP_EFORMAT;
	}
	/* A warning (truncated data, corrupt entropy data) also fails here: the
	 * picture is partly grey and must not be shown as the screen. */
	if (tj.decompress2(j->tj, buf, (unsigned long)len, dst, w, dst_stride, h,
			  TJPF_BGRX, 0) < 0) {
		jpeg_fail(j, "%s: %s",
			  tj.get_error_code(j->tj) == TJERR_WARNING ? "damaged frame" : "decode failed",
			  tj.get_error_str2(j->tj));
		return CAP_EFORMAT;
	}
	wk_log_recovered(&j->bad, "cap", "jpeg: frames decode again");
	remember(j, buf, len, hash, dst, dst_stride, w, h);
	return 1;
}
