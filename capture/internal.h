/* capture/ internals shared by the source kinds.  Not a public header. */
#ifndef WEBKVM_CAP_INTERNAL_H
#define WEBKVM_CAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/clock.h"
#include "common/log.h"

/* Every line of the module reads "cap: ...". */
#define cap__log(level, ...) wk_log("cap", (level), __VA_ARGS__)

/* Largest width or height any source accepts (8K is 7680×4320). */
#define CAP__MAX_DIM 8192
#define CAP__MAX_FPS 240
#define CAP__DEFAULT_FPS 30

/* What each source kind implements.  The dispatcher in source.c numbers the
 * frames (seq) and fills ts_us when the kind leaves it 0. */
struct cap__ops {
	int (*fd)(struct cap_source *src);
	int (*wait_ms)(struct cap_source *src);
	int (*grab)(struct cap_source *src, struct cap_frame *out);
	void (*close)(struct cap_source *src);
};

/* The first member of every kind's own struct. */
struct cap_source {
	const struct cap__ops *ops;
	enum cap_state state;
	uint64_t seq;		/* seq of the next delivered frame */
	char desc[192];
};

/* Paces a source at a fixed rate on CLOCK_MONOTONIC.  A consumer that falls
 * behind gets the next frame at once and then the normal rate again, not a
 * burst of the frames it missed. */
struct cap__pace {
	uint64_t period_us;
	uint64_t next_us;
};
void cap__pace_init(struct cap__pace *p, int fps, uint64_t now_us);
/* True when a frame is due at now_us; then schedules the next one. */
bool cap__pace_take(struct cap__pace *p, uint64_t now_us);
int cap__pace_wait_ms(const struct cap__pace *p, uint64_t now_us);

/* Checks fps (0 = default) and returns the rate to use, or CAP_EINVAL. */
int cap__fps_or_default(int fps, const char *what);

/* The code cap_grab() returns while a source is in `st` and not delivering. */
int cap__state_code(enum cap_state st);

/* Reads a whole regular file of at most `max` bytes into a new buffer the
 * caller frees.  Errors are logged with the path.  0, CAP_EIO or
 * CAP_EINVAL (too large, not a regular file) or CAP_ENOMEM. */
int cap__read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/* Parses a binary PPM (P6, maxval 255): size and the offset of the RGB24
 * pixels, which are known to be all there.  0, or CAP_EFORMAT with the
 * reason in `why`. */
int cap__ppm_parse(const uint8_t *buf, size_t len, int *w, int *h, size_t *offset,
		   char *why, size_t why_len);

/* TurboJPEG's text for the last failure on this handle. */
const char *cap__jpeg_error(struct cap_jpeg *j);

/* Per-kind constructors: 0 and *out, or a negative CAP_E* code (logged). */
int cap__callback_open(const struct cap_options *opt, struct cap_source **out);
int cap__pattern_open(const struct cap_options *opt, struct cap_source **out);
int cap__file_open(const struct cap_options *opt, struct cap_source **out);
int cap__v4l2_open(const struct cap_options *opt, struct cap_source **out);

#endif
