/* H.264 (RFB encoding 50) for the viewers that ask for it.
 *
 * A stream is one encoder (rfb/h264.c) at one size, bitrate cap and frame
 * rate cap, with a thread of its own that encodes while the loop goes on.
 * Viewers with the same settings share a stream: one encode, the same bytes
 * for each.  A viewer follows its stream frame by frame: a frame encoded
 * while it had no request outstanding (it is a round trip away) is kept
 * for it and sent, with any later ones in the same payload, when it asks.
 * One that missed a frame (its socket was backed up, it just joined, or it
 * moved to another stream) makes the next frame an IDR, with the "reset"
 * flag for it.
 *
 * The tile diff decides when: a stream encodes only when one of its viewers
 * has pixels marked modified and has asked for an update, so a still screen
 * costs nothing after the first frame.
 *
 * Rate control from the link: a viewer whose socket holds more than the
 * outgoing limit halves its bitrate (a stream of its own, or one shared with
 * viewers on links as slow); one that kept up for RAISE_AFTER_US doubles it
 * again, up to its cap.  A frame squeezed by the cap (effective CRF well
 * above the target) is followed, once the screen has been still for
 * REFRESH_AFTER_US, by frames of the same still picture, each within the
 * cap, every REFRESH_EVERY_US until it reaches the target quality: text
 * gets crisp again after motion, at the link's pace.
 *
 * Loop thread only, except each stream's worker, which touches nothing but
 * its stream's job fields under its mutex and the encoder while busy.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>

#include "common/clock.h"
#include "rfb/h264.h"
#include "rfb/log.h"
#include "rfb/server_int.h"

#define RAISE_AFTER_US		(2 * 1000000ull)
#define REFRESH_AFTER_US	(300 * 1000ull)
/* ... then one every this long, at most REFRESH_MAX of them. */
#define REFRESH_EVERY_US	(50 * 1000ull)
#define REFRESH_MAX		40
/* A frame whose effective CRF is this far above the target was squeezed. */
#define SQUEEZED_CRF		4.0
/* Frame rate assumed by rate control when a viewer set no cap. */
#define DEFAULT_FPS		30
/* Frames kept for a viewer between its requests, at most. */
#define BACKLOG_MAX		(1024 * 1024)

struct rfb__stream {
	struct rfb_server *srv;
	struct rfb_h264 *enc;
	int w, h, kbps, fps_cap;
	bool chroma444, slices;
	uint64_t seq;		/* frames delivered */
	/* Loop side. */
	bool busy;		/* the worker has a job: hands off the encoder */
	bool wanted;		/* a viewer waits for the next frame */
	bool refresh;		/* the next frame is a quality refresh */
	bool refresh_due;	/* the last frame was squeezed */
	bool refreshing;	/* the frame being encoded is a refresh */
	int refreshes;		/* refresh frames since the screen last changed */
	uint64_t last_post_us;
	/* Shared with the worker, under mu. */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool job, job_idr, done, quit;
	int rc;
	struct rfb_h264_frame out;
	int efd;		/* written by the worker when a job is done */
};

static void *
worker(void *arg)
{
	struct rfb__stream *st = arg;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		bool idr;
		int rc;
		struct rfb_h264_frame out;

		while (!st->job && !st->quit)
			pthread_cond_wait(&st->cv, &st->mu);
		if (st->quit)
			break;
		idr = st->job_idr;
		pthread_mutex_unlock(&st->mu);
		rc = rfb_h264_encode(st->enc, idr, &out);
		pthread_mutex_lock(&st->mu);
		st->rc = rc;
		st->out = out;
		st->job = false;
		st->done = true;
		if (eventfd_write(st->efd, 1) < 0)
			rfb__log(WK_LOG_WARN, "H.264: eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

static void
stream_free(struct rfb__stream *st)
{
	pthread_mutex_lock(&st->mu);
	st->quit = true;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->th, NULL);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	close(st->efd);
	rfb_h264_free(st->enc);
	free(st);
}

static struct rfb__stream *
stream_new(struct rfb_server *s, int kbps, int fps_cap, bool chroma444, bool slices)
{
	struct rfb__stream *st = calloc(1, sizeof(*st));
	struct rfb_h264_params p = {
		.width = s->width, .height = s->height, .kbps = kbps,
		.fps = fps_cap ? fps_cap : DEFAULT_FPS, .threads = slices ? s->h264.threads : 1,
		.chroma444 = chroma444,
	};
	int err;

	if (st == NULL)
		return NULL;
	st->srv = s;
	st->w = s->width;
	st->h = s->height;
	st->kbps = kbps;
	st->fps_cap = fps_cap;
	st->chroma444 = chroma444;
	st->slices = slices;
	if ((st->enc = rfb_h264_new(&p, &err)) == NULL) {
		wk_log_once(&s->h264.fail, "rfb", WK_LOG_WARN, "H.264 encoder for %dx%d at %d kbit/s: "
			    "%s; Tight instead", s->width, s->height, kbps,
			    err == RFB_H264_ENOMEM ? "out of memory" :
			    err == RFB_H264_EINVAL ? "size or setting not supported" : "libx264 failed");
		free(st);
		return NULL;
	}
	if ((st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rfb_h264_free(st->enc);
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	if (pthread_create(&st->th, NULL, worker, st) != 0) {
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cv);
		close(st->efd);
		rfb_h264_free(st->enc);
		free(st);
		return NULL;
	}
	rfb__log(WK_LOG_INFO, "H.264 stream: %s", rfb_h264_describe(st->enc));
	return st;
}

/* The stream for a viewer's settings at the current size: an existing
 * one, a new one, or NULL when none can be had (the viewer gets Tight). */
static struct rfb__stream *
stream_for(struct rfb_server *s, const struct rfb__h264_viewer *h)
{
	int free_slot = -1;

	for (int i = 0; i < RFB__MAX_STREAMS; i++) {
		struct rfb__stream *st = s->h264.streams[i];

		if (st == NULL) {
			if (free_slot < 0)
				free_slot = i;
		} else if (st->w == s->width && st->h == s->height && st->kbps == h->kbps &&
			   st->fps_cap == h->fps_cap && st->chroma444 == h->chroma444 &&
			   st->slices == h->slices) {
			return st;
		}
	}
	if (free_slot < 0) {
		wk_log_once(&s->h264.full, "rfb", WK_LOG_WARN, "%d H.264 streams with different "
			    "settings already; a viewer with others gets Tight", RFB__MAX_STREAMS);
		return NULL;
	}
	return s->h264.streams[free_slot] = stream_new(s, h->kbps, h->fps_cap, h->chroma444,
						       h->slices);
}

static void flush(rfbClientPtr cl, struct rfb__stream *st);

/* ---- SetEncodings ---- */

static int32_t
be32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* Encodings libvncserver would pick as the preferred one. */
static bool
is_pixel_encoding(int32_t e)
{
	switch (e) {
	case rfbEncodingRaw: case rfbEncodingRRE: case rfbEncodingCoRRE:
	case rfbEncodingHextile: case rfbEncodingZlib: case rfbEncodingTight:
	case rfbEncodingZlibHex: case rfbEncodingUltra: case rfbEncodingZRLE:
	case rfbEncodingZYWRLE: case rfbEncodingTightPng:
		return true;
	default:
		return false;
	}
}

/* The viewer follows no stream any more.  A frame being encoded for it
 * will not reach it: what it held is marked modified again. */
static void
leave_stream(struct rfb_viewer *v)
{
	struct rfb__h264_viewer *h = &v->h264;

	if (h->in_job || h->backlog.len > 0) {
		sraRegionPtr all = sraRgnCreateRect(0, 0, v->srv->width, v->srv->height);

		if (all != NULL) {
			sraRgnOr(v->cl->modifiedRegion, all);
			sraRgnDestroy(all);
		}
	}
	h->in_job = false;
	h->ready = false;
	h->st = NULL;
	h->seq = UINT64_MAX;
	h->backlog.len = 0;
}

void
rfb__h264_set_encodings(struct rfb_viewer *v, const uint8_t *msg, size_t len)
{
	struct rfb__h264_viewer *h = &v->h264;
	struct rfb_server *s = v->srv;
	size_t n;
	bool pixel_seen = false, want = false;
	int kbps = 0, fps = 0;
	unsigned caps = 0;

	if (len < 4)
		return;
	n = (size_t)msg[2] << 8 | msg[3];
	if (len < 4 + 4 * n)
		return;
	for (size_t i = 0; i < n; i++) {
		int32_t e = be32(msg + 4 + 4 * i);

		if (e == RFB_ENCODING_H264 && !pixel_seen)
			want = true;
		else if (is_pixel_encoding(e))
			pixel_seen = true;
		else if (e > RFB_PSEUDO_H264_KBPS && e <= RFB_PSEUDO_H264_KBPS + 255)
			kbps = (e - RFB_PSEUDO_H264_KBPS) * 100;
		else if (e > RFB_PSEUDO_H264_FPS && e <= RFB_PSEUDO_H264_FPS + 60)
			fps = e - RFB_PSEUDO_H264_FPS;
		else if (e > RFB_PSEUDO_H264_CAPS &&
			 e <= RFB_PSEUDO_H264_CAPS + (int32_t)(RFB_H264_CAP_444 | RFB_H264_CAP_SLICES))
			caps = (unsigned)(e - RFB_PSEUDO_H264_CAPS);
	}
	want = want && s->h264.on;
	if (want != h->want)
		rfb__log(WK_LOG_INFO, "%s: %s", v->name, want ? "H.264 (encoding 50)" :
			 "no H.264 from now on");
	if (!want)
		leave_stream(v);
	h->want = want;
	h->kbps_cap = kbps ? kbps : s->h264.kbps;
	if (h->kbps_cap < RFB_H264_MIN_KBPS)
		h->kbps_cap = RFB_H264_MIN_KBPS;
	if (h->kbps == 0 || h->kbps > h->kbps_cap)
		h->kbps = h->kbps_cap;
	h->fps_cap = fps;
	h->chroma444 = caps & RFB_H264_CAP_444;
	h->slices = caps & RFB_H264_CAP_SLICES;
	if (want)
		rfb__log(WK_LOG_DEBUG, "%s: H.264 %s, %s, cap %d kbit/s, %d fps%s", v->name,
			 h->chroma444 ? "4:4:4" : "4:2:0", h->slices ? "sliced" : "one slice",
			 h->kbps_cap, fps, fps ? "" : " (no cap)");
}

/* ---- per viewer ---- */

/* 32 bpp, depth 24, true colour: what a WebCodecs viewer uses. */
static bool
format_ok(rfbClientPtr cl)
{
	const rfbPixelFormat *f = &cl->format;

	return f->bitsPerPixel == 32 && f->depth == 24 && f->trueColour &&
	       f->redMax == 255 && f->greenMax == 255 && f->blueMax == 255;
}

/* Changes for the viewer other than pixels, which libvncserver sends. */
static bool
extras_due(rfbClientPtr cl)
{
	return (cl->enableCursorShapeUpdates && cl->cursorWasChanged) ||
	       (cl->enableCursorPosUpdates && cl->cursorWasMoved) ||
	       cl->enableSupportedMessages || cl->enableSupportedEncodings ||
	       cl->enableServerIdentity;
}

static bool
pixels_due(rfbClientPtr cl)
{
	sraRegionPtr r;
	bool due;

	if (sraRgnEmpty(cl->requestedRegion) || sraRgnEmpty(cl->modifiedRegion))
		return false;
	if ((r = sraRgnCreateRgn(cl->modifiedRegion)) == NULL)
		return false;
	sraRgnAnd(r, cl->requestedRegion);
	due = !sraRgnEmpty(r);
	sraRgnDestroy(r);
	return due;
}

bool
rfb__h264_update(struct rfb_server *s, rfbClientPtr cl, bool backed_up, uint64_t now)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb__h264_viewer *h = &v->h264;
	struct rfb__stream *st;

	if (!h->want || !format_ok(cl) || (s->width & 1) || (s->height & 1))
		return false;
	if (h->in_job || cl->onHold)
		return true;
	if (h->backlog.len > 0 && h->st != NULL && !backed_up &&
	    !sraRgnEmpty(cl->requestedRegion)) {
		flush(cl, h->st);
		return true;
	}
	if (backed_up) {
		/* Frames go by without it: it will need an IDR, at a bitrate
		 * the link can take. */
		if (!h->backed_up && h->kbps / 2 >= RFB_H264_MIN_KBPS) {
			h->kbps /= 2;
			rfb__log(WK_LOG_INFO, "%s: link backed up; H.264 at %d kbit/s", v->name,
				 h->kbps);
		}
		h->backed_up = true;
		h->changed_us = now;
		return true;
	}
	h->backed_up = false;
	if (h->kbps < h->kbps_cap && now - h->changed_us > RAISE_AFTER_US) {
		h->kbps = h->kbps * 2 > h->kbps_cap ? h->kbps_cap : h->kbps * 2;
		h->changed_us = now;
		rfb__log(WK_LOG_INFO, "%s: link keeps up; H.264 at %d kbit/s", v->name, h->kbps);
	}
	if (cl->useNewFBSize && cl->newFBSizePending) {
		/* libvncserver sends the new size alone; every decoder of the
		 * viewer starts over with the next frame. */
		rfbUpdateClient(cl);
		h->reset_all = true;
		return true;
	}
	if (!pixels_due(cl)) {
		st = h->st;
		if (st != NULL && st->refresh_due && h->seq == st->seq && !st->busy &&
		    now - st->last_post_us > (st->refreshes ? REFRESH_EVERY_US : REFRESH_AFTER_US) &&
		    !sraRgnEmpty(cl->requestedRegion)) {
			h->ready = true;
			st->wanted = true;
			st->refresh = true;
		} else if (extras_due(cl) && !sraRgnEmpty(cl->requestedRegion)) {
			sraRegionPtr none = sraRgnCreate();

			if (none != NULL) {
				rfbSendFramebufferUpdate(cl, none);
				sraRgnDestroy(none);
			}
		}
		return true;
	}
	if ((st = stream_for(s, h)) == NULL)
		return false;
	if (st != h->st) {
		h->st = st;
		h->seq = UINT64_MAX;	/* never in step with a new stream */
	}
	h->ready = true;
	st->wanted = true;
	st->refresh = false;
	return true;
}

void
rfb__h264_viewer_gone(struct rfb_viewer *v)
{
	/* Streams without viewers go at the next run. */
	v->h264.st = NULL;
	v->h264.in_job = false;
	v->h264.ready = false;
	rfb__buf_free(&v->h264.backlog);
}

/* ---- jobs ---- */

/* Sends the viewer the frames kept for it, as one payload (a decoder shows
 * the last picture of a payload). */
static void
flush(rfbClientPtr cl, struct rfb__stream *st)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb__h264_viewer *h = &v->h264;
	size_t len = h->backlog.len;
	uint32_t flags = h->backlog_flags;
	uint8_t hdr[4 + 12 + 8];

	hdr[0] = rfbFramebufferUpdate;
	hdr[1] = 0;
	hdr[2] = 0;
	hdr[3] = 1;
	hdr[4] = 0; hdr[5] = 0; hdr[6] = 0; hdr[7] = 0;		/* x, y */
	hdr[8] = (uint8_t)(st->w >> 8); hdr[9] = (uint8_t)st->w;
	hdr[10] = (uint8_t)(st->h >> 8); hdr[11] = (uint8_t)st->h;
	hdr[12] = 0; hdr[13] = 0; hdr[14] = 0; hdr[15] = RFB_ENCODING_H264;
	hdr[16] = (uint8_t)(len >> 24); hdr[17] = (uint8_t)(len >> 16);
	hdr[18] = (uint8_t)(len >> 8); hdr[19] = (uint8_t)len;
	hdr[20] = (uint8_t)(flags >> 24); hdr[21] = (uint8_t)(flags >> 16);
	hdr[22] = (uint8_t)(flags >> 8); hdr[23] = (uint8_t)flags;
	sraRgnMakeEmpty(cl->requestedRegion);
	h->backlog.len = 0;
	h->backlog_flags = 0;
	rfbStatRecordMessageSent(cl, rfbFramebufferUpdate, 4, 4);
	rfbStatRecordEncodingSent(cl, RFB_ENCODING_H264, (int)(len + 20), st->w * st->h * 4);
	if (!h->announced) {
		rfb__log(WK_LOG_DEBUG, "%s: first H.264 frame, %zu bytes", v->name, len);
		h->announced = true;
	}
	if (rfbWriteExact(cl, (const char *)hdr, (int)sizeof(hdr)) <= 0 ||
	    rfbWriteExact(cl, (const char *)h->backlog.p, (int)len) <= 0) {
		rfb__log(WK_LOG_INFO, "%s: write: %s", v->name, strerror(errno));
		rfbCloseClient(cl);
	}
}

/* The stream's new frame for a viewer that was in its job: kept, and sent
 * at once when the viewer has asked for an update.  A viewer that has not
 * asked for BACKLOG_MAX bytes' worth loses them and starts again from an
 * IDR when it does. */
static void
deliver(rfbClientPtr cl, struct rfb__stream *st, const struct rfb_h264_frame *f)
{
	struct rfb_viewer *v = rfb__viewer_of(cl);
	struct rfb__h264_viewer *h = &v->h264;

	if (h->backlog.len + f->len > BACKLOG_MAX ||
	    rfb__buf_reserve(&h->backlog, f->len) < 0) {
		leave_stream(v);
		h->backlog.len = 0;
		return;
	}
	if (h->backlog.len == 0)
		h->backlog_flags = f->idr && h->seq != st->seq - 1 ?
			RFB_H264_RESET | (h->reset_all ? RFB_H264_RESET_ALL : 0) : 0;
	memcpy(h->backlog.p + h->backlog.len, f->data, f->len);
	h->backlog.len += f->len;
	h->seq = st->seq;
	h->reset_all = false;
	if (!sraRgnEmpty(cl->requestedRegion))
		flush(cl, st);
}

/* The viewers that waited for a stream's frame: marked modified again
 * (the frame never came), so a later one carries the change. */
static void
job_failed(struct rfb_server *s, struct rfb__stream *st)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(s->scr);
	rfbClientPtr cl;

	while ((cl = rfbClientIteratorNext(it)) != NULL) {
		struct rfb_viewer *v = rfb__viewer_of(cl);

		if (v == NULL || v->h264.st != st || !v->h264.in_job)
			continue;
		v->h264.in_job = false;
		v->h264.seq = UINT64_MAX;
		rfbMarkRectAsModified(s->scr, 0, 0, st->w, st->h);
	}
	rfbReleaseClientIterator(it);
}

static void
collect(struct rfb_server *s, struct rfb__stream *st)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	eventfd_t ignored;
	bool done;

	pthread_mutex_lock(&st->mu);
	done = st->done;
	st->done = false;
	pthread_mutex_unlock(&st->mu);
	if (!done)
		return;
	(void)eventfd_read(st->efd, &ignored);
	st->busy = false;
	if (st->rc < 0 || st->out.len == 0 || st->out.len > INT32_MAX - 64) {
		wk_log_once(&s->h264.fail, "rfb", WK_LOG_WARN, "H.264 encode failed (%d, %zu bytes); "
			    "trying again with the next frame", st->rc, st->out.len);
		job_failed(s, st);
		return;
	}
	st->seq++;
	s->h264.frames++;
	s->h264.idr += st->out.idr;
	s->h264.bytes += st->out.len;
	/* Squeezed: the still picture is encoded again, each time within the
	 * cap, until it reaches the target quality (x264 refines what its
	 * reference lacks) or REFRESH_MAX frames were spent on it. */
	if (!st->refreshing)
		st->refreshes = 0;
	st->refresh_due = st->out.crf > rfb_h264_target_crf(st->enc) + SQUEEZED_CRF &&
			  st->refreshes < REFRESH_MAX;
	st->refreshing = false;
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL) {
		struct rfb_viewer *v = rfb__viewer_of(cl);

		if (v == NULL || v->h264.st != st || !v->h264.in_job)
			continue;
		v->h264.in_job = false;
		if (cl->sock != RFB_INVALID_SOCKET)
			deliver(cl, st, &st->out);
	}
	rfbReleaseClientIterator(it);
}

static void
post(struct rfb_server *s, struct rfb__stream *st, uint64_t now)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;
	bool idr = false, any = false;

	if (st->busy || !st->wanted)
		return;
	if (st->w != s->width || st->h != s->height) {
		st->wanted = false;	/* its viewers move to a stream of the new size */
		return;
	}
	if (st->fps_cap > 0 && now - st->last_post_us < 1000000ull / (unsigned)st->fps_cap)
		return;
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL && !any) {
		struct rfb_viewer *v = rfb__viewer_of(cl);

		any = v != NULL && v->h264.st == st && v->h264.ready && !v->h264.in_job;
	}
	rfbReleaseClientIterator(it);
	if (!any) {
		st->wanted = false;
		st->refresh = false;
		return;
	}
	/* The frame holds everything on screen now: what its viewers had
	 * marked modified is in it.  It goes to those that asked, and is kept
	 * for those in step with the stream that will ask (a round trip
	 * away).  One that missed the stream's last frame makes it an IDR. */
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL) {
		struct rfb_viewer *v = rfb__viewer_of(cl);

		if (v == NULL || v->h264.st != st || v->h264.in_job)
			continue;
		if (!v->h264.ready &&
		    (v->h264.seq != st->seq || v->h264.backed_up || !v->h264.want))
			continue;
		v->h264.ready = false;
		v->h264.in_job = true;
		sraRgnMakeEmpty(cl->modifiedRegion);
		idr |= v->h264.seq != st->seq;
	}
	rfbReleaseClientIterator(it);
	if (st->refresh && st->refresh_due && !idr) {
		st->refreshing = true;
		st->refreshes++;
	}
	st->refresh_due = false;
	st->wanted = false;
	st->refresh = false;
	rfb_h264_load(st->enc, s->fb, s->width * 4);
	st->busy = true;
	st->last_post_us = now;
	pthread_mutex_lock(&st->mu);
	st->job = true;
	st->job_idr = idr;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

void
rfb__h264_collect(struct rfb_server *s)
{
	for (int i = 0; i < RFB__MAX_STREAMS; i++)
		if (s->h264.streams[i] != NULL && s->h264.streams[i]->busy)
			collect(s, s->h264.streams[i]);
}

void
rfb__h264_post(struct rfb_server *s, uint64_t now)
{
	bool used[RFB__MAX_STREAMS] = { false };
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	for (int i = 0; i < RFB__MAX_STREAMS; i++)
		if (s->h264.streams[i] != NULL)
			post(s, s->h264.streams[i], now);
	/* A stream of another size than the framebuffer's loses its viewers
	 * (they take one of the new size with their next frame); streams no
	 * viewer follows go. */
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL) {
		struct rfb_viewer *v = rfb__viewer_of(cl);
		struct rfb__stream *st = v != NULL ? v->h264.st : NULL;

		if (st == NULL)
			continue;
		if (!st->busy && (st->w != s->width || st->h != s->height))
			leave_stream(v);
		for (int i = 0; i < RFB__MAX_STREAMS; i++)
			used[i] |= v->h264.st != NULL && v->h264.st == s->h264.streams[i];
	}
	rfbReleaseClientIterator(it);
	for (int i = 0; i < RFB__MAX_STREAMS; i++) {
		struct rfb__stream *st = s->h264.streams[i];

		if (st != NULL && !used[i] && !st->busy) {
			stream_free(st);
			s->h264.streams[i] = NULL;
		}
	}
}

int
rfb__h264_pollfds(struct rfb_server *s, struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < RFB__MAX_STREAMS && n < max; i++)
		if (s->h264.streams[i] != NULL && s->h264.streams[i]->busy)
			pfd[n++] = (struct pollfd){ .fd = s->h264.streams[i]->efd, .events = POLLIN };
	return n;
}

void
rfb__h264_free(struct rfb_server *s)
{
	for (int i = 0; i < RFB__MAX_STREAMS; i++) {
		if (s->h264.streams[i] != NULL)
			stream_free(s->h264.streams[i]);
		s->h264.streams[i] = NULL;
	}
}

void
rfb_h264_stats(const struct rfb_server *s, struct rfb_h264_stats *out)
{
	rfbClientIteratorPtr it;
	rfbClientPtr cl;

	*out = (struct rfb_h264_stats){
		.frames = s->h264.frames, .idr = s->h264.idr, .bytes = s->h264.bytes,
	};
	for (int i = 0; i < RFB__MAX_STREAMS; i++)
		out->streams += s->h264.streams[i] != NULL;
	it = rfbGetClientIterator(s->scr);
	while ((cl = rfbClientIteratorNext(it)) != NULL) {
		struct rfb_viewer *v = rfb__viewer_of(cl);

		out->viewers += v != NULL && v->h264.want && v->h264.st != NULL;
	}
	rfbReleaseClientIterator(it);
}
