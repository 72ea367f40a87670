/* Tile diff: which tiles of a frame changed since the previous frame.
 *
 * We keep a 64-bit XXH3 hash per tile rather than a copy of the previous
 * frame: it costs 16 KiB instead of 4-8 MiB at 1080p, and reading the frame
 * once for hashing is cheaper than comparing it with a copy.  The hash is
 * taken over the tile's lines in the source's own pixel format, so pixels
 * of unchanged tiles are never converted.
 *
 * Most of a KVM's frames are mostly static, and hashing a 64- or 128-byte
 * tile line costs more in call overhead than in bytes.  So each whole line
 * is hashed first (one long, fast XXH3 call); only a band of lines in which
 * some line changed gets its tiles hashed.  A band that changed in the
 * previous frame (video, a scrolling area, a full-screen redraw) most
 * likely changed again, and for it the line pass would only read the band
 * twice: its tiles are hashed straight away, and its line hashes, now
 * stale, are not trusted until a line pass has renewed them.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* libxxhash picks SSE2, AVX2 or AVX-512 at run time through these; the
 * plain entry points are built for the baseline (SSE2).  On aarch64 NEON
 * is the baseline already. */
#include <xxh_x86dispatch.h>
#define hash_line(p, n) XXH3_64bits_dispatch((p), (n))
#define hash_small(p, n) XXH3_64bits_dispatch((p), (n))
#else
#define hash_line(p, n) XXH3_64bits((p), (n))
#define hash_small(p, n) XXH3_64bits((p), (n))
#endif

#include "rfb/rfb_server.h"
#include "rfb/tilediff.h"

struct rfb_tilediff {
	int tile_w, tile_h;
	int width, height;
	enum cap_pixfmt fmt;
	int tiles_x, tiles_y;
	uint64_t *hash;		/* tiles_x * tiles_y */
	uint64_t *line_hash;	/* height: hash of each whole line */
	uint8_t *changed;	/* tiles_x: scratch, one tile row */
	uint8_t *row;		/* tiles_y: ROW_* bits per tile row */
	bool valid;		/* hash[] describes the previous frame */
	int n_changed;
};

/* Bits of td->row[]. */
#define ROW_HOT		1	/* some tile changed in the last frame diffed */
#define ROW_STALE	2	/* line_hash[] of the band predates that frame */

struct rfb_tilediff *
rfb_tilediff_new(int tile_w, int tile_h)
{
	struct rfb_tilediff *td;

	if (tile_w < 8 || tile_w > 256 || (tile_w & 1) || tile_h < 8 || tile_h > 256)
		return NULL;
	if ((td = calloc(1, sizeof(*td))) == NULL)
		return NULL;
	td->tile_w = tile_w;
	td->tile_h = tile_h;
	return td;
}

void
rfb_tilediff_free(struct rfb_tilediff *td)
{
	if (td == NULL)
		return;
	free(td->hash);
	free(td->line_hash);
	free(td->changed);
	free(td->row);
	free(td);
}

void
rfb_tilediff_invalidate(struct rfb_tilediff *td)
{
	td->valid = false;
}

int
rfb_tilediff_changed_tiles(const struct rfb_tilediff *td)
{
	return td->n_changed;
}

static int
resize(struct rfb_tilediff *td, const struct cap_frame *f)
{
	int tx = (f->width + td->tile_w - 1) / td->tile_w;
	int ty = (f->height + td->tile_h - 1) / td->tile_h;
	uint64_t *hash, *line_hash;
	uint8_t *changed, *row;

	if (tx != td->tiles_x || ty != td->tiles_y || f->height != td->height ||
	    td->hash == NULL) {
		hash = malloc((size_t)tx * ty * sizeof(*hash));
		/* Zeroed: the first frame compares against it before any is stored. */
		line_hash = calloc((size_t)f->height, sizeof(*line_hash));
		changed = malloc((size_t)tx);
		row = calloc((size_t)ty, 1);
		if (hash == NULL || line_hash == NULL || changed == NULL || row == NULL) {
			free(hash);
			free(line_hash);
			free(changed);
			free(row);
			return CAP_ENOMEM;
		}
		free(td->hash);
		free(td->line_hash);
		free(td->changed);
		free(td->row);
		td->hash = hash;
		td->line_hash = line_hash;
		td->changed = changed;
		td->row = row;
		td->tiles_x = tx;
		td->tiles_y = ty;
	}
	td->width = f->width;
	td->height = f->height;
	td->fmt = f->fmt;
	td->valid = false;
	return 0;
}

/* Hash of one tile.  Each line is hashed on its own and folded in: a
 * fold that is a bijection of the line's hash for a given running value
 * (xor, then multiply by an odd constant) and of the running value for a
 * given line (rotate, xor, multiply), so two tiles that differ in one line
 * always get different hashes, as with a seed chain.  Unlike a seed chain,
 * no call waits for the one before: a tile line is only 64 or 128 bytes,
 * and with the calls in a chain the tile pass was bound by their latency. */
static inline uint64_t
tile_hash(const uint8_t *p, int stride, int line_bytes, int lines)
{
	uint64_t h = 0;

	for (int i = 0; i < lines; i++, p += stride) {
		uint64_t lh = hash_small(p, (size_t)line_bytes);

		h = ((h << 23 | h >> 41) ^ lh) * 0x9e3779b97f4a7c15ull;
	}
	return h;
}

static int
emit(struct rfb_rect *out, int max_out, int n, int x, int y, int w, int h)
{
	struct rfb_rect *last;
	int x2, y2;

	if (n < max_out) {
		out[n] = (struct rfb_rect){ x, y, w, h };
		return n + 1;
	}
	/* Out of room: grow the last rectangle to cover this one too. */
	last = &out[max_out - 1];
	x2 = last->x + last->w > x + w ? last->x + last->w : x + w;
	y2 = last->y + last->h > y + h ? last->y + last->h : y + h;
	last->x = last->x < x ? last->x : x;
	last->y = last->y < y ? last->y : y;
	last->w = x2 - last->x;
	last->h = y2 - last->y;
	return n;
}

int
rfb__tilediff_begin(struct rfb_tilediff *td, const struct cap_frame *f, int fb_stride, int max_out)
{
	int bpp = cap_fmt_bpp(f->fmt);

	if (bpp == 0 || f->width <= 0 || f->height <= 0 || max_out <= 0 ||
	    f->stride < f->width * bpp || fb_stride < f->width * 4 ||
	    f->size < (size_t)f->stride * (f->height - 1) + (size_t)f->width * bpp)
		return CAP_EINVAL;
	if (f->width != td->width || f->height != td->height || f->fmt != td->fmt ||
	    td->hash == NULL)
		return resize(td, f);
	return 0;
}

int
rfb__tilediff_tile_rows(const struct rfb_tilediff *td)
{
	return td->tiles_y;
}

int
rfb__tilediff_tiles_x(const struct rfb_tilediff *td)
{
	return td->tiles_x;
}

int
rfb__tilediff_rows(struct rfb_tilediff *td, const struct cap_frame *f, uint8_t *fb, int fb_stride,
		   bool convert, int ty0, int ty1, uint8_t *changed,
		   struct rfb_rect *out, int max_out, int *n_changed)
{
	int bpp = cap_fmt_bpp(f->fmt);
	int n = 0, rc;

	for (int ty = ty0; ty < ty1; ty++) {
		int y = ty * td->tile_h;
		int h = f->height - y < td->tile_h ? f->height - y : td->tile_h;
		uint64_t *hrow = &td->hash[(size_t)ty * td->tiles_x];
		const uint8_t *src = f->data + (size_t)y * f->stride;
		int any = 0, band_changed = !td->valid;

		if (td->valid && (td->row[ty] & ROW_HOT)) {
			band_changed = 1;
			td->row[ty] |= ROW_STALE;
		} else {
			/* Whole lines first: a band whose lines all hash as
			 * before has no changed tile. */
			for (int i = 0; i < h; i++) {
				uint64_t lh = hash_line(src + (size_t)i * f->stride,
							(size_t)f->width * bpp);

				band_changed |= lh != td->line_hash[y + i];
				td->line_hash[y + i] = lh;
			}
			if (td->row[ty] & ROW_STALE)
				band_changed = 1;
			td->row[ty] = 0;
		}
		if (!band_changed)
			continue;
		for (int tx = 0; tx < td->tiles_x; tx++) {
			int x = tx * td->tile_w;
			int w = f->width - x < td->tile_w ? f->width - x : td->tile_w;
			uint64_t hv = tile_hash(src + (size_t)x * bpp, f->stride, w * bpp, h);

			changed[tx] = !td->valid || hv != hrow[tx];
			hrow[tx] = hv;
			any |= changed[tx];
		}
		if (any)
			td->row[ty] |= ROW_HOT;
		else
			td->row[ty] &= (uint8_t)~ROW_HOT;
		if (!any)
			continue;
		/* Runs of changed tiles in this row become one rectangle and one
		 * conversion call. */
		for (int tx = 0; tx < td->tiles_x;) {
			int t0, x, w;

			if (!changed[tx]) {
				tx++;
				continue;
			}
			for (t0 = tx; tx < td->tiles_x && changed[tx]; tx++)
				(*n_changed)++;
			x = t0 * td->tile_w;
			w = (tx * td->tile_w < f->width ? tx * td->tile_w : f->width) - x;
			if (convert) {
				rc = cap_convert_rect(f->fmt, src + (size_t)x * bpp, f->stride,
						      fb + (size_t)y * fb_stride + (size_t)x * 4,
						      fb_stride, w, h);
				if (rc < 0)
					return rc;
			}
			n = emit(out, max_out, n, x, y, w, h);
		}
	}
	return n;
}

void
rfb__tilediff_end(struct rfb_tilediff *td, bool ok, int n_changed)
{
	td->valid = ok;
	td->n_changed = ok ? n_changed : 0;
}

int
rfb_tilediff_run(struct rfb_tilediff *td, const struct cap_frame *f,
		 uint8_t *fb, int fb_stride, bool convert,
		 struct rfb_rect *out, int max_out)
{
	int n, rc, n_changed = 0;

	td->n_changed = 0;
	if ((rc = rfb__tilediff_begin(td, f, fb_stride, max_out)) < 0)
		return rc;
	n = rfb__tilediff_rows(td, f, fb, fb_stride, convert, 0, td->tiles_y, td->changed,
			       out, max_out, &n_changed);
	rfb__tilediff_end(td, n >= 0, n_changed);
	return n;
}
