/* FramebufferUpdates encoded once per frame and shared among viewers.
 *
 * Viewers that keep up have the same changed region after each frame, so
 * they ask for the same rectangles: the first one's request encodes them
 * (bands spread over the encoder threads), the others get the same bytes.
 * A viewer that fell behind asks for a larger region and gets its own
 * encoding.  Everything is forgotten when the framebuffer changes.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbojpeg.h>

#include "rfb/log.h"
#include "rfb/tight.h"

/* Below this many pixels an update is encoded on the loop thread alone:
 * waking the workers costs more than it saves. */
#define POOL_MIN_PIXELS	(128 * 1024)
/* Encoded bytes kept for viewers yet to ask: past this, a new encoding
 * first drops the older ones (viewers that fell behind each ask for their
 * own region, and 64 of them must not keep 64 full frames).  Buffers that
 * grew past BUF_SHRINK (a frame far larger than 1080p) are given back when
 * dropped rather than kept for the next frame. */
#define KEEP_BYTES	(8u << 20)
#define BUF_SHRINK	(24u << 20)

struct batch {
	struct rfb__tight_opts o;
	bool last_rect;
	size_t rects_off;	/* into u->rects */
	int nrects;
	size_t msg_off, msg_len;
	size_t raw;
};

struct job {
	int x, y, w, h;
	int thread;		/* whose buffer holds the output */
	size_t off, len;
	int rects;		/* -1: failed */
};

struct rfb__upd {
	struct rfb__pool *pool;
	int threads;
	struct rfb__tight *enc[8];
	struct rfb__buf tout[8];	/* per thread output */
	struct rfb__buf msgs;		/* the encoded messages */
	struct rfb_rect *rects;		/* the rectangles each batch was asked for */
	size_t nrects, cap_rects;
	struct batch *batches;
	int nbatches, cap_batches;
	struct job *jobs;
	int cap_jobs;
	/* Set for the duration of one encode. */
	const uint8_t *fb;
	int stride;
	const struct rfb__tight_opts *o;
};

struct rfb__upd *
rfb__upd_new(int threads)
{
	struct rfb__upd *u = calloc(1, sizeof(*u));
	long cpus = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);

	if (u == NULL)
		return NULL;
	if (cpus < 1)
		cpus = 1;
	if (cpus > (threads > 0 ? 8 : 4))
		cpus = threads > 0 ? 8 : 4;
	if ((u->pool = rfb__pool_new((int)cpus)) == NULL)
		goto fail;
	u->threads = rfb__pool_threads(u->pool);
	for (int i = 0; i < u->threads; i++)
		if ((u->enc[i] = rfb__tight_new()) == NULL)
			goto fail;
	return u;
fail:
	rfb__upd_free(u);
	return NULL;
}

void
rfb__upd_free(struct rfb__upd *u)
{
	if (u == NULL)
		return;
	rfb__pool_free(u->pool);
	for (int i = 0; i < 8; i++) {
		rfb__tight_free(u->enc[i]);
		rfb__buf_free(&u->tout[i]);
	}
	rfb__buf_free(&u->msgs);
	free(u->rects);
	free(u->batches);
	free(u->jobs);
	free(u);
}

struct rfb__pool *
rfb__upd_pool(struct rfb__upd *u)
{
	return u->pool;
}

void
rfb__upd_forget(struct rfb__upd *u)
{
	if (u->msgs.cap > BUF_SHRINK)
		rfb__buf_free(&u->msgs);
	u->msgs.len = 0;
	u->nrects = 0;
	u->nbatches = 0;
}

static bool
same_opts(const struct rfb__tight_opts *a, const struct rfb__tight_opts *b)
{
	return a->jpeg_quality == b->jpeg_quality && a->subsamp == b->subsamp;
}

static const struct batch *
find(const struct rfb__upd *u, const struct rfb_rect *rects, int n,
     const struct rfb__tight_opts *o, bool last_rect)
{
	for (int i = 0; i < u->nbatches; i++) {
		const struct batch *b = &u->batches[i];

		if (b->nrects == n && same_opts(&b->o, o) && b->last_rect == last_rect &&
		    memcmp(u->rects + b->rects_off, rects, (size_t)n * sizeof(*rects)) == 0)
			return b;
	}
	return NULL;
}

static void
run_job(void *ctx, int j, int thread)
{
	struct rfb__upd *u = ctx;
	struct job *jb = &u->jobs[j];
	struct rfb__buf *out = &u->tout[thread];

	jb->thread = thread;
	jb->off = out->len;
	jb->rects = rfb__tight_encode(u->enc[thread], u->fb, u->stride, jb->x, jb->y, jb->w, jb->h,
				      u->o, out);
	jb->len = out->len - jb->off;
}

static int
grow(void **p, size_t *cap, size_t need, size_t each)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((q = realloc(*p, c * each)) == NULL)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

static void
shrink_outputs(struct rfb__upd *u)
{
	for (int t = 0; t < u->threads; t++)
		if (u->tout[t].cap > BUF_SHRINK)
			rfb__buf_free(&u->tout[t]);
}

/* Encodes a new batch; its index, or -1. */
static int
encode(struct rfb__upd *u, const uint8_t *fb, int stride, const struct rfb_rect *rects, int n,
       const struct rfb__tight_opts *o, bool last_rect)
{
	size_t cap, start = u->msgs.len, pixels = 0;
	struct batch *b;
	int njobs = 0, total = 0;
	uint8_t *hdr;

	/* One job per band of the encoder's (a full 1080p frame: 17). */
	for (int i = 0; i < n; i++) {
		int bh = rfb__tight_band_h(rects[i].w);

		njobs += (rects[i].h + bh - 1) / bh;
	}
	cap = (size_t)u->cap_jobs;
	if (grow((void **)&u->jobs, &cap, (size_t)njobs, sizeof(*u->jobs)) < 0)
		return -1;
	u->cap_jobs = (int)cap;
	njobs = 0;
	for (int i = 0; i < n; i++) {
		const struct rfb_rect *r = &rects[i];
		int bh = rfb__tight_band_h(r->w);

		pixels += (size_t)r->w * r->h;
		for (int y = r->y; y < r->y + r->h; y += bh)
			u->jobs[njobs++] = (struct job){
				.x = r->x, .y = y, .w = r->w,
				.h = r->y + r->h - y < bh ? r->y + r->h - y : bh };
	}
	for (int t = 0; t < u->threads; t++)
		u->tout[t].len = 0;
	u->fb = fb;
	u->stride = stride;
	u->o = o;
	if (pixels >= POOL_MIN_PIXELS) {
		rfb__pool_run(u->pool, njobs, run_job, u);
	} else {
		for (int j = 0; j < njobs; j++)
			run_job(u, j, 0);
	}

	/* The message: header, the jobs' rectangles in order, maybe LastRect. */
	if (rfb__buf_reserve(&u->msgs, 4) < 0)
		return -1;
	u->msgs.len += 4;
	for (int j = 0; j < njobs; j++) {
		const struct job *jb = &u->jobs[j];

		if (jb->rects < 0)
			goto fail;
		if (rfb__buf_reserve(&u->msgs, jb->len) < 0)
			goto fail;
		memcpy(u->msgs.p + u->msgs.len, u->tout[jb->thread].p + jb->off, jb->len);
		u->msgs.len += jb->len;
		total += jb->rects;
	}
	if (total > 0xffff) {
		if (!last_rect)
			goto fail;
		if (rfb__buf_reserve(&u->msgs, 12) < 0)
			goto fail;
		rfb__rect_header(u->msgs.p + u->msgs.len, 0, 0, 0, 0, RFB__ENC_LAST_RECT);
		u->msgs.len += 12;
	}
	hdr = u->msgs.p + start;
	hdr[0] = 0;	/* FramebufferUpdate */
	hdr[1] = 0;
	hdr[2] = total > 0xffff ? 0xff : (uint8_t)(total >> 8);
	hdr[3] = total > 0xffff ? 0xff : (uint8_t)total;

	cap = (size_t)u->cap_batches;
	if (grow((void **)&u->batches, &cap, (size_t)u->nbatches + 1, sizeof(*u->batches)) < 0 ||
	    grow((void **)&u->rects, &u->cap_rects, u->nrects + (size_t)n, sizeof(*u->rects)) < 0)
		goto fail;
	u->cap_batches = (int)cap;
	memcpy(u->rects + u->nrects, rects, (size_t)n * sizeof(*rects));
	b = &u->batches[u->nbatches];
	*b = (struct batch){ .o = *o, .last_rect = last_rect, .rects_off = u->nrects, .nrects = n,
			     .msg_off = start, .msg_len = u->msgs.len - start, .raw = pixels * 4 };
	u->nrects += (size_t)n;
	shrink_outputs(u);
	return u->nbatches++;
fail:
	u->msgs.len = start;
	shrink_outputs(u);
	return -1;
}

int
rfb__upd_get(struct rfb__upd *u, const uint8_t *fb, int stride,
	     const struct rfb_rect *rects, int n, const struct rfb__tight_opts *o,
	     bool last_rect, const uint8_t **msg, size_t *len, size_t *raw)
{
	const struct batch *b = find(u, rects, n, o, last_rect);

	if (b == NULL) {
		int i;

		if (u->msgs.len > KEEP_BYTES)
			rfb__upd_forget(u);
		i = encode(u, fb, stride, rects, n, o, last_rect);

		if (i < 0)
			return -1;
		b = &u->batches[i];
	}
	*msg = u->msgs.p + b->msg_off;
	*len = b->msg_len;
	*raw = b->raw;
	return 0;
}
