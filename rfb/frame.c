/* The framebuffer viewers are shown, and the tile diff that marks what
 * changed in it: rfb_frame() writes it between rfbProcessEvents calls, on
 * the loop thread, diffing big frames in bands on the encoding threads.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <rfb/rfb.h>

#include "rfb/log.h"
#include "rfb/server_int.h"
#include "rfb/tight.h"
#include "rfb/tilediff.h"

/* Frames of at least this many pixels are diffed in bands on the encoding
 * threads. */
#define PAR_DIFF_PIXELS		(512 * 1024)

/* Our framebuffer is XRGB32: bytes B,G,R,X, i.e. red at bit 16. */
void
rfb__set_server_format(rfbScreenInfoPtr scr)
{
	scr->serverFormat.redShift = 16;
	scr->serverFormat.greenShift = 8;
	scr->serverFormat.blueShift = 0;
}

/* Points libvncserver at the framebuffer after s->fb changed. */
void
rfb__screen_fb_changed(struct rfb_server *s)
{
	/* Never written through: libvncserver only writes the framebuffer
	 * to draw a cursor, and we give it none. */
	if (s->scr != NULL)
		s->scr->frameBuffer = (char *)(uintptr_t)s->fb;
}

/* A new size.  alias: the caller's XRGB32 frame to show in place, or NULL
 * for a framebuffer of our own. */
int
rfb__resize_fb(struct rfb_server *s, int w, int h, const uint8_t *alias)
{
	uint8_t *own = NULL, *old = s->own;
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	if (w <= 0 || h <= 0 || w > 8192 || h > 8192)
		return CAP_EINVAL;
	if (alias == NULL && (own = calloc((size_t)w * h, 4)) == NULL)
		return CAP_ENOMEM;
	s->own = own;
	s->fb = alias != NULL ? alias : own;
	s->width = w;
	s->height = h;
	if (s->scr != NULL) {
		/* rfbNewFramebuffer resets the pixel format to its default
		 * (red at bit 0) and re-installs translation for it; put ours
		 * back and re-install again. */
		rfbNewFramebuffer(s->scr, (char *)(uintptr_t)s->fb, w, h, 8, 3, 4);
		rfb__set_server_format(s->scr);
		it = rfbGetClientIterator(s->scr);
		while ((cl = rfbClientIteratorNext(it)) != NULL)
			s->scr->setTranslateFunction(cl);
		rfbReleaseClientIterator(it);
		rfb__log(WK_LOG_INFO, "framebuffer now %dx%d", w, h);
	}
	free(old);
	rfb_tilediff_invalidate(s->td);
	rfb__upd_forget(s->upd);
	return 0;
}

/* Same size, another buffer: the caller's frame in place (alias), or our
 * own again (alias NULL).  The tile hashes describe the frame last shown;
 * a caller's new buffer holds a frame the diff can compare with them, but
 * a fresh buffer of ours holds nothing yet, so then every tile is
 * converted again. */
static int
switch_fb(struct rfb_server *s, const uint8_t *alias)
{
	if (alias != NULL) {
		if (s->fb == alias)
			return 0;
		free(s->own);
		s->own = NULL;
		s->fb = alias;
	} else {
		if (s->own != NULL)
			return 0;
		if ((s->own = calloc((size_t)s->width * s->height, 4)) == NULL)
			return CAP_ENOMEM;
		s->fb = s->own;
		rfb_tilediff_invalidate(s->td);
	}
	rfb__screen_fb_changed(s);
	return 0;
}

static void
diff_job_run(void *ctx, int j, int thread)
{
	struct rfb_server *s = ctx;
	struct diff_job *d = &s->diff_jobs[j];
	const int per = MAX_RECTS / MAX_DIFF_JOBS;

	(void)thread;
	d->n_changed = 0;
	d->n = rfb__tilediff_rows(s->td, d->f, s->own, s->width * 4, d->convert, d->ty0, d->ty1,
				  d->changed, s->rects + j * per, per, &d->n_changed);
}

/* rfb_tilediff_run in bands of tile rows, on the encoding threads: hashing
 * and converting a big frame is the loop's largest cost before encoding.
 * Marks what changed; the number of changed tiles or a CAP_E* code. */
static int
diff_frame(struct rfb_server *s, const struct cap_frame *f, bool convert)
{
	struct rfb__pool *pool = rfb__upd_pool(s->upd);
	const int per = MAX_RECTS / MAX_DIFF_JOBS;
	int rows, jobs, n_changed = 0, rc;
	bool ok = true;

	if (rfb__pool_threads(pool) == 1 || (long)f->width * f->height < PAR_DIFF_PIXELS ||
	    rfb__tilediff_tiles_x(s->td) > (int)sizeof(s->diff_jobs[0].changed)) {
		int n = rfb_tilediff_run(s->td, f, s->own, s->width * 4, convert, s->rects, MAX_RECTS);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			const struct rfb_rect *r = &s->rects[i];

			rfbMarkRectAsModified(s->scr, r->x, r->y, r->x + r->w, r->y + r->h);
		}
		return rfb_tilediff_changed_tiles(s->td);
	}
	if ((rc = rfb__tilediff_begin(s->td, f, s->width * 4, MAX_RECTS)) < 0)
		return rc;
	/* Twice as many bands as threads: the shared machine's cores are not
	 * equally free. */
	rows = rfb__tilediff_tile_rows(s->td);
	jobs = 2 * rfb__pool_threads(pool);
	if (jobs > MAX_DIFF_JOBS)
		jobs = MAX_DIFF_JOBS;
	if (jobs > rows)
		jobs = rows;
	for (int j = 0; j < jobs; j++)
		s->diff_jobs[j] = (struct diff_job){ .s = s, .f = f, .convert = convert,
						     .ty0 = rows * j / jobs, .ty1 = rows * (j + 1) / jobs };
	rfb__pool_run(pool, jobs, diff_job_run, s);
	for (int j = 0; j < jobs; j++) {
		const struct diff_job *d = &s->diff_jobs[j];

		if (d->n < 0) {
			ok = false;
			rc = d->n;
			continue;
		}
		n_changed += d->n_changed;
		for (int i = 0; i < d->n; i++) {
			const struct rfb_rect *r = &s->rects[j * per + i];

			rfbMarkRectAsModified(s->scr, r->x, r->y, r->x + r->w, r->y + r->h);
		}
	}
	rfb__tilediff_end(s->td, ok, n_changed);
	return ok ? n_changed : rc;
}

int
rfb_frame(struct rfb_server *s, const struct cap_frame *f)
{
	struct cap_frame view;
	const struct cap_frame *diff = f;
	const uint8_t *alias = NULL;
	bool convert = true;
	int w = f->width, h = f->height, rc;

	if (f->fmt == CAP_FMT_MJPEG) {
		if (cap_jpeg_size(s->jpeg, f->data, f->size, &w, &h) < 0)
			return CAP_EFORMAT;
	} else if (f->stable && f->fmt == CAP_FMT_XRGB32 && f->stride == f->width * 4 &&
		   f->data != NULL && f->size >= (size_t)f->stride * (size_t)f->height) {
		/* Already what viewers are sent, and it stays put until the
		 * caller's next frame: show it in place instead of copying
		 * 8 MiB a frame at 1080p into a second buffer.  Nothing reads
		 * it outside our calls (encoding ends within rfb_process). */
		alias = f->data;
		convert = false;
	}
	if (w != s->width || h != s->height)
		rc = rfb__resize_fb(s, w, h, alias);
	else
		rc = switch_fb(s, alias);
	if (rc < 0)
		return rc;
	/* The framebuffer may change (or, after an error, be half written)
	 * from here on: nothing encoded before still holds. */
	rfb__upd_forget(s->upd);
	if (f->fmt == CAP_FMT_MJPEG) {
		/* Decode straight into the framebuffer, then find what changed
		 * by hashing it: no second copy of the frame. */
		rc = cap_jpeg_decode(s->jpeg, f->data, f->size, s->own, s->width * 4, w, h);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0;	/* byte-identical JPEG */
		view = (struct cap_frame){ .fmt = CAP_FMT_XRGB32, .width = w, .height = h,
					   .stride = w * 4, .size = (size_t)w * h * 4,
					   .data = s->own, .ts_us = f->ts_us, .seq = f->seq };
		diff = &view;
		convert = false;
	}
	return diff_frame(s, diff, convert);
}
