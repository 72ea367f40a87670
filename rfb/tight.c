/* Tight encoding of framebuffer rectangles, the same bytes for every viewer.
 *
 * A rectangle is cut into bands (64 lines, more for narrow rectangles; see
 * rfb__tight_band_h) and each band into blocks of BLOCK_W pixels.  A block of few colours (text, flat panels) is sent
 * losslessly; runs of such blocks are joined while their colours still fit
 * one palette, runs of many-coloured blocks become one JPEG.  So a console
 * stays sharp whatever the JPEG quality, and a picture goes through
 * TurboJPEG straight from the framebuffer, a band at a time.
 */
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>
#include <zlib.h>

#include "rfb/log.h"
#include "rfb/tight.h"

#define BLOCK_W		64
#define MAX_BLOCKS	(8192 / BLOCK_W)
/* Tight's minimum: shorter pixel data is sent without zlib. */
#define MIN_ZLIB	12
/* Compression-control byte: bits 0-3 reset zlib streams 0-3, bits 4-5 the
 * stream used, bit 6 "a filter id follows"; 0x80 fill, 0x90 JPEG. */
#define CC_FILL		0x80
#define CC_JPEG		0x90
#define CC_FILTER	0x40
#define FILTER_PALETTE	1
/* Streams as TightVNC uses them: 1 for bitmaps, 2 for indexed pixels. */
#define STREAM_MONO	1
#define STREAM_INDEXED	2

struct rfb__tight {
	tjhandle tj;
	z_stream z;
	bool z_ok;
	uint8_t idx[RFB__TIGHT_MAX_AREA];	/* filtered pixels before zlib */
	uint8_t *zout;				/* zlib output */
	size_t zout_cap;
	/* Per block of the band being encoded: colour count (more than
	 * RFB__TIGHT_MAX_COLOURS = many) and the colours. */
	int ncol[MAX_BLOCKS];
	uint32_t pal[MAX_BLOCKS][RFB__TIGHT_MAX_COLOURS];
};

int
rfb__buf_reserve(struct rfb__buf *b, size_t more)
{
	size_t cap;
	uint8_t *p;

	if (b->cap - b->len >= more)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap - b->len < more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void
rfb__buf_free(struct rfb__buf *b)
{
	free(b->p);
	*b = (struct rfb__buf){ 0 };
}

int
rfb__tight_compact_len(uint8_t out[3], size_t n)
{
	if (n >= (1u << 22))
		return -1;
	out[0] = (uint8_t)(n & 0x7f);
	if (n < 0x80)
		return 1;
	out[0] |= 0x80;
	out[1] = (uint8_t)(n >> 7 & 0x7f);
	if (n < (1u << 14))
		return 2;
	out[1] |= 0x80;
	out[2] = (uint8_t)(n >> 14);
	return 3;
}

void
rfb__rect_header(uint8_t out[12], int x, int y, int w, int h, int32_t encoding)
{
	uint32_t e = (uint32_t)encoding;

	out[0] = (uint8_t)(x >> 8), out[1] = (uint8_t)x;
	out[2] = (uint8_t)(y >> 8), out[3] = (uint8_t)y;
	out[4] = (uint8_t)(w >> 8), out[5] = (uint8_t)w;
	out[6] = (uint8_t)(h >> 8), out[7] = (uint8_t)h;
	out[8] = (uint8_t)(e >> 24), out[9] = (uint8_t)(e >> 16);
	out[10] = (uint8_t)(e >> 8), out[11] = (uint8_t)e;
}

struct rfb__tight *
rfb__tight_new(void)
{
	struct rfb__tight *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->tj = tjInitCompress()) == NULL) {
		rfb__log(WK_LOG_ERROR, "tight: tjInitCompress: %s", tjGetErrorStr());
		goto fail;
	}
	/* A small window: a rectangle's pixel data is at most 64 KiB and
	 * nothing is kept between rectangles, so a big one buys little and
	 * costs memory per encoder.  The viewer's inflate takes any window.
	 * memLevel 5 for the same reason: its hash table is cleared on every
	 * rectangle's reset and is 8 KiB instead of 64 (with 2 Ki symbols a
	 * block instead of 16 Ki); on palette data at level 1 the output
	 * grows by about 0.5%, and each encoding thread keeps ~110 KiB less
	 * resident. */
	if (deflateInit2(&t->z, 1, Z_DEFLATED, 13, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
		rfb__log(WK_LOG_ERROR, "tight: deflateInit2 failed");
		goto fail;
	}
	t->z_ok = true;
	t->zout_cap = deflateBound(&t->z, RFB__TIGHT_MAX_AREA) + 64;
	if ((t->zout = malloc(t->zout_cap)) == NULL)
		goto fail;
	return t;
fail:
	rfb__tight_free(t);
	return NULL;
}

void
rfb__tight_free(struct rfb__tight *t)
{
	if (t == NULL)
		return;
	if (t->tj != NULL)
		tjDestroy(t->tj);
	if (t->z_ok)
		deflateEnd(&t->z);
	free(t->zout);
	free(t);
}

/* A pixel as a word with the X byte cleared, whatever the host's order. */
static inline uint32_t
px(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint32_t
rgb_mask(void)
{
	static const uint8_t m[4] = { 0xff, 0xff, 0xff, 0 };

	return px(m);
}

/* Colours of the w×h block at p, up to max into pal; returns the count, or
 * max + 1 as soon as there are more. */
static int
count_colours(const uint8_t *p, int stride, int w, int h, uint32_t *pal, int max)
{
	const uint32_t mask = rgb_mask();
	uint32_t last;
	int n = 1;

	last = pal[0] = px(p) & mask;
	for (int y = 0; y < h; y++) {
		const uint8_t *row = p + (size_t)y * stride;

		for (int x = 0; x < w; x++) {
			uint32_t v = px(row + 4 * x) & mask;
			int i;

			if (v == last)
				continue;
			for (i = 0; i < n && pal[i] != v; i++)
				;
			if (i == n) {
				if (n == max)
					return max + 1;
				pal[n++] = v;
			}
			last = v;
		}
	}
	return n;
}

/* Adds the colours of b to run (n colours); returns the new count, or -1
 * (run unchanged in its first n entries) when they do not all fit. */
static int
merge_palette(uint32_t *run, int n, const uint32_t *b, int nb)
{
	int m = n;

	for (int j = 0; j < nb; j++) {
		int i;

		for (i = 0; i < m && run[i] != b[j]; i++)
			;
		if (i == m) {
			if (m == RFB__TIGHT_MAX_COLOURS)
				return -1;
			run[m++] = b[j];
		}
	}
	return m;
}

static void
tpixel(uint8_t *out, uint32_t v)
{
	uint8_t b[4];

	memcpy(b, &v, 4);	/* memory order B, G, R, X */
	out[0] = b[2];
	out[1] = b[1];
	out[2] = b[0];
}

static int
emit_fill(struct rfb__buf *out, int x, int y, int w, int h, uint32_t colour)
{
	uint8_t *p;

	if (rfb__buf_reserve(out, 16) < 0)
		return -1;
	p = out->p + out->len;
	rfb__rect_header(p, x, y, w, h, RFB__ENC_TIGHT);
	p[12] = CC_FILL;
	tpixel(p + 13, colour);
	out->len += 16;
	return 0;
}

/* A palette rectangle of n (2..RFB__TIGHT_MAX_COLOURS) colours. */
static int
emit_palette(struct rfb__tight *t, const uint8_t *fb, int stride, int x, int y, int w, int h,
	     const uint32_t *pal, int n, struct rfb__buf *out)
{
	const uint32_t mask = rgb_mask();
	const bool mono = n == 2;
	const int stream = mono ? STREAM_MONO : STREAM_INDEXED;
	size_t len = 0, zlen;
	uint8_t lenb[3], *p;
	int nl;

	/* The filtered pixels: one bit per pixel (rows padded to a byte,
	 * first pixel in the top bit) or one byte per pixel. */
	for (int j = 0; j < h; j++) {
		const uint8_t *row = fb + (size_t)(y + j) * stride + (size_t)x * 4;
		uint32_t last = pal[0];
		int li = 0;

		if (mono) {
			uint8_t bits = 0;

			for (int i = 0; i < w; i++) {
				if ((px(row + 4 * i) & mask) != pal[0])
					bits |= (uint8_t)(0x80 >> (i & 7));
				if ((i & 7) == 7 || i == w - 1) {
					t->idx[len++] = bits;
					bits = 0;
				}
			}
			continue;
		}
		for (int i = 0; i < w; i++) {
			uint32_t v = px(row + 4 * i) & mask;

			if (v != last) {
				for (li = 0; li < n - 1 && pal[li] != v; li++)
					;
				last = v;
			}
			t->idx[len++] = (uint8_t)li;
		}
	}
	if (len >= MIN_ZLIB) {
		if (deflateReset(&t->z) != Z_OK)
			return -1;
		t->z.next_in = t->idx;
		t->z.avail_in = (uInt)len;
		t->z.next_out = t->zout;
		t->z.avail_out = (uInt)t->zout_cap;
		/* Sync flush: the viewer's inflate keeps its stream open, as
		 * for libvncserver's output; the reset bit restarts it. */
		if (deflate(&t->z, Z_SYNC_FLUSH) != Z_OK || t->z.avail_in != 0 || t->z.avail_out == 0) {
			rfb__log(WK_LOG_ERROR, "tight: deflate of %zu bytes failed", len);
			return -1;
		}
		zlen = t->zout_cap - t->z.avail_out;
		if ((nl = rfb__tight_compact_len(lenb, zlen)) < 0)
			return -1;
	} else {
		zlen = len;
		nl = 0;
	}
	if (rfb__buf_reserve(out, 12 + 3 + (size_t)n * 3 + 3 + zlen) < 0)
		return -1;
	p = out->p + out->len;
	rfb__rect_header(p, x, y, w, h, RFB__ENC_TIGHT);
	p += 12;
	*p++ = (uint8_t)(CC_FILTER | stream << 4 | 1 << stream);
	*p++ = FILTER_PALETTE;
	*p++ = (uint8_t)(n - 1);
	for (int i = 0; i < n; i++, p += 3)
		tpixel(p, pal[i]);
	memcpy(p, lenb, (size_t)nl);
	p += nl;
	memcpy(p, nl ? t->zout : t->idx, zlen);
	p += zlen;
	out->len = (size_t)(p - out->p);
	return 0;
}

static int
emit_jpeg(struct rfb__tight *t, const uint8_t *fb, int stride, int x, int y, int w, int h,
	  const struct rfb__tight_opts *o, struct rfb__buf *out)
{
	unsigned long cap = tjBufSize(w, h, o->subsamp), jlen = cap;
	unsigned char *dst;
	uint8_t lenb[3], *p;
	int nl;

	if (cap == (unsigned long)-1 || rfb__buf_reserve(out, 16 + (size_t)cap) < 0)
		return -1;
	/* Compressed in place behind the longest header, then moved up to
	 * the header's real length. */
	p = out->p + out->len;
	dst = p + 16;
	if (tjCompress2(t->tj, fb + (size_t)y * stride + (size_t)x * 4, w, stride, h, TJPF_BGRX,
			&dst, &jlen, o->subsamp, o->jpeg_quality, TJFLAG_NOREALLOC) < 0) {
		rfb__log(WK_LOG_ERROR, "tight: tjCompress2 %dx%d: %s", w, h, tjGetErrorStr2(t->tj));
		return -1;
	}
	if ((nl = rfb__tight_compact_len(lenb, jlen)) < 0)
		return -1;
	rfb__rect_header(p, x, y, w, h, RFB__ENC_TIGHT);
	p[12] = CC_JPEG;
	memcpy(p + 13, lenb, (size_t)nl);
	memmove(p + 13 + nl, dst, jlen);
	out->len += 13 + (size_t)nl + jlen;
	return 0;
}

/* One band: h ≤ 512 lines, w ≤ 8192. */
static int
encode_band(struct rfb__tight *t, const uint8_t *fb, int stride, int x, int y, int w, int h,
	    const struct rfb__tight_opts *o, struct rfb__buf *out)
{
	const int nb = (w + BLOCK_W - 1) / BLOCK_W;
	const int max_w = RFB__TIGHT_MAX_W;
	const int max_lossless_w = RFB__TIGHT_MAX_AREA / h < max_w ? RFB__TIGHT_MAX_AREA / h : max_w;
	int rects = 0;

	for (int b = 0; b < nb; b++) {
		int bx = x + b * BLOCK_W, bw = b == nb - 1 ? x + w - bx : BLOCK_W;

		t->ncol[b] = count_colours(fb + (size_t)y * stride + (size_t)bx * 4, stride, bw, h,
					   t->pal[b], RFB__TIGHT_MAX_COLOURS);
	}
	for (int b = 0; b < nb;) {
		int rx = x + b * BLOCK_W, e = b + 1, rw;

		if (t->ncol[b] > RFB__TIGHT_MAX_COLOURS) {
			while (e < nb && t->ncol[e] > RFB__TIGHT_MAX_COLOURS && (e + 1 - b) * BLOCK_W <= max_w)
				e++;
			rw = (e == nb ? x + w : x + e * BLOCK_W) - rx;
			if (emit_jpeg(t, fb, stride, rx, y, rw, h, o, out) < 0)
				return -1;
		} else {
			uint32_t run[RFB__TIGHT_MAX_COLOURS];
			int n = t->ncol[b], m;

			memcpy(run, t->pal[b], (size_t)n * sizeof(run[0]));
			while (e < nb && t->ncol[e] <= RFB__TIGHT_MAX_COLOURS &&
			       (e + 1 - b) * BLOCK_W <= max_lossless_w &&
			       (m = merge_palette(run, n, t->pal[e], t->ncol[e])) > 0) {
				n = m;
				e++;
			}
			rw = (e == nb ? x + w : x + e * BLOCK_W) - rx;
			if ((n == 1 ? emit_fill(out, rx, y, rw, h, run[0]) :
			     emit_palette(t, fb, stride, rx, y, rw, h, run, n, out)) < 0)
				return -1;
		}
		rects++;
		b = e;
	}
	return rects;
}

int
rfb__tight_band_h(int w)
{
	/* Each JPEG costs ~12 us of set-up and ~600 bytes of tables at
	 * quality 92 whatever its size: narrow rectangles (a column of
	 * changed tiles) get taller bands, up to 32 Ki pixels a band. */
	int h = w > 0 ? 32768 / w : 512;

	h &= ~63;
	return h < 64 ? 64 : h > 512 ? 512 : h;
}

int
rfb__tight_encode(struct rfb__tight *t, const uint8_t *fb, int stride,
		  int x, int y, int w, int h, const struct rfb__tight_opts *o,
		  struct rfb__buf *out)
{
	const int band_h = rfb__tight_band_h(w);
	int rects = 0;

	if (w <= 0 || h <= 0 || w > 8192)
		return -1;
	for (int by = y; by < y + h; by += band_h) {
		int bh = y + h - by < band_h ? y + h - by : band_h, n;

		if ((n = encode_band(t, fb, stride, x, by, w, bh, o, out)) < 0)
			return -1;
		rects += n;
	}
	return rects;
}
