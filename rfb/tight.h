/* rfb/ internal: Tight encoding of framebuffer rectangles into bytes that
 * any number of viewers can be sent, and the workers that encode them.
 *
 * libvncserver's Tight encoder keeps four zlib streams per viewer, so its
 * output for one viewer is no use to another, and it runs on the calling
 * thread.  Ours resets the zlib stream it uses in every rectangle (the
 * compression-control byte allows that), so the bytes of an update depend
 * only on the framebuffer, the rectangles and the JPEG settings: encoded
 * once, they go to every viewer that asked for the same.  Not a public
 * header.
 */
#ifndef WEBKVM_RFB_TIGHT_H
#define WEBKVM_RFB_TIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rfb/rfb_server.h"

#define RFB__ENC_TIGHT		7
#define RFB__ENC_LAST_RECT	(-224)
/* Tight's limits for one rectangle (as TightVNC and libvncserver use). */
#define RFB__TIGHT_MAX_W	2048
#define RFB__TIGHT_MAX_AREA	65536
/* Most colours a rectangle sent with a palette may have; more, and it goes
 * as JPEG (libvncserver's palMaxColorsWithJPEG at compression level 1). */
#define RFB__TIGHT_MAX_COLOURS	24

/* A growable byte buffer; its owner frees it with rfb__buf_free(). */
struct rfb__buf {
	uint8_t *p;
	size_t len, cap;
};

/* Makes room for `more` bytes after len.  0, or -1 when out of memory. */
int rfb__buf_reserve(struct rfb__buf *b, size_t more);
void rfb__buf_free(struct rfb__buf *b);

/* Writes Tight's "compact length" of n (1 to 3 bytes, 7 bits each, low
 * first) to out.  Returns the byte count, or -1 when n does not fit in 22
 * bits. */
int rfb__tight_compact_len(uint8_t out[3], size_t n);

/* Writes a FramebufferUpdate rectangle header (x, y, w, h, encoding). */
void rfb__rect_header(uint8_t out[12], int x, int y, int w, int h, int32_t encoding);

struct rfb__tight_opts {
	int jpeg_quality;	/* 1..100 */
	int subsamp;		/* TJSAMP_444, TJSAMP_422 or TJSAMP_420 */
};

/* One encoder: a TurboJPEG handle, a zlib stream and scratch space.  Used
 * by one thread at a time. */
struct rfb__tight;

struct rfb__tight *rfb__tight_new(void);
/* Lines per band for a rectangle w pixels wide (64 to 512): each band is
 * encoded on its own, so a caller may split a rectangle at multiples of it
 * (to spread the bands over threads) and get the same bytes. */
int rfb__tight_band_h(int w);
void rfb__tight_free(struct rfb__tight *t);

/* Appends the rectangle (x, y, w, h) of fb (XRGB32: bytes B,G,R,X, stride
 * bytes per line) to out as complete FramebufferUpdate rectangles (header
 * plus Tight data) for a viewer whose pixel format is 32 bpp, depth 24,
 * true colour, 8 bits per channel (any shifts or byte order: Tight sends
 * such pixels as R,G,B bytes).  Areas of at most RFB__TIGHT_MAX_COLOURS
 * colours are sent losslessly (solid fill, 2-colour bitmap or palette, zlib
 * with a stream reset), the rest as JPEG.  Returns the number of
 * rectangles appended, or -1 (out of memory, TurboJPEG or zlib error; out
 * then holds what was appended before the call). */
int rfb__tight_encode(struct rfb__tight *t, const uint8_t *fb, int stride,
		      int x, int y, int w, int h, const struct rfb__tight_opts *o,
		      struct rfb__buf *out);

/* ---- workers (rfb/pool.c) ---- */

struct rfb__pool;

/* A pool of `threads` - 1 worker threads; the caller of rfb__pool_run is
 * the last one.  threads is clamped to 1..8.  NULL when out of memory or no
 * thread could be started. */
struct rfb__pool *rfb__pool_new(int threads);
/* Stops and joins the workers. */
void rfb__pool_free(struct rfb__pool *p);
int rfb__pool_threads(const struct rfb__pool *p);
/* Calls fn(ctx, job, thread) once for every job in [0, n), spread over the
 * workers and the calling thread (thread is 0..threads-1, the caller's
 * thread index is 0), and returns when all have returned.  fn must not
 * call rfb__pool_run. */
void rfb__pool_run(struct rfb__pool *p, int n, void (*fn)(void *ctx, int job, int thread),
		   void *ctx);

/* ---- shared updates (rfb/update.c) ---- */

/* Encoded FramebufferUpdates of the current framebuffer, one per distinct
 * (rectangles, JPEG settings) asked for since the last rfb__upd_forget. */
struct rfb__upd;

/* threads: encoding threads including the caller's; 0 = one per CPU, at
 * most 4. */
struct rfb__upd *rfb__upd_new(int threads);
void rfb__upd_free(struct rfb__upd *u);
/* Its encoding threads, for other work of the loop thread's. */
struct rfb__pool *rfb__upd_pool(struct rfb__upd *u);
/* The framebuffer changed: what was encoded is stale. */
void rfb__upd_forget(struct rfb__upd *u);
/* Sets *msg and *len to a whole FramebufferUpdate message (header included)
 * holding the rectangles rects[0..n) of fb as Tight, encoding them unless
 * an earlier call since rfb__upd_forget asked for exactly the same.  When
 * the update needs more than 65535 rectangles it ends in a LastRect marker
 * if last_rect is true, else the call fails.  The bytes belong to u and
 * stay valid until the next call.  *raw gets the bytes the same pixels
 * would take as Raw (for libvncserver's statistics).  0, or -1. */
int rfb__upd_get(struct rfb__upd *u, const uint8_t *fb, int stride,
		 const struct rfb_rect *rects, int n, const struct rfb__tight_opts *o,
		 bool last_rect, const uint8_t **msg, size_t *len, size_t *raw);

#endif
